"""BahdanauAttention against NumPy, with masks, in a model, saved and reloaded."""

import keras
import numpy as np
import pytest

import course_lib as cl


@pytest.fixture(autouse=True)
def _setup():
    cl.setup(seed=0, profile="smoke", quiet=True)


RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 3, 5)).astype("float32")
VALUES = RNG.normal(size=(2, 7, 4)).astype("float32")


def numpy_attention(layer, query, values, values_mask=None):
    wq, wv, b, v = (keras.ops.convert_to_numpy(w) for w in (layer.query_kernel, layer.values_kernel, layer.bias,
                                                            layer.score_vector))
    scores = np.tanh((query @ wq)[:, :, None, :] + (values @ wv + b)[:, None, :, :]) @ v      # (batch, Tq, L)
    if values_mask is not None:
        scores = np.where(values_mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ values, weights


def test_matches_numpy_for_sequences_and_single_queries():
    layer = cl.layers.BahdanauAttention(6)
    context, weights = layer([QUERY, VALUES], return_attention_scores=True)
    ref_context, ref_weights = numpy_attention(layer, QUERY, VALUES)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(context), ref_context, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights), ref_weights, atol=1e-6)
    c1, w1 = layer([QUERY[:, 1], VALUES], return_attention_scores=True)       # (batch, Dq) query
    assert tuple(c1.shape) == (2, 4) and tuple(w1.shape) == (2, 7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(c1), ref_context[:, 1], atol=1e-5)


def test_masked_values_get_no_weight():
    layer = cl.layers.BahdanauAttention(6)
    mask = np.array([[True] * 7, [True] * 3 + [False] * 4])
    context, weights = layer([QUERY, VALUES], mask=[None, mask], return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    assert np.all(weights[1, :, 3:] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    ref_context, _ = numpy_attention(layer, QUERY, VALUES, mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(context), ref_context, atol=1e-5)
    # what is masked does not matter
    changed = VALUES.copy()
    changed[1, 3:] = 100.0
    again = layer([QUERY, changed], mask=[None, mask])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again), keras.ops.convert_to_numpy(context), atol=1e-5)


def test_masks_flow_from_embeddings_through_a_model():
    """A padded query sequence (Embedding(mask_zero=True)) and padded values: Keras passes both masks."""
    tokens = keras.Input((4,), dtype="int32")
    value_ids = keras.Input((6,), dtype="int32")
    q = keras.layers.Embedding(10, 5, mask_zero=True)(tokens)
    v = keras.layers.Embedding(10, 3, mask_zero=True)(value_ids)
    context, weights = cl.layers.BahdanauAttention(4)([q, v], return_attention_scores=True)
    model = keras.Model([tokens, value_ids], [context, weights])
    t = np.array([[1, 2, 0, 0]])
    ids = np.array([[3, 4, 5, 0, 0, 0]])
    c, w = (keras.ops.convert_to_numpy(o) for o in model([t, ids]))
    assert np.all(w[0, :, 3:] == 0)                 # padded values
    assert np.all(c[0, 2:] == 0)                    # padded queries
    assert np.all(np.abs(c[0, :2]) > 0)
    masked = cl.layers.BahdanauAttention(4)
    emb = keras.layers.Embedding(10, 5, mask_zero=True)
    out = masked([emb(t), np.ones((1, 6, 3), "float32")])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out._keras_mask), [[True, True, False, False]])


def test_saved_and_reloaded(tmp_path):
    q_in, v_in = keras.Input((3, 5)), keras.Input((7, 4))
    context = cl.layers.BahdanauAttention(6, name="att")([q_in, v_in])
    model = keras.Model([q_in, v_in], keras.layers.Dense(2)(context))
    path = tmp_path / "attention.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([QUERY, VALUES])),
                               keras.ops.convert_to_numpy(model([QUERY, VALUES])), atol=1e-6)
    assert loaded.get_layer("att").get_config() == model.get_layer("att").get_config()
    assert loaded.get_layer("att").units == 6


def test_add_coordinates():
    out = keras.ops.convert_to_numpy(cl.layers.AddCoordinates()(np.zeros((2, 3, 4, 1), "float32")))
    assert out.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(out[0, :, 0, 1], [-1, 0, 1])
    np.testing.assert_allclose(out[0, 0, :, 2], [-1, -1 / 3, 1 / 3, 1], atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="units must be a positive integer .* got 0"):
        cl.layers.BahdanauAttention(0)
    with pytest.raises(ValueError, match=r"values must be \(batch, L, Dv\), got shape \(2, 7, 4, 1\).*reshape"):
        cl.layers.BahdanauAttention(3)([QUERY, VALUES[..., None]])
    with pytest.raises(ValueError, match=r"called on \[query, values\]"):
        cl.layers.BahdanauAttention(3)(QUERY)
