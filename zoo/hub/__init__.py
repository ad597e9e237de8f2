"""Hub backends: where packages are published and pulled from."""

from zoo.hub.folder import FolderHub
from zoo.refs import HubRef


def open_hub(ref: HubRef) -> FolderHub:
    """The backend for a reference (only folder hubs in this version)."""
    return FolderHub(ref.hub_root)


__all__ = ["FolderHub", "open_hub"]
