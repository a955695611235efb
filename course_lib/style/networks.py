"""The networks whose feature maps define content and style: any Keras model's named layers.

- `feature_extractor(model, layers)`: a model that returns the maps of the named layers.
- `StyleNetwork`: a network, the preprocessing that takes images in [0, 1] to its input,
  and the layers the paper's recipe uses for content and for style.
- `efficientnet_lite0` (the course's offline ImageNet network; ``weights=None`` for the same
  architecture untrained), `random_multiscale` (one layer of random filters at many scales,
  Ustyuzhaninov et al., 2017) and `vgg19` (Gatys et al.'s network, when its weights are in
  Keras' cache; otherwise `cl.pretrained.PretrainedError`).

Every `StyleNetwork` takes images ``(batch, H, W, 3)`` with values in [0, 1], the course's
input convention, so the same optimiser and the same loss serve all of them.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Callable

import numpy as np

import keras
from keras import ops

# EfficientNet-Lite0's counterparts of VGG's conv1_1 ... conv5_1: the first ReLU6 at each
# resolution (1/2, 1/4, 1/8, 1/16 and 1/32 of the input; the expansion of the block that
# begins a stage sees the stage's full resolution before its stride-2 depthwise convolution).
EFFICIENTNET_STYLE_LAYERS = ("stem_activation", "block2a_expand_activation", "block3a_expand_activation",
                             "block4a_expand_activation", "block6a_expand_activation")
# ... and of VGG's conv4_2 (the paper's content layer): a ReLU6 at 1/16 of the input, one block deeper
EFFICIENTNET_CONTENT_LAYER = "block5a_expand_activation"
VGG19_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG19_CONTENT_LAYER = "block4_conv2"
VGG19_MEAN_BGR = (103.939, 116.779, 123.68)   # keras.applications.vgg19.preprocess_input ("caffe" mode)


def feature_extractor(model: keras.Model, layers, name: str | None = None) -> keras.Model:
    """A model with `model`'s input that returns the outputs of the named layers, in order.

    Args:
        model: a functional (or built Sequential) Keras model.
        layers: names of layers of `model`, e.g. ``["block1_conv1", "block2_conv1"]``.
        name: the new model's name.

    Returns: a `keras.Model` whose output is a list of ``(batch, H_l, W_l, N_l)`` maps, one per
    name (a one-element list for one name). It computes only what those layers need, and
    shares `model`'s weights.

    Raises: ValueError naming an unknown layer and the closest names the model has.
    """
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("feature_extractor needs at least one layer name, e.g. layers=['block1_conv1']")
    known = [layer.name for layer in model.layers]
    outputs = []
    for layer_name in layers:
        if layer_name not in known:
            close = difflib.get_close_matches(layer_name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f"; its layers are {', '.join(known[:8])}, ..."
            raise ValueError(f"model {model.name!r} has no layer named {layer_name!r}{hint} "
                             f"(see [l.name for l in model.layers])")
        outputs.append(model.get_layer(layer_name).output)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=name or f"{model.name}_features")


@dataclasses.dataclass
class StyleNetwork:
    """A network for style transfer.

    Attributes:
        name: a short label for tables and figures.
        model: the Keras model whose layers are read.
        preprocess: images in [0, 1], ``(batch, H, W, 3)``, to the model's input (keras.ops, so
            that gradients flow through it).
        style_layers: the layers of the style loss, shallow to deep.
        content_layer: the layer of the content loss.
    """

    name: str
    model: keras.Model
    preprocess: Callable
    style_layers: tuple
    content_layer: str

    def extractor(self, layers) -> Callable:
        """A function: images in [0, 1] ``(batch, H, W, 3)`` to the list of maps at `layers`
        (computed in inference mode, so batch normalization uses its moving statistics)."""
        features = feature_extractor(self.model, layers)

        def extract(images):
            out = features(self.preprocess(images), training=False)
            return list(out) if isinstance(out, (list, tuple)) else [out]

        extract.model = features
        return extract


def _efficientnet_preprocess(images):
    from course_lib.pretrained.efficientnet_lite import MEAN, STD

    return (images * 255.0 - MEAN) / STD


def efficientnet_lite0(weights="imagenet") -> StyleNetwork:
    """EfficientNet-Lite0 without its classifier, taking any image size; ``weights=None`` gives the
    same architecture with random weights (the reference initialisation)."""
    from course_lib import pretrained

    model = pretrained.efficientnet_lite0(weights=weights, include_top=False, input_shape=(None, None, 3))
    label = "EfficientNet-Lite0" + ("" if weights == "imagenet" else " (random weights)")
    return StyleNetwork(label, model, _efficientnet_preprocess, EFFICIENTNET_STYLE_LAYERS, EFFICIENTNET_CONTENT_LAYER)


def _vgg_preprocess(images):
    bgr = ops.flip(images * 255.0, axis=-1)
    return bgr - ops.convert_to_tensor(np.array(VGG19_MEAN_BGR, "float32"))


def vgg19() -> StyleNetwork:
    """VGG19 with its ImageNet weights from Keras' cache, Gatys et al.'s network and layers.

    Raises: `cl.pretrained.PretrainedError` naming the weights file when it is not in Keras' cache.
    """
    from course_lib import pretrained

    model = pretrained.application("vgg19", include_top=False, input_shape=(None, None, 3))
    return StyleNetwork("VGG19", model, _vgg_preprocess, VGG19_STYLE_LAYERS, VGG19_CONTENT_LAYER)


# Ustyuzhaninov et al. (2017): sizes 3 to 55 with 128 filters each; the largest are left out by default (cost).
MULTISCALE_SIZES = (3, 5, 7, 11, 15, 23)


def random_multiscale(sizes=MULTISCALE_SIZES, filters: int = 128, seed: int = 0) -> StyleNetwork:
    """One convolutional layer of random filters at several sizes, ReLU, maps concatenated.

    Ustyuzhaninov, Brendel, Gatys & Bethge, "What does it take to generate natural textures?"
    (ICLR 2017) synthesise textures from the Gram matrices of a single layer of random filters
    at eight sizes from 3 to 55, 128 filters each. How the filters are drawn here (normal,
    then scaled to zero mean and unit norm) is this course's choice; the largest sizes are
    left out by default because their cost grows with the size squared.

    Args:
        sizes: odd filter sizes.
        filters: filters per size.
        seed: seed of the filters.

    Returns: a `StyleNetwork` whose one layer, ``multiscale``, serves as content and style layer
    (``(batch, H, W, len(sizes) * filters)``).
    """
    sizes = tuple(int(s) for s in sizes)
    if not sizes or any(s < 1 or s % 2 == 0 for s in sizes):
        raise ValueError(f"sizes must be odd positive filter sizes, got {sizes}; e.g. sizes=(3, 5, 7, 11)")
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, 3), name="image")
    branches = []
    for size in sizes:
        kernel = rng.normal(size=(size, size, 3, filters)).astype("float32")
        kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
        kernel /= np.sqrt((kernel ** 2).sum(axis=(0, 1, 2), keepdims=True))
        conv = keras.layers.Conv2D(filters, size, padding="same", activation="relu", use_bias=False,
                                   kernel_initializer=keras.initializers.Constant(kernel), name=f"random_{size}x{size}")
        branches.append(conv(inputs))
    x = keras.layers.Concatenate(name="multiscale")(branches) if len(branches) > 1 else \
        keras.layers.Identity(name="multiscale")(branches[0])
    model = keras.Model(inputs, x, name="random_multiscale")
    return StyleNetwork(f"random multi-scale ({len(sizes)} sizes)", model, _efficientnet_preprocess, ("multiscale",),
                        "multiscale")


__all__ = ["feature_extractor", "StyleNetwork", "efficientnet_lite0", "vgg19", "random_multiscale",
           "EFFICIENTNET_STYLE_LAYERS", "EFFICIENTNET_CONTENT_LAYER", "VGG19_STYLE_LAYERS", "VGG19_CONTENT_LAYER",
           "MULTISCALE_SIZES"]
