"""Build time of the whole book (`make site` without the install steps), on this machine.

Prints one JSON line: seconds, Sphinx processes, lectures, assignments, pages, the book's
size in MB, and the CPU count. Built into a temporary folder, so build/site is left alone.

    python benchmarks/book_build.py            # 1 Sphinx process, as `make site`
    python benchmarks/book_build.py --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from book import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            out = build.build(pathlib.Path(tmp) / "site", jobs=args.jobs)
        except build.BookError as exc:
            print(json.dumps({"benchmark": "book_build", "skipped": str(exc)}))
            return
        seconds = time.perf_counter() - start
        pages = sum(1 for _ in out.rglob("*.html"))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(json.dumps({"benchmark": "book_build", "seconds": round(seconds, 1), "jobs": args.jobs,
                      "lectures": len(build.lecture_paths()), "assignments": len(build.assignment_paths()),
                      "pages": pages, "size_mb": round(size, 1), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
