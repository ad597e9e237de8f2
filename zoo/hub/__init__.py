"""Where packages live and travel: the reference grammar, the folder hub and
the Hugging Face Hub behind one interface, the verified pull cache, `zoo.lock`,
publishing, and serving a folder hub over the Hub API.

May import: `zoo.errors`, `zoo.paths`, `zoo.package`, `zoo.cards`. Not the
build, training or deploy layers; no TensorFlow.
"""

from zoo.hub.folder import FolderHub
from zoo.hub.hf import HfHub
from zoo.hub.refs import HubRef


def open_hub(ref: HubRef) -> FolderHub | HfHub:
    """The backend for a reference: a folder hub, or the Hugging Face Hub API."""
    return HfHub() if ref.scheme == "hf" else FolderHub(ref.hub_root)


__all__ = ["FolderHub", "HfHub", "open_hub"]
