"""The public API: what `import zoo` gives a notebook, and what the `zoo` command
calls. Each function does what one command does and returns typed values
instead of printing; TensorFlow loads inside the calls that need it.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.package`, `zoo.imports`, `zoo.cards`, `zoo.trust`, `zoo.hub`, `zoo.data`, `zoo.build`, `zoo.train`, `zoo.deploy`, `zoo.api`
"""
