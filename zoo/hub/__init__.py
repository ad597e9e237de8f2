"""Where packages live and travel: the reference grammar, the folder hub and
the Hugging Face Hub behind one interface, the verified pull cache, `zoo.lock`,
publishing, and serving a folder hub over the Hub API.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`, `zoo.trust`, `zoo.package`.
Not the data, build, training or deploy layers; no TensorFlow.
"""

from zoo.hub.base import Hub, PublishResult, RepoFile
from zoo.hub.folder import FolderHub
from zoo.hub.hf import HfHub
from zoo.hub.refs import HubRef
from zoo.paths import cache_root


def open_hub(ref: HubRef) -> Hub:
    """The backend for a reference: the one place that looks at its scheme."""
    if ref.scheme == "hf":
        return HfHub(refs=cache_root() / "refs" / "hf")
    return FolderHub(ref.hub_root)


__all__ = ["FolderHub", "HfHub", "Hub", "PublishResult", "RepoFile", "open_hub"]
