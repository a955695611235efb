"""Grader spec of A2 · Convolution and pooling by hand: the hidden calls of every graded test.

Each entry maps a test cell's grade_id to the calls the grader makes on the submission's
functions (inputs drawn from a generator seeded by SEED and the grade_id) and a comparator.
The reference results come from the master solution in a2_conv.ipynb. A failed comparison
ends with a hint naming what to check, so the feedback line says more than "differs". This
file stays in assignments/source: it is never released and never enters the sandbox.
"""

import numpy as np

from course_lib.grading.spec import Call, Test, allclose, mismatch

SEED = 20241008

# (N, H, W, C, F, KH, KW, stride, pad): strides 1 to 3, rectangular images and kernels, a kernel
# larger than the image (pad 2), and every output size a whole number.
CONV_CASES = [
    (2, 7, 7, 3, 4, 3, 3, 2, 1),
    (1, 5, 6, 2, 3, 3, 2, 1, 0),
    (3, 8, 8, 1, 2, 4, 4, 2, 1),
    (2, 9, 6, 3, 2, 3, 3, 3, 0),
    (1, 4, 4, 2, 2, 5, 5, 1, 2),
]
# (N, H, W, C, pool, stride): disjoint and overlapping windows, rectangular images.
POOL_CASES = [(2, 6, 6, 3, 2, 2), (1, 7, 5, 2, 3, 2), (2, 5, 5, 1, 2, 1), (1, 4, 6, 2, 2, 2), (2, 9, 9, 2, 3, 3)]
# (N, H, W, C, F, KH, KW, stride, pad, pool, pool_stride)
BLOCK_CASES = [(1, 7, 7, 2, 3, 3, 3, 1, 1, 3, 2), (2, 8, 6, 3, 2, 2, 2, 2, 0, 2, 1), (2, 6, 7, 2, 4, 3, 2, 1, 0, 2, 2)]


def _size(size, kernel, stride, pad):
    return (size - kernel + 2 * pad) // stride + 1


def _conv_inputs(rng, n, h, w, c, f, kh, kw):
    return rng.normal(size=(n, h, w, c)), rng.normal(size=(kh, kw, c, f)), rng.normal(size=f)


def _conv_output_size(rng):
    cases = [(32, 5, 1, 0), (227, 11, 4, 0), (13, 3, 3, 1), (6, 6, 1, 0), (2, 3, 1, 1), (9, 3, 3, 0),
             (224, 3, 1, 1), (10, 4, 2, 2)]
    return [Call("conv_output_size", case, names=("output size",)) for case in cases]


def _numerical_gradient(rng):
    return [Call("gradient_examples", (rng.normal(size=shape), rng.normal(size=shape)), names=("gradients",))
            for shape in [(3, 4), (2, 3, 5), (6,)]]


def _conv_forward(rng):
    calls = []
    for n, h, w, c, f, kh, kw, stride, pad in CONV_CASES:
        x, k, b = _conv_inputs(rng, n, h, w, c, f, kh, kw)
        calls.append(Call("conv_forward", (x, k, b), {"stride": stride, "pad": pad}, names=("out",)))
    return calls


def _conv_backward(rng):
    calls = []
    for n, h, w, c, f, kh, kw, stride, pad in CONV_CASES:
        x, k, b = _conv_inputs(rng, n, h, w, c, f, kh, kw)
        dout = rng.normal(size=(n, _size(h, kh, stride, pad), _size(w, kw, stride, pad), f))
        calls.append(Call("conv_backward", (dout, x, k, b), {"stride": stride, "pad": pad}, names=("dx", "dw", "db")))
    return calls


def _maxpool_forward(rng):
    return [Call("maxpool_forward", (rng.normal(size=(n, h, w, c)), pool, stride), names=("out",))
            for n, h, w, c, pool, stride in POOL_CASES]


def _maxpool_backward(rng):
    calls = []
    for n, h, w, c, pool, stride in POOL_CASES:  # normal draws: no two entries of a window are equal
        x = rng.normal(size=(n, h, w, c))
        dout = rng.normal(size=(n, _size(h, pool, stride, 0), _size(w, pool, stride, 0), c))
        calls.append(Call("maxpool_backward", (dout, x, pool, stride), names=("dx",)))
    return calls


def _conv_pool(rng):
    calls = []
    for n, h, w, c, f, kh, kw, stride, pad, pool, pool_stride in BLOCK_CASES:
        x, k, b = _conv_inputs(rng, n, h, w, c, f, kh, kw)
        h1, w1 = _size(h, kh, stride, pad), _size(w, kw, stride, pad)
        dout = rng.normal(size=(n, _size(h1, pool, pool_stride, 0), _size(w1, pool, pool_stride, 0), f))
        calls.append(Call("conv_pool_forward_backward", (x, k, b, dout, stride, pad, pool, pool_stride),
                          names=("out", "dx", "dw", "db")))
    return calls


def hinted(compare, hint):
    """`compare`, with a hint appended to its message when the answer is wrong."""

    def with_hint(actual, expected, call):
        message = compare(actual, expected, call)
        return f"{message}. Hint: {hint}" if message else None

    return with_hint


def _integer(actual, expected, call):
    """The output size: a whole number, equal to the reference."""
    if isinstance(actual, float) or (isinstance(actual, np.ndarray) and not np.issubdtype(actual.dtype, np.integer)):
        return f"the output size should be an int, got {actual!r}; use // once the division is known to be exact"
    return mismatch("the output size", actual, expected, rtol=0, atol=0)


def _parts(*keep, rtol=1e-6, atol=1e-9):
    """Compare only the returned values named in `keep` (e.g. "dw", "db" of (dx, dw, db))."""

    def compare(actual, expected, call):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            got = f"a {type(actual).__name__}" + (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
            return f"{call.function} should return {len(expected)} values ({', '.join(call.names)}), got {got}"
        for name, a, e in zip(call.names, actual, expected):
            message = mismatch(name, a, e, rtol, atol) if name in keep else None
            if message:
                return message
        return None

    return compare


CONV_FORWARD_HINT = ("out[n, i, j, f] = b[f] + sum over u, v, c of xp[n, i*S + u, j*S + v, c] * w[u, v, c, f], with xp "
                     "x padded by P zeros on each side of H and W; window (i, j) starts at row i*S and column j*S")
DW_DB_HINT = ("db[f] sums dout[..., f] over n, i, j; dw[u, v, c, f] sums xp[n, i*S + u, j*S + v, c] * dout[n, i, j, f] "
              "over n, i, j")
DX_HINT = ("dxp[n, i*S + u, j*S + v, c] += w[u, v, c, f] * dout[n, i, j, f] for every f, then dx = dxp without the "
           "padding; the kernel is used as in the forward pass (not flipped or transposed) and overlapping windows add up")
POOL_FORWARD_HINT = "the maximum of each pool x pool window, per channel; window (i, j) starts at row i*stride, column j*stride"
POOL_BACKWARD_HINT = ("each dout[n, i, j, c] goes only to the position of its window's maximum (not spread over the "
                      "window), and an entry that is the maximum of several overlapping windows gets the sum (+=)")
BLOCK_HINT = ("pass the tests of conv and max pooling first; backward runs in reverse: maxpool_backward(dout, conv_out, "
              "...) with conv_out the convolution's output, then conv_backward of what it returns")

TESTS = {
    "test_conv_output_size": Test(_conv_output_size, hinted(_integer, "(W - F + 2P) / S + 1"),
                                  "conv_output_size on eight layers, AlexNet's first among them"),
    "test_numerical_gradient": Test(_numerical_gradient,
                                    hinted(allclose(rtol=1e-6, atol=1e-8),
                                           "(L(x + h) - L(x - h)) / (2h) with L = np.sum(f(x) * df), "
                                           "each entry of x changed in place and restored"),
                                    "central differences of sin, cumsum and a sum of squares"),
    "test_conv_forward": Test(_conv_forward, hinted(allclose(rtol=1e-6, atol=1e-9), CONV_FORWARD_HINT),
                              "conv_forward with strides 1 to 3, paddings 0 to 2, rectangular kernels"),
    "test_conv_backward_dw_db": Test(_conv_backward, hinted(_parts("dw", "db"), DW_DB_HINT), "dw and db of conv_backward"),
    "test_conv_backward_dx": Test(_conv_backward, hinted(_parts("dx"), DX_HINT), "dx of conv_backward"),
    "test_maxpool_forward": Test(_maxpool_forward, hinted(allclose(rtol=1e-6, atol=1e-12), POOL_FORWARD_HINT),
                                 "maxpool_forward with disjoint and overlapping windows"),
    "test_maxpool_backward": Test(_maxpool_backward, hinted(allclose(rtol=1e-6, atol=1e-12), POOL_BACKWARD_HINT),
                                  "maxpool_backward with disjoint and overlapping windows"),
    "test_conv_pool_keras": Test(_conv_pool, hinted(allclose(rtol=1e-6, atol=1e-9), BLOCK_HINT),
                                 "conv then max pooling, forward and backward"),
}
