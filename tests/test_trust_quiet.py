"""Hostile and careless inputs that once passed quietly or reached the CLI's catch-all
("failed unexpectedly … this is a bug"), run through the real `zoo` command: each is
now refused in one line, exit 2, by the zoo's own words (`refused` fails a test on the
catch-all). Then hypothesis fuzzes the policy-file and zoo.lock parsers: any bytes
give a value or a ZooError. No TensorFlow: every case is refused before Keras loads."""

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import CATCH_ALL, refused, zoo
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packages import make_package

from zoo.cards.license_policy import POLICY_KEYS, LicensePolicy
from zoo.errors import ZooError
from zoo.hub import open_hub
from zoo.hub.lock import COMMIT, SHA256, parse_lock
from zoo.hub.refs import parse_ref
from zoo.trust.signing import SignaturePolicy

DIGITS_5_9 = [str(i) for i in range(5, 10)]


def png(width: int, height: int) -> bytes:
    """A real 1-bit grayscale PNG of zeros: 10,000 x 10,000 pixels are ~12 kB on disk
    and 100 million pixels (more than Pillow's decompression-bomb limit) decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1,
                                                             0, 0, 0, 0)) + \
        chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def digits_package(folder: Path) -> Path:
    """A hand-made package whose card takes 8x8x1 images labelled 5..9 (its model file
    holds no model: every case here is refused before one would load)."""
    make_package(folder, name="d59")
    card = json.loads((folder / "card.json").read_text())
    card["preprocessing"] = {"input_shape": [8, 8, 1], "dtype": "float32", "scaling": "none",
                             "label_names": DIGITS_5_9}
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="module")
def here(zoo_home: Path) -> Path:
    """The module's hub holds `toy` (unsigned); the files each case names lie here."""
    work = zoo_home / "work"
    open_hub(parse_ref("toy")).publish(make_package(work / "toy"), "zoo", "toy")
    digits_package(work / "d59")
    policies = {
        "require-signature.toml": b"require_signature = true\n",
        "allow-string.toml": b'allow = "MIT"\n',
        "allow-numbers.toml": b"allow = [1, 2]\n",
        "require-text.toml": b'require_signature = "yes"\n',
        "keys-number.toml": b"trusted_keys = 5\n",
        "misspelt-key.toml": b"require_signatures = true\n",
        "latin1.toml": 'allow = ["MIT"] # caf\xe9\n'.encode("latin-1"),
        "deep.toml": b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    }
    for name, data in policies.items():
        (work / name).write_bytes(data)
    (work / "policy-folder.toml").mkdir()
    sha = "a" * 40
    locks = {
        "list.lock": b"[]",
        "entry-string.lock": json.dumps({"version": 1, "packages": {"toy": "main"}}).encode(),
        "path-revision.lock": json.dumps({"version": 1, "packages": {"toy": {
            "revision": "../../../etc", "card_sha256": "0" * 64}}}).encode(),
        "number-sha.lock": json.dumps({"version": 1, "packages": {"toy": {
            "revision": sha, "card_sha256": 7}}}).encode(),
        "latin1.lock": b'{"version": 1, "packages": {"caf\xe9": {}}}',
        "deep.lock": b"[" * 100_000 + b"]" * 100_000,
    }
    for name, data in locks.items():
        (work / name).write_bytes(data)
    deep = make_package(work / "deep-card")
    (deep / "card.json").write_text("[" * 100_000 + "]" * 100_000)
    preset = work / "preset"
    preset.mkdir()
    for name in ("config.json", "metadata.json", "model.weights.h5"):
        (preset / name).write_text("{}")
    (preset / "README.md").write_text("---\nlicense: [mit, apache-2.0]\n---\n# a preset\n")
    deep_preset = work / "deep-preset"
    deep_preset.mkdir()
    for name in ("metadata.json", "model.weights.h5"):
        (deep_preset / name).write_text("{}")
    (deep_preset / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    np.savez(work / "digits-0-4.npz", x=np.zeros((5, 8, 8, 1), np.float32),
             y=np.arange(5), label_names=np.array([str(i) for i in range(5)]))
    (work / "short-row.csv").write_text("a,b,label\n1,2,5\n3,6\n")
    (work / "bomb" / "5").mkdir(parents=True)
    (work / "bomb" / "5" / "bomb.png").write_bytes(png(10_000, 10_000))
    (work / "not-png" / "5").mkdir(parents=True)
    (work / "not-png" / "5" / "x.png").write_bytes(b"GIF89a, or so it says")
    return work


# Each case: the command line (in `here`) and what its one line must say.
CASES: dict[str, tuple[Callable[[Path], list], str]] = {
    # class 7: quiet wrong successes
    "misspelt --policy": (lambda w: ["pull", "toy", "--policy", w / "require-signatur.toml",
                                     "--out", w / "o"], "require-signatur.toml does not exist"),
    "--policy a folder": (lambda w: ["pull", "toy", "--policy", w / "policy-folder.toml",
                                     "--out", w / "o"], "is a directory"),
    "zoo import, misspelt --policy": (
        lambda w: ["import", w / "preset", "--license", "MIT", "--policy", w / "nope.toml",
                   "--out", w / "o"], "nope.toml does not exist"),
    "NPZ labels not the model's": (
        lambda w: ["evaluate", w / "d59", "--data", w / "digits-0-4.npz"],
        "label(s) 0, 1, 2, 3, 4 are not among the model's labels (5, 6, 7, 8, 9)"),
    "multi-worker on all interfaces": (
        lambda w: ["finetune", w / "d59", "--data", w / "short-row.csv", "--strategy",
                   "multi-worker", "--out", w / "o"], "pass --listen-all-interfaces"),
    # class 8: what reached the catch-all
    "card nested 100,000 deep": (lambda w: ["inspect", w / "deep-card"],
                                 "card.json nests too deeply to be a card"),
    "README license as a YAML list": (
        lambda w: ["import", w / "preset", "--out", w / "o"],
        "front matter 'license' must be one text value such as 'apache-2.0'"),
    "preset config nested 100,000 deep": (
        lambda w: ["import", w / "deep-preset", "--license", "MIT", "--out", w / "o"],
        "config.json is not JSON: maximum recursion depth exceeded"),
    "policy allow a string": (lambda w: ["pull", "toy", "--policy", w / "allow-string.toml",
                                         "--out", w / "o"], "allow must be a list of SPDX"),
    "policy allow numbers": (lambda w: ["pull", "toy", "--policy", w / "allow-numbers.toml",
                                        "--out", w / "o"], "allow must be a list of SPDX"),
    "policy require_signature text": (
        lambda w: ["pull", "toy", "--policy", w / "require-text.toml", "--out", w / "o"],
        "require_signature must be true or false"),
    "policy trusted_keys a number": (
        lambda w: ["pull", "toy", "--policy", w / "keys-number.toml", "--out", w / "o"],
        "trusted_keys must be a list of key file paths"),
    "policy key misspelt": (
        lambda w: ["pull", "toy", "--policy", w / "misspelt-key.toml", "--out", w / "o"],
        "unknown key(s) 'require_signatures'"),
    "policy not UTF-8": (lambda w: ["pull", "toy", "--policy", w / "latin1.toml", "--out",
                                    w / "o"], "latin1.toml is not UTF-8 text"),
    "policy nested 100,000 deep": (lambda w: ["pull", "toy", "--policy", w / "deep.toml",
                                              "--out", w / "o"], "nests too deeply"),
    "lock a list": (lambda w: ["pull", "toy", "--locked", "--lock", w / "list.lock", "--out",
                               w / "o"], "is not a zoo.lock of version 1"),
    "lock entry a string": (
        lambda w: ["pull", "toy", "--locked", "--lock", w / "entry-string.lock", "--out",
                   w / "o"], "the entry for toy must be an object"),
    "lock revision a path": (
        lambda w: ["pull", "toy", "--locked", "--lock", w / "path-revision.lock", "--out",
                   w / "o"], "has a revision that is not a commit id"),
    "lock card_sha256 a number": (
        lambda w: ["pull", "toy", "--locked", "--lock", w / "number-sha.lock", "--out",
                   w / "o"], "has a card_sha256 that is not a sha256"),
    "lock not UTF-8": (lambda w: ["pull", "toy", "--locked", "--lock", w / "latin1.lock",
                                  "--out", w / "o"], "is not a readable zoo.lock"),
    "lock nested 100,000 deep": (
        lambda w: ["pull", "toy", "--locked", "--lock", w / "deep.lock", "--out", w / "o"],
        "is not a readable zoo.lock"),
    "decompression-bomb PNG": (
        lambda w: ["evaluate", w / "d59", "--data", w / "bomb"],
        "bomb.png: declares more pixels than the zoo decodes (89,478,485)"),
    "PNG that is no image": (lambda w: ["evaluate", w / "d59", "--data", w / "not-png"],
                             "x.png: not a readable image"),
    "CSV row shorter than its header": (
        lambda w: ["evaluate", w / "d59", "--data", w / "short-row.csv"],
        "short-row.csv: line 3 has 2 value(s) where the header names 3 columns"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_refused_in_one_line_by_the_zoo_not_its_catch_all(
        here: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:2222"]},
                                                "task": {"type": "worker", "index": 0}}))
    args, message = CASES[case]
    line = refused(*args(here))
    assert message in line, line
    assert not (here / "o").exists()


def test_a_misspelt_policy_no_longer_lets_an_unsigned_package_through(here: Path) -> None:
    """The policy requires signatures; its name misspelt once passed the unsigned `toy`."""
    assert "is not signed and your policy requires a signature" in refused(
        "pull", "toy", "--policy", here / "require-signature.toml", "--out", here / "o")
    assert "does not exist" in refused(
        "pull", "toy", "--policy", here / "require-signatur.toml", "--out", here / "o")
    assert not (here / "o").exists()


def test_npz_labels_are_matched_by_name_as_a_csvs_are(here: Path, tmp_path: Path) -> None:
    """The same labels as CSV are refused too: one rule, whatever the format."""
    (tmp_path / "d.csv").write_text("".join(
        [",".join(f"p{i}" for i in range(64)) + ",label\n"] +
        [",".join(["0"] * 64) + f",{label}\n" for label in range(5)]))
    csv_line = refused("evaluate", here / "d59", "--data", tmp_path / "d.csv")
    npz_line = refused("evaluate", here / "d59", "--data", here / "digits-0-4.npz")
    reason = "label(s) 0, 1, 2, 3, 4 are not among the model's labels (5, 6, 7, 8, 9)"
    assert reason in csv_line and reason in npz_line


def test_refused_fails_a_test_on_the_catch_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count of the catch-all: a refusal by "failed unexpectedly" is not a pass."""
    from zoo.hub import refs

    def broken(text: str) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(refs, "parse_ref", broken)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    assert CATCH_ALL in zoo("inspect", "acme/iris").stderr
    with pytest.raises(AssertionError, match="refused only through the catch-all"):
        refused("inspect", "acme/iris")


# --- fuzzing the policy and zoo.lock parsers (house style: tests/test_fuzz_fast.py) ------

REFUSED = object()  # what `outcome` gives back when the parser raised a ZooError


def outcome(parse: Callable, value: object) -> object:
    """The parser's result, or REFUSED on one of the zoo's own errors; any other
    exception fails the test with its traceback."""
    try:
        return parse(value)
    except ZooError:
        return REFUSED


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four, else `bad`."""
    return st.integers(1, 4).flatmap(lambda roll: bad if roll == 1 else good)


toml_scalars = (st.booleans() | st.integers(-2 ** 63, 2 ** 63 - 1) | st.floats(allow_nan=False)
                | st.text(max_size=12) | st.sampled_from(["MIT", "Apache-2.0", "MIT AND",
                                                          "LicenseRef-x", "warn", "refuse"]))
toml_values = st.recursive(toml_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3),
                           max_leaves=8)
policy_tables = st.dictionaries(mostly(st.sampled_from(POLICY_KEYS), st.text(max_size=8)),
                                toml_values, max_size=4)


@st.composite
def near_policies(draw: st.DrawFn) -> bytes:
    import tomli_w

    return tomli_w.dumps(draw(policy_tables)).encode()


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-policy") / "policy.toml"


@settings(max_examples=200, deadline=None)
@given(near_policies() | st.binary(max_size=120))
@example(b'allow = ["MIT"]\ntrusted_keys = [""]\n')
@example(b'trusted_keys = ["/nonexistent.pub"]\n')
@example(b"noncommercial = {}\n")
@example(b"deny = [[]]\n")
@example(b"\xff\xfe")
def test_policy_file_parser_returns_a_policy_or_refuses(policy_path: Path, data: bytes) -> None:
    policy_path.write_bytes(data)
    license_policy = outcome(LicensePolicy.load, policy_path)
    signature_policy = outcome(SignaturePolicy.load, policy_path)
    if license_policy is not REFUSED:
        assert license_policy.noncommercial in ("warn", "refuse", "allow")
        assert license_policy.allow is None or all(isinstance(k, str)
                                                   for k in license_policy.allow)
    if signature_policy is not REFUSED:
        assert isinstance(signature_policy.required, bool)


hexes = st.text("0123456789abcdef", min_size=40, max_size=40)
entries = st.fixed_dictionaries({
    "revision": mostly(hexes | hexes.map(lambda h: h + "0" * 24), toml_scalars | st.none()),
    "card_sha256": mostly(hexes.map(lambda h: h + "0" * 24), toml_scalars | st.none()),
}, optional={"recorded": mostly(st.text(max_size=8), toml_values)})


@st.composite
def near_locks(draw: st.DrawFn) -> bytes:
    packages = draw(st.dictionaries(st.text(max_size=12), mostly(entries, toml_values),
                                    max_size=3))
    version = draw(mostly(st.just(1), toml_scalars))
    return json.dumps({"version": version, "packages": packages}).encode()


@settings(max_examples=250, deadline=None)
@given(near_locks() | st.binary(max_size=120))
@example(b"[]")
@example(b'{"version": 1, "packages": []}')
@example(b'{"version": 1, "packages": {"a": {"revision": "../x", "card_sha256": "0"}}}')
@example(b"[" * 100_000)
def test_lock_parser_returns_well_formed_entries_or_refuses(data: bytes) -> None:
    packages = outcome(parse_lock, data)
    if packages is not REFUSED:
        for entry in packages.values():
            assert COMMIT.fullmatch(entry["revision"])
            assert SHA256.fullmatch(entry["card_sha256"])
