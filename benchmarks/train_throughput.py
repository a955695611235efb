"""Training throughput of the course's small CNN for one epoch on Fashion-MNIST, per setup.

Prints one JSON line per setup (images/s after a warm-up epoch), then a summary line with
each setup's ratio to the fastest PyTorch loop (where torch is installed). Each setup runs in
its own process, because the Keras backend is fixed when Keras is imported.

    python benchmarks/train_throughput.py                         # the default setups, 6,000 images
    python benchmarks/train_throughput.py --sizes 6000 60000      # how images/s scale with the data set
    python benchmarks/train_throughput.py --setups tf tf-jit jax  # a subset

Setups: tf, tf-jit (jit_compile=True), jax (NumPy arrays handed to fit), tf-course and
jax-course (the course's `cl.data.batches`), tf-float (inputs converted to float32 in NumPy
beforehand, the common tutorial path), tf-data (a hand-written tf.data pipeline), torch-nchw,
torch-channels-last (a plain PyTorch loop on the same model).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

BATCH = 128
SETUPS = {
    "tf": dict(backend="tensorflow", jit=False, inputs="uint8"),
    "tf-jit": dict(backend="tensorflow", jit=True, inputs="uint8"),
    "tf-float": dict(backend="tensorflow", jit=False, inputs="float32"),
    "tf-data": dict(backend="tensorflow", jit=False, inputs="tfdata"),
    "tf-course": dict(backend="tensorflow", jit=False, inputs="course"),
    "jax": dict(backend="jax", jit=True, inputs="uint8"),
    "jax-course": dict(backend="jax", jit=True, inputs="course"),
    "torch-nchw": dict(backend="torch-plain", memory="nchw"),
    "torch-channels-last": dict(backend="torch-plain", memory="channels_last"),
}


def load(n: int):
    import course_lib as cl

    data = cl.data.load("fashion_mnist", "train", limit=n, profile="cpu")
    return data.x[..., None], data.y.astype("int32"), data.source.kind


def keras_worker(name: str, n: int) -> dict:
    spec = SETUPS[name]
    os.environ["KERAS_BACKEND"] = spec["backend"]
    import course_lib as cl

    cl.setup(seed=0, profile="cpu", quiet=True)
    import keras

    x, y, kind = load(n)
    inputs = keras.Input((28, 28, 1))
    body = cl.models.small_cnn((28, 28, 1), 10)
    scaled = keras.layers.Rescaling(1 / 255)(inputs) if spec["inputs"] != "float32" else inputs
    model = keras.Model(inputs, body(scaled))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=spec["jit"])
    if spec["inputs"] == "float32":
        t0 = time.perf_counter()
        x = x.astype("float32") / 255
        convert = time.perf_counter() - t0
    else:
        convert = 0.0
    if spec["inputs"] == "tfdata":
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(BATCH).prefetch(tf.data.AUTOTUNE)
        warm, timed = dict(x=ds.take(4)), dict(x=ds)
    elif spec["inputs"] == "course":
        warm = dict(x=cl.data.batches(x[:BATCH * 4], y[:BATCH * 4], BATCH))
        timed = dict(x=cl.data.batches(x, y, BATCH))
    else:
        warm = dict(x=x[:BATCH * 4], y=y[:BATCH * 4], batch_size=BATCH)
        timed = dict(x=x, y=y, batch_size=BATCH, shuffle=True)
    model.fit(**warm, epochs=1, verbose=0)   # warm-up: tracing and compilation
    t0 = time.perf_counter()
    model.fit(**timed, epochs=1, verbose=0)
    seconds = time.perf_counter() - t0 + convert
    return {"setup": name, "backend": spec["backend"], "jit_compile": spec["jit"], "inputs": spec["inputs"],
            "images": n, "data": kind, "seconds": round(seconds, 2), "images_per_s": round(n / seconds, 1)}


def torch_worker(name: str, n: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x, y, kind = load(n)
    channels_last = SETUPS[name]["memory"] == "channels_last"

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    model = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                          nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25), nn.Linear(64, 10))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y).long()

    def epoch(limit):
        order = torch.randperm(limit)
        for i in range(0, limit, BATCH):
            idx = order[i:i + BATCH]
            xb = (xt[idx].float() / 255).contiguous(memory_format=fmt)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yt[idx])
            loss.backward()
            opt.step()

    epoch(BATCH * 4)
    t0 = time.perf_counter()
    epoch(n)
    seconds = time.perf_counter() - t0
    return {"setup": name, "backend": "torch", "memory_format": SETUPS[name]["memory"], "images": n,
            "data": kind, "seconds": round(seconds, 2), "images_per_s": round(n / seconds, 1),
            "threads": torch.get_num_threads()}


def run_setup(name: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--sizes", str(n)],
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"setup": name, "images": n, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(lines[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="*", default=["tf", "tf-jit", "tf-course", "jax", "jax-course", "torch-nchw", "torch-channels-last"],
                        choices=list(SETUPS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[6000])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker = torch_worker if SETUPS[args.worker]["backend"] == "torch-plain" else keras_worker
        print(json.dumps(worker(args.worker, args.sizes[0])))
        return 0
    has_torch = importlib.util.find_spec("torch") is not None
    results = []
    for n in args.sizes:
        for name in args.setups:
            if SETUPS[name]["backend"] == "torch-plain" and not has_torch:
                result = {"setup": name, "images": n, "skipped": "torch is not installed (pip install -e '.[torch]')"}
            elif SETUPS[name]["backend"] == "jax" and importlib.util.find_spec("jax") is None:
                result = {"setup": name, "images": n, "skipped": "jax is not installed"}
            else:
                result = run_setup(name, n)
            results.append(result)
            print(json.dumps({"benchmark": "train_throughput", **result}), flush=True)
    for n in args.sizes:
        rows = [r for r in results if r["images"] == n and "images_per_s" in r]
        torch_best = max((r["images_per_s"] for r in rows if r.get("backend") == "torch"), default=None)
        print(json.dumps({"benchmark": "train_throughput_summary", "images": n, "cpus": os.cpu_count(),
                          "fastest_torch_images_per_s": torch_best,
                          "ratio_to_fastest_torch": {r["setup"]: (round(r["images_per_s"] / torch_best, 3) if torch_best else None)
                                                     for r in rows}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
