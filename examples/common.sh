# Shared by the example scripts: a work folder and a step banner.
set -euo pipefail
work=${1:-demo}
mkdir -p "$work"
cd "$work"
step() { printf '\n== %s\n' "$*"; }
