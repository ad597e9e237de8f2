"""License rules: what a card may say, what a user's policy allows, and what a
derived package inherits. SPDX parsing is `license-expression`'s, not ours.

A card's license is an SPDX expression, or Hugging Face's `other` with
`license_name` and `license_link`; `other` is treated as the custom SPDX key
`LicenseRef-<license_name>`, which no policy allows unless the user names it.
"""

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from license_expression import ExpressionError, Licensing, get_spdx_licensing

from zoo.errors import CardError, LicenseRefused
from zoo.paths import default_policy_path

NO_LICENSE = frozenset({"NONE", "NOASSERTION"})
NONCOMMERCIAL = re.compile(r"-NC(-|$)|NonCommercial|Non-Commercial", re.IGNORECASE)
NONCOMMERCIAL_MODES = ("warn", "refuse", "allow")
# Every key a policy file may hold: the license rules here, the signature rules in
# zoo.trust.signing (which reads the same file through `read_policy`).
POLICY_KEYS = ("allow", "deny", "noncommercial", "trusted_keys", "require_signature")


@cache
def licensing() -> Licensing:
    return get_spdx_licensing()


def license_ref(license_name: str) -> str:
    """The custom SPDX key for a license that has no SPDX id."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", license_name).strip("-") or "unnamed"
    return f"LicenseRef-{slug}"


class Licensed(Protocol):
    """What the license rules read: a Card, or the terms a Hub page shows."""

    name: str
    license: str
    license_name: str | None
    license_link: str | None


@dataclass(frozen=True)
class LicenseTerms:
    """License terms found outside a card (a Hub page's front matter, a lock entry)."""

    name: str
    license: str
    license_name: str | None = None
    license_link: str | None = None


def card_license_expression(card: Licensed) -> str:
    """The card's license as an SPDX expression (`other` becomes a LicenseRef)."""
    if card.license == "other":
        return license_ref(card.license_name or "")
    return card.license


def parse_license(expression: str, what: str = "license") -> Any:
    """Parse an SPDX expression; refuse syntax errors and unknown (non-LicenseRef) ids."""
    try:
        parsed = licensing().parse(expression, validate=False, strict=True)
    except (ExpressionError, AttributeError) as exc:
        raise CardError(f"{what} '{expression}' is not a valid SPDX expression: {exc}") from exc
    if parsed is None:
        raise CardError(f"{what} is empty; give an SPDX id such as 'Apache-2.0' or 'MIT'")
    unknown = [key for key in licensing().unknown_license_keys(parsed)
               if not key.startswith("LicenseRef-")]
    if unknown:
        raise CardError(f"{what} '{expression}' has unknown SPDX id(s): {', '.join(unknown)}; "
                        "use an SPDX id (e.g. 'Apache-2.0'), or 'other' with "
                        "--license-name and --license-link")
    return parsed


def check_card_license(card: Licensed) -> None:
    """Refuse a card whose license is missing, malformed or an incomplete `other`."""
    license_id = card.license
    if license_id == "other":
        if not card.license_name or not card.license_link:
            raise CardError("license 'other' needs license_name and license_link "
                            "(e.g. --license-name 'Acme Research' --license-link https://…)")
    elif license_id.upper() in NO_LICENSE:
        raise LicenseRefused(f"the package has no license ('{license_id}')")
    parse_license(card_license_expression(card))


def combine_licenses(base: str, addition: str | None) -> str:
    """What a derived package is under: the base's terms AND the adapter's, deduplicated."""
    if not addition:
        return base
    parse_license(addition, what="--license")
    terms: list[Any] = []  # the top-level AND terms, base first, each once
    for expression in (base, addition):
        parsed = licensing().parse(expression)
        for term in parsed.args if isinstance(parsed, licensing().AND) else (parsed,):
            if term not in terms:
                terms.append(term)
    return str(licensing().AND(*terms) if len(terms) > 1 else terms[0])


def _symbol_keys(expression: str) -> set[str]:
    parsed = parse_license(expression, what="--allow-license")
    return {symbol.key for symbol in licensing().license_symbols(parsed, decompose=True)}


def policy_file(named: Path | None) -> Path | None:
    """The policy file to read: the one the user named, which must be a readable file
    (a misspelt name ignored would let through what the policy refuses); without one,
    $ZOO_HOME/policy.toml if it exists; else None (the default policy)."""
    if named is None:
        default = default_policy_path()
        return default if default.is_file() else None
    path = Path(named)
    if not path.exists():
        raise CardError(f"policy file {path} does not exist (check the name; without "
                        "--policy the zoo reads $ZOO_HOME/policy.toml if there is one)")
    if not path.is_file():
        raise CardError(f"policy file {path} is not a file")
    return path


def read_policy(path: Path | None) -> dict[str, Any]:
    """The TOML table of a policy file (None: an empty one): the one reader of that
    file, for the license rules and the signature rules alike."""
    if path is None:
        return {}
    path = policy_file(path)
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise CardError(f"policy file {path} cannot be read: "
                        f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CardError(f"policy file {path} is not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CardError(f"policy file {path} cannot be read as TOML: {exc}") from exc
    except RecursionError:
        raise CardError(f"policy file {path} nests too deeply to be a policy") from None
    unknown = sorted(set(data) - set(POLICY_KEYS))
    if unknown:  # a misspelt rule ignored is a rule not applied
        raise CardError(f"policy file {path}: unknown key(s) {', '.join(map(repr, unknown))} "
                        f"(a policy has {', '.join(POLICY_KEYS)})")
    return data


def _expressions(data: dict[str, Any], key: str, path: Path | None) -> list[str]:
    """A policy list of SPDX expressions, or a one-line refusal naming its wrong type."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CardError(f"policy file {path}: {key} must be a list of SPDX expressions, "
                        f'e.g. {key} = ["MIT", "Apache-2.0"]')
    return value


@dataclass
class LicensePolicy:
    """The user's rules: `allow` (None: any known SPDX license), `deny`, and
    what to do about non-commercial terms. LicenseRef keys need `explicit`."""

    allow: set[str] | None = None
    deny: set[str] = field(default_factory=set)
    explicit: set[str] = field(default_factory=set)
    noncommercial: str = "warn"

    @classmethod
    def load(cls, path: Path | None, allow_license: tuple[str, ...] = ()) -> "LicensePolicy":
        """The policy file (TOML: allow, deny, noncommercial), widened by --allow-license.
        `path` is a file that must be there (see `policy_file`); None: no file."""
        return PolicyFile.read(path).licenses(allow_license)

    @classmethod
    def from_table(cls, data: dict[str, Any], path: Path | None,
                   allow_license: tuple[str, ...] = ()) -> "LicensePolicy":
        """The license rules of a policy table `read_policy` read from `path`."""
        policy = cls()
        if "allow" in data:
            policy.allow = {k for e in _expressions(data, "allow", path) for k in _symbol_keys(e)}
        policy.deny = {k for e in _expressions(data, "deny", path) for k in _symbol_keys(e)}
        policy.noncommercial = data.get("noncommercial", "warn")
        if policy.noncommercial not in NONCOMMERCIAL_MODES:
            raise CardError(f"policy file {path}: noncommercial must be one of "
                            f"{', '.join(NONCOMMERCIAL_MODES)}")
        for expression in allow_license:
            keys = _symbol_keys(expression)
            policy.explicit |= keys
            if policy.allow is not None:
                policy.allow |= keys
            policy.deny -= keys
        return policy

    def _accepts(self, node: Any) -> bool:
        if hasattr(node, "license_symbol"):  # "X WITH exception": judged by X
            node = node.license_symbol
        if hasattr(node, "args") and node.args:
            results = [self._accepts(arg) for arg in node.args]
            return all(results) if type(node).__name__ == "AND" else any(results)
        key = node.key
        if key in self.deny:
            return False
        if key in self.explicit:
            return True
        if key.startswith("LicenseRef-"):
            return False
        return self.allow is None or key in self.allow

    def check(self, card: Licensed) -> list[str]:
        """Refuse a card the policy does not allow; return warnings to show."""
        name = card.name or "the package"
        if card.license.upper() in NO_LICENSE:
            raise LicenseRefused(f"{name} has no license; "
                                 "a package without one cannot be reused")
        expression = card_license_expression(card)
        parsed = parse_license(expression)
        if not self._accepts(parsed):
            keys = sorted(s.key for s in licensing().license_symbols(parsed, decompose=True))
            shown = f"{expression} ({card.license_name})" if card.license == "other" \
                else expression
            raise LicenseRefused(f"{name} is licensed '{shown}', which your license policy "
                                 f"does not allow; to accept it pass --allow-license "
                                 f"'{' AND '.join(keys) if len(keys) > 1 else keys[0]}'")
        warnings = []
        if NONCOMMERCIAL.search(expression):
            if self.noncommercial == "refuse":
                raise LicenseRefused(f"{name} is licensed '{expression}' (non-commercial "
                                     "terms) and your policy refuses non-commercial licenses")
            if self.noncommercial == "warn":
                warnings.append(f"{name} is licensed '{expression}': non-commercial terms, "
                                "check your use is allowed")
        return warnings


@dataclass(frozen=True)
class PolicyFile:
    """The user's policy file as read once: where it is (None: there is none, so the
    default rules) and its TOML table. The license rules (`licenses`) and the
    signature rules (`zoo.trust.signing.SignaturePolicy.from_table`) are both built
    from this one reading."""

    path: Path | None = None
    table: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path | None) -> "PolicyFile":
        """This file, which must be a readable policy file (None: no file)."""
        return cls(path, read_policy(path))

    def licenses(self, allow_license: tuple[str, ...] = ()) -> LicensePolicy:
        """Its license rules, widened by --allow-license."""
        return LicensePolicy.from_table(self.table, self.path, allow_license)


def load_policy(named: Path | None) -> PolicyFile:
    """The one loader of the user's policy, for every command that applies it: the
    file named (--policy), which must be there, or else $ZOO_HOME/policy.toml if it
    exists, or else none (the default rules); read once."""
    return PolicyFile.read(policy_file(named))
