"""`keras.applications` networks with their ImageNet weights, from Keras' own cache.

Keras downloads these weights on first use into ``$KERAS_HOME/models`` (``~/.keras/models``, or
``/tmp/.keras/models`` where the home folder is not writable). Here a network is built through
Keras' real loading path, ``keras.applications.<Network>(weights=<file>)``, when its file is
already in that cache: after a size-independent check of its MD5 (the sum Keras itself pins),
Keras builds the model and ``model.load_weights`` reads the file. When the file is not there,
`application` raises a `PretrainedError` naming the file, the folder and how to get it. It
downloads only when asked (``download=True``) and never while ``COURSE_OFFLINE`` is set.

    >>> vgg = application("vgg19", include_top=False)          # doctest: +SKIP
    >>> x = keras.applications.vgg19.preprocess_input(images)  # each network has its own preprocessing
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib

from course_lib.data import files
from course_lib.pretrained.weights import PretrainedError


@dataclasses.dataclass(frozen=True)
class Application:
    """A `keras.applications` network and the names (and Keras' MD5 sums) of its weight files."""

    builder: str            # attribute of keras.applications
    module: str             # keras.applications.<module>, home of preprocess_input and decode_predictions
    top_file: str
    notop_file: str
    top_md5: str | None = None
    notop_md5: str | None = None


# File names and MD5 sums as keras/src/applications/{vgg19,resnet,mobilenet_v2}.py give them
# (Keras pins no sum for MobileNetV2's files).
NETWORKS = {
    "vgg19": Application("VGG19", "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                         "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
    "resnet50": Application("ResNet50", "resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                            "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "mobilenet_v2": Application("MobileNetV2", "mobilenet_v2",
                                "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}.h5",
                                "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"),
}
MOBILENET_ROWS = (96, 128, 160, 192, 224)


def keras_models_dirs() -> list[pathlib.Path]:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models``, else ``~/.keras/models``, then
    ``/tmp/.keras/models`` (Keras' choice where the home folder is not writable)."""
    if os.environ.get("KERAS_HOME"):
        return [pathlib.Path(os.environ["KERAS_HOME"]).expanduser() / "models"]
    return [pathlib.Path.home() / ".keras" / "models", pathlib.Path("/tmp/.keras/models")]


def _md5(path: pathlib.Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lookup(name: str) -> Application:
    if name not in NETWORKS:
        raise PretrainedError(f"unknown network {name!r}; known: {', '.join(NETWORKS)} "
                              f"(and cl.pretrained.efficientnet_lite0(), whose weights ship with the course)")
    return NETWORKS[name]


def weights_file(name: str, include_top: bool = True, input_shape=None) -> str:
    """The file name Keras gives `name`'s ImageNet weights (e.g. ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``)."""
    app = _lookup(name)
    rows = 224
    if name == "mobilenet_v2" and input_shape is not None and input_shape[0] is not None:
        rows = input_shape[0] if input_shape[0] in MOBILENET_ROWS else 224   # Keras falls back to 224, as here
    return (app.top_file if include_top else app.notop_file).format(rows=rows)


def find_weights(name: str, include_top: bool = True, input_shape=None) -> pathlib.Path | None:
    """The weights file in Keras' cache, checked against Keras' MD5 where it pins one; ``None`` if absent."""
    app = _lookup(name)
    fname = weights_file(name, include_top, input_shape)
    want = app.top_md5 if include_top else app.notop_md5
    for folder in keras_models_dirs():
        path = folder / fname
        if path.is_file():
            if want is not None and (got := _md5(path)) != want:
                raise PretrainedError(f"{path}: MD5 is {got}, Keras expects {want}; the file is truncated or not "
                                      f"Keras' {name} weights. Delete it and fetch it again (see "
                                      f"cl.pretrained.application({name!r}, download=True) on a machine with network).")
            return path
    return None


def _missing(name: str, include_top: bool, input_shape) -> PretrainedError:
    app = NETWORKS[name]
    fname = weights_file(name, include_top, input_shape)
    folder = keras_models_dirs()[0]
    why = ("COURSE_OFFLINE is set, so nothing is downloaded" if files.offline()
           else "downloads happen only with download=True")
    return PretrainedError(
        f"the ImageNet weights of {app.builder} are not in Keras' cache: {fname} is not in {folder} ({why}). "
        f"To get them, on a machine with network run once: python -c \"import keras; "
        f"keras.applications.{app.builder}(weights='imagenet', include_top={include_top})\" "
        f"(it saves the file in ~/.keras/models), then copy {fname} into {folder}. "
        f"Offline, cl.pretrained.efficientnet_lite0() needs no download.")


def application(name: str, include_top: bool = True, weights: str | None = "imagenet", input_shape=None,
                pooling=None, download: bool = False, **kwargs):
    """A `keras.applications` network (``"vgg19"``, ``"resnet50"``, ``"mobilenet_v2"``) with ImageNet weights.

    Args:
        name: the network, one of `NETWORKS`.
        include_top: keep the 1000-way classifier.
        weights: ``"imagenet"`` (read from Keras' cache) or ``None`` (fresh weights).
        input_shape, pooling, **kwargs: passed to the Keras builder.
        download: if the file is missing, let Keras download it (never while ``COURSE_OFFLINE`` is set).

    Returns: the `keras.Model`. Preprocess inputs with ``keras.applications.<module>.preprocess_input``
    (``NETWORKS[name].module``): each network expects its own scaling.
    """
    import keras

    app = _lookup(name)
    build = getattr(keras.applications, app.builder)
    if weights is None:
        return build(weights=None, include_top=include_top, input_shape=input_shape, pooling=pooling, **kwargs)
    if weights != "imagenet":
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}; to load your own file, "
                         f"build with weights=None and call model.load_weights(path)")
    path = find_weights(name, include_top, input_shape)
    if path is not None:
        return build(weights=str(path), include_top=include_top, input_shape=input_shape, pooling=pooling, **kwargs)
    if download and not files.offline():
        return build(weights="imagenet", include_top=include_top, input_shape=input_shape, pooling=pooling, **kwargs)
    raise _missing(name, include_top, input_shape)


__all__ = ["application", "find_weights", "weights_file", "keras_models_dirs", "NETWORKS"]
