"""An LSTM caption decoder over a CNN's feature grid, with or without attention.

- Without attention (Show and Tell, Vinyals et al., 2015): the whole grid becomes one image
  vector, which sets the LSTM's initial state; every word is predicted from the LSTM's output.
- With additive attention (Show, Attend and Tell, Xu et al., 2015): the same, and at every
  word the LSTM's output queries the grid (`course_lib.layers.BahdanauAttention`); the
  context vector joins the output before the word is predicted, so each word can look at a
  different place. Xu et al. feed the context back into the next LSTM step; here it joins
  the output as in Luong et al. (2015), which lets Keras run the LSTM over a whole caption
  at once, several times faster on a CPU.

The two share everything else, so a comparison of the two changes only the attention.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import layers

from course_lib.layers.attention import BahdanauAttention
from course_lib.layers.coordinates import AddCoordinates
from course_lib.models._common import check_count


def captioner(vocab_size: int, grid_shape, length: int | None = None, attention: bool = True, embed_dim: int = 64,
              units: int = 128, cell_features: int = 64, attention_units: int = 64, dropout: float = 0.2,
              name: str | None = None) -> keras.Model:
    """A caption decoder: (feature grid, words so far) → probabilities of the next word at every position.

    The grid's cells are first projected to `cell_features` features each (a 1x1 convolution
    with ReLU), and two channels with the cell's row and column are added, so that a
    weighted sum of cells still says where it came from. The image vector is a dense layer
    over all the projected cells (it keeps their layout) and sets the LSTM's state ``(h_0, c_0)``.

    Args:
        vocab_size: number of tokens (padding, id 0, is masked).
        grid_shape: ``(H, W, C)`` of the encoder's feature grid.
        length: tokens per caption (``None``: any).
        attention: add additive attention over the grid's cells.
        embed_dim: size of the word embeddings.
        units: LSTM units.
        cell_features: features per grid cell after the projection.
        attention_units: hidden size of the attention's scoring network.
        dropout: before the output layer.

    Input shape: ``[(batch, H, W, C) features, (batch, length) int tokens]``.
    Output shape: ``(batch, length, vocab_size)`` next-word probabilities, masked where the
    input token is padding.
    """
    check_count("vocab_size", vocab_size, minimum=5)
    for arg, value in (("embed_dim", embed_dim), ("units", units), ("cell_features", cell_features),
                       ("attention_units", attention_units)):
        check_count(arg, value)
    grid_shape = tuple(grid_shape)
    if len(grid_shape) != 3 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in grid_shape):
        raise ValueError(f"grid_shape must be (H, W, C) of the encoder's feature grid, got {grid_shape}")
    h, w, _ = grid_shape
    features = keras.Input(grid_shape, name="features")
    tokens = keras.Input((length,), dtype="int32", name="tokens")

    cells = layers.Conv2D(cell_features, 1, activation="relu", name="cell_projection")(features)
    cells = AddCoordinates(name="positions")(cells)
    cells = layers.Reshape((h * w, cell_features + 2), name="cells")(cells)
    image = layers.Dense(units, activation="relu", name="image_vector")(layers.Flatten(name="all_cells")(cells))
    h0 = layers.Dense(units, activation="tanh", name="init_h")(image)
    c0 = layers.Dense(units, name="init_c")(image)

    embedded = layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="embedding")(tokens)
    out = layers.LSTM(units, return_sequences=True, name="lstm")(embedded, initial_state=[h0, c0])
    if attention:
        context, _ = BahdanauAttention(attention_units, name="attention")([out, cells], return_attention_scores=True)
        out = layers.Dense(units, activation="tanh", name="attentional_state")(layers.Concatenate()([out, context]))
    out = layers.Dropout(dropout)(out)
    probs = layers.Dense(vocab_size, activation="softmax", name="next_word")(out)
    return keras.Model([features, tokens], probs, name=name or ("show_attend_tell" if attention else "show_and_tell"))


def attention_model(model: keras.Model) -> keras.Model:
    """A model with the captioner's inputs that returns ``[probabilities, attention weights (batch, length, cells)]``."""
    found = [layer for layer in model.layers if isinstance(layer, BahdanauAttention)]
    if not found:
        raise ValueError(f"model {model.name!r} has no BahdanauAttention layer; build it with captioner(..., attention=True)")
    return keras.Model(model.inputs, [model.outputs[0], found[0].output[1]], name=f"{model.name}_with_weights")
