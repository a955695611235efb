"""The course's data sets: real loaders, embedded substitutes and synthetic generators.

    >>> import course_lib as cl
    >>> data = cl.data.load("fashion_mnist", split="train", limit=1000)
    >>> data.x.shape, data.source.kind          # doctest: +SKIP
    ((1000, 28, 28), 'real')

`course data list` shows every name; DESIGN.md gives the search order for real data.
"""

from course_lib.data.embedded import IMAGE_NAMES, image
from course_lib.data.files import search_dirs
from course_lib.data.pipeline import batches, scale_images
from course_lib.data.registry import REGISTRY, SubstituteWarning, info, load, names
from course_lib.data.source import Data, DataError, Source

__all__ = ["load", "batches", "scale_images", "names", "info", "status", "image", "IMAGE_NAMES", "REGISTRY", "Data", "DataError", "Source",
           "SubstituteWarning", "search_dirs"]


def status() -> dict[str, tuple[str, str]]:
    """For each real data set: ``(status, detail)``, status ``real``, ``missing`` or ``corrupt``."""
    from course_lib.data import real

    return {name: real.check(name) for name in real.NAMES}
