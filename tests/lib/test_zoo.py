"""cl.zoo: trained once from a recipe, loaded after; stale or corrupt entries retrained with a message;
two processes train once."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import course_lib as cl
from course_lib import zoo

TINY = zoo.Recipe("tiny_digits", "an MLP on scikit-learn's digits", "mlp",
                  {p: {"input_shape": (8, 8), "hidden_units": (8,)} for p in ("smoke", "cpu", "gpu")},
                  dataset="digits", epochs={"smoke": 1, "cpu": 1, "gpu": 1}, flatten_channels=True, batch_size=64)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(zoo.RECIPES, TINY.name, TINY)
    cl.setup(seed=0, profile="smoke", quiet=True)
    return tmp_path / "cache"


@pytest.fixture
def in_process(monkeypatch):
    """Train in this process (fast); the child-process path has its own tests below."""
    calls = []

    def train(rec, profile, force):
        calls.append(rec.name)
        zoo.train_entry(rec, profile, force=force)

    monkeypatch.setattr(zoo, "_train_in_child", train)
    return calls


def test_trains_once_in_a_child_process_then_loads(cache, capsys, monkeypatch):
    model = zoo.get("tiny_digits")
    out = capsys.readouterr().out
    assert "training tiny_digits (smoke profile) because not trained yet" in out
    meta = json.loads((cache / "models" / "tiny_digits" / "smoke" / "meta.json").read_text())
    assert meta["n_train"] == len(cl.data.load("digits")) and 0 <= meta["test_accuracy"] <= 1
    assert model.zoo_record["model_sha256"] == meta["model_sha256"]

    def no_training(*args):
        raise AssertionError("a good entry must be loaded, not retrained")

    monkeypatch.setattr(zoo, "_train_in_child", no_training)
    again = zoo.get("tiny_digits")
    x = cl.data.scale_images(cl.data.load("digits", split="test").x, channel_axis=False)
    np.testing.assert_array_equal(cl.training.predict(model, x), cl.training.predict(again, x))
    assert "training" not in capsys.readouterr().out


def test_recorded_accuracy_is_the_models(cache, in_process):
    model = zoo.get("tiny_digits", quiet=True)
    x, y = cl.data.load("digits", split="test")
    assert model.zoo_record["test_accuracy"] == pytest.approx(
        cl.training.evaluate(model, cl.data.scale_images(x, channel_axis=False), y))


def _entry(cache):
    return cache / "models" / "tiny_digits" / "smoke"


@pytest.mark.parametrize("damage,reason", [
    (lambda e: (e / "model.keras").write_bytes((e / "model.keras").read_bytes()[:-100] + b"x" * 100),
     "does not match its checksum"),
    (lambda e: (e / "model.keras").unlink(), "model file is missing"),
    (lambda e: (e / "meta.json").write_text("{not json"), "missing or unreadable"),
    (lambda e: (e / "meta.json").write_text(json.dumps({**json.loads((e / "meta.json").read_text()), "keras": "2.15.0"})),
     "trained with Keras 2.15.0, this is Keras"),
    (lambda e: (e / "meta.json").write_text(json.dumps({**json.loads((e / "meta.json").read_text()), "data": "other"})),
     "its training data changed"),
])
def test_damaged_or_stale_entry_is_retrained_with_a_message(cache, in_process, capsys, damage, reason):
    zoo.get("tiny_digits")
    damage(_entry(cache))
    capsys.readouterr()
    zoo.get("tiny_digits")
    assert reason in capsys.readouterr().out
    assert in_process == ["tiny_digits", "tiny_digits"]
    assert zoo.stale_reason(TINY, "smoke") is None


def test_changed_recipe_is_retrained(cache, in_process, capsys, monkeypatch):
    zoo.get("tiny_digits", quiet=True)
    import dataclasses

    monkeypatch.setitem(zoo.RECIPES, "tiny_digits", dataclasses.replace(TINY, learning_rate=0.01))
    zoo.get("tiny_digits")
    assert "because its recipe changed" in capsys.readouterr().out and len(in_process) == 2


def test_profiles_have_separate_entries(cache, in_process):
    zoo.get("tiny_digits", quiet=True)
    zoo.get("tiny_digits", profile="cpu", quiet=True)
    assert sorted(p.name for p in (cache / "models" / "tiny_digits").iterdir()) == ["cpu", "smoke"]


def test_fingerprint_ignores_the_description_and_other_profiles():
    import dataclasses

    assert TINY.fingerprint("smoke") == dataclasses.replace(TINY, description="other").fingerprint("smoke")
    changed = dataclasses.replace(TINY, epochs={**TINY.epochs, "gpu": 9})
    assert changed.fingerprint("smoke") == TINY.fingerprint("smoke") != changed.fingerprint("gpu")


def test_two_processes_train_once(cache):
    cmd = [sys.executable, "-m", "course_lib.zoo", "--profile", "smoke", "--recipe", json.dumps(TINY.as_dict())]
    env = {**os.environ, "COURSE_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    lines = [line for out in outs for line in out.splitlines() if line.startswith("zoo:")]
    assert sorted(" trained:" in line for line in lines) == [False, True], lines
    assert zoo.stale_reason(TINY, "smoke") is None


def test_unknown_name_lists_the_known_ones(cache):
    with pytest.raises(zoo.ZooError, match=r"unknown model 'fashion_cn'; the cache knows: fashion_cnn, "):
        zoo.get("fashion_cn")


def test_cli_lists_and_clears(cache, in_process):
    from course_lib.cli import main

    zoo.get("tiny_digits", quiet=True)
    assert main(["cache", "list"]) == 0
    assert main(["cache", "clear", "nonexistent"]) == 2
    assert main(["cache", "clear", "tiny_digits"]) == 0
    assert not (cache / "models" / "tiny_digits").exists()
    assert zoo.entries() == []


def test_cli_exports_the_pretrained_weights_and_lists_them(cache, tmp_path, capsys):
    from course_lib.cli import main

    target = tmp_path / "carry"
    assert main(["cache", "export", str(target), "--dtype", "float16"]) == 0
    npz = target / "pretrained" / "efficientnet_lite0.npz"
    assert npz.is_file() and 5e6 < npz.stat().st_size < 12e6      # about half of the 19 MB float32 copy
    capsys.readouterr()
    assert main(["cache", "list"]) == 0
    assert "efficientnet_lite0" in capsys.readouterr().out
