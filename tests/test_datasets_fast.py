"""Data files written by hand: what CSV and NPZ reading accepts, and the one-line
refusals for everything else."""

from pathlib import Path

import numpy as np
import pytest

from zoo.data.datasets import (
    Table,
    fit_to_input,
    load_table,
    parse_classes,
    select,
    write_csv,
    write_table,
)
from zoo.errors import DataError


def csv_file(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_labels_sort_as_numbers_then_names(tmp_path):
    table = load_table(csv_file(tmp_path, "a,b,label\n1,2,10\n3,4,2\n5,6,cat\n7,8,2\n"))
    assert table.label_names == ["2", "10", "cat"]
    assert table.y.tolist() == [1, 0, 2, 0]
    assert table.x.dtype == np.float32 and table.x.shape == (4, 2)
    assert table.feature_names == ["a", "b"]


def test_csv_label_column_can_be_any_column(tmp_path):
    table = load_table(csv_file(tmp_path, "species,a,b\nx,1,2\ny,3,4\n"),
                       label_column="species")
    assert table.feature_names == ["a", "b"] and table.x.tolist() == [[1, 2], [3, 4]]


def test_csv_labels_follow_the_models_label_names(tmp_path):
    table = load_table(csv_file(tmp_path, "a,label\n1,b\n2,a\n"), label_names=["b", "a", "c"])
    assert table.y.tolist() == [0, 1] and table.label_names == ["b", "a", "c"]


@pytest.mark.parametrize("text, options, message", [
    ("a,label\n", {}, "expected a header row and at least one data row"),
    ("a,label\n1,x\n", {"label_column": "species"}, "no column 'species' (columns: a, label)"),
    ("a,b,label\n1,x,y\n", {}, "feature columns must be numbers on every row (line 2: 'x')"),
    ("a,b,label\n1,2,y\n3\n", {}, "line 3 has 1 value(s) where the header names 3 columns"),
    ("a,b,label\n1,2,y\n3,4\n", {}, "line 3 has 2 value(s) where the header names 3"),
    ("a,b,label\n1,2,y,9\n", {}, "line 2 has 4 value(s) where the header names 3"),
    ("a,label\n1,dog\n", {"label_names": ["cat"]}, "dog are not among the model's labels"),
])
def test_bad_csv_is_refused_with_the_reason(tmp_path, text, options, message):
    with pytest.raises(DataError) as caught:
        load_table(csv_file(tmp_path, text), **options)
    assert message in str(caught.value)


def test_a_csv_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,label\n1,café\n".encode("latin-1"))
    with pytest.raises(DataError, match="not a UTF-8 CSV file"):
        load_table(path)


def test_npz_keeps_stored_label_names_and_encodes_string_labels(tmp_path):
    np.savez(tmp_path / "ints.npz", x=np.zeros((3, 2)), y=np.array([0, 2, 1]),
             label_names=np.array(["cat", "dog", "owl"]))
    ints = load_table(tmp_path / "ints.npz")
    assert ints.label_names == ["cat", "dog", "owl"] and ints.y.tolist() == [0, 2, 1]
    np.savez(tmp_path / "names.npz", x=np.zeros((2, 2)), y=np.array(["owl", "cat"]))
    names = load_table(tmp_path / "names.npz")
    assert names.label_names == ["cat", "owl"] and names.y.tolist() == [1, 0]


def test_npz_labels_it_names_are_matched_to_the_models_by_name(tmp_path):
    """Indices into the file's own label_names are not indices into the model's."""
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.array([0, 1, 2]),
             label_names=np.array(["7", "5", "6"]))
    table = load_table(tmp_path / "d.npz", label_names=["5", "6", "7"])
    assert table.label_names == ["5", "6", "7"] and table.y.tolist() == [2, 0, 1]
    np.savez(tmp_path / "other.npz", x=np.zeros((2, 2)), y=np.array([0, 1]),
             label_names=np.array(["0", "1"]))
    with pytest.raises(DataError, match="label.s. 0, 1 are not among the model's labels "
                                        r"\(5, 6, 7\)"):
        load_table(tmp_path / "other.npz", label_names=["5", "6", "7"])
    np.savez(tmp_path / "bare.npz", x=np.zeros((2, 2)), y=np.array([2, 0]))
    bare = load_table(tmp_path / "bare.npz", label_names=["5", "6", "7"])  # no names: indices
    assert bare.y.tolist() == [2, 0] and bare.label_names == ["5", "6", "7"]


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((2, 2))}, "an NPZ needs arrays 'x' and 'y' (has x)"),
    ({"x": np.zeros((2, 2)), "y": np.array([0, 1]), "label_names": np.array(["a", "a"])},
     "label_names holds a name twice"),
    ({"x": np.zeros((2, 2)), "y": np.array([0, 1]), "label_names": np.array([["a", "b"]])},
     "label_names must be one name per class"),
    ({"x": np.zeros((2, 2)), "y": np.zeros(3, np.int64)}, "as many rows as y (x (2, 2), y (3,))"),
    ({"x": np.zeros((2, 2)), "y": np.array([0, 5]), "label_names": np.array(["a", "b"])},
     "label indices must be in 0..1"),
    ({"x": np.zeros((2, 2)), "y": np.array([0, -1])}, "label indices must be in 0..0"),
    ({"x": np.array(["a", "b"]), "y": np.array([0, 1])}, "they must be numbers"),
    ({"x": np.array([{"a": 1}, None], dtype=object), "y": np.array([0, 1])},
     "without unpickling Python objects"),
])
def test_bad_npz_is_refused_with_the_reason(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as caught:
        load_table(tmp_path / "bad.npz")
    assert message in str(caught.value)


@pytest.mark.parametrize("name, content, message", [
    ("garbage.npz", b"not a zip file", "not a readable NPZ archive"),
    ("notes.txt", b"hello", "unsupported data file (use .csv or .npz)"),
])
def test_files_that_are_not_data_are_refused(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_table(tmp_path / name)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        load_table(tmp_path / "gone.csv")


def small_table(rows: int = 6) -> Table:
    x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
    y = np.array([i % 3 for i in range(rows)])
    return Table("t", x, y, ["a", "b", "c"], ["p0", "p1", "p2", "p3"], "sha")


def test_flattened_rows_are_reshaped_to_the_model_input():
    assert fit_to_input(small_table(), (2, 2, 1)).x.shape == (6, 2, 2, 1)
    assert fit_to_input(small_table(), (None, 4)).x.shape == (6, 4)
    with pytest.raises(DataError, match=r"each sample has shape \(4,\), the model takes \(3,\)"):
        fit_to_input(small_table(), (3,))


def test_select_relabels_in_the_order_given_and_caps_each_class():
    picked = select(small_table(), ["c", "a"], per_class=1)
    assert picked.label_names == ["c", "a"] and sorted(picked.y.tolist()) == [0, 1]
    assert picked.name == "t-cc_a-n1"
    assert select(small_table(), ["a", "b"], per_class=1, seed=0).sha256 == \
        select(small_table(), ["a", "b"], per_class=1, seed=0).sha256  # a seeded choice
    with pytest.raises(DataError, match=r"t has no class\(es\) z \(classes: a, b, c\)"):
        select(small_table(), ["z"])


@pytest.mark.parametrize("text, classes", [
    ("5-9", ["5", "6", "7", "8", "9"]), ("0,1, 2", ["0", "1", "2"]), ("9-5", ["9-5"]),
    ("cat,dog", ["cat", "dog"])])
def test_class_lists_parse(text, classes):
    assert parse_classes(text) == classes


def test_csv_written_reads_back_the_same(tmp_path):
    table = small_table()
    write_csv(table, tmp_path / "t.csv")
    back = load_table(tmp_path / "t.csv", label_names=table.label_names)
    assert np.array_equal(back.x, table.x) and np.array_equal(back.y, table.y)
    with pytest.raises(DataError, match="write .csv or .npz"):
        write_table(table, tmp_path / "t.parquet")


def test_image_headers_are_checked_before_any_decoder_runs(tmp_path):
    from PIL import Image

    from zoo.data.datasets import MAX_IMAGE_PIXELS, check_images

    (tmp_path / "ok" / "cat").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "ok" / "cat" / "a.png")
    (tmp_path / "ok" / "notes.txt").write_text("not read: Keras reads only class folders")
    check_images(tmp_path / "ok")
    (tmp_path / "big" / "cat").mkdir(parents=True)
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 1  # just over the limit; only the header is read
    Image.new("1", (side, side)).save(tmp_path / "big" / "cat" / "b.PNG")
    with pytest.raises(DataError, match="b.PNG: declares more pixels than the zoo decodes"):
        check_images(tmp_path / "big")
    (tmp_path / "junk" / "cat").mkdir(parents=True)
    (tmp_path / "junk" / "cat" / "c.jpg").write_bytes(b"\xff\xd8 and then nothing")
    with pytest.raises(DataError, match="c.jpg: not a readable image"):
        check_images(tmp_path / "junk")


def test_an_image_that_is_a_fifo_is_refused_not_read(tmp_path):
    import os

    from zoo.data.datasets import check_images

    (tmp_path / "cat").mkdir()
    os.mkfifo(tmp_path / "cat" / "waits.png")
    with pytest.raises(DataError, match="waits.png: not a regular file"):
        check_images(tmp_path)


def test_a_class_folder_that_is_a_link_is_checked_as_keras_reads_it(tmp_path):
    """Keras follows a class sub-folder that is a symlink; the header check must too."""
    import os

    from PIL import Image

    from zoo.data.datasets import MAX_IMAGE_PIXELS, check_images

    (tmp_path / "elsewhere").mkdir()
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 1
    Image.new("1", (side, side)).save(tmp_path / "elsewhere" / "b.png")
    (tmp_path / "data" / ".hidden").mkdir(parents=True)  # Keras skips it, and so do we
    os.mkfifo(tmp_path / "data" / ".hidden" / "waits.png")
    check_images(tmp_path / "data")
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "cat")
    with pytest.raises(DataError, match="cat/b.png: declares more pixels"):
        check_images(tmp_path / "data")
