"""cl.training: the one training path (fit, predict, accuracy, augmentation) and scale_images."""

import keras
import numpy as np
import pytest

import course_lib as cl


@pytest.fixture(autouse=True)
def _seeded():
    cl.setup(seed=0, profile="smoke", quiet=True)


def separable(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32")
    return x, y


def test_fit_learns_a_separable_problem():
    x, y = separable()
    model = cl.models.mlp((6,), hidden_units=(16,), num_classes=2)
    history = cl.training.fit(model, x, y, epochs=8, batch_size=32, learning_rate=0.01)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert cl.training.evaluate(model, *separable(seed=1)) > 0.9


def test_fit_compiles_once_and_a_second_call_continues():
    x, y = separable()
    model = cl.models.mlp((6,), hidden_units=(8,), num_classes=2)
    cl.training.fit(model, x, y, epochs=1, batch_size=64)
    optimizer = model.optimizer
    assert int(optimizer.iterations) == 4
    cl.training.fit(model, x, y, epochs=1, batch_size=64)
    assert model.optimizer is optimizer and int(optimizer.iterations) == 8
    cl.training.fit(model, x, y, epochs=1, batch_size=64, optimizer="sgd", learning_rate=0.5)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.5)


def test_learning_rate_with_an_optimizer_object_is_refused():
    with pytest.raises(ValueError, match="learning_rate with an optimizer name"):
        cl.training.compile(cl.models.mlp((6,), hidden_units=(4,)), keras.optimizers.Adam(1e-3), learning_rate=0.1)
    with pytest.raises(ValueError, match="unknown optimizer 'adamax2'"):
        cl.training.compile(cl.models.mlp((6,), hidden_units=(4,)), "adamax2")


def test_augmented_training_updates_the_wrapped_model_and_is_identity_at_inference():
    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    y = np.arange(32) % 3
    model = cl.models.small_cnn((8, 8, 1), 3, width=2)
    before = [w.copy() for w in model.get_weights()]
    history = cl.training.fit(model, x, y, epochs=1, batch_size=16, augment=True)
    wrapper = history.model
    assert wrapper is not model and any(isinstance(l, keras.Sequential) and l.name == "augment" for l in wrapper.layers)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_allclose(cl.training.predict(wrapper, x), cl.training.predict(model, x), rtol=1e-5, atol=1e-6)


def test_with_augmentation_passes_through_and_rejects_nonsense():
    model = cl.models.mlp((6,), hidden_units=(4,))
    assert cl.training.with_augmentation(model, None) is model
    with pytest.raises(ValueError, match="augment must be"):
        cl.training.with_augmentation(model, "flip")


def test_predict_equals_the_model_in_inference_mode():
    model = cl.models.small_cnn((8, 8, 1), 3, width=2, dropout=0.5)
    x = np.random.default_rng(0).uniform(size=(37, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(cl.training.predict(model, x, batch_size=8),
                               keras.ops.convert_to_numpy(model(x, training=False)), rtol=1e-5, atol=1e-6)


def test_accuracy_counts_the_arg_max_not_a_threshold():
    probs = np.array([[0.4, 0.35, 0.25], [0.2, 0.3, 0.5], [0.1, 0.45, 0.45]])
    # arg-max picks 0, 2, 1 (the first of a tie); no probability passes 0.5 in rows 0 and 2
    assert cl.training.accuracy(probs, [0, 2, 1]) == 1.0
    assert cl.training.accuracy(probs, [1, 2, 2]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"\(N, classes\) and labels \(N,\), got \(3, 3\) and \(2,\)"):
        cl.training.accuracy(probs, [0, 1])


@pytest.mark.parametrize("epochs", [0, 1.5, True])
def test_fit_bad_epochs(epochs):
    x, y = separable(8)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        cl.training.fit(cl.models.mlp((6,), hidden_units=(4,)), x, y, epochs=epochs)


def test_scale_images():
    x = np.array([[[0, 255], [51, 102]]], np.uint8)
    out = cl.data.scale_images(x)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out[0, :, :, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    assert cl.data.scale_images(x, channel_axis=False).shape == (1, 2, 2)
    assert cl.data.scale_images(np.zeros((1, 4, 4, 3), np.uint8)).shape == (1, 4, 4, 3)
    with pytest.raises(cl.data.DataError, match="expects uint8 pixels 0..255, got dtype float32"):
        cl.data.scale_images(out)


def test_run_starts_every_model_from_the_same_seed():
    x, y = separable()
    build = lambda: cl.models.mlp((6,), hidden_units=(8,), num_classes=2)
    a = cl.training.run(build, x, y, test=separable(seed=1), epochs=2, batch_size=32)
    b = cl.training.run(build, x, y, test=separable(seed=1), epochs=2, batch_size=32)
    c = cl.training.run(build, x, y, epochs=2, batch_size=32, seed=1)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    assert a.final["loss"] == pytest.approx(b.final["loss"], rel=1e-6) and a.test_accuracy == b.test_accuracy
    assert c.test_accuracy is None and not np.allclose(a.model.get_weights()[0], c.model.get_weights()[0])
    assert a.seconds > 0 and set(a.final) == {"loss", "accuracy"}
