"""Checks used by the visible test cells of the assignments.

Each check raises ``AssertionError`` with a message a student can act on: which output,
the expected and actual shape, the first wrong value, and a hint. The grader's comparators
use the same messages (`array_mismatch`), so the feedback file reads like the notebook.

    from course_lib.grading.checks import check_array
    check_array("out", affine_forward(x, w, b), expected, hint="out = x @ w + b")
"""

from __future__ import annotations

import numpy as np


def _fmt(value) -> str:
    return np.format_float_positional(float(value), precision=6, trim="-") if np.isfinite(value) else str(value)


def array_mismatch(name: str, actual, expected, rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    """Why `actual` does not match `expected` (a sentence), or None when it does.

    Args:
        name: what the value is called in the exercise, e.g. ``"dx"``.
        actual: the student's value (anything; a non-array gives a message, not an error).
        expected: the reference NumPy array or number.
        rtol, atol: tolerances as in `numpy.allclose`.
    """
    expected = np.asarray(expected)
    if actual is None:
        return f"{name} is None: did the function reach its `return` statement?"
    if isinstance(actual, (tuple, list)) and expected.ndim == 0:
        return f"{name} should be a single number, got a {type(actual).__name__} of length {len(actual)}"
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return f"{name} should be a NumPy array of numbers, got {type(actual).__name__} ({exc})"
    if actual.shape != expected.shape:
        return (f"{name} has shape {actual.shape} but should have shape {expected.shape}; "
                "check the axes you sum or reduce over, and whether the result is transposed")
    expected = expected.astype(np.float64)
    if np.isnan(actual).any() and not np.isnan(expected).any():
        index = tuple(int(i) for i in np.argwhere(np.isnan(actual))[0])
        return f"{name} contains NaN (first at index {index}); look for a division by zero or exp of a large number"
    close = np.isclose(actual, expected, rtol=rtol, atol=atol)
    if close.all():
        return None
    wrong = np.argwhere(~close)
    index = tuple(int(i) for i in wrong[0])
    where = f" at index {index}" if index else ""
    max_diff = float(np.max(np.abs(actual - expected)))
    return (f"{name} differs from the expected value{where}: got {_fmt(actual[index])}, "
            f"expected {_fmt(expected[index])} ({len(wrong)} of {expected.size} entries wrong, "
            f"largest difference {_fmt(max_diff)}; rtol={rtol}, atol={atol})")


def check_array(name: str, actual, expected, rtol: float = 1e-5, atol: float = 1e-8, hint: str = "") -> None:
    """Raise AssertionError with a helpful message unless `actual` matches `expected`."""
    message = array_mismatch(name, actual, expected, rtol=rtol, atol=atol)
    if message is not None:
        raise AssertionError(message + (f". Hint: {hint}" if hint else ""))


def check_shape(name: str, actual, shape: tuple, hint: str = "") -> None:
    """Raise AssertionError unless `actual` is an array of the given shape."""
    got = getattr(actual, "shape", None)
    if got != tuple(shape):
        what = f"shape {got}" if got is not None else f"a {type(actual).__name__}"
        raise AssertionError(f"{name} should have shape {tuple(shape)}, got {what}" + (f". Hint: {hint}" if hint else ""))


def rel_error(x, y) -> float:
    """Largest relative error between two arrays, as in cs231n: max |x-y| / max(1e-8, |x|+|y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
