"""Recurrent cells in NumPy, as the lecture writes them, with Keras' weight layout.

The lecture's recurrent layer is

    h_t = φ(W_i x_t + W_r h_{t-1} + b),   x_t ∈ R^N, h_t ∈ R^M, W_i: M×N, W_r: M×M, b ∈ R^M.

The functions here work on a batch of sequences ``x`` of shape ``(batch, T, N)`` with the
parameters in that notation (``W_i`` is M×N and acts on column vectors). Keras stores the
transposes (``kernel`` is N×M, ``recurrent_kernel`` M×M, and the LSTM and GRU stack their
gates side by side); `from_keras` and `to_keras` convert, so a NumPy cell and a Keras layer
can run with the same weights.

- `rnn_forward` / `rnn_backward`: the simple recurrent layer and backpropagation through time;
  the backward pass also returns ∂L/∂h_t for every t, the quantity that vanishes or explodes.
- `lstm_forward`: the LSTM (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et
  al., 2000) gate by gate, as Keras' ``LSTM`` computes it.
- `gru_forward`: the GRU (Cho et al., 2014) as Keras' ``GRU`` computes it (``reset_after=True``).
- `state_gradient_norms`: ‖∂(u·h_T)/∂h_t‖ for any Keras recurrent cell, by automatic
  differentiation (`course_lib.autodiff`), for the LSTM and GRU whose backward pass is not written out here.
- `clip_by_global_norm`: gradient clipping (Pascanu et al., 2013).
- `run_free`: generation, a next-step model fed its own outputs.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = {
    "tanh": (np.tanh, lambda y: 1.0 - y ** 2),
    "sigmoid": (lambda a: 1.0 / (1.0 + np.exp(-a)), lambda y: y * (1.0 - y)),
    "relu": (lambda a: np.maximum(a, 0.0), lambda y: (y > 0).astype(y.dtype)),
    "linear": (lambda a: a, lambda y: np.ones_like(y)),
}
GATES = {"simple_rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _check_sequences(x, n_inputs):
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be a batch of sequences (batch, T, N), got shape {x.shape}; "
                         f"add a batch axis with x[None] or a feature axis with x[..., None]")
    if x.shape[2] != n_inputs:
        raise ValueError(f"x has {x.shape[2]} features per step but W_i expects N={n_inputs}")
    return x


def _initial(h0, batch, units, dtype):
    if h0 is None:
        return np.zeros((batch, units), dtype)
    h0 = np.asarray(h0, dtype)
    if h0.shape != (batch, units):
        raise ValueError(f"the initial state must have shape (batch, M) = {(batch, units)}, got {h0.shape}")
    return h0


def init_params(kind: str, n_inputs: int, units: int, rng=None, scale: float = 0.3, dtype=np.float64) -> dict:
    """Random parameters of a cell in the lecture's notation (Gaussian, std `scale`).

    Returns ``{"W_i": (G·M, N), "W_r": (G·M, M), "b": (G·M,)}`` with G gates stacked in Keras'
    order (`GATES`); the GRU has ``"b"`` (3M,) for the input side and ``"b_r"`` (3M,) for the
    recurrent side.
    """
    if kind not in GATES:
        raise ValueError(f"kind must be one of {sorted(GATES)}, got {kind!r}")
    rng = np.random.default_rng(rng)
    g = len(GATES[kind])
    p = {"W_i": rng.normal(0, scale, (g * units, n_inputs)), "W_r": rng.normal(0, scale, (g * units, units)),
         "b": rng.normal(0, scale, g * units)}
    if kind == "gru":
        p["b_r"] = rng.normal(0, scale, g * units)
    return {k: v.astype(dtype) for k, v in p.items()}


# --- the simple recurrent layer ---

def rnn_forward(x, W_i, W_r, b, h0=None, activation: str = "tanh"):
    """The lecture's recurrent layer over a batch of sequences.

    Args:
        x: ``(batch, T, N)`` inputs.
        W_i: ``(M, N)`` input weights; W_r: ``(M, M)`` recurrent weights; b: ``(M,)`` bias.
        h0: ``(batch, M)`` initial state (zeros by default).
        activation: φ: ``"tanh"`` (the lecture's and Keras' default), ``"sigmoid"``, ``"relu"``, ``"linear"``.

    Returns:
        ``(h, cache)``: ``h`` ``(batch, T, M)`` the states h_1..h_T; `cache` for `rnn_backward`.
    """
    W_i, W_r, b = np.asarray(W_i), np.asarray(W_r), np.asarray(b)
    units = W_r.shape[0]
    if W_r.shape != (units, units) or W_i.shape[0] != units or b.shape != (units,):
        raise ValueError(f"W_r must be M×M, W_i M×N and b (M,); got W_i {W_i.shape}, W_r {W_r.shape}, b {b.shape}")
    x = _check_sequences(x, W_i.shape[1])
    phi, _ = _activation(activation)
    batch, steps, _ = x.shape
    h_prev = _initial(h0, batch, units, np.result_type(x, W_r))
    hs = np.empty((batch, steps, units), h_prev.dtype)
    for t in range(steps):
        h_prev = hs[:, t] = phi(x[:, t] @ W_i.T + h_prev @ W_r.T + b)
    cache = {"x": x, "h0": _initial(h0, batch, units, hs.dtype), "h": hs, "W_i": W_i, "W_r": W_r,
             "activation": activation}
    return hs, cache


def rnn_backward(dh, cache) -> dict:
    """Backpropagation through time for `rnn_forward`.

    Args:
        dh: ``(batch, T, M)``: ∂L/∂h_t of a loss L that reads the states directly (zeros where
            it does not: for a loss on the last state only, everything but ``dh[:, -1]`` is zero).
        cache: from `rnn_forward`.

    Returns:
        ``{"W_i", "W_r", "b", "x", "h0"}``: the gradients of L, shaped like those arguments, and
        ``"h"`` ``(batch, T, M)``: the total ∂L/∂h_t, through every later step as well.
    """
    x, hs, W_i, W_r = cache["x"], cache["h"], cache["W_i"], cache["W_r"]
    dh = np.asarray(dh)
    if dh.shape != hs.shape:
        raise ValueError(f"dh must have the shape of the states {hs.shape}, got {dh.shape}")
    _, dphi = _activation(cache["activation"])
    grads = {"W_i": np.zeros_like(W_i, dtype=hs.dtype), "W_r": np.zeros_like(W_r, dtype=hs.dtype),
             "b": np.zeros(W_r.shape[0], hs.dtype), "x": np.zeros_like(x, dtype=hs.dtype),
             "h": np.zeros_like(hs)}
    carry = np.zeros_like(hs[:, 0])                       # ∂L/∂h_t arriving from step t + 1
    for t in reversed(range(hs.shape[1])):
        total = grads["h"][:, t] = dh[:, t] + carry
        da = total * dphi(hs[:, t])                       # through φ: a_t = W_i x_t + W_r h_{t-1} + b
        h_prev = hs[:, t - 1] if t > 0 else cache["h0"]
        grads["W_i"] += da.T @ x[:, t]
        grads["W_r"] += da.T @ h_prev
        grads["b"] += da.sum(0)
        grads["x"][:, t] = da @ W_i
        carry = da @ W_r
    grads["h0"] = carry
    return grads


# --- LSTM and GRU, forward ---

def lstm_forward(x, W_i, W_r, b, h0=None, c0=None, return_gates: bool = False):
    """The LSTM over a batch of sequences, gate by gate, as Keras computes it.

        i_t = σ(W_ii x_t + W_ri h_{t-1} + b_i)        input gate
        f_t = σ(W_if x_t + W_rf h_{t-1} + b_f)        forget gate
        g_t = tanh(W_ic x_t + W_rc h_{t-1} + b_c)     candidate cell
        o_t = σ(W_io x_t + W_ro h_{t-1} + b_o)        output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,   h_t = o_t ⊙ tanh(c_t)

    Args:
        x: ``(batch, T, N)``.
        W_i: ``(4M, N)``, W_r: ``(4M, M)``, b: ``(4M,)``: the four gates stacked in the order i, f, c, o.
        h0, c0: ``(batch, M)`` initial states (zeros by default).
        return_gates: also return ``{"i", "f", "g", "o", "c"}``, each ``(batch, T, M)``.

    Returns:
        ``h`` ``(batch, T, M)`` and the last cell state ``c_T`` ``(batch, M)``; with
        `return_gates`, a third element, the gates.
    """
    W_i, W_r, b = np.asarray(W_i), np.asarray(W_r), np.asarray(b)
    units = W_r.shape[1]
    if W_r.shape != (4 * units, units) or W_i.shape[0] != 4 * units or b.shape != (4 * units,):
        raise ValueError(f"an LSTM needs W_i (4M, N), W_r (4M, M), b (4M,); got W_i {W_i.shape}, "
                         f"W_r {W_r.shape}, b {b.shape}")
    x = _check_sequences(x, W_i.shape[1])
    batch, steps, _ = x.shape
    dtype = np.result_type(x, W_r)
    h, c = _initial(h0, batch, units, dtype), _initial(c0, batch, units, dtype)
    gates = {k: np.empty((batch, steps, units), dtype) for k in ("i", "f", "g", "o", "c")}
    hs = np.empty((batch, steps, units), dtype)
    for t in range(steps):
        a = x[:, t] @ W_i.T + h @ W_r.T + b
        a_i, a_f, a_c, a_o = np.split(a, 4, axis=1)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_c), sigmoid(a_o)
        c = f * c + i * g
        h = hs[:, t] = o * np.tanh(c)
        for k, v in zip("ifgoc", (i, f, g, o, c)):
            gates[k][:, t] = v
    return (hs, c, gates) if return_gates else (hs, c)


def gru_forward(x, W_i, W_r, b, b_r, h0=None):
    """The GRU over a batch of sequences, as Keras computes it (``reset_after=True``).

        z_t = σ(W_iz x_t + b_z + W_rz h_{t-1} + b_rz)                 update gate
        r_t = σ(W_ir x_t + b_r + W_rr h_{t-1} + b_rr)                 reset gate
        ĥ_t = tanh(W_ih x_t + b_h + r_t ⊙ (W_rh h_{t-1} + b_rh))      candidate
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ ĥ_t

    Args:
        x: ``(batch, T, N)``.
        W_i: ``(3M, N)``, W_r: ``(3M, M)``: the gates stacked in the order z, r, h.
        b: ``(3M,)`` input-side bias; b_r: ``(3M,)`` recurrent-side bias.
        h0: ``(batch, M)`` initial state.

    Returns:
        ``h`` ``(batch, T, M)``.
    """
    W_i, W_r, b, b_r = (np.asarray(v) for v in (W_i, W_r, b, b_r))
    units = W_r.shape[1]
    if W_r.shape != (3 * units, units) or W_i.shape[0] != 3 * units or b.shape != (3 * units,) or b_r.shape != b.shape:
        raise ValueError(f"a GRU needs W_i (3M, N), W_r (3M, M), b and b_r (3M,); got W_i {W_i.shape}, "
                         f"W_r {W_r.shape}, b {b.shape}, b_r {b_r.shape}")
    x = _check_sequences(x, W_i.shape[1])
    batch, steps, _ = x.shape
    h = _initial(h0, batch, units, np.result_type(x, W_r))
    hs = np.empty((batch, steps, units), h.dtype)
    for t in range(steps):
        x_z, x_r, x_h = np.split(x[:, t] @ W_i.T + b, 3, axis=1)
        r_z, r_r, r_h = np.split(h @ W_r.T + b_r, 3, axis=1)
        z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
        candidate = np.tanh(x_h + r * r_h)
        h = hs[:, t] = z * h + (1 - z) * candidate
    return hs


# --- Keras' layout ---

def _kind(layer) -> str:
    name = type(getattr(layer, "cell", layer)).__name__
    kinds = {"SimpleRNNCell": "simple_rnn", "LSTMCell": "lstm", "GRUCell": "gru"}
    if name not in kinds:
        raise ValueError(f"expected a Keras SimpleRNN, LSTM or GRU layer (or its cell), got {type(layer).__name__}")
    return kinds[name]


def from_keras(layer) -> dict:
    """The weights of a built Keras ``SimpleRNN``, ``LSTM`` or ``GRU`` (or cell) in the lecture's notation.

    Returns ``{"W_i", "W_r", "b"}`` (and ``"b_r"`` for a GRU with ``reset_after=True``), float64,
    ready for `rnn_forward`, `lstm_forward` or `gru_forward`.
    """
    kind = _kind(layer)
    cell = getattr(layer, "cell", layer)
    if not cell.use_bias:
        raise ValueError("from_keras expects a layer with use_bias=True")
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in cell.get_weights())
    p = {"W_i": kernel.T.copy(), "W_r": recurrent.T.copy()}
    if kind == "gru":
        if not cell.reset_after:
            raise ValueError("gru_forward follows Keras' default reset_after=True; got a GRU with reset_after=False")
        p["b"], p["b_r"] = bias[0].copy(), bias[1].copy()
    else:
        p["b"] = bias.copy()
    return p


def to_keras(layer, params: dict) -> None:
    """Set a built Keras ``SimpleRNN``, ``LSTM`` or ``GRU`` (or cell) to `params` (the lecture's notation)."""
    kind = _kind(layer)
    cell = getattr(layer, "cell", layer)
    weights = [np.asarray(params["W_i"]).T, np.asarray(params["W_r"]).T]
    weights.append(np.stack([params["b"], params["b_r"]]) if kind == "gru" else np.asarray(params["b"]))
    expected = [tuple(w.shape) for w in cell.get_weights()]
    got = [w.shape for w in weights]
    if expected != got:
        raise ValueError(f"the parameters do not fit this {type(cell).__name__}: it holds {expected}, "
                         f"the parameters make {got}")
    cell.set_weights([w.astype(np.float32) for w in weights])


# --- gradients through time ---

def state_gradient_norms(cell, x, u=None, h0=None, seed: int = 0) -> np.ndarray:
    """‖∂(u·h_T)/∂s_t‖ for every step t of a Keras recurrent cell, by automatic differentiation.

    The loss reads only the last output, L = u·h_T (a fixed random unit vector `u` per
    sequence, as a linear read-out would); its gradient with respect to the state s_t
    after step t (h_t, and for an LSTM also the cell state c_t) is what backpropagation
    through time carries back T − t steps.

    Args:
        cell: a built ``keras.layers.SimpleRNNCell``, ``LSTMCell`` or ``GRUCell``.
        x: ``(batch, T, N)`` inputs.
        u: ``(batch, M)`` read-out directions; default random unit vectors from `seed`.
        h0: ``(batch, M)`` initial hidden state (zeros by default; the LSTM's cell state starts at zero).

    Returns:
        ``(batch, T)``: entry ``[:, t]`` is the norm at step t + 1, so the last column (T − t = 0) is ‖u‖ = 1.
    """
    import keras
    from keras import ops

    from course_lib.autodiff import value_and_grad

    x = np.asarray(x, np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, T, N), got shape {x.shape}")
    batch, steps, _ = x.shape
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    units = sizes[0]
    if u is None:
        u = np.random.default_rng(seed).normal(size=(batch, units))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
    u = ops.convert_to_tensor(np.asarray(u, np.float32))
    start = [np.zeros((batch, s), np.float32) for s in sizes]
    if h0 is not None:
        start[0] = np.asarray(h0, np.float32)
    xs = ops.convert_to_tensor(x)

    def loss(delta):                            # delta (batch, T, sum(sizes)): zero, added to each state
        states = [ops.convert_to_tensor(s) for s in start]
        for t in range(steps):
            _, states = cell(xs[:, t], states)
            states = states if isinstance(states, (list, tuple)) else [states]
            parts = ops.split(delta[:, t], np.cumsum(sizes)[:-1].tolist(), axis=-1) if len(sizes) > 1 else [delta[:, t]]
            states = [s + d for s, d in zip(states, parts)]
        return ops.sum(u * states[0])

    delta = np.zeros((batch, steps, sum(sizes)), np.float32)
    _, grad = value_and_grad(loss, x=delta)
    return np.linalg.norm(keras.ops.convert_to_numpy(grad), axis=-1)


def clip_by_global_norm(grads: dict, max_norm: float):
    """Gradient clipping: rescale all gradients together so that their joint norm is at most `max_norm`.

    ``g ← g · min(1, max_norm / ‖g‖)``: the direction is kept, only a long step is shortened
    (what ``keras.optimizers.*(global_clipnorm=...)`` does).

    Returns:
        ``(clipped, norm)``: a dict like `grads`, and the norm before clipping.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: np.asarray(g) * scale for k, g in grads.items()}, norm


def run_free(model, prompt, steps: int, batch_size: int = 512) -> np.ndarray:
    """Generate by feeding a next-step model its own predictions.

    Args:
        model: maps windows ``(batch, L, F)`` to the next step ``(batch, F)`` (or ``(batch,)`` for F = 1).
        prompt: ``(batch, L, F)`` the first window of each sequence (true data).
        steps: how many steps to generate.

    Returns:
        ``(batch, steps, F)``: each step predicted from the window of the last L values, the
        newest of which are the model's own earlier predictions.
    """
    from course_lib import training

    window = np.array(prompt, np.float32)
    if window.ndim != 3:
        raise ValueError(f"prompt must be (batch, L, F), got shape {window.shape}; add a feature axis with prompt[..., None]")
    out = np.empty((len(window), steps, window.shape[2]), np.float32)
    for k in range(steps):
        nxt = training.predict(model, window, batch_size).reshape(len(window), -1)
        if nxt.shape[1] != window.shape[2]:
            raise ValueError(f"the model predicts {nxt.shape[1]} features per step, the prompt has {window.shape[2]}")
        out[:, k] = nxt
        window = np.concatenate([window[:, 1:], nxt[:, None]], 1)
    return out


def spectral_radius(matrix) -> float:
    """Largest modulus of the eigenvalues of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, np.float64)))))


def with_spectral_radius(matrix, radius: float) -> np.ndarray:
    """`matrix` rescaled so that its spectral radius is `radius`."""
    matrix = np.asarray(matrix, np.float64)
    current = spectral_radius(matrix)
    if current == 0:
        raise ValueError("the matrix has spectral radius 0 and cannot be rescaled; draw a random one")
    return matrix * (radius / current)


__all__ = ["rnn_forward", "rnn_backward", "lstm_forward", "gru_forward", "init_params", "from_keras", "to_keras",
           "state_gradient_norms", "clip_by_global_norm", "run_free", "spectral_radius", "with_spectral_radius", "GATES",
           "ACTIVATIONS"]
