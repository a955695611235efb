"""Line plots: training histories and 1-D functions."""

from __future__ import annotations

import numpy as np

from course_lib.viz._axes import axes_or_new


def _history_dict(history) -> dict:
    data = getattr(history, "history", history)
    if not isinstance(data, dict):
        raise TypeError(f"expected a keras History or a dict of lists, got {type(history).__name__}")
    return data


def plot_history(history, metric: str = "loss", ax=None, label: str | None = None, title: str | None = None):
    """Plot `metric` and ``val_<metric>`` per epoch from a Keras ``History`` (or its ``.history`` dict).

    Returns the Axes.
    """
    data = _history_dict(history)
    if metric not in data:
        raise KeyError(f"history has no {metric!r}; it has {sorted(data)}")
    ax = axes_or_new(ax)
    prefix = f"{label} " if label else ""
    epochs = np.arange(1, len(data[metric]) + 1)
    line, = ax.plot(epochs, data[metric], marker="o", label=f"{prefix}train")
    if f"val_{metric}" in data:
        ax.plot(epochs, data[f"val_{metric}"], marker="s", linestyle="--", color=line.get_color(),
                label=f"{prefix}validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title or metric)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_functions(functions: dict, x=None, ax=None, title: str = "", ylabel: str = "f(x)"):
    """Plot several functions of one variable, e.g. activations: ``{"ReLU": relu, ...}``. Returns the Axes."""
    x = np.linspace(-5, 5, 401) if x is None else np.asarray(x)
    ax = axes_or_new(ax)
    for name, fn in functions.items():
        ax.plot(x, np.asarray(fn(x)), label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("x")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_histories(histories: dict, metric: str = "loss", ax=None, validation: bool = False, title: str = "",
                   log: bool = False):
    """Several runs on one Axes: `histories` is label -> Keras History (or its dict).

    Plots `metric` per epoch, or ``val_<metric>`` with ``validation=True``. Returns the Axes.
    """
    if not histories:
        raise ValueError("histories is empty: pass {label: history}")
    key = f"val_{metric}" if validation else metric
    ax = axes_or_new(ax, figsize=(6, 4))
    for label, history in histories.items():
        data = _history_dict(history)
        if key not in data:
            raise KeyError(f"history {label!r} has no {key!r}; it has {sorted(data)}")
        ax.plot(np.arange(1, len(data[key]) + 1), data[key], marker=".", label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(title or key)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
