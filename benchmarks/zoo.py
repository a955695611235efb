"""Train and load every model of the cache in a profile; one JSON line per model.

    python benchmarks/zoo.py --profile cpu [fashion_cnn ...]

Uses a fresh cache folder (a temporary one unless --cache-dir is given), so every entry is
trained here: `train_seconds` is the child process's whole run (start-up, data, training,
test), `fit_seconds` the training alone, `load_seconds` a later `cl.zoo.get` from the cache.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    os.environ["COURSE_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp(prefix="zoo-bench-")
    import course_lib as cl

    cl.setup(seed=0, profile=args.profile, quiet=True)
    for name in args.names or cl.zoo.names():
        start = time.perf_counter()
        cl.zoo.get(name, quiet=True)
        trained = time.perf_counter() - start
        start = time.perf_counter()
        model = cl.zoo.get(name, quiet=True)
        loaded = time.perf_counter() - start
        record = model.zoo_record
        print(json.dumps({"benchmark": "zoo", "name": name, "profile": args.profile,
                          "train_seconds": round(trained, 1), "fit_seconds": record["train_seconds"],
                          "load_seconds": round(loaded, 2), "test_accuracy": round(record["test_accuracy"], 4),
                          "n_train": record["n_train"], "backend": record["backend"],
                          "load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "machine": platform.machine()}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
