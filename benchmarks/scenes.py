"""Generation time of Fashion-MNIST scenes (`course_lib.data.scenes.fashion_scenes`).

Prints one JSON line: for each canvas size, the wall-clock and CPU seconds to generate `n`
scenes (loading the items included, once warm), scenes per second, and the split of the time
between composing the images and writing the captions. Where the real Fashion-MNIST is
missing, the substitute's items are used and the line says so.

    python benchmarks/scenes.py                       # 10,000 test scenes at 64, 96 and 128 pixels
    python benchmarks/scenes.py --n 2000 --sizes 64
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.data import scenes  # noqa: E402


def measure(n: int, size: int, profile: str, split: str) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    x, y, extras, source = scenes.fashion_scenes(split, n, size=size, profile=profile)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # the captions alone: run the grammar again on the scenes just made
    inst, boxes, counts = extras["instances"], extras["boxes"], extras["counts"]
    areas = np.stack([(inst == k).sum((1, 2)) for k in range(1, boxes.shape[1] + 1)], 1)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for i in range(n):
        k = counts[i]
        scenes.describe(boxes[i, :k, 0], boxes[i, :k, 1:], areas[i, :k], size, rng, 5)
    captions = time.perf_counter() - t
    return {"size": size, "n": n, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "scenes_per_s": round(n / wall), "captions_seconds": round(captions, 2),
            "mean_items": round(float(counts.mean()), 2),
            "items": "substitute" if source.kind == "substitute" else "real"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--profile", default="cpu", help="cpu/gpu use the real Fashion-MNIST where installed")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenes.fashion_scenes(args.split, 16, profile=args.profile)      # warm: imports, first load
        results = [measure(args.n, size, args.profile, args.split) for size in args.sizes]
    print(json.dumps({"benchmark": "fashion_scenes", "split": args.split, "profile": args.profile,
                      "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
