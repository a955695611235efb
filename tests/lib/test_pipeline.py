import keras
import numpy as np
import pytest

import course_lib as cl


def collect(batches):
    if keras.backend.backend() == "tensorflow":
        return [tuple(np.asarray(t) for t in b) for b in batches]
    return [batches[i] for i in range(len(batches))]


def test_batches_cover_every_example_once():
    x = np.arange(50, dtype="float32").reshape(25, 2)
    y = np.arange(25)
    out = collect(cl.data.batches(x, y, batch_size=8, seed=1))
    assert [len(b[1]) for b in out] == [8, 8, 8, 1]
    xs = np.concatenate([b[0] for b in out])
    ys = np.concatenate([b[1] for b in out])
    assert sorted(ys.tolist()) == list(range(25))
    np.testing.assert_array_equal(xs[:, 0], 2 * ys)          # pairs stay together
    assert ys.tolist() != list(range(25))                     # shuffled


def test_unshuffled_keeps_order():
    x = np.arange(10)
    out = collect(cl.data.batches(x, x * 10, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in out]), x)


def test_fit_on_batches_learns():
    cl.setup(seed=0, profile="smoke", quiet=True)
    data = cl.data.load("linear", n=256)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(cl.data.batches(data.x, data.y.astype("float32"), batch_size=32), epochs=15, verbose=0)
    assert model.evaluate(data.x, data.y, verbose=0)[1] > 0.9


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(y=np.zeros(3)), "x and y differ in length: 4 examples but 3 labels"),
])
def test_bad_batches(kwargs, match):
    with pytest.raises(cl.data.DataError, match=match):
        cl.data.batches(np.zeros((4, 2)), **{"y": None, "batch_size": 2, **kwargs})
