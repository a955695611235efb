"""course_lib.style against NumPy written from the lecture's formulas, on the active backend."""

import numpy as np
import pytest
from keras import ops

import course_lib as cl
from course_lib import style
from course_lib.autodiff import value_and_grad


@pytest.fixture(autouse=True)
def _setup():
    cl.setup(seed=0, profile="smoke", quiet=True)


def to_np(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def maps(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def F_matrix(features):
    """One image's (H, W, N) maps as the lecture's F, N x M with a map per row."""
    h, w, n = features.shape
    return features.reshape(h * w, n).T.astype(np.float64)


def gram_numpy(F):
    N, M = F.shape
    S = np.zeros((N, N))
    for i in range(N):
        for j in range(N):
            S[i, j] = sum(F[i, k] * F[j, k] for k in range(M))     # S_ij = sum_k F_ik F_jk
    return S


def style_numpy(fx_layers, fy_layers, weights=None, factor=1.0):
    total = 0.0
    for l, (fx, fy) in enumerate(zip(fx_layers, fy_layers)):
        Fx, Fy = F_matrix(fx), F_matrix(fy)
        N, M = Fx.shape
        w = 1.0 if weights is None else weights[l]
        total += w * factor / (N ** 2 * M ** 2) * np.sum((gram_numpy(Fx) - gram_numpy(Fy)) ** 2)
    return total


def test_gram_matrix_matches_the_formula():
    rng = np.random.default_rng(0)
    x = maps(rng, 2, 3, 4, 5)
    S = to_np(style.gram_matrix(x))
    assert S.shape == (2, 5, 5)
    for b in range(2):
        np.testing.assert_allclose(S[b], gram_numpy(F_matrix(x[b])), rtol=1e-5, atol=1e-5)
    by_hand = np.arange(6.0, dtype="float32").reshape(1, 1, 3, 2)          # maps [0, 2, 4] and [1, 3, 5]
    np.testing.assert_allclose(to_np(style.gram_matrix(by_hand))[0], [[20, 26], [26, 35]])


def test_gram_matrix_ignores_where_things_are():
    rng = np.random.default_rng(1)
    x = maps(rng, 1, 4, 4, 3)
    shuffled = x.reshape(1, 16, 3)[:, rng.permutation(16)].reshape(1, 4, 4, 3)
    np.testing.assert_allclose(to_np(style.gram_matrix(shuffled)), to_np(style.gram_matrix(x)), rtol=1e-5, atol=1e-5)


def test_style_loss_matches_the_lecture_and_gatys():
    rng = np.random.default_rng(2)
    fx = [maps(rng, 1, 4, 3, 5), maps(rng, 1, 2, 2, 7)]
    fy = [maps(rng, 1, 4, 3, 5), maps(rng, 1, 2, 2, 7)]
    lecture = to_np(style.style_loss(fx, fy))
    np.testing.assert_allclose(lecture, [style_numpy([f[0] for f in fx], [f[0] for f in fy])], rtol=1e-5)
    gatys = to_np(style.style_loss(fx, fy, factor=0.25, layer_weights=[0.5, 0.5]))
    np.testing.assert_allclose(gatys, [style_numpy([f[0] for f in fx], [f[0] for f in fy], [0.5, 0.5], 0.25)], rtol=1e-5)
    grams = [style.gram_matrix(f) for f in fy]
    np.testing.assert_allclose(to_np(style.style_loss(fx, grams_y=grams)), lecture, rtol=1e-6)


def test_style_loss_by_hand():
    # A5's case: F(x) = I (N = 2 maps, M = 2 positions), F(y) rows [1, 1] and [0, 0]; sum D^2 = 2 over N^2 M^2 = 16
    fx = np.eye(2, dtype="float32").T.reshape(1, 1, 2, 2)
    fy = np.array([[1, 1], [0, 0]], "float32").T.reshape(1, 1, 2, 2)
    np.testing.assert_allclose(to_np(style.style_loss([fx], [fy])), [2 / 16])
    np.testing.assert_allclose(to_np(style.style_loss([fx], [fy], factor=0.25)), [2 / 64])


def test_style_loss_per_image_with_one_target():
    rng = np.random.default_rng(3)
    fx, fy = maps(rng, 3, 4, 4, 6), maps(rng, 1, 4, 4, 6)
    batch = to_np(style.style_loss([fx], [fy]))
    assert batch.shape == (3,)
    for b in range(3):
        np.testing.assert_allclose(batch[b], style_numpy([fx[b]], [fy[0]]), rtol=1e-5)


def test_style_loss_gradient_is_4DF_over_N2M2():
    rng = np.random.default_rng(4)
    fx, fy = maps(rng, 1, 3, 2, 4), maps(rng, 1, 3, 2, 4)
    _, grad = value_and_grad(lambda t: ops.sum(style.style_loss([t], [fy])), fx)
    Fx, Fy = F_matrix(fx[0]), F_matrix(fy[0])
    N, M = Fx.shape
    D = Fx @ Fx.T - Fy @ Fy.T
    expected = (4 * D @ Fx / (N ** 2 * M ** 2)).T.reshape(fx.shape)       # back to (1, H, W, N)
    np.testing.assert_allclose(to_np(grad), expected, rtol=1e-4, atol=1e-6)


def test_content_loss_and_its_gradient():
    rng = np.random.default_rng(5)
    F, P = maps(rng, 2, 3, 3, 4), maps(rng, 2, 3, 3, 4)
    loss = to_np(style.content_loss(F, P))
    np.testing.assert_allclose(loss, 0.5 * np.sum((F.astype(np.float64) - P) ** 2, axis=(1, 2, 3)), rtol=1e-5)
    _, grad = value_and_grad(lambda t: ops.sum(style.content_loss(t, P)), F)
    np.testing.assert_allclose(to_np(grad), F - P, rtol=1e-5, atol=1e-6)


def test_total_variation():
    by_hand = np.array([[0.0, 1.0], [3.0, 5.0]], "float32")[None, :, :, None]     # 9 + 16 + 1 + 4
    np.testing.assert_allclose(to_np(style.total_variation(by_hand)), [30.0])
    np.testing.assert_allclose(to_np(style.total_variation(np.ones((2, 4, 5, 3), "float32"))), [0.0, 0.0])
    x = maps(np.random.default_rng(6), 1, 5, 4, 3).astype(np.float64)
    expected = np.sum(np.diff(x, axis=1) ** 2) + np.sum(np.diff(x, axis=2) ** 2)
    np.testing.assert_allclose(to_np(style.total_variation(x.astype("float32"))), [expected], rtol=1e-5)


def test_bad_inputs_name_the_value():
    rng = np.random.default_rng(7)
    fx = [maps(rng, 1, 2, 2, 3)]
    with pytest.raises(ValueError, match=r"\(batch, H, W, N\).*\(2, 2, 3\)"):
        style.gram_matrix(fx[0][0])
    with pytest.raises(ValueError, match="layer_weights has 2 entries for 1 layers"):
        style.style_loss(fx, fx, layer_weights=[1, 1])
    with pytest.raises(ValueError, match="1 layers of x against 2"):
        style.style_loss(fx, fx + fx)
    with pytest.raises(ValueError, match="once"):
        style.style_loss(fx, fx, grams_y=[style.gram_matrix(fx[0])])
    with pytest.raises(ValueError, match=r"Gram matrices of different layers"):
        style.style_loss(fx, [maps(rng, 1, 2, 2, 4)])
    with pytest.raises(ValueError, match="differ in shape"):
        style.content_loss(fx[0], maps(rng, 1, 3, 2, 3))


# --- networks ---

def tiny_model():
    import keras

    inputs = keras.Input((None, None, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    b = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(a)
    c = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv_c")(b)
    return keras.Model(inputs, c, name="tiny")


def tiny_network():
    return style.StyleNetwork("tiny", tiny_model(), lambda x: x * 2.0 - 1.0, ("conv_a", "conv_b", "conv_c"), "conv_b")


def test_feature_extractor_returns_the_named_layers():
    import keras

    model = tiny_model()
    x = np.random.default_rng(8).uniform(size=(2, 8, 8, 3)).astype("float32")
    a, c = style.feature_extractor(model, ["conv_a", "conv_c"])(x)
    assert tuple(a.shape) == (2, 8, 8, 4) and tuple(c.shape) == (2, 2, 2, 8)
    np.testing.assert_allclose(to_np(c), to_np(model(x)), rtol=1e-5, atol=1e-6)
    reference = keras.Model(model.input, model.get_layer("conv_a").output)
    np.testing.assert_allclose(to_np(a), to_np(reference(x)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"no layer named 'conv_x'.*'conv_a'"):
        style.feature_extractor(model, ["conv_x"])
    with pytest.raises(ValueError, match="at least one layer"):
        style.feature_extractor(model, [])


def test_vgg19_preprocessing_is_keras_own():
    import keras

    pixels = np.random.default_rng(9).uniform(0, 255, size=(2, 5, 5, 3)).astype("float32")
    ours = to_np(style.networks._vgg_preprocess(pixels / 255.0))
    np.testing.assert_allclose(ours, keras.applications.vgg19.preprocess_input(pixels.copy()), rtol=1e-5, atol=1e-3)


def test_vgg19_without_its_weights_names_the_file(data_home):
    with pytest.raises(cl.pretrained.PretrainedError, match="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        style.vgg19()


def test_efficientnet_layers_exist_and_preprocessing_matches():
    model = cl.pretrained.efficientnet_lite.build(include_top=False, input_shape=(None, None, 3), random_init=False)
    names = {layer.name for layer in model.layers}
    assert set(style.EFFICIENTNET_STYLE_LAYERS) | {style.EFFICIENTNET_CONTENT_LAYER} <= names
    pixels = np.random.default_rng(10).uniform(0, 255, size=(1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(to_np(style.networks._efficientnet_preprocess(pixels / 255.0)),
                               cl.pretrained.preprocess(pixels), rtol=1e-5, atol=1e-5)


def test_random_multiscale_filters():
    net = style.random_multiscale(sizes=(3, 5), filters=4, seed=0)
    kernel = to_np(net.model.get_layer("random_5x5").kernel)
    np.testing.assert_allclose(kernel.mean(axis=(0, 1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose((kernel ** 2).sum(axis=(0, 1, 2)), 1, rtol=1e-5)
    out = net.extractor(["multiscale"])(np.zeros((1, 8, 8, 3), "float32"))[0]
    assert tuple(out.shape) == (1, 8, 8, 8)
    loss = style.PerceptualLoss(net, images(22)[0], content_weight=1.0, style_weight=1.0)    # compiles on every backend
    result = style.optimize_image(loss.for_content(images(23)[0]), images(24), method="adam", steps=2)
    assert np.isfinite(result.final_loss)
    with pytest.raises(ValueError, match=r"odd.*\(3, 4\)"):
        style.random_multiscale(sizes=(3, 4))


# --- the perceptual loss and image optimisation ---

def images(seed, n=1, size=8):
    return np.random.default_rng(seed).uniform(size=(n, size, size, 3)).astype("float32")


def test_perceptual_loss_is_the_weighted_sum_of_the_formulas():
    net = tiny_network()
    content, style_image, x = images(11), images(12)[0], images(13, n=2)
    loss = style.PerceptualLoss(net, style_image, content_weight=2.0, style_weight=3.0, tv_weight=0.5)
    parts = {k: to_np(v) for k, v in loss.parts(x, content).items()}
    extract = net.extractor(["conv_a", "conv_b", "conv_c"])
    fx, fc, fs = extract(x), extract(content), extract(style_image[None])
    expected_style = [style_numpy([to_np(f)[b] for f in fx], [to_np(f)[0] for f in fs]) for b in range(2)]
    np.testing.assert_allclose(parts["style"], expected_style, rtol=1e-4)
    np.testing.assert_allclose(parts["content"], 0.5 * np.sum((to_np(fx[1]) - to_np(fc[1])) ** 2, axis=(1, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(parts["total"], 2 * parts["content"] + 3 * parts["style"] + 0.5 * parts["tv"], rtol=1e-5)
    as_keras = to_np(loss(np.repeat(content, 2, axis=0), x))         # mean over the batch
    np.testing.assert_allclose(as_keras, parts["total"].mean(), rtol=1e-5)
    content_only = style.PerceptualLoss(net, content_weight=1.0, style_weight=0.0)
    np.testing.assert_allclose(to_np(content_only.for_content(content)(content)), 0.0, atol=1e-6)


def test_perceptual_loss_bad_settings():
    net = tiny_network()
    with pytest.raises(ValueError, match="style_weight=1.0 needs a style_image"):
        style.PerceptualLoss(net)
    with pytest.raises(ValueError, match="tv_weight must be >= 0, got -1.0"):
        style.PerceptualLoss(net, images(1)[0], tv_weight=-1)
    with pytest.raises(ValueError, match="RGB images in"):
        style.PerceptualLoss(net, np.zeros((8, 8), "float32"))


@pytest.mark.parametrize("method", style.METHODS)
def test_optimize_image_reaches_a_bounded_minimum(method):
    target = np.linspace(-0.5, 1.5, 4 * 4 * 3, dtype="float32").reshape(1, 4, 4, 3)   # partly outside [0, 1]
    fn = lambda x: ops.sum((x - target) ** 2)
    result = style.optimize_image(fn, np.full((4, 4, 3), 0.5, "float32"), method=method, steps=150,
                                  learning_rate=0.05)
    np.testing.assert_allclose(result.image, np.clip(target[0], 0, 1), atol=2e-2)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert len(result.losses) == len(result.seconds) and result.losses[-1] < result.losses[0]
    assert result.final_loss == pytest.approx(np.sum((np.clip(target, 0, 1) - target) ** 2), abs=5e-2)


def test_optimize_image_makes_the_texture_statistics_match():
    net = tiny_network()
    loss = style.PerceptualLoss(net, images(14, size=16)[0], content_weight=0.0, style_weight=1.0)
    f = loss.for_content()
    x0 = images(15, size=16)
    result = style.optimize_image(f, x0, method="lbfgs", steps=30)
    assert result.final_loss < 0.05 * float(to_np(f(x0))), (result.losses[0], result.final_loss)


def test_optimize_image_bad_arguments():
    fn = lambda x: ops.sum(x)
    with pytest.raises(ValueError, match="method must be one of.*'sgd'"):
        style.optimize_image(fn, images(1), method="sgd")
    with pytest.raises(ValueError, match=r"one RGB image.*\(2, 8, 8, 3\)"):
        style.optimize_image(fn, images(1, n=2))


# --- the feed-forward network ---

def test_transform_net_shapes_and_errors():
    net = style.transform_net(filters=(4, 6, 8), residual_blocks=1)
    y = to_np(net(images(16, n=2, size=12)))
    assert y.shape == (2, 12, 12, 3) and y.min() >= 0 and y.max() <= 1
    assert sum(layer.name.endswith("_add") for layer in net.layers) == 1
    with pytest.raises(ValueError, match=r"divisible by 4.*\(30, 32, 3\)"):
        style.transform_net(input_shape=(30, 32, 3))
    with pytest.raises(ValueError, match=r"three positive numbers.*\(4, 8\)"):
        style.transform_net(filters=(4, 8))


def test_a_network_trains_on_the_perceptual_loss_through_fit():
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid")])
    loss = style.PerceptualLoss(tiny_network(), images(17, size=8)[0], content_weight=1.0, style_weight=10.0,
                                tv_weight=0.1)
    x = images(18, n=4, size=8)
    before = float(to_np(loss(x, net(x))))
    cl.training.fit(net, x, x, loss=loss, metrics=[], epochs=20, batch_size=4, learning_rate=5e-2)
    after = float(to_np(loss(x, net(x))))
    assert after < 0.85 * before, (before, after)


def test_transform_net_round_trips(tmp_path):
    import keras

    net = style.transform_net(filters=(4, 4, 4), residual_blocks=1)
    x = images(26, n=2, size=8)
    path = tmp_path / "transform.keras"
    net.save(path)
    again = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(to_np(again(x)), to_np(net(x)), rtol=1e-5, atol=1e-6)


def test_compiled_value_and_grad_equals_eager_and_takes_arguments():
    x = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    fn = lambda t, c, w: w * ops.sum(ops.sin(t) * c)
    step = cl.autodiff.compiled_value_and_grad(fn)
    for c, w in ((np.ones((2, 3), "float32"), 2.0), (np.full((2, 3), 3.0, "float32"), 0.5)):
        value, grad = step(ops.convert_to_tensor(x), ops.convert_to_tensor(c), ops.convert_to_tensor(w))
        np.testing.assert_allclose(to_np(value), w * np.sum(np.sin(x) * c), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(to_np(grad), w * np.cos(x) * c, rtol=1e-5)


def test_objective_weights_are_arguments_of_one_function():
    net = tiny_network()
    content, style_image, x = images(19), images(20)[0], images(21)
    loss = style.PerceptualLoss(net, style_image, content_weight=1.0, style_weight=1.0, tv_weight=1.0)
    parts = {k: float(to_np(v)[0]) for k, v in loss.parts(x, content).items()}
    for a, b, g in ((1.0, 1.0, 1.0), (0.5, 10.0, 0.0)):
        objective = loss.for_content(content, content_weight=a, style_weight=b, tv_weight=g)
        assert objective.fn == loss.for_content(content).fn                        # one function to compile
        expected = a * parts["content"] + b * parts["style"] + g * parts["tv"]
        np.testing.assert_allclose(float(to_np(objective(x))), expected, rtol=1e-5)
    eager = style.optimize_image(objective, x, method="adam", steps=3, compile=False)
    compiled = style.optimize_image(objective, x, method="adam", steps=3)
    np.testing.assert_allclose(compiled.losses, eager.losses, rtol=1e-4)
    np.testing.assert_allclose(compiled.image, eager.image, atol=1e-5)
    with pytest.raises(ValueError, match="built without the style term"):
        style.PerceptualLoss(net, content_weight=1.0, style_weight=0.0).for_content(content, style_weight=1.0)


@pytest.mark.parametrize("method", style.METHODS)
def test_compiled_objective_is_traced_once(method):
    import keras

    traces = []

    def fn(x, c):
        traces.append(1)
        return ops.sum((x - c) ** 2)

    objective = style.Objective(fn, (ops.convert_to_tensor(np.full((1, 4, 4, 3), 0.3, "float32")),))
    result = style.optimize_image(objective, images(25, size=4), method=method, steps=3)
    assert len(result.losses) >= 3
    if keras.backend.backend() in ("tensorflow", "jax"):          # PyTorch runs eagerly: fn runs at every call
        assert len(traces) == 1, f"{len(traces)} traces for one shape"
