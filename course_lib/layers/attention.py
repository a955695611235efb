"""Additive attention (Bahdanau, Cho & Bengio, 2015), the kind Show, Attend and Tell uses.

A query (a decoder state) scores every value (a position of the encoder's output, here
a cell of a CNN's feature grid) with a one-hidden-layer network,

    e_l = vᵀ tanh(W_q q + W_v a_l + b),    α = softmax(e),    context = Σ_l α_l a_l,

so the weights α depend on the state: each word can look at a different part of the image.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: ``context = Σ_l softmax(vᵀ tanh(W_q q + W_v a_l + b))_l a_l``.

    Unlike ``keras.layers.AdditiveAttention`` (which adds query and key as they are), the
    query and the values are first projected to `units` features, as in Bahdanau et al.;
    query and values may then have different sizes.

    Args:
        units: size of the hidden layer of the scoring network (W_q, W_v: ``(·, units)``, v: ``(units,)``).

    Call arguments:
        inputs: ``[query, values]``.
        mask: ``[query_mask, values_mask]`` (either may be ``None``), filled in by Keras from
            masking layers (``Embedding(mask_zero=True)``): masked values get zero weight; the
            context of a masked query is zero and the query's mask is passed on.
        return_attention_scores: also return the weights α.

    Input shape: query ``(batch, Tq, Dq)`` or ``(batch, Dq)``; values ``(batch, L, Dv)``.
    Output shape: context ``(batch, Tq, Dv)`` (``(batch, Dv)`` for a 2-D query); with
    `return_attention_scores`, also the weights ``(batch, Tq, L)`` (``(batch, L)``), rows summing to 1.

    Example:
        >>> att = BahdanauAttention(8)
        >>> context, weights = att([np.zeros((2, 5, 16)), np.ones((2, 49, 32))], return_attention_scores=True)  # doctest: +SKIP
        >>> context.shape, weights.shape                                                                  # doctest: +SKIP
        ((2, 5, 32), (2, 5, 49))
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer (the size of the scoring layer), got {units!r}")
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        query_shape, values_shape = self._shapes(input_shape)
        self.query_kernel = self.add_weight(shape=(query_shape[-1], self.units), initializer="glorot_uniform",
                                            name="query_kernel")
        self.values_kernel = self.add_weight(shape=(values_shape[-1], self.units), initializer="glorot_uniform",
                                             name="values_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.score_vector = self.add_weight(shape=(self.units,), initializer="glorot_uniform", name="score_vector")

    def _shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"BahdanauAttention is called on [query, values], got input shape {input_shape}")
        query_shape, values_shape = (tuple(s) for s in input_shape)
        if len(values_shape) != 3:
            raise ValueError(f"values must be (batch, L, Dv), got shape {values_shape}; "
                             f"reshape a feature grid (batch, H, W, C) to (batch, H*W, C) first")
        if len(query_shape) not in (2, 3):
            raise ValueError(f"query must be (batch, Dq) or (batch, Tq, Dq), got shape {query_shape}")
        return query_shape, values_shape

    def call(self, inputs, mask=None, return_attention_scores=False):
        query, values = inputs
        single = len(query.shape) == 2
        if single:
            query = ops.expand_dims(query, 1)                                  # (batch, 1, Dq)
        query_mask, values_mask = mask if mask is not None else (None, None)
        q = ops.matmul(query, self.query_kernel)                               # (batch, Tq, units)
        k = ops.matmul(values, self.values_kernel) + self.bias                 # (batch, L, units)
        hidden = ops.tanh(ops.expand_dims(q, 2) + ops.expand_dims(k, 1))       # (batch, Tq, L, units)
        scores = ops.tensordot(hidden, self.score_vector, axes=[[3], [0]])     # (batch, Tq, L)
        if values_mask is not None:
            keep = ops.expand_dims(ops.cast(values_mask, "bool"), 1)           # (batch, 1, L)
            scores = ops.where(keep, scores, ops.cast(-1e9, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(weights, values)                                  # (batch, Tq, Dv)
        if query_mask is not None:
            query_mask = ops.cast(query_mask, "bool")
            if single:
                query_mask = ops.expand_dims(query_mask, 1)
            context = ops.where(ops.expand_dims(query_mask, -1), context, ops.zeros_like(context))
        if single:
            context, weights = context[:, 0], weights[:, 0]
        return (context, weights) if return_attention_scores else context

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return ops.convert_to_tensor(mask[0])

    def compute_output_shape(self, input_shape):
        query_shape, values_shape = self._shapes(input_shape)
        return (*query_shape[:-1], values_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        query, values = inputs
        context = keras.KerasTensor(self.compute_output_shape([query.shape, values.shape]), dtype=self.compute_dtype)
        if not return_attention_scores:
            return context
        return context, keras.KerasTensor((*query.shape[:-1], values.shape[1]), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
