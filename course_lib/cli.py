"""The ``course`` command: list, run, doctor, data.

    course list                           notebooks with their titles
    course run [NB ...] [--profile P] [--out DIR] [--inplace] [--timeout S]
    course doctor                         versions, backend, devices, data, cache
    course data list | check [NAME ...] | path NAME
    course cache list | clear [NAME] | export [DIR]   the model cache (cl.zoo, cl.pretrained)
    course release NAME                   write the student version of an assignment
    course grade NAME SUBMISSIONS --out grades.csv [--jobs N] [--profile smoke|cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from course_lib.config import PROFILES


def notebooks_dir() -> pathlib.Path:
    """``./notebooks`` when it exists, else the folder beside the package (an editable install)."""
    here = pathlib.Path("notebooks")
    if here.is_dir():
        return here
    return pathlib.Path(__file__).resolve().parents[1] / "notebooks"


def notebook_title(path: pathlib.Path) -> str:
    """The first Markdown heading of a notebook, without its '#'."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return "(unreadable notebook)"
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            text = "".join(cell.get("source", []))
            for line in text.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "(untitled)"


def cmd_list(args) -> int:
    folder = pathlib.Path(args.dir) if args.dir else notebooks_dir()
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks in {folder}", file=sys.stderr)
        return 1
    for p in paths:
        print(f"{p.name:<32} {notebook_title(p)}")
    return 0


def cmd_run(args) -> int:
    from course_lib import runner

    paths = args.notebooks or sorted(notebooks_dir().glob("*.ipynb"))
    try:
        results = runner.run_notebooks(paths, profile=args.profile, out=args.out, inplace=args.inplace,
                                       timeout=args.timeout, progress=not args.no_progress)
    except (runner.RunError, ValueError) as exc:
        print(f"course run: error: {exc}", file=sys.stderr)
        return 2
    print(runner.format_table(results))
    if args.out:
        print(f"executed notebooks and HTML pages in {args.out} (open {pathlib.Path(args.out) / 'index.html'})")
    return 0 if all(r.ok for r in results) else 1


def _writable(folder: pathlib.Path) -> bool:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK)


def cmd_doctor(args) -> int:
    from course_lib import config
    from course_lib.data import files, real, registry

    keras = config.import_keras_quietly()

    print("course doctor")
    for name, version in config.versions().items():
        print(f"  {name:<12} {version}")
    print(f"  backend      {keras.backend.backend()}  (set KERAS_BACKEND=tensorflow|jax|torch to change)")
    gpus = config.gpu_devices()
    print(f"  devices      {'GPU: ' + ', '.join(gpus) if gpus else 'CPU only'}")
    print(f"  profile      {config.resolve_profile()}  ({config.PROFILE_ENV}={os.environ.get(config.PROFILE_ENV, '')!r})")
    print(f"  offline      {files.offline()}  (COURSE_OFFLINE)")
    print("  data sets:")
    for name in real.NAMES:
        status, detail = real.check(name)
        shown = {"real": "real", "missing": "missing (substitute used)", "corrupt": "CORRUPT"}[status]
        print(f"    {name:<14} {shown:<26} {detail}")
    for name, entry in registry.REGISTRY.items():
        if entry.kind != "real":
            print(f"    {name:<14} {entry.kind:<26} {entry.description}")
    cache = files.keras_cache_dir()
    print(f"  keras cache  {cache}  ({'writable' if _writable(cache) else 'NOT writable: set KERAS_HOME'})")
    print(f"  search order {', '.join(str(d) for d in files.search_dirs())}")
    return 0


def cmd_data(args) -> int:
    from course_lib.data import real, registry
    from course_lib.data.source import DataError

    if args.action == "list":
        for name, entry in registry.REGISTRY.items():
            status = real.check(name)[0] if entry.kind == "real" else entry.kind
            print(f"{name:<14} {status:<10} {entry.description}")
        return 0
    names = args.names or list(real.NAMES)
    try:
        for name in names:
            if registry.info(name).kind != "real":
                raise DataError(f"{name!r} is {registry.info(name).kind} data, not a real data set; "
                                f"`course data check` applies to {', '.join(real.NAMES)}")
    except DataError as exc:
        print(f"course data: error: {exc}", file=sys.stderr)
        return 2
    if args.action == "path":
        for name in names:
            location = real.find(name)
            print(f"{name}: {real.describe(location) if location else 'not found; searched ' + real.search_report(name)}")
        return 0
    worst = 0
    for name in names:
        status, detail = real.check(name)
        print(f"{name:<14} {status:<8} {detail}")
        worst = max(worst, {"real": 0, "missing": 0, "corrupt": 1}[status])
    return worst


def cmd_cache(args) -> int:
    from course_lib import storage, zoo

    if args.action == "export":
        from course_lib.pretrained import weights

        target = weights.export(args.name or ".cache", args.dtype)
        print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {args.dtype}); "
              f"COURSE_CACHE_DIR={target.parent.parent} uses it without the weights package")
        return 0
    if args.action == "clear":
        try:
            removed = zoo.clear(args.name)
        except zoo.ZooError as exc:
            print(f"course cache: {exc}", file=sys.stderr)
            return 2
        print(f"removed {len(removed)} folder(s)" + "".join(f"\n  {r}" for r in removed))
        return 0
    found = zoo.entries()
    print(f"cache folder: {storage.cache_dir(create=False)} (set COURSE_CACHE_DIR to move it)")
    if not found:
        print("no trained models cached; they are trained on first use (cl.zoo.get)")
    for e in found:
        acc = f"{e['test_accuracy']:.2%}" if "test_accuracy" in e else "?"
        print(f"  {e.get('name', '?'):<22} {e.get('profile', '?'):<6} test acc {acc:>7}  "
              f"{e['size_bytes'] / 1e6:6.1f} MB  trained {e.get('created', '?')} "
              f"({e.get('train_seconds', '?')} s, Keras {e.get('keras', '?')})")
    converted = sorted((storage.cache_dir(create=False) / "pretrained").glob("*.npz"))
    for npz in converted:
        print(f"  {npz.stem:<22} pretrained weights, {npz.stat().st_size / 1e6:6.1f} MB  ({npz})")
    known = ", ".join(zoo.names())
    print(f"models the cache can train: {known}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="The Keras vision course: notebooks, data, checks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the notebooks with their titles")
    p.add_argument("--dir", help="folder of notebooks (default ./notebooks)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="execute notebooks with a progress bar, then a time/memory table")
    p.add_argument("notebooks", nargs="*", help="notebook files (default: all of notebooks/)")
    p.add_argument("--profile", choices=PROFILES, help="smoke, cpu or gpu (default: $COURSE_PROFILE or auto)")
    p.add_argument("--out", help="folder for executed copies, HTML pages and index.html")
    p.add_argument("--inplace", action="store_true", help="write outputs back into the notebooks")
    p.add_argument("--timeout", type=int, default=900, help="seconds one cell may run (default 900)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("doctor", help="report versions, backend, devices, data sets and cache")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("data", help="data sets: list, check checksums, show paths")
    p.add_argument("action", choices=("list", "check", "path"))
    p.add_argument("names", nargs="*", help="data set names (default: all real ones)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("cache", help="the trained-model cache: list entries, clear them, export pretrained weights")
    p.add_argument("action", choices=("list", "clear", "export"))
    p.add_argument("name", nargs="?", help="clear: only this model (default: all); export: the cache folder to write "
                                           "(default .cache)")
    p.add_argument("--dtype", default="float16", choices=("float16", "float32"),
                   help="export: precision of the copied EfficientNet-Lite0 weights (float16 halves the size)")
    p.set_defaults(func=cmd_cache)

    from course_lib.grading.cli import add_subcommands

    add_subcommands(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
