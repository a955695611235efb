"""ExponentialRamp and LRRangeTest against NumPy formulas; Keras' own schedules as the notebook uses them."""

import keras
import numpy as np
import pytest
from keras import ops

from course_lib.schedules import ExponentialRamp, LRRangeTest


def values(schedule, steps):
    return np.array([float(ops.convert_to_numpy(schedule(s))) for s in steps])


def test_exponential_ramp_matches_numpy():
    ramp = ExponentialRamp(1e-5, 3.0, steps=50)
    steps = np.arange(0, 60)
    expected = 1e-5 * (3.0 / 1e-5) ** (np.minimum(steps, 50) / 50)
    np.testing.assert_allclose(values(ramp, steps), expected, rtol=1e-5)


def test_exponential_ramp_round_trips_config():
    ramp = ExponentialRamp(1e-3, 1.0, steps=10)
    again = ExponentialRamp.from_config(ramp.get_config())
    np.testing.assert_allclose(values(again, range(12)), values(ramp, range(12)))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ramp))
    assert isinstance(restored, ExponentialRamp) and restored.steps == 10


@pytest.mark.parametrize("kwargs, message", [
    (dict(initial_learning_rate=0.0, final_learning_rate=1.0, steps=10), "initial_learning_rate"),
    (dict(initial_learning_rate=1e-3, final_learning_rate=-1.0, steps=10), "final_learning_rate"),
    (dict(initial_learning_rate=1e-3, final_learning_rate=float("nan"), steps=10), "final_learning_rate"),
    (dict(initial_learning_rate=1e-3, final_learning_rate=1.0, steps=0), "steps"),
    (dict(initial_learning_rate=1e-3, final_learning_rate=1.0, steps=2.5), "steps"),
])
def test_exponential_ramp_rejects_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExponentialRamp(**kwargs)


def test_keras_cosine_with_warmup_matches_numpy():
    base, target, warm, decay = 0.0, 0.1, 10, 40
    cosine = keras.optimizers.schedules.CosineDecay(base, decay, warmup_target=target, warmup_steps=warm)
    steps = np.arange(0, 55)
    expected = np.where(steps < warm, base + (target - base) * steps / warm,
                        target * 0.5 * (1 + np.cos(np.pi * np.minimum(steps - warm, decay) / decay)))
    np.testing.assert_allclose(values(cosine, steps), expected, rtol=1e-5, atol=1e-7)


def test_keras_step_decay_divides_by_ten():
    step = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])
    steps = np.arange(0, 30)
    expected = np.select([steps <= 10, steps <= 20], [0.1, 0.01], 0.001)
    np.testing.assert_allclose(values(step, steps), expected, rtol=1e-6)


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    return model


def test_range_test_records_per_batch_losses_and_rates():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1).astype("float32")[:, None]
    model = make_model()
    ramp = ExponentialRamp(1e-4, 1e-1, steps=8)
    model.compile(optimizer=keras.optimizers.SGD(ramp), loss="mse")
    probe = LRRangeTest(diverge=None)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[probe])
    np.testing.assert_allclose(probe.learning_rates, 1e-4 * 1000 ** (np.arange(8) / 8), rtol=1e-5)
    # the first batch's loss is the loss of the initial weights on it
    fresh = make_model()
    first = np.mean((ops.convert_to_numpy(fresh(x[:8])) - y[:8]) ** 2)
    assert probe.losses.shape == (8,)
    np.testing.assert_allclose(probe.losses[0], first, rtol=1e-4)
    assert np.isfinite(probe.losses).all()


def test_range_test_stops_when_loss_diverges():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True).astype("float32")
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(ExponentialRamp(1e-3, 1e3, steps=64)), loss="mse")
    probe = LRRangeTest(diverge=4.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[probe])
    assert len(probe.losses) < 64
    assert 1e-3 < probe.suggestion(smoothing=3) < 1e3


def test_range_test_bad_inputs():
    with pytest.raises(ValueError, match="diverge"):
        LRRangeTest(diverge=0.5)
    with pytest.raises(ValueError, match="too few batches"):
        LRRangeTest().suggestion()
