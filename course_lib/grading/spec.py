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
    """

    function: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    context: dict = dataclasses.field(default_factory=dict)
    names: tuple = ()
    then: Callable | None = None
    shown: str = ""

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
    """

    calls: Callable[[np.random.Generator], list]
    compare: Comparator = dataclasses.field(default_factory=allclose)
    description: str = ""
    reference: bool = True


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
