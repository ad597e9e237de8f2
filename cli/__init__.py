"""The `zoo` command: a shell over the public API (`import zoo`). Each command
parses options, calls one public function and prints; errors become one line on
stderr and exit 2 in `main`.

May import: `zoo`, `zoo.cli`, `zoo.errors`, `zoo.paths`, `zoo.*.settings`, `zoo.build.preprocessing`.
`zoo` is the package root alone; the settings modules and preprocessing's MODES
give options their choices and defaults without loading anything heavy, and
`zoo.paths` names the default hub and cache in messages.
"""
