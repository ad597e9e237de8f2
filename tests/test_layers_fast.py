"""The layer rules, read where they are stated and checked against every import.

DESIGN.md's flow: cli → the public API (`import zoo`) → the sub-packages →
zoo.cards → the ground (errors, files, paths, tensors). Each sub-package's
`__init__` docstring states its rule on one line, ``May import: `a`, `b`.``: a
name allows that module and everything under it (`zoo.trust` is the sub-package
and its modules), `zoo` alone is the package root only, and `*` matches any part
(`zoo.*.settings`). A module may always import its own sub-package. Every import
counts: at module level, inside functions and methods, under TYPE_CHECKING, and
relative ones resolved. Imports from outside the zoo (stdlib, third party) are
not restricted here. Only files are read: nothing is imported.
"""

import ast
import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP = "zoo"
# Where each part of the `zoo` namespace lives (pyproject's package-dir).
ROOTS = {"zoo": REPO / "zoo", "zoo.cards": REPO / "cards", "zoo.cli": REPO / "cli"}

# The rules of what has no sub-package docstring of its own: the top-level modules
# of zoo/ and the public API (the lead writes zoo/__init__.py and zoo/api/), after
# DESIGN.md's flow ("Layout", "Dependencies point one way").
GROUND = ("zoo.errors", "zoo.files", "zoo.paths", "zoo.tensors")
SUB_PACKAGES = ("zoo.cards", "zoo.trust", "zoo.package", "zoo.data", "zoo.hub", "zoo.build",
                "zoo.deploy", "zoo.train")
PUBLIC_API = (*GROUND, *SUB_PACKAGES, "zoo.imports", "zoo.api")
TABLE: dict[str, tuple[str, ...]] = {
    "zoo.errors": (),  # the bottom: everything raises these
    "zoo.files": GROUND,
    "zoo.paths": GROUND,
    "zoo.tensors": GROUND,
    # The package folder (write, seal, verify, load) that hub, build, deploy and train
    # share: above the card and the trust checks, below the sub-packages that use it.
    "zoo.package": (*GROUND, "zoo.cards", "zoo.trust"),
    # Above the sub-packages: whole workflows, becoming part of the public API.
    "zoo.imports": (*GROUND, *SUB_PACKAGES),
    "zoo.api": PUBLIC_API,  # every layer but cli
    "zoo": PUBLIC_API,  # the package root re-exports the public API
}
RULE_PREFIX = "May import:"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    path: Path
    line: int
    target: str  # the zoo module it imports
    statement: str


@dataclass(frozen=True)
class Violation:
    imported: Import
    layer: str
    allowed: tuple[str, ...]

    def __str__(self) -> str:
        path = self.imported.path
        where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        return (f"{where}:{self.imported.line}: {self.imported.module} imports "
                f"{self.imported.target} (`{self.imported.statement}`), up or across the "
                f"layers: {self.layer}'s rule is 'May import: "
                f"{', '.join(self.allowed) or 'nothing of the zoo'}' (and its own modules)")


def find_modules(roots: Mapping[str, Path]) -> dict[str, Path]:
    """Every module of the namespace by its dotted name (a package by its __init__)."""
    found = {}
    for package, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imports_of(module: str, path: Path, known: Mapping[str, Path], top: str) -> Iterator[Import]:
    """The zoo modules one file imports, anywhere in it. `from a import b` names the
    module a.b when b is one, else a; relative imports resolve against the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond {top}")
                base = ".".join([*package[:len(package) - node.level + 1],
                                 *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == top or target.startswith(top + "."):
                yield Import(module, path, node.lineno, target, ast.unparse(node))


def stated_rule(init: Path) -> tuple[str, ...] | None:
    """The names on a package docstring's one `May import:` line (None: no such line)."""
    docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
    lines = [line for line in docstring.splitlines() if line.startswith(RULE_PREFIX)]
    if len(lines) != 1:
        return None
    return tuple(re.findall(r"`([^`]+)`", lines[0]))


def read_rules(roots: Mapping[str, Path], table: Mapping[str, tuple[str, ...]],
               top: str) -> tuple[dict[str, tuple[str, ...]], dict[str, list[str]]]:
    """Each layer's rule: the table's, and every sub-package's own docstring line.
    Also what is wrong with a stated rule (no such line, a name that is no module),
    by layer, so that a typo cannot silently allow or forbid nothing."""
    known = find_modules(roots)
    rules, problems = dict(table), {}
    for name, path in known.items():
        if path.name == "__init__.py" and name.count(".") == 1 and name not in table:
            rule = stated_rule(path)
            problems[name] = [] if rule is not None else [
                f"{path}: the docstring has no one '{RULE_PREFIX} `a`, `b`.' line"]
            problems[name] += [f"{name}'s rule names {pattern}, which matches no module"
                               for pattern in rule or ()
                               if not any(allows(pattern, module, top) for module in known)]
            rules[name] = rule or ()
    return rules, problems


def allows(pattern: str, target: str, top: str) -> bool:
    if "*" in pattern:
        return fnmatch.fnmatchcase(target, pattern)
    if pattern == top:
        return target == top  # the package root only, not everything under it
    return target == pattern or target.startswith(pattern + ".")


def layer_of(module: str, rules: Mapping[str, tuple[str, ...]], top: str) -> str | None:
    """The most specific rule that covers a module (the root's covers only itself)."""
    covering = [layer for layer in rules
                if module == layer or (layer != top and module.startswith(layer + "."))]
    return max(covering, key=len, default=None)


def violations(roots: Mapping[str, Path], table: Mapping[str, tuple[str, ...]], top: str,
               layer: str | None = None) -> list[Violation | str]:
    """Every import that breaks its layer's rule and what is wrong with the rule
    itself, for one layer, or for all of them plus every module no rule covers."""
    known = find_modules(roots)
    rules, problems = read_rules(roots, table, top)
    found: list[Violation | str] = [problem for name, listed in problems.items()
                                    if layer in (None, name) for problem in listed]
    for module, path in known.items():
        own = layer_of(module, rules, top)
        if own is None:
            if layer is None:
                found.append(f"{path}: {module} is in no layer: give it a rule")
            continue
        if layer is not None and own != layer:
            continue
        for imported in imports_of(module, path, known, top):
            if not (allows(own, imported.target, top)
                    or any(allows(p, imported.target, top) for p in rules[own])):
                found.append(Violation(imported, own, rules[own]))
    return found


def package_layers() -> list[str]:
    """Every sub-package (found on disk) and every row of the table."""
    subs = sorted(name for name, path in find_modules(ROOTS).items()
                  if path.name == "__init__.py" and name.count(".") == 1 and name not in TABLE)
    return subs + list(TABLE)


@pytest.mark.parametrize("layer", package_layers())
def test_imports_follow_the_layer_rules(layer):
    found = violations(ROOTS, TABLE, TOP, layer)
    assert not found, "\n".join(map(str, found))


def test_every_sub_package_states_its_rule_and_every_module_has_one():
    rules, problems = read_rules(ROOTS, TABLE, TOP)
    assert not any(problems.values()), problems
    assert {"zoo.hub", "zoo.build", "zoo.train", "zoo.deploy", "zoo.trust", "zoo.data",
            "zoo.cards", "zoo.cli"} <= set(rules)
    unruled = [m for m in find_modules(ROOTS) if layer_of(m, rules, TOP) is None]
    assert not unruled, f"modules in no layer: {unruled}"


def test_the_flow_of_design_md_is_what_the_rules_say():
    """hub and trust never import build, train or deploy; build never imports train
    or deploy; data loading is below all three; the card layer sees only the ground."""
    rules, _ = read_rules(ROOTS, TABLE, TOP)
    upper = {"zoo.build", "zoo.train", "zoo.deploy"}
    assert not upper & set(rules["zoo.hub"]) and not upper & set(rules["zoo.trust"])
    assert not {"zoo.train", "zoo.deploy"} & set(rules["zoo.build"])
    assert "zoo.train" not in rules["zoo.deploy"]
    assert not {"zoo.build", "zoo.train", "zoo.deploy", "zoo.hub"} & set(rules["zoo.data"])
    assert all("zoo.data" in rules[layer] for layer in upper)
    assert set(rules["zoo.cards"]) <= set(GROUND)


# The checker itself, on a tiny package written for the purpose.

TOY_RULES = {"toy": ("toy.low", "toy.high", "toy.base"), "toy.base": ()}


def toy_package(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Path]:
    base = {
        "__init__.py": '"""The root."""\n',
        "base.py": "import os\n",
        "low/__init__.py": '"""The low layer.\n\nMay import: `toy.base`.\n"""\n',
        "low/ok.py": "import json\n\nimport numpy\n\nfrom toy.base import os\nfrom . import ok\n",
        "high/__init__.py": '"""The high layer.\n\nMay import: `toy.low`, `toy.base`.\n"""\n',
        "high/thing.py": "from toy.low import ok\nfrom ..low.ok import json\n",
    }
    for name, text in {**base, **files}.items():
        path = tmp_path / "toy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"toy": tmp_path / "toy"}


def test_checker_passes_own_listed_and_outside_imports(tmp_path):
    assert violations(toy_package(tmp_path, {}), TOY_RULES, "toy") == []


def test_checker_catches_an_import_up_the_layers_inside_a_function(tmp_path):
    roots = toy_package(tmp_path, {"low/early.py": (
        '"""Imports high only when called."""\n\n\n'
        "class Loader:\n    def load(self):\n        from toy.high.thing import ok\n"
        "        return ok\n")})
    found = violations(roots, TOY_RULES, "toy")
    assert len(found) == 1
    message = str(found[0])
    assert found[0].imported.module == "toy.low.early" and found[0].imported.line == 6
    assert found[0].imported.target == "toy.high.thing" and found[0].layer == "toy.low"
    for part in ("low/early.py:6", "toy.low.early imports toy.high.thing",
                 "from toy.high.thing import ok", "May import: toy.base"):
        assert part in message


def test_checker_resolves_relative_imports_up_the_layers(tmp_path):
    roots = toy_package(tmp_path, {"low/sneaky.py": "from ..high import thing\n"
                                                    "from .. import high\n"})
    found = violations(roots, TOY_RULES, "toy")
    assert [(v.imported.line, v.imported.target) for v in found] == [(1, "toy.high.thing"),
                                                                      (2, "toy.high")]


def test_checker_refuses_a_package_without_a_rule_or_a_rule_naming_nothing(tmp_path):
    roots = toy_package(tmp_path, {"low/__init__.py": '"""No rule stated."""\n',
                                   "high/__init__.py": '"""May import: `toy.lower`."""\n'})
    found = [str(v) for v in violations(roots, TOY_RULES, "toy")]
    assert any("low/__init__.py: the docstring has no one 'May import:" in f for f in found)
    assert "toy.high's rule names toy.lower, which matches no module" in found


def test_checker_refuses_a_module_in_no_layer(tmp_path):
    roots = toy_package(tmp_path, {"stray.py": "x = 1\n"})
    assert any("toy.stray is in no layer" in str(v) for v in violations(roots, TOY_RULES, "toy"))


def test_every_package_is_in_the_wheel():
    """pyproject's explicit package list names every package folder, so a wheel (not
    only an editable install) holds all of the zoo."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {name for name, path in find_modules(ROOTS).items() if path.name == "__init__.py"}
    assert found - listed == set()
