"""Backbones as the ecosystem publishes them, made in the test session by the
libraries that write them: keras-hub presets (`save_to_preset`) and Keras 3 folders
(`model.save(DIR, zipped=False)`, the layout `model.save("hf://…")` uploads), and a
folder hub that holds them in the Hugging Face layout with no zoo card.

Importing this module imports keras-hub, and so TensorFlow: only slow tests use it.
"""

from pathlib import Path

from zoo.hub.folder import FolderHub

# A README as `upload_preset` writes it: keras-hub's front matter names no license.
KERAS_HUB_README = "---\nlibrary_name: keras-hub\n---\nA tiny ResNet made by the tests.\n"
PRESET_SIZE = 32  # the image converter's size; the backbone itself takes any size


def tiny_resnet(seed: int = 0):
    """A two-stage ResNet backbone (P2, P3) with dynamic spatial input, ~89k parameters."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16], stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2], block_type="basic_block", use_pre_activation=False,
        image_shape=(None, None, 3))


def backbone_preset(folder: Path, readme: str | None = KERAS_HUB_README) -> Path:
    """`save_to_preset` of a tiny ResNet backbone, plus an upload's README."""
    tiny_resnet().save_to_preset(str(folder))
    if readme is not None:
        (Path(folder) / "README.md").write_text(readme)
    return Path(folder)


def task_preset(folder: Path, readme: str | None = KERAS_HUB_README) -> Path:
    """An image classifier preset: the backbone plus task.json, preprocessor.json and an
    image_converter.json that scales pixels by 1/255 at 32x32."""
    import keras_hub

    converter = keras_hub.layers.ResNetImageConverter(image_size=(PRESET_SIZE, PRESET_SIZE),
                                                      scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    classifier = keras_hub.models.ResNetImageClassifier(backbone=tiny_resnet(1), num_classes=3,
                                                        preprocessor=preprocessor)
    classifier.save_to_preset(str(folder))
    if readme is not None:
        (Path(folder) / "README.md").write_text(readme)
    return Path(folder)


def keras_folder(folder: Path, license: str | None = "apache-2.0") -> Path:
    """A small functional CNN as `model.save(DIR, zipped=False)` writes it, with the
    README Keras' hf:// upload writes (plus a license line, if given)."""
    import keras
    from keras.src.saving import saving_lib

    keras.utils.set_random_seed(2)
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem_conv")(inputs)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="block1_conv")(x)
    x = keras.layers.ReLU(name="block1_relu")(x)
    model = keras.Model(inputs, x, name="tiny_cnn")
    model.save(str(folder), zipped=False)
    readme = saving_lib._MODEL_CARD_TEMPLATE
    if license:
        readme = readme.replace("library_name: keras\n", f"library_name: keras\nlicense: {license}\n")
    (Path(folder) / "README.md").write_text(readme)
    return Path(folder)


def commit(hub_root: Path, folder: Path, repo: str, *, tag: str | None = None,
           message: str = "Upload") -> str:
    """Commit a folder to a folder hub as the Hub stores it (weights as Git LFS pointer
    files, a .gitattributes), no zoo card; returns the commit sha."""
    owner, name = repo.split("/")
    return FolderHub(hub_root).commit_folder(folder, owner, name, message=message,
                                             tag=tag).revision
