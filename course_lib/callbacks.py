"""Training-time tools: per-layer gradient norms, activation statistics, a live plot.

Each callback reads `self.model` and keeps what it measured in `.history`, a list with one
entry per measurement, so a notebook can plot it after `fit` returns.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

from course_lib.autodiff import value_and_grad


def _to_np(t) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(t))


def _kernel_layers(model):
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


class _EpochProbe(keras.callbacks.Callback):
    """Calls `measure(epoch)` before training and every `every` epochs; keeps the results in `.history`."""

    def __init__(self, every: int = 1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every = every
        self.history: list[dict] = []

    def measure(self, epoch: int) -> dict:
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        self.measure(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.measure(epoch + 1)


def gradient_norms(model, x, y, groups=None, loss=None, training: bool = False) -> dict:
    """L2 norm of the loss gradient for each group of variables, on one batch.

    Args:
        model: a Keras model.
        x, y: the batch.
        groups: ``{name: [variables]}``; the norm of a group is that of all its gradients
            together (the square root of the sum of their squares). Default: one group per
            top-level layer with a kernel, holding that kernel.
        loss: ``loss(y_true, y_pred)``; default: the compiled model's loss.
        training: run the model in training mode (batch statistics, dropout).

    Returns ``{name: norm}`` in the order of `groups`.
    """
    if groups is None:
        groups = {layer.name: [layer.kernel] for layer in _kernel_layers(model)}
    groups = {name: list(variables) for name, variables in dict(groups).items()}
    if not groups or any(not v for v in groups.values()):
        empty = [name for name, v in groups.items() if not v]
        raise ValueError(f"every group needs at least one variable; empty: {empty or 'no groups at all'}")
    if loss is None and not getattr(model, "compiled", False):
        raise ValueError("the model is not compiled: compile it, or pass loss=keras.losses.SparseCategoricalCrossentropy()")
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)

    def value():
        y_pred = model(x, training=training)
        if loss is not None:
            return ops.mean(loss(y, y_pred))
        return model.compute_loss(x=x, y=y, y_pred=y_pred)

    flat = [v for variables in groups.values() for v in variables]
    _, grads = value_and_grad(value, variables=flat)
    squares = iter(float(np.sum(_to_np(g).astype("float64") ** 2)) for g in grads)
    return {name: float(np.sqrt(sum(next(squares) for _ in variables))) for name, variables in groups.items()}


class GradientNormMonitor(_EpochProbe):
    """Records the L2 norm of the loss gradient per layer (or per group of variables) on a fixed batch.

    Args:
        x, y: the batch the gradient is computed on (kept fixed so that epochs compare).
        every: measure every `every` epochs (and once before training).
        groups: ``groups(model) -> {name: [variables]}``, e.g. the kernels of each residual
            block; default: one group per layer with a kernel. See `gradient_norms`.

    After `fit`: ``monitor.history`` is a list of ``{"epoch": e, "norms": {name: norm}}``;
    ``monitor.table()`` gives an array (measurements, groups) and the group names.
    """

    def __init__(self, x, y, every: int = 1, groups=None):
        super().__init__(every)
        self.x, self.y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
        self.groups = groups

    def measure(self, epoch: int) -> dict:
        groups = self.groups(self.model) if self.groups is not None else None
        entry = {"epoch": epoch, "norms": gradient_norms(self.model, self.x, self.y, groups)}
        self.history.append(entry)
        return entry

    def table(self):
        """``(norms, layer_names, epochs)``: norms has shape (measurements, layers)."""
        if not self.history:
            raise ValueError("no measurements yet: pass the monitor to model.fit(callbacks=[...]) first")
        names = list(self.history[0]["norms"])
        norms = np.array([[h["norms"][n] for n in names] for h in self.history])
        return norms, names, [h["epoch"] for h in self.history]


class ActivationStats(_EpochProbe):
    """Records the outputs of chosen layers on a fixed batch: mean, std and a sample of values.

    Args:
        x: the batch.
        layer_names: layers to watch (default: every layer whose name starts with ``act``).
        every: measure every `every` epochs (and once before training).
        sample: how many values per layer to keep for histograms.

    After `fit`: ``stats.history`` is a list of ``{"epoch": e, "mean": {...}, "std": {...}, "values": {...}}``.
    """

    def __init__(self, x, layer_names=None, every: int = 1, sample: int = 2000):
        super().__init__(every)
        self.x, self.layer_names, self.sample = x, layer_names, sample
        self._probe = None

    def _build_probe(self):
        names = self.layer_names or [layer.name for layer in self.model.layers if layer.name.startswith("act")]
        if not names:
            raise ValueError("no layers to watch: pass layer_names=[...] (model.summary() lists them)")
        outputs = [self.model.get_layer(n).output for n in names]
        inputs = self.model.inputs[0] if len(self.model.inputs) == 1 else self.model.inputs
        self._probe = keras.Model(inputs, outputs)
        self.layer_names = names

    def measure(self, epoch: int) -> dict:
        if self._probe is None:
            self._build_probe()
        outputs = self._probe(self.x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        rng = np.random.default_rng(0)
        entry = {"epoch": epoch, "mean": {}, "std": {}, "values": {}}
        for name, out in zip(self.layer_names, outputs):
            values = _to_np(out).ravel()
            entry["mean"][name], entry["std"][name] = float(values.mean()), float(values.std())
            entry["values"][name] = rng.choice(values, min(self.sample, values.size), replace=False)
        self.history.append(entry)
        return entry


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LivePlot(keras.callbacks.Callback):
    """Redraws the training curves in place after every epoch in JupyterLab; outside a notebook
    it prints one summary line when training ends.

    Args:
        metrics: metric names to plot, each with its ``val_`` twin when present.
        title: figure title.
    """

    def __init__(self, metrics=("loss",), title: str = ""):
        super().__init__()
        self.metrics, self.title = tuple(metrics), title
        self.logs: dict[str, list[float]] = {}
        self._handle = None
        self._fig = None
        self.notebook = _in_notebook()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.logs.setdefault(key, []).append(float(value))
        if self.notebook:
            self._draw()

    def _draw(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        from course_lib.viz.curves import plot_history

        if self._fig is None:
            self._fig, axes = plt.subplots(1, len(self.metrics), figsize=(5 * len(self.metrics), 3.5), squeeze=False)
            self._axes = axes[0]
            plt.close(self._fig)   # shown through the display handle only, not again at the cell's end
        for ax, metric in zip(self._axes, self.metrics):
            ax.clear()
            if metric in self.logs:
                plot_history(self.logs, metric, ax=ax, title=f"{self.title} {metric}".strip())
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)

    def summary(self) -> str:
        parts = [f"{k}={v[-1]:.4f}" for k, v in self.logs.items()]
        return f"{len(next(iter(self.logs.values()), []))} epochs: " + " ".join(parts)

    def on_train_end(self, logs=None):
        if not self.notebook and self.logs:
            print(self.summary())


class SnapshotEnsemble(keras.callbacks.Callback):
    """Snapshot ensembles (Huang et al., 2017): a cyclic cosine learning rate restarts `cycles`
    times during training, and the weights at the end of each cycle (a local minimum) are kept.

    The learning rate at step t (of T in all, M cycles) is
    ``lr_max / 2 * (cos(pi * (t mod ceil(T/M)) / ceil(T/M)) + 1)``.

    Args:
        lr_max: learning rate at the start of every cycle.
        cycles: M, the number of snapshots.
        total_steps: T, optimizer steps of the whole training (epochs * batches per epoch).

    After `fit`: ``.snapshots`` holds M lists of weights; ``.predict(x)`` averages their outputs.
    """

    def __init__(self, lr_max: float, cycles: int, total_steps: int):
        super().__init__()
        if cycles < 1 or total_steps < cycles:
            raise ValueError(f"need 1 <= cycles <= total_steps, got cycles={cycles}, total_steps={total_steps}")
        self.lr_max, self.cycles, self.total_steps = float(lr_max), int(cycles), int(total_steps)
        self.cycle_length = -(-self.total_steps // self.cycles)
        self.step, self.snapshots, self.lrs = 0, [], []

    def learning_rate(self, step: int) -> float:
        t = step % self.cycle_length
        return self.lr_max / 2 * (np.cos(np.pi * t / self.cycle_length) + 1)

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.learning_rate(self.step)
        self.model.optimizer.learning_rate.assign(lr)
        self.lrs.append(lr)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.cycle_length == 0 or self.step == self.total_steps:
            if len(self.snapshots) < self.cycles:
                self.snapshots.append([np.array(w) for w in self.model.get_weights()])

    def predict(self, x, batch_size: int = 256, last: int | None = None) -> np.ndarray:
        """The mean of the snapshots' predictions (of the `last` ones only, if given; Huang et
        al. average the last few, since early snapshots of a short run are weak). The model
        keeps its last weights afterwards."""
        if not self.snapshots:
            raise ValueError("no snapshots yet: train with this callback first")
        if last is not None and not 1 <= last <= len(self.snapshots):
            raise ValueError(f"last must be between 1 and {len(self.snapshots)} (the snapshots taken), got {last}")
        current = self.model.get_weights()
        outputs = []
        for weights in self.snapshots[-last if last else 0:]:
            self.model.set_weights(weights)
            outputs.append(self.model.predict(x, batch_size=batch_size, verbose=0))
        self.model.set_weights(current)
        return np.mean(outputs, axis=0)
