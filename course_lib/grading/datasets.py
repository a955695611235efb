"""The data a graded notebook may read, and the hidden test split that stays with the grader.

A spec asks for real data by name and split: ``Sandbox(data={"fashion_mnist": "train"})``.
`plan` decides once per grading run, in the grading process, and the same decision serves the
sandbox (which files it binds) and the spec (which hidden test set it scores on):

- ``real``: a verified copy of the data set is here and the profile is not ``smoke``. Only the
  training files are bound, read-only, under /data (COURSE_DATA_DIR); the hidden test set is
  the real test split, read here and never bound.
- ``substitute``: the ``smoke`` profile (where `course_lib.data.load` always draws the
  substitute), or no real copy here (CI machines). Nothing is bound: the notebook's `load`
  draws course_lib's stand-in, and the hidden test set is the substitute's test split drawn
  with the spec's seed, images the notebook does not draw.

Only data sets stored one file per split can be shown by split: Fashion-MNIST's IDX files.
(mnist.npz and the CIFAR archives hold the test split in the same file.)
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from course_lib.data import real, registry
from course_lib.data.source import TITLES

# name -> split -> the files of that split, as real.find() names them
SPLIT_FILES = {
    "fashion_mnist": {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                      "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
}
FOLDERS = {"fashion_mnist": "fashion-mnist"}  # below /data; one of real.SUBDIRS


class DataPlanError(ValueError):
    """A data request a spec cannot make (the course's fault, not a student's)."""


@dataclasses.dataclass(frozen=True)
class DataPlan:
    """What a sandbox sees of one data set, and where the hidden test split comes from.

    Args:
        name: registry name, e.g. ``"fashion_mnist"``.
        kind: ``"real"`` or ``"substitute"``.
        files: path under /data -> file here (the shown split only; empty for the substitute).
        location: real.find()'s answer here (real data only).
        why: why this kind was chosen, for the feedback.
    """

    name: str
    kind: str
    files: dict
    location: object = None
    why: str = ""

    def describe(self) -> str:
        title = TITLES.get(self.name, self.name)
        if self.kind == "real":
            return (f"real {title} from {real.describe(self.location)}: the notebook read the training files "
                    f"(bound read-only at /data/{FOLDERS[self.name]}); the hidden test set is the real test split")
        return (f"course_lib's substitute for {title} ({self.why}): the notebook drew the substitute's training "
                "split; the hidden test set is the substitute's test split, drawn with the grader's own seed")


def plan(request: dict, profile: str) -> dict[str, DataPlan]:
    """Resolve a spec's ``Sandbox.data`` for `profile`: {name: DataPlan}."""
    plans = {}
    for name, split in request.items():
        if name not in SPLIT_FILES:
            raise DataPlanError(f"the grader can show {', '.join(SPLIT_FILES)} by split, not {name!r} (its files hold "
                                "the test split too)")
        if split != "train":
            raise DataPlanError(f"a sandbox may see the training split only, got {name!r}: {split!r}")
        if profile == "smoke":
            plans[name] = DataPlan(name, "substitute", {}, why="the smoke profile always uses it")
            continue
        status, detail = real.check(name)
        if status != "real":
            why = f"no verified real copy on the grading machine: {status}"
            plans[name] = DataPlan(name, "substitute", {}, why=why)
            continue
        location = real.find(name)
        files = {f"{FOLDERS[name]}/{location[stem].name}": str(location[stem]) for stem in SPLIT_FILES[name][split]}
        plans[name] = DataPlan(name, "real", files, location)
    return plans


def hidden_test(data: DataPlan, profile: str, seed: int, substitute_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The hidden test split for `data`: images and labels, read or drawn in the grading process.

    Args:
        data: the plan of the run.
        profile: the grading profile (sizes of the substitute).
        seed: the spec's seed; the substitute's test images are drawn with a seed made from it.
        substitute_size: how many substitute test images to draw.
    """
    if data.kind == "real":
        x, y, _ = real.read(data.name, data.location, "test")
        return x, y
    hidden_seed = zlib.crc32(f"{seed}:{data.name}:{profile}".encode()) or 1  # never the notebooks' seed 0
    x, y, _ = registry.info(data.name).substitute("test", substitute_size, seed=hidden_seed)
    return x, y
