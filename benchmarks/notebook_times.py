"""Run notebooks in a profile and print one JSON line per notebook (seconds, peak RSS), then a total.

    python benchmarks/notebook_times.py --profile smoke [notebooks/00_setup.ipynb ...]
"""

import argparse
import json
import pathlib
import platform
import sys

from course_lib import runner
from course_lib.config import PROFILES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(pathlib.Path("notebooks").glob("*.ipynb"))
    results = runner.run_notebooks(paths, profile=args.profile, timeout=args.timeout, progress=False)
    for r in results:
        print(json.dumps({"benchmark": "notebook_time", "profile": args.profile, **r.as_dict()}))
    print(json.dumps({"benchmark": "notebook_time_total", "profile": args.profile,
                      "notebooks": len(results), "failed": sum(not r.ok for r in results),
                      "seconds": round(sum(r.seconds for r in results), 2),
                      "max_peak_rss_mb": round(max((r.peak_rss_mb for r in results), default=0), 1),
                      "machine": platform.machine(), "cpus": __import__("os").cpu_count()}))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
