"""`claim(text, held, **numbers)`: a sentence about a run, checked by the run.

Where a notebook's prose depends on the run's numbers (which model wins, whether a gap
closed), a claim cell states the sentence, tests it on this run's numbers and prints one
line::

    claim: ResNet-26 ends below plain-26: held (resnet=0.142, plain=0.215)

The markdown around it speaks only of claims that held. In the ``smoke`` profile the
numbers mean nothing, so the line says ``not judged (smoke)``. A test reads every
committed notebook (cpu or gpu outputs) and fails on a claim that ``DID NOT HOLD``, so
the text and the outputs cannot drift apart unnoticed.
"""

from __future__ import annotations

import numbers

from course_lib import config

HELD, FAILED, UNJUDGED = "held", "DID NOT HOLD", "not judged (smoke)"


def _fmt(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def claim(text: str, held, **numbers_) -> bool:
    """Print whether `text` held on this run, with the numbers it rests on; return `held` as a bool.

    Args:
        text: the sentence, as the prose would say it ("dropout narrows the gap").
        held: the test of it on this run's numbers (anything with a truth value).
        **numbers_: the numbers the test used, printed for the reader.

    Example:
        >>> _ = claim("3 > 2", 3 > 2, a=3, b=2)      # doctest: +SKIP
        claim: 3 > 2: held (a=3, b=2)
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a claim needs its sentence as text, got {text!r}")
    held = bool(held)
    verdict = UNJUDGED if config.current_profile() == "smoke" else (HELD if held else FAILED)
    detail = ", ".join(f"{k}={_fmt(v)}" for k, v in numbers_.items())
    print(f"claim: {text}: {verdict}" + (f" ({detail})" if detail else ""))
    return held


__all__ = ["claim", "HELD", "FAILED", "UNJUDGED"]
