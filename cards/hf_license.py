"""Licenses as the Hugging Face Hub writes them, read as SPDX.

HF license ids are mostly lower-case SPDX ids (`apache-2.0`, `mit`,
`cc-by-nc-4.0`); those map to their SPDX spelling. The rest (`openrail`,
`llama3`, `other` with a `license_name`, …) have no SPDX id and become
`LicenseRef-…` keys, which no policy allows unless the user names them.
"""

import logging
from pathlib import Path
from typing import Any

import yaml
from license_expression import ExpressionError
from zoo.cards.license_policy import license_ref, licensing
from zoo.errors import CardError

# HF ids whose SPDX id is spelled differently, beyond case.
HF_TO_SPDX = {
    "gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only", "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3.0": "LGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only", "gfdl": "GFDL-1.3-only",
    "lgpl-lr": "LGPLLR", "bsd": "BSD-3-Clause",
}

# What a front matter license field looks like, for the message that refuses another.
SHOWN = {"license": "'apache-2.0' (one id; 'other' with license_name for the rest)",
         "license_name": "'acme-research-license'"}


def hf_license_to_spdx(hf_id: str | None, license_name: str | None = None) -> str | None:
    """The SPDX expression for an HF license id; None where the repo states none."""
    if not hf_id:
        return None
    hf_id = hf_id.strip()
    if hf_id.lower() == "other":
        return license_ref(license_name or "other")
    candidate = HF_TO_SPDX.get(hf_id.lower(), hf_id)
    try:
        parsed = licensing().parse(candidate, validate=False, strict=True)
    except (ExpressionError, AttributeError):
        parsed = None  # not an SPDX expression
    if parsed is None or type(parsed).__name__ != "LicenseSymbol" or \
            licensing().unknown_license_keys(parsed):
        return license_ref(f"hf-{hf_id}")
    return parsed.key


def front_matter(readme_text: str, where: str = "README.md") -> dict[str, Any]:
    """A README's YAML front matter (safe YAML, through huggingface_hub's ModelCard);
    front matter that cannot be read is one line naming why."""
    from huggingface_hub import ModelCard

    hf_logger = logging.getLogger("huggingface_hub")
    level = hf_logger.level  # its notes on metadata it skips are not the zoo's lines
    hf_logger.setLevel(logging.ERROR)
    try:
        return ModelCard(readme_text, ignore_metadata_errors=True).data.to_dict()
    except yaml.YAMLError as exc:
        reason = " ".join(str(getattr(exc, "problem", None) or exc).split())[:120]
        raise CardError(f"{where}: its front matter is not YAML the zoo reads ({reason})"
                        ) from None
    except (ValueError, TypeError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise CardError(f"{where}: its front matter cannot be read ({reason})") from None
    finally:
        hf_logger.setLevel(level)


def _text_field(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        shown = " ".join(repr(value).split())[:60]
        raise CardError(f"{where}: front matter '{key}' must be one text value such as "
                        f"{SHOWN[key]}, not {shown}")
    return value


def readme_license(readme_text: str, where: str = "README.md") -> str | None:
    """The license a Hub page shows (README front matter), as SPDX; None if it has none."""
    data = front_matter(readme_text, where)
    license_id = _text_field(data, "license", where)
    license_name = _text_field(data, "license_name", where)
    if license_id == "other" and license_name:
        try:  # the zoo writes compound SPDX expressions as license_name
            parsed = licensing().parse(license_name, validate=False, strict=True)
            if parsed is not None and not [k for k in licensing().unknown_license_keys(parsed)
                                           if not k.startswith("LicenseRef-")]:
                return str(parsed)
        except (ExpressionError, AttributeError):
            pass
        return license_ref(license_name)
    return hf_license_to_spdx(license_id, license_name)


def readme_file_license(path: Path) -> str | None:
    """`readme_license` of a README file, which must be UTF-8 text; None where there is
    none (a page without a README states no license)."""
    if not path.is_file():
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    return readme_license(text, str(path))
