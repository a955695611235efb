"""EfficientNet-Lite0 in Keras against a PyTorch reference, and the cost of its weight cache.

Prints one JSON line:
- ``tensor_max_abs_diff``: the largest difference between a converted Keras weight and its
  source tensor (read by ``torch.load`` where torch is installed, else by the course's reader);
- ``logits_max_abs_diff`` / ``logits_max_rel_diff`` / ``top1_agree``: Keras logits against a
  PyTorch forward pass written here (functional ops only: TensorFlow-style "same" padding by
  ``F.pad``, BatchNorm with eps 1e-3, ReLU6), on every bundled photograph at 224x224 and on random
  inputs of odd sizes (which exercise the asymmetric padding); ``null`` with a ``skipped`` note
  when torch is not installed;
- ``convert_s`` (read, check and convert the ``.pth`` file, write the cache entry) and
  ``cache_load_s`` (check and read the entry), both for the weights alone, in a fresh cache;
- ``top5``: the five classes Keras gives each bundled photograph;
- ``float16_*``: the same photographs with the weights of a float16 cache copy (`weights.export`):
  its size, the largest logit difference from float32, and how many top-1 classes agree.

    KERAS_BACKEND=jax python benchmarks/pretrained_parity.py

torch is not a dependency of the course: ``pip install torch`` into your own environment.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "retina", "hubble_deep_field", "immunohistochemistry",
          "motorcycle_left", "china", "flower", "grace_hopper")


def torch_logits(state, images_nhwc: np.ndarray) -> np.ndarray:
    """A reference EfficientNet-Lite0 forward pass in PyTorch on preprocessed NHWC images."""
    import torch
    import torch.nn.functional as F

    from course_lib.pretrained import efficientnet_lite

    sd = {k: torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}

    def same_conv(x, w, stride, groups=1):
        ih, iw = x.shape[-2:]
        kh, kw = w.shape[-2:]
        oh, ow = -(-ih // stride), -(-iw // stride)
        ph = max((oh - 1) * stride + kh - ih, 0)
        pw = max((ow - 1) * stride + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, w, stride=stride, groups=groups)

    def bn(x, p):
        return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"],
                            training=False, eps=1e-3)

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))).float()
        x = F.relu6(bn(same_conv(x, sd["_conv_stem.weight"], 2), "_bn0"))
        for i, (_name, _k, stride, expand, f_in, f_out) in enumerate(efficientnet_lite.blocks()):
            p, inp = f"_blocks.{i}", x
            if expand != 1:
                x = F.relu6(bn(same_conv(x, sd[f"{p}._expand_conv.weight"], 1), f"{p}._bn0"))
            x = F.relu6(bn(same_conv(x, sd[f"{p}._depthwise_conv.weight"], stride, groups=x.shape[1]), f"{p}._bn1"))
            x = bn(same_conv(x, sd[f"{p}._project_conv.weight"], 1), f"{p}._bn2")
            if stride == 1 and f_in == f_out:
                x = x + inp
        x = F.relu6(bn(same_conv(x, sd["_conv_head.weight"], 1), "_bn1"))
        x = x.mean(dim=(2, 3))
        return F.linear(x, sd["_fc.weight"], sd["_fc.bias"]).numpy()


def main():
    os.environ.setdefault("COURSE_CACHE_DIR", tempfile.mkdtemp(prefix="parity-cache-"))
    import keras

    import course_lib as cl
    from course_lib.pretrained import convert, weights

    try:
        import torch
    except ImportError:
        torch = None
    have_torch = torch is not None
    result = {"benchmark": "pretrained_parity", "backend": keras.backend.backend(), "keras": keras.__version__}

    start = time.perf_counter()
    converted = weights.imagenet_weights()
    result["convert_s"] = round(time.perf_counter() - start, 3)
    assert weights.last_load["how"] == "converted", weights.last_load
    start = time.perf_counter()
    weights.imagenet_weights()
    result["cache_load_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    model = cl.pretrained.efficientnet_lite0(classifier_activation=None)
    result["model_build_and_load_s"] = round(time.perf_counter() - start, 3)

    path = weights.source_file()
    if have_torch:
        state = {k: v.numpy() for k, v in torch.load(path, weights_only=True).items()}
        result["torch"] = torch.__version__
    else:
        state = dict(cl.pretrained.torch_file.read_state_dict(path))
    diffs = []
    for torch_name, layer, index, layout in convert.tensor_map():
        diffs.append(float(np.abs(convert.LAYOUTS[layout](state[torch_name]) - converted[layer][index]).max()))
    result["tensors_compared"] = len(diffs)
    result["tensors_in_source"] = len(state)
    result["tensor_max_abs_diff"] = max(diffs)

    photos = np.stack([cl.pretrained.preprocess(cl.data.image(n)[0], size=224) for n in PHOTOS])
    logits = model.predict(photos, verbose=0)
    result["top5"] = {n: [f"{p.name} ({p.probability:.2f})" for p in preds]
                      for n, preds in zip(PHOTOS, cl.pretrained.decode(logits, top=5))}

    if have_torch:
        ref = torch_logits(state, photos)
        rng = np.random.default_rng(0)
        free = cl.pretrained.efficientnet_lite0(classifier_activation=None, input_shape=(None, None, 3))
        odd = rng.uniform(-1, 1, (2, 225, 199, 3)).astype(np.float32)
        odd_keras, odd_ref = free.predict(odd, verbose=0), torch_logits(state, odd)
        got, want = np.concatenate([logits, odd_keras]), np.concatenate([ref, odd_ref])
        result["logits_max_abs_diff"] = float(np.abs(got - want).max())
        result["logits_max_rel_diff"] = float((np.abs(got - want).max(-1) / np.abs(want).max(-1)).max())
        result["top1_agree"] = int((got.argmax(-1) == want.argmax(-1)).sum())
        result["compared_images"] = len(got)
    else:
        result.update(logits_max_abs_diff=None, logits_max_rel_diff=None, top1_agree=None,
                      skipped="torch is not installed: no PyTorch reference for the logits")
    carried = weights.export(tempfile.mkdtemp(prefix="parity-float16-"), "float16")
    os.environ["COURSE_CACHE_DIR"] = str(carried.parent.parent)
    half = weights.imagenet_weights()
    assert weights.last_load["dtype"] == "float16", weights.last_load
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(half[layer.name])
    half_logits = model.predict(photos, verbose=0)
    result["float16_bytes"] = carried.stat().st_size
    result["float16_logits_max_abs_diff"] = float(np.abs(half_logits - logits).max())
    result["float16_top1_agree"] = f"{int((half_logits.argmax(-1) == logits.argmax(-1)).sum())}/{len(PHOTOS)}"

    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
