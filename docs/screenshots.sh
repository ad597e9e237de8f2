#!/usr/bin/env bash
# The README's pictures of the hub pages, from the site `make demo` writes
# (demo/hub-site), taken by headless Chromium (Debian's `chromium` package):
#   make demo && bash docs/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
site=${1:-demo/hub-site}
[ -f "$site/index.html" ] || { echo "no site at $site: run make demo first" >&2; exit 2; }
site=$(cd "$site" && pwd)
shoot() {  # PAGE PNG HEIGHT
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="1280,$3" --screenshot="$2" "file://$site/$1" 2>/dev/null
}
shoot index.html docs/img/hub-index.png 520
shoot models/zoo/iris4/index.html docs/img/hub-model.png 2200
echo "wrote docs/img/hub-index.png and docs/img/hub-model.png"
