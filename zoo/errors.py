"""The zoo's own exceptions: raised deep, turned into one line at the CLI."""


class ZooError(Exception):
    """Anything the user can fix: bad input, refused package, failed check."""


class ZooWarning(UserWarning):
    """What the zoo warns about (a license your policy only warns on, an unsigned
    package): Python warnings in a notebook, `zoo: warning:` lines from the CLI."""


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


class ModelError(ZooError):
    """Something a real model does that Keras refuses while the zoo rebuilds or runs it."""


def first_line(exc: BaseException, limit: int = 200, empty: str | None = None) -> str:
    """An exception's message in one line for a refusal: its first line, at most
    `limit` characters; `empty` (default: the exception's class name) when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else empty or type(exc).__name__


# Errors Keras raises for a graph it cannot build or call; anything else is a bug.
KERAS_ERRORS = (ValueError, TypeError, NotImplementedError, KeyError, IndexError)


def keras_reason(exc: BaseException) -> str:
    """Keras' own words, in one line: which layer's call failed and why (its message
    puts the reason in bold between ANSI codes, after 'Exception encountered when
    calling LAYER.call()')."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    where = next((line for line in lines if line.startswith("Exception encountered")), None)
    reason = next((line for line in lines if not line.startswith(
        ("Exception encountered", "Arguments received", "•"))), lines[0])
    called = re.search(r"calling (\S+?)\.call\(\)", where or "")
    shown = f"in {called[1]}: {reason}" if called else reason
    return shown[:300]
