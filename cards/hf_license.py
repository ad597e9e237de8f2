"""Licenses as the Hugging Face Hub writes them, read as SPDX.

HF license ids are mostly lower-case SPDX ids (`apache-2.0`, `mit`,
`cc-by-nc-4.0`); those map to their SPDX spelling. The rest (`openrail`,
`llama3`, `other` with a `license_name`, …) have no SPDX id and become
`LicenseRef-…` keys, which no policy allows unless the user names them.
"""

from license_expression import ExpressionError
from zoo.cards.license_policy import license_ref, licensing

# HF ids whose SPDX id is spelled differently, beyond case.
HF_TO_SPDX = {
    "gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only", "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3.0": "LGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only", "gfdl": "GFDL-1.3-only",
    "lgpl-lr": "LGPLLR", "bsd": "BSD-3-Clause",
}


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


def readme_license(readme_text: str) -> str | None:
    """The license a Hub page shows (README front matter), as SPDX; None if it has none."""
    from huggingface_hub import ModelCard

    data = ModelCard(readme_text).data.to_dict()
    license_id = data.get("license")
    if license_id == "other" and data.get("license_name"):
        name = data["license_name"]
        try:  # the zoo writes compound SPDX expressions as license_name
            parsed = licensing().parse(name, validate=False, strict=True)
            if parsed is not None and not [k for k in licensing().unknown_license_keys(parsed)
                                           if not k.startswith("LicenseRef-")]:
                return str(parsed)
        except (ExpressionError, AttributeError):
            pass
        return license_ref(name)
    return hf_license_to_spdx(license_id, data.get("license_name"))
