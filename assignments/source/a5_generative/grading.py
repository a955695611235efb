"""Grader spec of A5 · Generative models: the hidden calls of every graded test.

Style transfer's losses are compared with the master solution's on other shapes and more layers;
the style loss is the lecture's, 1/(N_l^2 M_l^2) per layer with every layer weighted 1 (not Gatys
et al.'s 1/(4 N_l^2 M_l^2) with layer weights), and its value and its gradient are two tests. The
GAN losses get logits of several hundred, where a formula that takes the log of a sigmoid
overflows. `gan_step` is compared with the master's on hidden parameters and batches; the last
test trains the tiny GAN with the submission's `gan_step` (through the notebook's locked
`train_gan`, captured when its cell ran) and checks the outcome: the generated mean near the data's.
"""

import numpy as np

from course_lib.grading.spec import Call, Passed, Test, allclose, mismatch

SEED = 20241126
DATA_MEAN = 3.0
MEAN_TOLERANCE = 0.3
TRAIN_STEPS = 500


def hinted(compare, hint):
    def with_hint(actual, expected, call):
        message = compare(actual, expected, call)
        return f"{message}. Hint: {hint}" if message and not isinstance(message, Passed) else message

    return with_hint


def part(index, rtol=1e-6, atol=1e-9):
    """Compare only the `index`-th returned value (named by the call's `names`)."""

    def compare(actual, expected, call):
        if not isinstance(actual, tuple) or len(actual) != len(expected):
            return f"{call.function} should return {len(expected)} values ({', '.join(call.names)})"
        return mismatch(call.names[index], actual[index], expected[index], rtol, atol)

    return compare


def _gram(rng):
    return [Call("gram_matrix", (rng.normal(size=shape),), names=("S",)) for shape in [(2, 3), (5, 1), (1, 7), (4, 9)]]


STYLE_LAYERS = [[(3, 5)], [(2, 4), (5, 3)], [(1, 2), (4, 4), (6, 10)]]


def _style(rng):
    calls = []
    for shapes in STYLE_LAYERS:
        fx, fy = [rng.normal(size=s) for s in shapes], [rng.normal(size=s) for s in shapes]
        calls.append(Call("style_loss", (fx, fy), names=("loss", "grads")))
    return calls


def _content(rng):
    return [Call("content_loss", (rng.normal(size=s), rng.normal(size=s)), names=("loss", "dF"))
            for s in [(3, 4), (1, 9), (6, 2)]]


def _tv(rng):
    return [Call("total_variation", (rng.normal(size=s),), names=("loss", "dx"))
            for s in [(3, 4, 2), (1, 6, 1), (5, 1, 3), (6, 6, 3)]]


def _logits(rng, n, scale):
    return scale * rng.normal(size=n)


def _discriminator(rng):
    return [Call("discriminator_loss", (_logits(rng, n, s), _logits(rng, m, s)), names=("loss", "d_real", "d_fake"))
            for n, m, s in [(5, 3, 1.0), (2, 7, 3.0), (4, 4, 400.0)]]


def _generator(name):
    def calls(rng):
        return [Call(name, (_logits(rng, n, s),), names=("loss", "d_fake")) for n, s in [(6, 1.0), (3, 5.0), (5, 500.0)]]

    return calls


def _gan_step(rng):
    calls = []
    for n, m, lr in [(16, 8, 0.05), (5, 9, 0.2), (1, 1, 0.01)]:
        params = {"a": float(rng.uniform(0.5, 1.5)), "b": float(rng.normal()), "w1": float(rng.normal(0, 0.3)),
                  "w2": float(rng.normal(0, 0.1)), "c": float(rng.normal(0, 0.3))}
        calls.append(Call("gan_step", (params, rng.normal(3, 0.5, n), rng.normal(size=m), lr),
                          names=("new_params", "d_loss", "g_loss")))
    return calls


def _gan_training(rng):
    return [Call("train_gan", (TRAIN_STEPS,), {"seed": int(rng.integers(1, 2**31))},
                 shown=f"train_gan({TRAIN_STEPS}) with the grader's seed")]


def _near_the_data(actual, expected, call):
    """The outcome of training: the generated mean after the last step within MEAN_TOLERANCE of the data's."""
    try:
        step, mean, spread = actual[1][-1]
        mean = float(mean)
    except (TypeError, ValueError, IndexError, KeyError):
        return "train_gan did not return (params, history) as the notebook's helper does; keep its cell as it was"
    if not abs(mean - DATA_MEAN) < MEAN_TOLERANCE:
        return (f"after {TRAIN_STEPS} steps of your gan_step the generated mean is {mean:.2f}, not within "
                f"{MEAN_TOLERANCE} of the data's {DATA_MEAN}: check gan_step against its test first")
    return Passed(f"generated mean {mean:.2f}")


CLOSE = allclose(rtol=1e-6, atol=1e-9)
LOGIT_HINT = ("-log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l), with softplus = np.logaddexp(0, .); "
              "each mean has its own 1/n")
TESTS = {
    "test_gram_matrix": Test(_gram, hinted(CLOSE, "S = F @ F.T, of shape (N, N)"), "gram_matrix on four shapes"),
    "test_style_loss": Test(_style, hinted(part(0), "sum over layers of sum((S(x) - S(y)) ** 2) / (N ** 2 * M ** 2), "
                                                    "the lecture's normalisation (no 4)"),
                            "the style loss over one to three layers"),
    "test_style_loss_gradient": Test(_style, hinted(part(1), "dL/dF = 4 (S(x) - S(y)) F / (N ** 2 * M ** 2), one array "
                                                             "per layer"),
                                     "the gradient of the style loss with respect to each layer's maps"),
    "test_content_loss": Test(_content, hinted(CLOSE, "loss = 0.5 * sum((F - P) ** 2), dF = F - P"),
                              "the content loss and its gradient"),
    "test_total_variation": Test(_tv, hinted(CLOSE, "sum the squared differences of vertical and of horizontal "
                                                    "neighbours; each difference d adds 2d at one end, -2d at the other"),
                                 "total variation and its gradient, on one-row and one-column images too"),
    "test_discriminator_loss": Test(_discriminator, hinted(CLOSE, LOGIT_HINT),
                                    "the discriminator's loss and gradients, logits up to a few hundred"),
    "test_generator_loss_minimax": Test(_generator("generator_loss_minimax"),
                                        hinted(CLOSE, "loss = mean(log(1 - sigmoid(l))) = -mean(softplus(l)); "
                                                      "d_fake = -sigmoid(l) / n"),
                                        "the minimax generator loss and its gradient"),
    "test_generator_loss_nonsaturating": Test(_generator("generator_loss_nonsaturating"),
                                              hinted(CLOSE, "loss = -mean(log sigmoid(l)) = mean(softplus(-l)); "
                                                            "d_fake = (sigmoid(l) - 1) / n"),
                                              "the non-saturating generator loss and its gradient"),
    "test_gan_step": Test(_gan_step, hinted(CLOSE, "the discriminator steps first; the generator then steps against the "
                                                   "updated discriminator with the non-saturating loss"),
                          "one training step of the tiny GAN"),
    "test_gan_training": Test(_gan_training, _near_the_data,
                              f"{TRAIN_STEPS} steps of gan_step bring the generated mean within {MEAN_TOLERANCE} of the "
                              "data's", reference=False),
}
