"""Where the zoo keeps things: the default hub (data dir) and pulls (cache dir).

The hub holds the only copy of what was published, so it lives in the user's
data dir; pulled copies can always be fetched again, so they live in the cache
dir, which may be wiped at any time.
"""

import os
from pathlib import Path

import platformdirs

APP = "zoo"


def zoo_home() -> Path:
    """`$ZOO_HOME`, or the user data dir (e.g. ~/.local/share/zoo)."""
    env = os.environ.get("ZOO_HOME")
    return Path(env).expanduser() if env else platformdirs.user_data_path(APP)


def default_hub_root() -> Path:
    return zoo_home() / "hub"


def cache_root() -> Path:
    """`$ZOO_CACHE`, or the user cache dir (e.g. ~/.cache/zoo)."""
    env = os.environ.get("ZOO_CACHE")
    return Path(env).expanduser() if env else platformdirs.user_cache_path(APP)


def default_policy_path() -> Path:
    return zoo_home() / "policy.toml"
