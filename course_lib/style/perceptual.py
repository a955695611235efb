"""The perceptual loss of style transfer: alpha * content + beta * style + gamma * total variation.

    net = cl.style.efficientnet_lite0()
    loss = cl.style.PerceptualLoss(net, style_image, content_weight=1.0, style_weight=1e3, tv_weight=1.0)
    f = loss.for_content(content_image)        # a scalar function of the generated image, for optimize_image
    parts = loss.parts(x, content_image)       # {"content", "style", "tv", "total"}, each (batch,)

The same object is a `keras.losses.Loss`: ``loss(y_true, y_pred)`` takes content images as
``y_true`` and the generated images as ``y_pred``, so a feed-forward network (Johnson et al.,
2016) trains on it with ``cl.training.fit(net, x, x, loss=loss)``. Images are in [0, 1].
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

import keras
from keras import ops

from course_lib.style.losses import content_loss, gram_matrix, style_loss, total_variation


@dataclasses.dataclass(frozen=True)
class Objective:
    """A scalar function of an image, ``fn(image, *args)``, with its arguments bound.

    `optimize_image` compiles `fn` once and feeds it `args`, so objectives that share `fn` and
    differ only in `args` (loss weights, content targets) share the compiled function.
    """

    fn: Callable
    args: tuple = ()

    def __call__(self, image):
        return self.fn(ops.convert_to_tensor(image, dtype="float32"), *self.args)


def _batched(images, what):
    images = ops.convert_to_tensor(images, dtype="float32")
    if len(images.shape) == 3:
        images = images[None]
    if len(images.shape) != 4 or images.shape[-1] != 3:
        raise ValueError(f"{what} must be RGB images in [0, 1], (H, W, 3) or (batch, H, W, 3), "
                         f"got shape {tuple(images.shape)}; scale uint8 pixels with cl.data.scale_images")
    return images


class PerceptualLoss(keras.losses.Loss):
    """``alpha * L_content + beta * L_style + gamma * TV`` measured in a `StyleNetwork`'s feature maps.

    Args:
        network: a `cl.style.StyleNetwork` (which model, its preprocessing, its default layers).
        style_image: the style image, ``(H, W, 3)`` in [0, 1]; its Gram matrices are computed once.
            ``None`` with ``style_weight=0`` (content only).
        content_weight: alpha. 0 for style alone (texture synthesis).
        style_weight: beta. 0 for content alone.
        tv_weight: gamma, the weight of the total variation of the generated image.
        style_layers: the layers of the style loss (default: the network's).
        content_layer: the layer of the content loss (default: the network's).
        layer_weights: w_l of the style loss, one per style layer (default 1 each, the lecture).
        factor: the style loss's constant: 1 (the lecture) or 0.25 (Gatys et al.).

    As a Keras loss, ``call(y_true, y_pred)`` returns ``(batch,)``: the content images are
    ``y_true``, the generated ones ``y_pred``.
    """

    def __init__(self, network, style_image=None, *, content_weight=1.0, style_weight=1.0, tv_weight=0.0,
                 style_layers=None, content_layer=None, layer_weights=None, factor=1.0, name="perceptual_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.network = network
        self.content_weight, self.style_weight, self.tv_weight = float(content_weight), float(style_weight), float(tv_weight)
        for label, value in (("content_weight", self.content_weight), ("style_weight", self.style_weight),
                             ("tv_weight", self.tv_weight)):
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value}")
        self.style_layers = tuple(network.style_layers if style_layers is None else style_layers)
        self.content_layer = network.content_layer if content_layer is None else content_layer
        self.layer_weights, self.factor = layer_weights, float(factor)
        self.use_style = self.style_weight > 0 and bool(self.style_layers)
        self.use_content = self.content_weight > 0 and self.content_layer is not None
        if self.use_style and style_image is None:
            raise ValueError(f"style_weight={self.style_weight} needs a style_image; give one, or set style_weight=0 "
                             f"to reconstruct content alone")
        layers = (list(self.style_layers) if self.use_style else []) + ([self.content_layer] if self.use_content else [])
        if not layers:
            raise ValueError("nothing to measure: content_weight and style_weight are both 0 (or no layers given)")
        self._layers = list(dict.fromkeys(layers))             # each layer computed once
        self.extract = network.extractor(self._layers)
        self.grams_y = None
        if self.use_style:
            maps = self._maps(_batched(style_image, "style_image"))
            self.grams_y = [ops.stop_gradient(gram_matrix(maps[name])) for name in self.style_layers]

    def _maps(self, images):
        return dict(zip(self._layers, self.extract(images)))

    def target(self, content_images):
        """The content layer's maps of the content images (``(batch, H, W, N)``), to reuse."""
        if not self.use_content:
            return None
        return ops.stop_gradient(self._maps(_batched(content_images, "content_images"))[self.content_layer])

    def parts(self, images, content_images=None, *, content_target=None):
        """Each term, per image (``(batch,)`` tensors): ``content``, ``style``, ``tv`` (unweighted) and the weighted ``total``."""
        images = _batched(images, "images")
        maps = self._maps(images)
        zero = ops.zeros((ops.shape(images)[0],), "float32")
        style = zero
        if self.use_style:
            style = style_loss([maps[name] for name in self.style_layers], grams_y=self.grams_y,
                               layer_weights=self.layer_weights, factor=self.factor)
        content = zero
        if self.use_content:
            if content_target is None:
                if content_images is None:
                    raise ValueError("content_weight > 0 needs the content images (or content_target=loss.target(...))")
                content_target = self.target(content_images)
            content = content_loss(maps[self.content_layer], content_target)
        tv = total_variation(images) if self.tv_weight > 0 else zero
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}

    def call(self, y_true, y_pred):
        return self.parts(y_pred, y_true)["total"]

    def weights(self, content_weight=None, style_weight=None, tv_weight=None):
        """alpha, beta, gamma as one ``(3,)`` tensor: the loss's own, or the ones given."""
        values = [self.content_weight if content_weight is None else float(content_weight),
                  self.style_weight if style_weight is None else float(style_weight),
                  self.tv_weight if tv_weight is None else float(tv_weight)]
        if values[0] > 0 and not self.use_content or values[1] > 0 and not self.use_style:
            raise ValueError(f"this loss was built without the {'content' if values[0] > 0 and not self.use_content else 'style'} "
                             f"term (its weight was 0); build a PerceptualLoss with both weights > 0 to sweep them")
        if min(values) < 0:
            raise ValueError(f"loss weights must be >= 0, got {values}")
        return ops.convert_to_tensor(np.array(values, "float32"))

    def _objective(self, image, content_target, weights):
        maps = self._maps(image)
        total = weights[2] * ops.sum(total_variation(image))
        if self.use_style:
            total = total + weights[1] * ops.sum(style_loss([maps[name] for name in self.style_layers], grams_y=self.grams_y,
                                                            layer_weights=self.layer_weights, factor=self.factor))
        if self.use_content:
            total = total + weights[0] * ops.sum(content_loss(maps[self.content_layer], content_target))
        return total

    def for_content(self, content_image=None, *, content_weight=None, style_weight=None, tv_weight=None):
        """The total loss as a function of one generated image ``(1, H, W, 3)``, for `optimize_image`.

        The content image's maps are computed once. The weights default to the loss's own; others
        can be given here, and since they reach the function as arguments, a sweep over them (or
        over content images of one size) reuses one compiled function.

        Returns: an `Objective`: ``objective(image)`` is the scalar loss.
        """
        if self.use_content and content_image is None:
            raise ValueError("this loss has a content term: give the content image, e.g. loss.for_content(photo)")
        target = self.target(content_image) if self.use_content else None
        return Objective(self._objective, (target, self.weights(content_weight, style_weight, tv_weight)))

    def get_config(self):
        """Only the name and reduction: the network and the style image are not serialised, so a
        model trained with this loss is reloaded with ``keras.saving.load_model(path, compile=False)``."""
        return super().get_config()


__all__ = ["PerceptualLoss", "Objective"]
