"""What the zoo trusts, and why: everything from a hub or a user's file is
hostile until checked here.

- `repo_paths`: the grammar of file paths inside a repository, and writes
  confined to a staging folder.
- `model_scan`: the zip gate (`check_archive`) and a scan of a model file's
  config (a `.keras` zip or a legacy HDF5) against an allow-list of names,
  before Keras parses it.
- `keras_names`: that allow-list, generated from the installed Keras into
  `keras_names.json` (Keras is imported only to generate it).
- `signing`: OpenSSF model signing of whole packages with keys the user trusts.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`.
No TensorFlow, no Keras: the checks run before either sees a byte.
"""
