"""Grader spec of A4 · Recurrent nets by hand: the hidden calls of every graded test.

The functions are called through the notebook's locked helpers (`rnn_step_gradients` and the
like), which run a forward pass and hand its cache to the backward pass, so only arrays come back;
the grader captures the helpers when their cell has run, and a later redefinition changes
nothing. Inputs have other batch sizes, lengths, input and hidden widths than the visible tests.
The reference results come from the master solution in a4_rnn.ipynb, whose training and saving
cells the reference run leaves out.

The trained model is graded from the file the notebook saves (`MODEL_FILE`, np.savez): its
bytes come back as data, are read here without pickle (`wire.read_npz`), checked for the
layout of `init_params`, and the predictions of the LSTM they define -- computed here, by the
grader's own forward pass -- are scored on sine windows drawn with the grader's seed.
"""

import numpy as np

from course_lib.grading import wire
from course_lib.grading.saved_model import READ_FILE
from course_lib.grading.spec import Call, Passed, Test, allclose

SEED = 20241119
MODEL_FILE = "a4_model.npz"
MAX_HIDDEN = 64
TARGET_MSE = 0.015
WINDOW = 16
HIDDEN_WINDOWS = 1000
REFERENCE_SKIP = ("train", "save")  # the reference needs the functions, not a trained model

# (N, D, H) of the step tests, (N, T, D, H) of the sequence tests
STEP_SHAPES = [(3, 4, 5), (1, 2, 7), (6, 1, 3)]
SEQUENCE_SHAPES = [(2, 5, 3, 4), (1, 7, 1, 6), (3, 1, 2, 2)]


def sine_windows(n, length=WINDOW, seed=0):
    """The notebook's make_sine_windows (tests/grading/test_a4.py keeps them equal)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.2, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    t = np.arange(length + 1)[None, :]
    wave = np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.05, (n, length + 1))
    return wave[:, :length, None], wave[:, length]


def _weights(rng, d, h, gates=1):
    return 0.5 * rng.normal(size=(d, gates * h)), 0.5 * rng.normal(size=(h, gates * h)), rng.normal(size=gates * h)


def _rnn_step(rng, gradients):
    calls = []
    for n, d, h in STEP_SHAPES:
        x, h_prev = rng.normal(size=(n, d)), rng.normal(size=(n, h))
        args = (x, h_prev, *_weights(rng, d, h))
        if gradients:
            calls.append(Call("rnn_step_gradients", (*args, rng.normal(size=(n, h))),
                              names=("dx", "dh_prev", "dWi", "dWr", "db")))
        else:
            calls.append(Call("rnn_step_output", args, names=("h",)))
    return calls


def _rnn(rng, gradients):
    calls = []
    for n, t, d, h in SEQUENCE_SHAPES:
        args = (rng.normal(size=(n, t, d)), rng.normal(size=(n, h)), *_weights(rng, d, h))
        if gradients:
            calls.append(Call("rnn_gradients", (*args, rng.normal(size=(n, t, h))),
                              names=("dx", "dh0", "dWi", "dWr", "db")))
        else:
            calls.append(Call("rnn_output", args, names=("h",)))
    return calls


def _lstm_step(rng, gradients):
    calls = []
    for n, d, h in STEP_SHAPES:
        args = (rng.normal(size=(n, d)), rng.normal(size=(n, h)), rng.normal(size=(n, h)), *_weights(rng, d, h, 4))
        if gradients:
            calls.append(Call("lstm_step_gradients", (*args, rng.normal(size=(n, h)), rng.normal(size=(n, h))),
                              names=("dx", "dh_prev", "dc_prev", "dWi", "dWr", "db")))
        else:
            calls.append(Call("lstm_step_output", args, names=("h", "c")))
    return calls


def _lstm(rng, gradients):
    calls = []
    for n, t, d, h in SEQUENCE_SHAPES:
        args = (rng.normal(size=(n, t, d)), rng.normal(size=(n, h)), *_weights(rng, d, h, 4))
        if gradients:
            calls.append(Call("lstm_gradients", (*args, rng.normal(size=(n, t, h))),
                              names=("dx", "dh0", "dWi", "dWr", "db")))
        else:
            calls.append(Call("lstm_output", args, names=("h",)))
    return calls


def _model_loss(rng):
    calls = []
    for n, t, d, h in [(4, 6, 1, 3), (2, 3, 2, 5)]:
        wi, wr, b = _weights(rng, d, h, 4)
        params = {"Wi": wi, "Wr": wr, "b": b, "Wy": rng.normal(size=(h, 1)), "by": rng.normal(size=1)}
        calls.append(Call("model_loss", (params, rng.normal(size=(n, t, d)), rng.normal(size=n)),
                          names=("loss", "grads")))
    return calls


# --- the trained model: read from the saved file, predicted and scored here ---

def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def predict(params: dict, x: np.ndarray) -> np.ndarray:
    """The grader's own forward pass of the saved model: an LSTM (gates input, forget, candidate,
    output) from zero states over x (N, T, D), then h_T Wy + by. Returns (N,)."""
    hidden = params["Wr"].shape[0]
    h = c = np.zeros((len(x), hidden))
    for t in range(x.shape[1]):
        a = x[:, t] @ params["Wi"] + h @ params["Wr"] + params["b"]
        i, f, o = _sigmoid(a[:, :hidden]), _sigmoid(a[:, hidden:2 * hidden]), _sigmoid(a[:, 3 * hidden:])
        c = f * c + i * np.tanh(a[:, 2 * hidden:3 * hidden])
        h = o * np.tanh(c)
    return (h @ params["Wy"] + params["by"])[:, 0]


def read_model(value) -> dict:
    """`then` step: the arrays of the saved .npz file, in the layout of the notebook's init_params."""
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim != 1:
        raise ValueError("the model file did not come back as bytes")
    try:
        arrays = wire.read_npz(value.tobytes(), max_bytes=4 * 2**20)
    except wire.MalformedResult as exc:
        raise ValueError(f"{MODEL_FILE} cannot be read: {exc}") from None
    missing = sorted({"Wi", "Wr", "b", "Wy", "by"} - set(arrays))
    if missing:
        raise ValueError(f"{MODEL_FILE} has no {', '.join(missing)}; save the dict of init_params with "
                         f"np.savez(MODEL_FILE, **params)")
    hidden = arrays["Wr"].shape[0] if arrays["Wr"].ndim == 2 else -1
    shapes = {"Wi": (1, 4 * hidden), "Wr": (hidden, 4 * hidden), "b": (4 * hidden,), "Wy": (hidden, 1), "by": (1,)}
    for name, shape in shapes.items():
        if arrays[name].shape != shape or arrays[name].dtype.kind not in "biuf":
            raise ValueError(f"{name} in {MODEL_FILE} has shape {arrays[name].shape} ({arrays[name].dtype}); "
                             f"with {hidden} hidden units it should be {shape}, numbers")
    if not 1 <= hidden <= MAX_HIDDEN:
        raise ValueError(f"the saved model has {hidden} hidden units; at most {MAX_HIDDEN} are allowed")
    return {name: arrays[name].astype(np.float64) for name in shapes}


def _trained(rng):
    x, y = sine_windows(HIDDEN_WINDOWS, seed=int(rng.integers(1_000, 2**31)))
    return [Call(READ_FILE, (MODEL_FILE,), context={"x": x, "y": y}, then=read_model, shown=MODEL_FILE, at_end=True)]


def _mse_at_most(actual, expected, call):
    with np.errstate(all="ignore"):
        mse = float(np.mean((predict(actual, call.context["x"]) - call.context["y"]) ** 2))
    if not mse <= TARGET_MSE:
        return (f"the saved model's mean squared error on {HIDDEN_WINDOWS:,} hidden windows is {mse:.4f}, above "
                f"{TARGET_MSE}; repeating the last sample gives about 0.33. Check model_loss's gradients, then the "
                "learning rate and the number of steps")
    return Passed(f"MSE {mse:.4f} on {HIDDEN_WINDOWS:,} hidden windows")


def hinted(compare, hint):
    def with_hint(actual, expected, call):
        message = compare(actual, expected, call)
        return f"{message}. Hint: {hint}" if message and not isinstance(message, Passed) else message

    return with_hint


CLOSE = allclose(rtol=1e-6, atol=1e-9)
TESTS = {
    "test_rnn_step_forward": Test(lambda rng: _rnn_step(rng, False), hinted(CLOSE, "h = tanh(x @ Wi + h_prev @ Wr + b)"),
                                  "rnn_step_forward on three shapes"),
    "test_rnn_step_backward": Test(lambda rng: _rnn_step(rng, True),
                                   hinted(CLOSE, "da = dh * (1 - h ** 2); then dx = da @ Wi.T, dh_prev = da @ Wr.T, "
                                                 "dWi = x.T @ da, dWr = h_prev.T @ da, db = da summed over the batch"),
                                   "the five gradients of rnn_step_backward"),
    "test_rnn_forward": Test(lambda rng: _rnn(rng, False),
                             hinted(CLOSE, "each step starts from the state the previous step made, the first from h0"),
                             "rnn_forward over one to seven steps"),
    "test_rnn_backward": Test(lambda rng: _rnn(rng, True),
                              hinted(CLOSE, "run the steps in reverse; the gradient arriving at h_t is dh[:, t] plus the "
                                            "dh_prev of step t + 1, and the weight gradients add up over the steps"),
                              "backpropagation through time for the RNN"),
    "test_lstm_step_forward": Test(lambda rng: _lstm_step(rng, False),
                                   hinted(CLOSE, "the four blocks of a = x @ Wi + h_prev @ Wr + b are, in order, input "
                                                 "(sigmoid), forget (sigmoid), candidate (tanh), output (sigmoid); "
                                                 "c = f * c_prev + i * g, h = o * tanh(c)"),
                                   "lstm_step_forward on three shapes"),
    "test_lstm_step_backward": Test(lambda rng: _lstm_step(rng, True),
                                    hinted(CLOSE, "the gradient of c is dc + dh * o * (1 - tanh(c) ** 2); dc_prev is it "
                                                  "times f; the blocks of da keep the gates' order"),
                                    "the six gradients of lstm_step_backward"),
    "test_lstm_forward": Test(lambda rng: _lstm(rng, False),
                              hinted(CLOSE, "the cell state starts at zero; h and c pass from step to step"),
                              "lstm_forward over one to seven steps"),
    "test_lstm_backward": Test(lambda rng: _lstm(rng, True),
                               hinted(CLOSE, "carry both dh_prev and dc_prev back; the last cell state gets no gradient "
                                             "from outside"),
                               "backpropagation through time for the LSTM"),
    "test_model_loss": Test(_model_loss,
                            hinted(allclose(rtol=1e-6, atol=1e-9),
                                   "loss = mean((h_T @ Wy + by - y) ** 2); its gradient with respect to the prediction "
                                   "is 2 * (prediction - y) / N, and only h_T gets a gradient from the readout"),
                            "the loss and the five gradients of model_loss"),
    "test_trained_model": Test(_trained, _mse_at_most,
                               f"the saved LSTM predicts hidden sine windows with MSE <= {TARGET_MSE}", reference=False),
}
