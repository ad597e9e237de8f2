"""Hub backends: where packages are published and pulled from."""

from zoo.hub.folder import FolderHub
from zoo.hub.hf import HfHub
from zoo.refs import HubRef


def open_hub(ref: HubRef) -> FolderHub | HfHub:
    """The backend for a reference: a folder hub, or the Hugging Face Hub API."""
    return HfHub() if ref.scheme == "hf" else FolderHub(ref.hub_root)


__all__ = ["FolderHub", "HfHub", "open_hub"]
