"""zoo.lock read, record and check; the atomic writers every file goes through."""

import json
from pathlib import Path

import pytest

from zoo.errors import IntegrityError, ZooError
from zoo.files import atomic_write_bytes, atomic_write_text, atomic_writer
from zoo.hub.lock import (
    LOCK_VERSION,
    LockEntry,
    check_locked,
    locked,
    read_lock,
    record,
)

SHA_A, SHA_B = "a" * 40, "b" * 40
CARD_A, CARD_B = "1" * 64, "2" * 64


def test_a_missing_lock_holds_nothing(tmp_path):
    assert read_lock(tmp_path / "zoo.lock") == {}


def test_record_adds_sorted_entries_and_updates_in_place(tmp_path):
    lock = tmp_path / "zoo.lock"
    record(lock, "zoo/iris@v1", SHA_A, CARD_A)
    record(lock, "acme/cnn", SHA_B, CARD_B)
    record(lock, "zoo/iris@v1", SHA_B, CARD_B)
    data = json.loads(lock.read_text())
    assert data["version"] == LOCK_VERSION
    assert list(data["packages"]) == ["acme/cnn", "zoo/iris@v1"]
    entry = data["packages"]["zoo/iris@v1"]
    assert (entry["revision"], entry["card_sha256"]) == (SHA_B, CARD_B)
    assert entry["recorded"].endswith("+00:00")  # UTC, so locks diff cleanly across machines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.lock"]


def test_locked_returns_the_entry_and_refuses_an_unknown_reference(tmp_path):
    lock = tmp_path / "zoo.lock"
    record(lock, "zoo/iris@v1", SHA_A, CARD_A)
    assert locked(lock, "zoo/iris@v1") == LockEntry(SHA_A, CARD_A)
    with pytest.raises(ZooError, match="zoo/iris@main is not in"):
        locked(lock, "zoo/iris@main")


def test_check_locked_refuses_a_card_that_changed():
    entry = LockEntry(SHA_A, CARD_A)
    check_locked(entry, "zoo/iris@v1", CARD_A)
    with pytest.raises(IntegrityError, match=f"zoo/iris@v1@{SHA_A[:12]} has a card whose sha256"):
        check_locked(entry, "zoo/iris@v1", CARD_B)


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not a readable zoo.lock"),
    ('{"version": 2, "packages": {}}', f"is not a zoo.lock of version {LOCK_VERSION}"),
    ('{"version": 1, "packages": []}', f"is not a zoo.lock of version {LOCK_VERSION}"),
])
def test_a_lock_that_is_not_one_is_refused_and_left_alone(tmp_path, text, message):
    lock = tmp_path / "zoo.lock"
    lock.write_text(text)
    with pytest.raises(ZooError, match=message):
        read_lock(lock)
    with pytest.raises(ZooError, match=message):
        record(lock, "zoo/iris", SHA_A, CARD_A)  # never overwrites what it cannot read
    assert lock.read_text() == text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_writer_replaces_the_file_when_the_block_succeeds(tmp_path):
    target = tmp_path / "card.json"
    target.write_text("old")
    with atomic_writer(target) as handle:
        handle.write(b"new")
        assert target.read_text() == "old"  # readers see the old file until the end
    assert target.read_text() == "new" and leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failing_block_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "card.json"
    target.write_text("old")
    with pytest.raises(error), atomic_writer(target) as handle:
        handle.write(b"half of the new one")
        raise error
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_a_failing_block_creates_no_file(tmp_path):
    with pytest.raises(OSError), atomic_writer(tmp_path / "new.bin"):
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_make_parent_folders_and_write_utf8(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "b" / "README.md", "naïve ✓\n")
    assert path.read_bytes() == "naïve ✓\n".encode()
    assert atomic_write_bytes(path, b"\x00\xff").read_bytes() == b"\x00\xff"

