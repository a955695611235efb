"""Real data where it can be found, else its embedded substitute: the rule of DESIGN.md.

The ``smoke`` profile uses the substitute quietly (its runs need no data); ``cpu`` and
``gpu`` look for the real files (`course_lib.data.real`), try Keras' download unless
``$COURSE_OFFLINE`` is set, and fall back to the substitute with a loud warning;
``require_real=True`` raises instead.
"""

from __future__ import annotations

import sys
import warnings

from course_lib.data import files, real
from course_lib.data.source import Data, DataError


class SubstituteWarning(UserWarning):
    """Raised as a warning when a stand-in replaces a real data set."""


def _announce_substitute(name: str, why: str) -> None:
    msg = (f"course_lib: REAL {name} NOT FOUND ({why}); using the embedded SUBSTITUTE. "
           f"Results will not match the lecture. Fix: {real.env_hint(name)}.")
    print("!" * 8 + " " + msg, file=sys.stderr)
    warnings.warn(msg, SubstituteWarning, stacklevel=5)


def _locate_real(name: str, split: str) -> tuple:
    """(location or None, why not found): the search folders first, then Keras' download unless offline."""
    location = real.find(name, split)
    why = "searched " + real.search_report(name)
    if location is None and files.offline():
        why += "; COURSE_OFFLINE is set, no download tried"
    elif location is None:
        try:
            real.download(name)
            location = real.find(name, split)
        except Exception as exc:  # no network: the substitute (or an error) follows
            why += f"; download failed ({type(exc).__name__})"
    return location, why


def real_or_substitute(name: str, split: str, *, profile: str, require_real: bool, substitute, count: int,
                       class_names=None, seed: int = 0, **options) -> Data:
    """The real data set `name` (``split``), or ``substitute(split, count, seed=seed)`` where it is missing."""
    if require_real or profile != "smoke":
        location, why = _locate_real(name, split)
        if location is not None:
            x, y, source = real.read(name, location, split, **options)
            return Data(x, y, source, class_names)
        if require_real:
            raise DataError(f"real {name} not found ({why}); {real.env_hint(name)}, "
                            f"or pass require_real=False to use the substitute")
        _announce_substitute(name, why)
    x, y, source = substitute(split, count, seed=seed)
    return Data(x, y, source, class_names)
