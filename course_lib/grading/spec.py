"""What a grader spec (``assignments/source/NAME/grading.py``) is made of.

A spec maps every graded test cell (by its ``grade_id``) to a `Test`: a function that
builds the hidden calls from a seeded generator, and a comparator. The grader runs each
call on the submission inside the sandbox and on the master solution in the grading
process, then compares the two there.

    SEED = 2024
    TESTS = {
        "test_relu_forward": Test(lambda rng: [Call("relu_forward", (rng.normal(size=(4, 5)),))]),
    }

A comparator is ``compare(actual, expected, call) -> str | None``: None (or a `Passed` note)
when the answer is right, else a sentence for the feedback file. It runs in the grading process on plain data
(arrays, numbers, strings, lists and dicts of them); it never sees a student object.

A spec may also declare what its sandbox needs (default: NumPy only, `Limits()`), and build
its tests for the profile and data of the run (A3 does both)::

    SANDBOX = Sandbox(keras=True, data={"fashion_mnist": "train"}, threads=2)   # or sandbox(profile)
    def tests(setting: Setting) -> dict: ...                                      # instead of TESTS

A spec may name master cells the reference run leaves out, such as a training loop whose
result is graded from a saved file: ``REFERENCE_SKIP = ("train", "save")``.

A call's `then` is a trusted step of the grading process between the sandbox and the
comparator, e.g. `saved_model.Evaluator`, which evaluates a returned model file in a second
sandbox; a test with ``reference=False`` is compared without running the master solution.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from course_lib.grading.checks import array_mismatch
from course_lib.grading.sandbox import Limits, Sandbox  # noqa: F401  (a spec imports them from here)


@dataclasses.dataclass
class Call:
    """One call of a submission's function on hidden inputs.

    Args:
        function: name of the function in the notebook.
        args, kwargs: NumPy arrays, numbers, strings, or lists/dicts of them.
        context: data for the comparator only (e.g. held-out points); never sent to the sandbox.
        names: names of the returned values, for messages (``("dx", "dw", "db")``).
        then: ``then(value) -> value``, run in the grading process on the returned value before
            the comparator (the grader runs it once per distinct value and submission); it
            raises ``ValueError`` with a sentence for the feedback when the value is unusable.
        shown: how the feedback names the call (default: the call with its arguments' shapes).
        at_end: make the call after every code cell (a file the notebook saves at its end)
            instead of where the test cell stands.
    """

    function: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    context: dict = dataclasses.field(default_factory=dict)
    names: tuple = ()
    then: Callable | None = None
    shown: str = ""
    at_end: bool = False

    def describe(self) -> str:
        if self.shown:
            return self.shown
        def one(v):
            shape = getattr(v, "shape", None)
            if isinstance(v, dict):
                return "{" + ", ".join(f"{k}: {one(x)}" for k, x in v.items()) + "}"
            return f"array{tuple(shape)}" if shape is not None else repr(v)[:30]
        parts = [one(a) for a in self.args] + [f"{k}={one(v)}" for k, v in self.kwargs.items()]
        return f"{self.function}({', '.join(parts)})"


Comparator = Callable[[Any, Any, Call], "str | None"]


class Passed(str):
    """A comparator's verdict for a right answer that says something: ``Passed("accuracy 91.2%")``.

    The feedback shows it on the test's line; any other string is a failure."""


def mismatch(name: str, actual, expected, rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    """Why `actual` differs from `expected` (arrays, numbers, tuples or dicts of them), or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{name} should be a dict with keys {sorted(expected)}, got a {type(actual).__name__}"
        missing = sorted(set(expected) - set(actual))
        if missing:
            return f"{name} has no key {missing[0]!r} (it should have the keys {sorted(expected)})"
        for key in expected:
            message = mismatch(f"{name}[{key!r}]", actual[key], expected[key], rtol, atol)
            if message:
                return message
        return None
    if isinstance(expected, tuple):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            got = f"a {type(actual).__name__}" + (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
            return f"{name} should be {len(expected)} values, got {got}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            message = mismatch(f"{name}[{i}]", a, e, rtol, atol)
            if message:
                return message
        return None
    return array_mismatch(name, actual, expected, rtol=rtol, atol=atol)


def _shape_of(value):
    """(shape, kind) of a number or an array; None for anything else."""
    if type(value) in (bool, int, float):
        return (), "b" if type(value) is bool else "f"
    if isinstance(value, np.ndarray):
        return value.shape, value.dtype.kind
    return None


def structure_mismatch(actual, expected, call: Call | None = None, name: str | None = None) -> str | None:
    """Why `actual` cannot be compared with the reference `expected`, or None.

    The same structure (tuples of the same length, dicts with the reference's keys), arrays of
    the reference's shape holding real numbers (bool, integers or floats), strings for strings.
    A tuple of numbers counts as the array it spells. Cheap: nothing is converted or broadcast.
    """
    names_ = call.names if call is not None else ()
    if name is None:
        if isinstance(expected, tuple) and len(names_) == len(expected):
            if not isinstance(actual, tuple) or len(actual) != len(expected):
                got = f"a {type(actual).__name__}" + (f" of length {len(actual)}" if isinstance(actual, tuple) else "")
                return f"{call.function} should return {len(expected)} values ({', '.join(names_)}), got {got}"
            for n, a, e in zip(names_, actual, expected):
                message = structure_mismatch(a, e, None, n)
                if message:
                    return message
            return None
        name = names_[0] if names_ else "the result"
    if expected is None:
        return None
    if isinstance(expected, str):
        return None if isinstance(actual, str) else f"{name} should be a string, got {type(actual).__name__}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{name} should be a dict with keys {sorted(expected)}, got a {type(actual).__name__}"
        for key in expected:
            if key not in actual:
                return f"{name} has no key {key!r} (it should have the keys {sorted(expected)})"
            message = structure_mismatch(actual[key], expected[key], None, f"{name}[{key!r}]")
            if message:
                return message
        return None
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple) or len(actual) != len(expected):
            got = f"a {type(actual).__name__}" + (f" of length {len(actual)}" if isinstance(actual, tuple) else "")
            return f"{name} should be {len(expected)} values, got {got}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            message = structure_mismatch(a, e, None, f"{name}[{i}]")
            if message:
                return message
        return None
    want = _shape_of(expected)
    if want is None:
        return None
    if actual is None:
        return f"{name} is None: did the function reach its `return` statement?"
    if isinstance(actual, tuple):
        try:
            actual = np.asarray(actual, dtype=np.float64)
        except (TypeError, ValueError):
            return f"{name} should be {'a number' if want[0] == () else 'an array of numbers'}, got a tuple"
    got = _shape_of(actual)
    if got is None:
        return f"{name} should be {'a number' if want[0] == () else 'a NumPy array of numbers'}, got {type(actual).__name__}"
    if got[1] not in "biuf":
        return f"{name} should hold real numbers, got an array of {actual.dtype}"
    if got[0] != want[0]:
        return (f"{name} has shape {got[0]} but should have shape {want[0]}; "
                "check the axes you sum or reduce over, and whether the result is transposed")
    return None


def allclose(rtol: float = 1e-5, atol: float = 1e-8) -> Comparator:
    """Compare arrays, numbers, or tuples/dicts of them entry by entry with `numpy.isclose`.

    The call's `names` name the returned values in messages: ``("dx", "dw", "db")``.
    """

    def compare(actual, expected, call: Call):
        if isinstance(expected, tuple) and call.names:
            if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
                got = f"a {type(actual).__name__}" + (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
                return f"{call.function} should return {len(expected)} values ({', '.join(call.names)}), got {got}"
            for name, a, e in zip(call.names, actual, expected):
                message = mismatch(name, a, e, rtol, atol)
                if message:
                    return message
            return None
        return mismatch(call.names[0] if call.names else "the result", actual, expected, rtol, atol)

    return compare


@dataclasses.dataclass
class Test:
    """A graded test: hidden calls built from `rng`, and how to compare their results.

    Args:
        calls: ``calls(rng) -> list[Call]``; rng is seeded from the spec's SEED and the grade_id.
        compare: comparator (default: `allclose()`).
        description: one line for the feedback file.
        reference: compare with the master solution's results (``False``: `expected` is None,
            and the master need not run in the grading process).
        check_structure: before the comparator, check that the result has the reference's
            structure, shapes and kinds of numbers (`structure_mismatch`); the comparator then
            never meets a value that could broadcast into something huge.
    """

    calls: Callable[[np.random.Generator], list]
    compare: Comparator = dataclasses.field(default_factory=allclose)
    description: str = ""
    reference: bool = True
    check_structure: bool = True


@dataclasses.dataclass(frozen=True)
class Setting:
    """What a spec's ``tests(setting)`` is built for.

    Args:
        profile: ``smoke``, ``cpu`` or ``gpu``, as given to ``course grade --profile``.
        use_namespaces: the isolation of the run (a second sandbox runs the same way).
        data: {name: `datasets.DataPlan`}: real or substitute data, as the sandbox sees it.
        sandbox: the spec's sandbox, resolved for this run.
    """

    profile: str
    use_namespaces: bool
    data: dict
    sandbox: Sandbox
