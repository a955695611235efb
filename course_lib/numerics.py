"""Numerical gradient checking (central differences in float64), as in cs231n.

    >>> import numpy as np
    >>> f = lambda p: float(np.sum(p["w"] ** 3))
    >>> report = gradient_check(f, {"w": np.array([1.0, -2.0])}, {"w": np.array([3.0, 12.0])})
    >>> report.max_error < 1e-7
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np


def rel_error(a, b, floor: float = 1e-12) -> np.ndarray:
    """Elementwise relative error |a - b| / max(|a| + |b|, floor)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences (f(x + h) - f(x - h)) / 2h of a scalar function `f` of the array `x`.

    `x` is changed in place during the computation and restored afterwards.
    """
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise ValueError(f"x must be a floating-point array, got dtype {np.asarray(x).dtype}")
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = float(f(x))
        x[i] = old - eps
        down = float(f(x))
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


@dataclasses.dataclass
class GradientCheck:
    """Per-parameter maximum relative error between analytic and numerical gradients."""

    errors: dict[str, float]
    numerical: dict[str, np.ndarray]

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    def passed(self, tol: float = 1e-7) -> bool:
        return self.max_error <= tol

    def __str__(self) -> str:
        width = max(len(k) for k in self.errors)
        return "\n".join(f"{k:<{width}}  max relative error {v:.2e}" for k, v in self.errors.items())


def gradient_check(f, params: dict, grads: dict, eps: float = 1e-5) -> GradientCheck:
    """Compare analytic gradients with central differences, parameter by parameter.

    Args:
        f: a function of the dict `params` returning a scalar loss; it must read the arrays
            in `params` (they are perturbed in place, then restored).
        params: name -> float64 array.
        grads: name -> analytic gradient, same shapes as `params`.
        eps: step of the central differences.

    Returns:
        A `GradientCheck`: ``.errors[name]`` is the largest relative error of that parameter.
    """
    missing = set(params) ^ set(grads)
    if missing:
        raise ValueError(f"params and grads must have the same names; differ in {sorted(missing)}")
    errors, numerical = {}, {}
    for name, value in params.items():
        value = params[name]
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            raise ValueError(f"params[{name!r}] must be a float64 NumPy array (float32 is too coarse for "
                             f"a gradient check), got {type(value).__name__} {getattr(value, 'dtype', '')}")
        if np.shape(grads[name]) != value.shape:
            raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])}, params[{name!r}] has {value.shape}")
        numerical[name] = numerical_gradient(lambda _: f(params), value, eps)
        errors[name] = float(rel_error(grads[name], numerical[name]).max())
    return GradientCheck(errors, numerical)
