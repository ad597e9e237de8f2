"""The model card: schema, validation, layer map, README rendering, license policy.

Below every sub-package, above the ground; it never imports the package root.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`.
"""
