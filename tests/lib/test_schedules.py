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


def test_range_test_recovers_every_batch_loss_from_the_running_mean():
    # learning rate 0: the weights never move, so batch i's loss is the initial model's loss on batch i
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0])).astype("float32")[:, None]
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    probe = LRRangeTest(diverge=None)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[probe])
    fresh = make_model()
    per_batch = [np.mean((ops.convert_to_numpy(fresh(x[i:i + 8])) - y[i:i + 8]) ** 2) for i in range(0, 64, 8)]
    assert len(set(np.round(per_batch, 3))) == 8, "the batches differ, so a running mean would not pass"
    np.testing.assert_allclose(probe.losses, per_batch, rtol=1e-3)


def _probe_with(losses, lrs):
    probe = LRRangeTest()
    probe._losses, probe._lrs = list(losses), list(lrs)
    return probe


@pytest.mark.parametrize("smoothing", [1, 3, 5, 8])
def test_suggestion_is_the_rate_where_the_loss_fell_fastest(smoothing):
    lrs = 1e-4 * 10 ** (np.arange(50) / 10)              # 1e-4 .. ~1e1, evenly spaced in log
    log_lr = np.log10(lrs)
    losses = 2.3 - 0.3 * (1 + np.tanh((log_lr + 3.0) / 0.2)) / 2 - 1.2 * (1 + np.tanh((log_lr + 1.5) / 0.3)) / 2
    losses[42:] += 3.0                                   # divergence
    # steepest fall at 10^-1.5; a trailing window would answer 10^(-1.5 + 0.1 * (smoothing - 1) / 2)
    assert abs(np.log10(_probe_with(losses, lrs).suggestion(smoothing)) + 1.5) <= 0.05 + 1e-9


def test_suggestion_is_not_the_minimum_of_the_loss():
    lrs = 1e-4 * 10 ** (np.arange(30) / 10)
    losses = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 6)[1:], np.linspace(0.5, 0.3, 15)])
    probe = _probe_with(losses, lrs)
    assert 10 ** -3.05 < probe.suggestion(1) < 10 ** -2.55           # inside the steep part (batches 9..14)
    assert probe.suggestion(1) < lrs[int(np.argmin(losses))] / 10
