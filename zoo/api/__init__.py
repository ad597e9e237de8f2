"""The public API: what `import zoo` gives a notebook, and what the `zoo` command
calls. Each function does what one command does and returns typed values
instead of printing; TensorFlow loads inside the calls that need it.

Every layer below it (its rule is in tests/test_layers_fast.py): the sub-packages,
`zoo.package`, `zoo.imports` and the ground; never `zoo.cli`.
"""
