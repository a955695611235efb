"""Profiles, seeding and the environment report: `setup()`.

Every notebook starts with::

    import course_lib as cl
    cfg = cl.setup(seed=0)
    EPOCHS = cfg.pick(smoke=1, cpu=4, gpu=30)

The profile decides how big the experiments are (see DESIGN.md):

- ``smoke``: every code path runs on embedded data in seconds (tests, CI);
- ``cpu``: results that teach, on a laptop;
- ``gpu``: the lecture's full experiments.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import random

import numpy as np

PROFILES = ("smoke", "cpu", "gpu")
PROFILE_ENV = "COURSE_PROFILE"

_current: "Config | None" = None


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclasses.dataclass(frozen=True)
class Config:
    """What `setup()` decided: the profile, backend, device and seed.

    Args:
        profile: one of ``"smoke"``, ``"cpu"``, ``"gpu"``.
        backend: the Keras backend in use (``"tensorflow"``, ``"jax"``, ``"torch"``).
        device: a short description of the device Keras computes on.
        seed: the seed given to `setup()`.
    """

    profile: str
    backend: str
    device: str
    seed: int

    def pick(self, *, smoke, cpu, gpu):
        """Choose a value by profile: ``cfg.pick(smoke=1, cpu=4, gpu=30)``."""
        return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[self.profile]


def check_profile(name: str) -> str:
    """Return `name` if it is a known profile, else raise a `ProfileError` that says how to fix it."""
    if name not in PROFILES:
        raise ProfileError(
            f"unknown profile {name!r}: use one of {', '.join(PROFILES)} "
            f"(set {PROFILE_ENV}=cpu, or pass profile='cpu')"
        )
    return name


def resolve_profile(profile: str | None = None) -> str:
    """The profile to use: the argument, else ``$COURSE_PROFILE``, else ``gpu`` if Keras sees a GPU, else ``cpu``."""
    if profile is None:
        profile = os.environ.get(PROFILE_ENV) or None
    if profile is None:
        return "gpu" if gpu_devices() else "cpu"
    return check_profile(str(profile).strip().lower())


def current_profile() -> str:
    """The profile of the last `setup()` call, or the one `resolve_profile()` would choose."""
    if _current is not None:
        return _current.profile
    return resolve_profile()


# --- backend-specific device queries: the one place in course_lib that asks a backend directly ---

def gpu_devices() -> list[str]:
    """Names of the GPUs that the active Keras backend can use (empty on a CPU-only machine)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if backend == "jax":
            import jax

            return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver means no usable GPU, not a crash in setup()
        return []
    return []


def device_name() -> str:
    """A short description of the device: ``cpu`` or ``gpu:<name>``."""
    gpus = gpu_devices()
    if not gpus:
        return "cpu"
    names = sorted(set(gpus))
    return "gpu:" + ",".join(names) + (f"x{len(gpus)}" if len(gpus) > 1 else "")


def versions() -> dict[str, str]:
    """Versions of Python and the libraries the course depends on (those that are importable)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "numpy"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    if "tensorflow-cpu" in out:
        out.setdefault("tensorflow", out.pop("tensorflow-cpu"))
    return out


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy and the Keras backend."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def _quiet_backend_logs() -> None:
    # TensorFlow prints C++ start-up chatter unless told not to before it is imported.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_keras_quietly():
    """Import Keras with the backend's C++ start-up messages (written straight to file
    descriptor 2, past Python) sent to /dev/null. Python errors still raise as usual."""
    import sys

    _quiet_backend_logs()
    if "keras" in sys.modules:
        return sys.modules["keras"]
    try:
        saved = os.dup(2)
    except OSError:
        import keras

        return keras
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras

        keras.backend.backend()
        if keras.backend.backend() == "tensorflow":
            import tensorflow  # noqa: F401  (its oneDNN notice comes on first use of the runtime)

            tensorflow.constant(0)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras


def setup(seed: int = 0, profile: str | None = None, *, quiet: bool = False) -> Config:
    """Pick the profile, seed everything and print one report line.

    Args:
        seed: seed for Python, NumPy and the Keras backend.
        profile: ``"smoke"``, ``"cpu"`` or ``"gpu"``; default ``$COURSE_PROFILE``,
            else ``gpu`` where Keras sees a GPU, else ``cpu``.
        quiet: do not print the report line.

    Returns:
        A `Config`; use ``cfg.pick(smoke=..., cpu=..., gpu=...)`` to size experiments.

    Example:
        >>> cfg = setup(seed=0, profile="smoke", quiet=True)
        >>> cfg.pick(smoke=1, cpu=4, gpu=30)
        1
    """
    global _current
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras = import_keras_quietly()
    name = resolve_profile(profile)
    seed_everything(int(seed))
    cfg = Config(profile=name, backend=keras.backend.backend(), device=device_name(), seed=int(seed))
    _current = cfg
    if not quiet:
        print(report_line(cfg))
    return cfg


def report_line(cfg: Config) -> str:
    """``course_lib setup: profile=cpu backend=tensorflow device=cpu seed=0 keras=3.x ...``."""
    vers = " ".join(f"{k}={v}" for k, v in versions().items())
    return (
        f"course_lib setup: profile={cfg.profile} backend={cfg.backend} "
        f"device={cfg.device} seed={cfg.seed} {vers}"
    )
