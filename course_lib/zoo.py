"""The trained-model cache: `cl.zoo.get("fashion_cnn")` returns a trained Keras model.

A model is trained once from a recorded recipe (builder and arguments, data, epochs,
optimizer, seed: all declared in `RECIPES`), saved under the cache folder
(`course_lib.storage.cache_dir()`, set with ``$COURSE_CACHE_DIR``), and loaded from there on
every later call, by every notebook. Each profile has its own entry: the smoke profile
trains a tiny version in seconds.

An entry is used only when everything it was made from still holds: its recipe, the Keras
version, the data it was trained on (checksum) and the model file itself (checksum). Any
difference means the entry is stale or corrupt: it is retrained, with a message saying why,
never silently used.

Training runs in a separate Python process (``python -m course_lib.zoo``) under a file
lock: two notebooks asking at once train once, and the notebook's own random state is the
same whether the model came from the cache or was trained just now.

    course cache list           what is cached, with accuracy, size and age
    course cache clear [NAME]   delete entries
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from course_lib import storage

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train one cached model, entirely as data (so that it can be hashed and sent to
    the training process).

    Args:
        name: the name `get` takes.
        description: one line for ``course cache list``.
        builder: a function of `course_lib.models` (``"small_cnn"``, ``"mlp"``, ...).
        kwargs: its arguments per profile, ``{"smoke": {...}, "cpu": {...}, "gpu": {...}}``.
        dataset: a name of `cl.data.load` with images (uint8, scaled to [0, 1] for training).
        epochs: per profile.
        train_range: ``(start, stop)`` fractions of the training split to use (``(0, 0.5)``
            is the first half); for models trained on disjoint data.
        classes: keep only these labels (relabelled 0..k-1 in this order); ``None`` for all.
        learning_rate: Adam's peak rate, annealed to zero by a cosine schedule.
        augment: flips, shifts and zooms during training.
        flatten_channels: feed ``(N, H, W)`` instead of ``(N, H, W, 1)`` (for MLPs).
        seed: initial weights and batch order.
        version: bump when the code behind a builder changes in a way the arguments do not show.
    """

    name: str
    description: str
    builder: str
    kwargs: dict
    dataset: str = "fashion_mnist"
    epochs: dict = dataclasses.field(default_factory=lambda: {"smoke": 1, "cpu": 4, "gpu": 15})
    train_range: tuple = (0.0, 1.0)
    classes: tuple | None = None
    batch_size: int = 128
    learning_rate: float = 2e-3
    augment: bool = False
    flatten_channels: bool = False
    seed: int = 0
    version: int = 1

    def as_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def fingerprint(self, profile: str) -> str:
        """SHA-256 of everything this profile's training depends on (not the description)."""
        d = self.as_dict()
        d.pop("description")
        d["kwargs"], d["epochs"] = d["kwargs"][profile], d["epochs"][profile]
        d["profile"] = profile
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


_CNN = {"input_shape": (28, 28, 1), "num_classes": 10, "convs_per_block": 1, "head": "dense", "dropout": 0.5,
        "bn_momentum": 0.9}
_CNN_BY_PROFILE = {"smoke": {**_CNN, "width": 8, "dense_units": 32}, "cpu": {**_CNN, "width": 32},
                   "gpu": {**_CNN, "width": 64, "convs_per_block": 2}}

RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add `recipe` to `RECIPES` (replacing one of the same name)."""
    RECIPES[recipe.name] = recipe
    return recipe


register(Recipe("fashion_cnn", "small CNN (notebook 08's) on all of Fashion-MNIST's training set",
                "small_cnn", _CNN_BY_PROFILE, epochs={"smoke": 2, "cpu": 4, "gpu": 20}))
register(Recipe("fashion_cnn_half_a", "the small CNN on the first half of Fashion-MNIST's training set",
                "small_cnn", _CNN_BY_PROFILE, epochs={"smoke": 2, "cpu": 4, "gpu": 20}, train_range=(0.0, 0.5)))
register(Recipe("fashion_cnn_half_b", "the small CNN on the second half of Fashion-MNIST's training set "
                "(a different seed too)", "small_cnn", _CNN_BY_PROFILE, epochs={"smoke": 2, "cpu": 4, "gpu": 20},
                train_range=(0.5, 1.0), seed=1))
register(Recipe("fashion_mlp", "MLP 784-256-128-10 on all of Fashion-MNIST's training set", "mlp",
                {p: {"input_shape": (28, 28), "hidden_units": (256, 128)} for p in ("smoke", "cpu", "gpu")},
                epochs={"smoke": 1, "cpu": 5, "gpu": 20}, flatten_channels=True, learning_rate=1e-3))


class ZooError(ValueError):
    """An unknown model name, or a cache entry that cannot be made: the message says what to do."""


def names() -> list[str]:
    return list(RECIPES)


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ZooError(f"unknown model {name!r}; the cache knows: {', '.join(RECIPES)}")
    return RECIPES[name]


def models_dir() -> pathlib.Path:
    return storage.cache_dir() / "models"


def entry_dir(name: str, profile: str) -> pathlib.Path:
    return models_dir() / name / profile


# --- data ---

def _load(rec: Recipe, profile: str, split: str):
    from course_lib import data

    return data.load(rec.dataset, split=split, profile=profile)


def _fingerprint(d, n: int) -> str:
    return f"{d.source.kind}:{d.source.name}:{d.source.sha256 or d.source.origin}:{n}"


def training_data(rec: Recipe, profile: str, split: str = "train"):
    """``(x, y, data_fingerprint)`` the recipe trains (or is tested) on, x scaled to [0, 1]."""
    import numpy as np

    from course_lib import data

    d = _load(rec, profile, split)
    x, y = d.x, np.asarray(d.y).astype("int64")
    if split == "train":
        lo, hi = (round(f * len(x)) for f in rec.train_range)
        x, y = x[lo:hi], y[lo:hi]
    if rec.classes is not None:
        relabel = np.full(int(y.max()) + 1, -1)
        relabel[list(rec.classes)] = np.arange(len(rec.classes))
        keep = relabel[y] >= 0
        x, y = x[keep], relabel[y[keep]]
    fingerprint = _fingerprint(d, len(x))
    return data.scale_images(x, channel_axis=not rec.flatten_channels), y.astype("int32"), fingerprint


def data_fingerprint(rec: Recipe, profile: str) -> str:
    """What identifies the training data of `rec` (kind, checksum or origin, count) without preparing it."""
    import numpy as np

    d = _load(rec, profile, "train")
    lo, hi = (round(f * len(d.x)) for f in rec.train_range)
    y = np.asarray(d.y)[lo:hi]
    n = int(np.isin(y, rec.classes).sum()) if rec.classes is not None else hi - lo
    return _fingerprint(d, n)


# --- validity ---

def _read_meta(folder: pathlib.Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stale_reason(rec: Recipe, profile: str, data_fingerprint: str | None = None) -> str | None:
    """Why the cached entry cannot be used (``None`` when it can)."""
    import keras

    folder = entry_dir(rec.name, profile)
    meta = _read_meta(folder)
    if meta is None:
        return "not trained yet" if not folder.exists() else "its record (meta.json) is missing or unreadable"
    if meta.get("format") != FORMAT_VERSION:
        return f"it was written in cache format {meta.get('format')}, now {FORMAT_VERSION}"
    if meta.get("recipe") != rec.fingerprint(profile):
        return "its recipe changed"
    if meta.get("keras") != keras.__version__:
        return f"it was trained with Keras {meta.get('keras')}, this is Keras {keras.__version__}"
    if data_fingerprint is not None and meta.get("data") != data_fingerprint:
        return f"its training data changed ({meta.get('data')} then, {data_fingerprint} now)"
    model_file = folder / "model.keras"
    if not model_file.is_file():
        return "its model file is missing"
    if storage.sha256_file(model_file) != meta.get("model_sha256"):
        return "its model file does not match its checksum (corrupt or changed)"
    return None


# --- training (in the child process) ---

def train_entry(rec: Recipe, profile: str, force: bool = False) -> dict:
    """Train `rec` for `profile` and write its entry (model, then record), under the entry's lock.

    Another process that held the lock first may have written a good entry meanwhile: then
    nothing is trained (unless `force`)."""
    folder = entry_dir(rec.name, profile)
    with storage.file_lock(models_dir() / ".locks" / f"{rec.name}-{profile}.lock"):
        x, y, fingerprint = training_data(rec, profile)
        if not force and stale_reason(rec, profile, fingerprint) is None:
            return {**_read_meta(folder), "trained_now": False}
        return {**_train_and_write(rec, profile, x, y, fingerprint, folder), "trained_now": True}


def _train_and_write(rec: Recipe, profile: str, x, y, fingerprint: str, folder: pathlib.Path) -> dict:
    import keras

    from course_lib import config, models, training

    config.setup(seed=rec.seed, profile=profile, quiet=True)
    model = getattr(models, rec.builder)(**rec.kwargs[profile])
    epochs = rec.epochs[profile]
    steps = epochs * -(-len(x) // rec.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(rec.learning_rate, decay_steps=steps)
    start = time.perf_counter()
    training.fit(model, x, y, epochs=epochs, batch_size=rec.batch_size, optimizer=keras.optimizers.Adam(schedule),
                 augment=rec.augment, seed=rec.seed, run_eagerly=profile == "smoke",
                 verbose=2 if profile != "smoke" else 0)
    seconds = time.perf_counter() - start
    x_test, y_test, _ = training_data(rec, profile, split="test")
    acc = training.evaluate(model, x_test, y_test)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".model-{os.getpid()}.keras"
    try:
        model.save(tmp)
        os.replace(tmp, folder / "model.keras")
    finally:
        if tmp.exists():
            tmp.unlink()
    meta = {"format": FORMAT_VERSION, "name": rec.name, "profile": profile, "recipe": rec.fingerprint(profile),
            "keras": keras.__version__, "backend": keras.backend.backend(), "data": fingerprint,
            "n_train": int(len(x)), "test_accuracy": acc, "n_test": int(len(x_test)), "train_seconds": round(seconds, 1),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model_sha256": storage.sha256_file(folder / "model.keras")}
    with storage.atomic_write(folder / "meta.json") as f:
        json.dump(meta, f, indent=1)
    return meta


# --- the notebook's side ---

def _train_in_child(rec: Recipe, profile: str, force: bool) -> None:
    cmd = [sys.executable, "-m", "course_lib.zoo", "--profile", profile, "--recipe", json.dumps(rec.as_dict())]
    if force:
        cmd.append("--force")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("Epoch", "zoo:")) or "accuracy" in ln]
    for line in lines[-6:]:
        print("   ", line.strip()[:160])
    if proc.returncode != 0:
        raise ZooError(f"training {rec.name!r} ({profile}) failed with exit code {proc.returncode}:\n"
                       + "\n".join(proc.stdout.splitlines()[-20:]))


def get(name: str, profile: str | None = None, retrain: bool = False, quiet: bool = False):
    """The trained model `name` for `profile` (default: the current one), from the cache or
    trained now (once) and cached.

    Args:
        name: one of `names()` (``fashion_cnn``, ``fashion_cnn_half_a``, ...).
        profile: ``smoke``, ``cpu`` or ``gpu``; default the profile of `cl.setup`.
        retrain: train again even when a good entry exists.
        quiet: no message about where the model came from.

    Returns:
        A `keras.Model` (not compiled; `cl.training.fit` compiles it if you train it further),
        with ``model.zoo_record``: the entry's record (recipe, data, test accuracy, time).
    """
    import keras

    from course_lib import config

    rec = recipe(name)
    profile = config.check_profile(profile) if profile is not None else config.current_profile()
    fingerprint = data_fingerprint(rec, profile)
    why = "retrain=True" if retrain else stale_reason(rec, profile, fingerprint)
    if why is not None:
        if not quiet:
            print(f"zoo: training {name} ({profile} profile) because {why}; "
                  f"it is cached in {entry_dir(name, profile)} for next time")
        _train_in_child(rec, profile, force=retrain)
        why = stale_reason(rec, profile, fingerprint)
        if why is not None:
            raise ZooError(f"the cache entry {entry_dir(name, profile)} is still unusable after training ({why}); "
                           f"run `course cache clear {name}` and try again")
    meta = _read_meta(entry_dir(name, profile))
    model = keras.saving.load_model(entry_dir(name, profile) / "model.keras", compile=False)
    model.zoo_record = meta
    if not quiet:
        print(f"zoo: {name} ({profile}): trained on {meta['n_train']:,} images in {meta['train_seconds']} s, "
              f"test accuracy {meta['test_accuracy']:.2%} on {meta['n_test']:,} (Keras {meta['keras']}, "
              f"{meta['backend']})")
    return model


def entries() -> list[dict]:
    """The record of every cached entry (with ``size_bytes`` and ``path``), sorted by name."""
    found = []
    root = storage.cache_dir(create=False) / "models"
    for meta_file in sorted(root.glob("*/*/meta.json")) if root.is_dir() else []:
        meta = _read_meta(meta_file.parent) or {"name": meta_file.parent.parent.name, "profile": meta_file.parent.name}
        size = sum(p.stat().st_size for p in meta_file.parent.iterdir() if p.is_file())
        found.append({**meta, "size_bytes": size, "path": str(meta_file.parent)})
    return found


def clear(name: str | None = None) -> list[str]:
    """Delete the cached entries of `name` (all models when ``None``); returns the deleted folders."""
    root = storage.cache_dir(create=False) / "models"
    if name is not None:
        recipe(name)
    targets = [root / name] if name is not None else [p for p in root.iterdir() if p.is_dir() and p.name != ".locks"] \
        if root.is_dir() else []
    removed = []
    for folder in targets:
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(str(folder))
    return removed


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_lib.zoo", description="train one cache entry")
    parser.add_argument("--profile", required=True)
    parser.add_argument("--recipe", required=True, help="the recipe as JSON")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    fields = json.loads(args.recipe)
    fields["train_range"] = tuple(fields["train_range"])
    fields["classes"] = tuple(fields["classes"]) if fields.get("classes") is not None else None
    fields["kwargs"] = {p: {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
                        for p, kw in fields["kwargs"].items()}
    meta = train_entry(Recipe(**fields), args.profile, force=args.force)
    what = "trained" if meta["trained_now"] else "already cached by another process"
    print(f"zoo: {meta['name']} ({meta['profile']}) {what}: test accuracy {meta['test_accuracy']:.4f}, "
          f"{meta['train_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
