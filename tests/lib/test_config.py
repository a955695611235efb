import os
import random

import numpy as np
import pytest

import course_lib as cl
from course_lib import config


def test_profile_from_argument_env_and_default(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert config.resolve_profile() == "cpu"
    assert config.resolve_profile("gpu") == "gpu"
    monkeypatch.delenv("COURSE_PROFILE")
    expected = "gpu" if config.gpu_devices() else "cpu"
    assert config.resolve_profile() == expected


@pytest.mark.parametrize("bad", ["fast", "GPU2", ""])
def test_unknown_profile_names_value_and_fix(bad, monkeypatch):
    with pytest.raises(cl.ProfileError) as err:
        config.check_profile(bad)
    assert repr(bad) in str(err.value) and "smoke, cpu, gpu" in str(err.value)
    monkeypatch.setenv("COURSE_PROFILE", "turbo")
    with pytest.raises(cl.ProfileError, match="'turbo'"):
        cl.setup(seed=0)


def test_pick_chooses_by_profile():
    for name, want in (("smoke", 1), ("cpu", 4), ("gpu", 30)):
        cfg = config.Config(profile=name, backend="x", device="cpu", seed=0)
        assert cfg.pick(smoke=1, cpu=4, gpu=30) == want


def test_setup_prints_report_line(capsys):
    import keras

    cfg = cl.setup(seed=3, profile="smoke")
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"course_lib setup: profile=smoke backend={keras.backend.backend()} device=")
    assert f"keras={keras.__version__}" in line and "numpy=" in line and "seed=3" in line
    assert cfg.profile == "smoke" and cfg.seed == 3 and cfg.backend == keras.backend.backend()
    assert config.current_profile() == "smoke"


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        cl.setup(seed=bad, quiet=True)


def _run_once(seed):
    import keras

    cl.setup(seed=seed, profile="smoke", quiet=True)
    draws = (random.random(), float(np.random.rand()))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.linspace(-1, 1, 64, dtype="float32").reshape(16, 4)
    y = x.sum(1, keepdims=True)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return draws, [w.copy() for w in model.get_weights()]


def test_same_seed_same_numbers_on_cpu():
    draws_a, weights_a = _run_once(7)
    draws_b, weights_b = _run_once(7)
    draws_c, weights_c = _run_once(8)
    assert draws_a == draws_b
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    assert draws_a != draws_c
    assert not all(np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


def test_backend_is_the_one_asked_for():
    import keras

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")
