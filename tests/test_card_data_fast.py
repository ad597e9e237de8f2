"""What a caller says about a package (`CardData`), built by its named constructors,
with no Keras: the derived package's lineage and license, an application's card."""

import json
from pathlib import Path

import pytest
from packages import make_package
from zoo.cards.card import ImportSource, Lineage, read_card
from zoo.cards.card_data import CardData
from zoo.cards.license_policy import check_card_license

from zoo.errors import LicenseRefused

SHA, REVISION, KEY = "a" * 64, "b" * 40, "sha256:" + "c" * 64


def base_card(tmp_path: Path, **changes):
    package = make_package(tmp_path / "base", name="iris", license="MIT")
    data = json.loads((package / "card.json").read_text())
    data["preprocessing"]["label_names"] = ["setosa", "versicolor", "virginica"]
    data["tags"] = ["tabular"]
    data.update(changes)
    (package / "card.json").write_text(json.dumps(data))
    return read_card(package)


def derived(base, head: str | None = None, **more) -> CardData:
    lineage = Lineage(base_ref="zoo/iris", base_revision=REVISION, base_card_sha256=SHA,
                      base_license=base.license, base_name=base.name, base_signed_by=KEY,
                      cut_layer="hidden2", frozen_layers=["hidden1", "hidden2"],
                      batchnorm_policy="frozen", head=head)
    return CardData.derived(base, lineage, **more)


def test_a_derived_package_records_its_base_without_a_hub(tmp_path):
    data = derived(base_card(tmp_path), head="dense:4:softmax")
    lineage = data.lineage
    assert (lineage.base_ref, lineage.base_revision, lineage.base_card_sha256) == \
        ("zoo/iris", REVISION, SHA)
    assert lineage.base_name == "iris" and lineage.base_signed_by == KEY
    assert lineage.base_license == "MIT" and lineage.frozen_layers == ["hidden1", "hidden2"]
    assert (lineage.cut_layer, lineage.head) == ("hidden2", "dense:4:softmax")
    assert data.name == "iris-derived" and data.version == "0.1.0"
    assert data.authors == ["the tests"] and data.tags == ["derived", "tabular"]
    assert data.training_data.name == "none (base network)"


def test_a_derived_package_carries_the_base_license_forward_and_the_users(tmp_path):
    base = base_card(tmp_path)
    assert derived(base).license == "MIT"
    mine = derived(base, name="mine", license="Apache-2.0", authors=("me",))
    assert (mine.name, mine.license, mine.authors) == ("mine", "MIT AND Apache-2.0", ["me"])


def test_a_derived_package_keeps_an_other_license_named_and_linked(tmp_path):
    base = base_card(tmp_path, license="other", license_name="Acme Research",
                     license_link="https://acme.invalid/license")
    data = derived(base)
    assert data.license == "LicenseRef-Acme-Research"
    assert (data.license_name, data.license_link) == \
        ("Acme Research", "https://acme.invalid/license")


def test_a_new_head_drops_the_base_labels_and_a_cut_alone_keeps_them(tmp_path):
    base = base_card(tmp_path)
    assert derived(base, head="dense:4:softmax").preprocessing.label_names is None
    assert derived(base).preprocessing.label_names == ["setosa", "versicolor", "virginica"]
    assert base.preprocessing.label_names == ["setosa", "versicolor", "virginica"]


def test_an_application_says_where_its_weights_came_from():
    random = CardData.application("MobileNetV2", weights="none", license="Apache-2.0")
    assert random.name == "mobilenetv2" and "RANDOM weights" in random.description
    assert random.training_data.name == "none (random weights)"
    assert "keras-applications-mobilenetv2" in random.tags
    local = CardData.application("VGG16", weights="/data/vgg.weights.h5", name="vgg",
                                 license="Apache-2.0 AND CC-BY-4.0")
    assert local.name == "vgg" and local.training_data.name == "weights file vgg.weights.h5"


def test_a_network_someone_brings_names_its_data_and_copies_its_lists():
    authors = ["me"]
    data = CardData.network("my-net", "MIT", authors=authors, training_data="iris.csv")
    authors.append("someone else")
    assert data.authors == ["me"] and data.training_data.name == "iris.csv"
    assert CardData.network("my-net", "MIT").training_data.name == "unknown"


def test_an_import_records_its_source():
    source = ImportSource(source="hf://org/net", revision=REVISION, format="keras folder",
                          files={"model.keras": SHA}, license_from="source")
    data = CardData.imported(source, name="net", license="MIT", version="1.0.0",
                             authors=["org"], description="imported")
    assert data.imported_from is source and data.tags == ["imported", "keras-folder"]


def test_card_data_without_a_license_is_refused_before_anything_is_packed():
    with pytest.raises(LicenseRefused, match="no license"):
        check_card_license(CardData.network("my-net", "NONE"))
