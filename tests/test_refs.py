"""The hub reference grammar."""

import pytest

from zoo.errors import RefError
from zoo.hub.refs import parse_ref
from zoo.paths import default_hub_root


def test_name_gets_the_default_owner_and_hub():
    ref = parse_ref("iris")
    assert (ref.owner, ref.name, ref.revision) == ("zoo", "iris", None)
    assert ref.hub_root == default_hub_root()


def test_owner_name_and_revision():
    ref = parse_ref("acme/iris@v1.2")
    assert (ref.owner, ref.name, ref.revision) == ("acme", "iris", "v1.2")


def test_file_reference_names_another_hub(tmp_path):
    ref = parse_ref(f"file://{tmp_path}/hub/iris@main")
    assert (ref.hub_root, ref.owner, ref.name, ref.revision) == \
        (tmp_path / "hub", "zoo", "iris", "main")


def test_file_reference_with_owner_inside_an_existing_hub(tmp_path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "zoo-hub.json").write_text("{}")
    ref = parse_ref(f"file://{tmp_path}/hub/acme/iris")
    assert (ref.hub_root, ref.owner, ref.name) == (tmp_path / "hub", "acme", "iris")


def test_hf_reference_names_a_hub_repository():
    ref = parse_ref("hf://acme/iris@v1")
    assert (ref.scheme, ref.hub_root, ref.owner, ref.name, ref.revision) == \
        ("hf", None, "acme", "iris", "v1")
    assert str(ref) == "hf://acme/iris@v1"


@pytest.mark.parametrize("text", ["hf://iris", "hf://a/b/c", "hf://acme/../x","", "   ", "../etc", "a/../b", "a/b/c", "/abs", "iris@",
                                  "iris@../x", "iris@-rf", "ir is", "owner/", ".hidden",
                                  "file:///x/../y/iris", "file://host/hub/iris",
                                  "s3://bucket/iris", "iris@v1.lock"])
def test_bad_references_are_refused_with_an_example(text):
    with pytest.raises(RefError) as caught:
        parse_ref(text)
    assert "e.g." in str(caught.value) or "file://" in str(caught.value)
