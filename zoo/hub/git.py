"""Running git on repositories that someone else may control.

A folder hub on a shared drive is writable by everyone who publishes to it, so
its repositories' `.git/config`, hooks and attributes are hostile: git must
never run a program they name. Configuration given on git's command line (or,
the same thing, in `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`)
overrides the repository's own, so every git process the zoo starts, and every
one a server it starts spawns (olah reads repositories through GitPython), gets
`safe_git_env()`: hooks looked up in /dev/null (none found), no fsmonitor, no
signing or signature programs, no automatic gc, no transport, no templates.
Clean/smudge filters cannot be overridden by name (any name can be configured),
so the zoo never runs a command that filters: blobs are written with
`hash-object --no-filters` and trees from an index built with `update-index`.
"""

import os

# Each key here names a program git would run, or a behaviour that runs one.
SAFE_CONFIG: dict[str, str] = {
    "core.hooksPath": os.devnull,  # every hook: pre-commit, reference-transaction, ...
    "core.fsmonitor": "false",  # a program run whenever the index is refreshed
    "core.untrackedCache": "false",
    "core.sshCommand": "false",
    "core.askPass": "false",
    "core.alternateRefsCommand": "false",
    "core.pager": "cat",
    "core.editor": "false",
    "credential.helper": "",
    "protocol.allow": "never",  # the zoo's git never talks to another machine
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "tag.forceSignAnnotated": "false",
    "log.showSignature": "false",
    "gpg.program": "false",
    "gpg.ssh.program": "false",
    "gpg.x509.program": "false",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "init.templateDir": "",
    "diff.external": "false",
}

# Variables from the caller's environment that would point git somewhere else.
REDIRECTING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
               "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMON_DIR",
               "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_EXTERNAL_DIFF", "GIT_SSH",
               "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_EXEC_PATH", "GIT_TEMPLATE_DIR")

IDENTITY = {"GIT_AUTHOR_NAME": "backbone-zoo", "GIT_AUTHOR_EMAIL": "zoo@localhost",
            "GIT_COMMITTER_NAME": "backbone-zoo", "GIT_COMMITTER_EMAIL": "zoo@localhost"}


def safe_git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with every git override above,
    the zoo's commit identity, no system config and no prompts; variables that
    would redirect git to other folders are dropped."""
    env = {key: value for key, value in (os.environ if base is None else base).items()
           if key not in REDIRECTING and not key.startswith("GIT_CONFIG_")}
    env.update(IDENTITY)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                "GIT_NO_REPLACE_OBJECTS": "1", "GIT_ATTR_NOSYSTEM": "1",
                "GIT_CONFIG_COUNT": str(len(SAFE_CONFIG))})
    for i, (key, value) in enumerate(SAFE_CONFIG.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env
