import keras
import numpy as np
import pytest

import course_lib as cl


def _model_and_data(activation="tanh"):
    cl.setup(seed=0, profile="smoke", quiet=True)
    data = cl.data.load("fashion_mnist", profile="smoke", n=128)
    model = cl.models.mlp(hidden_units=(16, 16, 16), activation=activation)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, data


def test_gradient_norms_match_a_direct_computation():
    model, data = _model_and_data()
    monitor = cl.callbacks.GradientNormMonitor(data.x[:32], data.y[:32])
    model.fit(data.x, data.y, epochs=2, batch_size=32, verbose=0, callbacks=[monitor])
    norms, names, epochs = monitor.table()
    assert names == ["dense_0", "dense_1", "dense_2", "output"] and epochs == [0, 1, 2] and norms.shape == (3, 4)
    kernels = [model.get_layer(n).kernel for n in names]
    x, y = keras.ops.convert_to_tensor(data.x[:32]), keras.ops.convert_to_tensor(data.y[:32])
    loss = lambda: keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x)))
    _, grads = cl.autodiff.value_and_grad(loss, variables=kernels)
    direct = [np.linalg.norm(keras.ops.convert_to_numpy(g)) for g in grads]
    np.testing.assert_allclose(norms[-1], direct, rtol=1e-4)


def test_grouped_gradient_norms_combine_the_groups_members():
    model, data = _model_and_data()
    x, y = data.x[:32], data.y[:32]
    per_layer = cl.callbacks.gradient_norms(model, x, y)
    pairs = {"first": [model.get_layer("dense_0").kernel, model.get_layer("dense_1").kernel],
             "last": [model.get_layer("output").kernel, model.get_layer("output").bias]}
    grouped = cl.callbacks.gradient_norms(model, x, y, groups=pairs, loss=keras.losses.sparse_categorical_crossentropy)
    assert list(grouped) == ["first", "last"]
    assert grouped["first"] == pytest.approx(np.hypot(per_layer["dense_0"], per_layer["dense_1"]), rel=1e-5)
    bias_grad = cl.autodiff.value_and_grad(
        lambda: keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x))),
        variables=[model.get_layer("output").bias])[1][0]
    expected = np.hypot(per_layer["output"], np.linalg.norm(keras.ops.convert_to_numpy(bias_grad)))
    assert grouped["last"] == pytest.approx(expected, rel=1e-5)
    monitor = cl.callbacks.GradientNormMonitor(x, y, groups=lambda m: {"all": [l.kernel for l in m.layers[1:]
                                                                                  if hasattr(l, "kernel")]})
    model.fit(data.x, data.y, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    norms, names, _ = monitor.table()
    assert names == ["all"] and norms.shape == (2, 1)
    assert norms[-1, 0] == pytest.approx(np.linalg.norm(list(cl.callbacks.gradient_norms(model, x, y).values())), rel=1e-4)


def test_gradient_norms_bad_arguments():
    model, data = _model_and_data()
    with pytest.raises(ValueError, match="empty: \\['b'\\]"):
        cl.callbacks.gradient_norms(model, data.x[:4], data.y[:4], groups={"a": [model.get_layer("dense_0").kernel], "b": []})
    bare = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not compiled.*loss="):
        cl.callbacks.gradient_norms(bare, np.zeros((2, 3), "float32"), np.zeros(2, "int32"))


def test_activation_stats_match_layer_outputs():
    model, data = _model_and_data("relu")
    stats = cl.callbacks.ActivationStats(data.x[:20], sample=50)
    model.fit(data.x, data.y, epochs=1, verbose=0, callbacks=[stats])
    assert [h["epoch"] for h in stats.history] == [0, 1]
    probe = keras.Model(model.inputs[0], model.get_layer("act_1").output)
    out = keras.ops.convert_to_numpy(probe(data.x[:20]))
    assert stats.history[-1]["mean"]["act_1"] == pytest.approx(float(out.mean()), rel=1e-5)
    assert stats.history[-1]["std"]["act_1"] == pytest.approx(float(out.std()), rel=1e-5)
    assert len(stats.history[-1]["values"]["act_1"]) == 50 and (stats.history[-1]["values"]["act_1"] >= 0).all()


def test_activation_stats_without_matching_layers():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    stats = cl.callbacks.ActivationStats(np.zeros((2, 3), "float32"))
    stats.set_model(model)
    with pytest.raises(ValueError, match="layer_names"):
        stats.measure(0)


def test_live_plot_outside_notebook_prints_summary(capsys):
    model, data = _model_and_data()
    live = cl.callbacks.LivePlot(metrics=("loss",))
    assert not live.notebook
    model.fit(data.x, data.y, epochs=2, verbose=0, callbacks=[live])
    out = capsys.readouterr().out
    assert out.startswith("2 epochs: loss=") and len(live.logs["loss"]) == 2


def test_monitor_bad_arguments():
    with pytest.raises(ValueError, match="every must be at least 1"):
        cl.callbacks.GradientNormMonitor(np.zeros((1, 2)), np.zeros(1), every=0)
    with pytest.raises(ValueError, match="no measurements yet"):
        cl.callbacks.GradientNormMonitor(np.zeros((1, 2)), np.zeros(1)).table()


def test_snapshot_ensemble_schedule_snapshots_and_average():
    model, data = _model_and_data()
    steps_per_epoch = 128 // 32
    snap = cl.callbacks.SnapshotEnsemble(lr_max=0.1, cycles=2, total_steps=4 * steps_per_epoch)
    model.fit(data.x, data.y, epochs=4, batch_size=32, verbose=0, callbacks=[snap])
    cycle = 8
    expected = [0.05 * (np.cos(np.pi * (t % cycle) / cycle) + 1) for t in range(16)]
    np.testing.assert_allclose(snap.lrs, expected, rtol=1e-6)
    assert len(snap.snapshots) == 2
    assert not all(np.array_equal(a, b) for a, b in zip(*snap.snapshots))
    by_hand = []
    for weights in snap.snapshots:
        model.set_weights(weights)
        by_hand.append(model.predict(data.x[:10], verbose=0))
    np.testing.assert_allclose(snap.predict(data.x[:10]), np.mean(by_hand, axis=0), rtol=1e-5)
    np.testing.assert_allclose(snap.predict(data.x[:10], last=1), by_hand[-1], rtol=1e-5)
    with pytest.raises(ValueError, match="last must be between 1 and 2"):
        snap.predict(data.x[:10], last=3)


def test_snapshot_ensemble_bad_arguments():
    with pytest.raises(ValueError, match="cycles <= total_steps"):
        cl.callbacks.SnapshotEnsemble(0.1, cycles=5, total_steps=3)
    with pytest.raises(ValueError, match="no snapshots yet"):
        cl.callbacks.SnapshotEnsemble(0.1, 1, 10).predict(np.zeros((1, 2)))
