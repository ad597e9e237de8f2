"""The zoo's own exceptions: raised deep, turned into one line at the CLI."""


class ZooError(Exception):
    """Anything the user can fix: bad input, refused package, failed check."""


class RefError(ZooError):
    """A hub reference that does not parse or names nothing."""


class IntegrityError(ZooError):
    """A file whose sha256 does not match its card."""


class CardError(ZooError):
    """A card that is missing, malformed or disagrees with its package."""


class LicenseRefused(ZooError):
    """A license the user's policy does not allow."""


class LayerNotFound(ZooError):
    """A layer name or index that the model does not have."""


class DataError(ZooError):
    """Training or evaluation data that cannot be read or does not fit."""


class ExportError(ZooError):
    """An export that failed or whose parity is out of tolerance."""


class UnsafePathError(IntegrityError):
    """A file path from a hub or a package that could escape its folder."""


class UnsafeModelError(IntegrityError):
    """A model file whose config names code the zoo does not trust."""


class SignatureError(IntegrityError):
    """A package whose signature is missing, invalid or from an untrusted key."""
