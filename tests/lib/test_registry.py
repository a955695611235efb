"""The data registry: each entry carries its loader; `load` only dispatches."""

import numpy as np
import pytest

import course_lib as cl
from course_lib.data import registry


def test_every_entry_has_a_loader_and_real_ones_a_substitute():
    for name, entry in registry.REGISTRY.items():
        assert callable(entry.loader), name
        if entry.kind == "real":
            assert callable(entry.substitute), name


def test_load_dispatches_to_the_entry_loader(monkeypatch):
    seen = []

    def loader(req):
        seen.append((req.split, req.count, req.seed, req.profile, req.options))
        x = np.arange(req.count)
        return cl.data.Data(x, x % 2, cl.data.Source("toy_counts", "synthetic", "test"))

    entry = registry.Entry("toy_counts", "synthetic", "counts", loader, ["even", "odd"],
                           sizes={"train": {"smoke": 3, "cpu": 30, "gpu": 300}, "test": {"smoke": 2, "cpu": 20, "gpu": 200}})
    monkeypatch.setitem(registry.REGISTRY, "toy_counts", entry)
    data = cl.data.load("toy_counts", split="test", profile="cpu", seed=5, flavour="x")
    assert len(data) == 20 and seen == [("test", 20, 5, "cpu", {"flavour": "x"})]
    assert len(cl.data.load("toy_counts", n=7, profile="smoke", limit=4)) == 4
    assert seen[-1][1] == 7


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(cl.data.DataError, match=r"unknown data set 'fashion_mnsit'; did you mean 'fashion_mnist'\?.*digits"):
        cl.data.load("fashion_mnsit")


def test_real_formats_cover_the_real_entries():
    from course_lib.data import real

    assert sorted(real.NAMES) == sorted(n for n, e in registry.REGISTRY.items() if e.kind == "real")
    with pytest.raises(cl.data.DataError, match="not a real data set the course reads"):
        real.find("digits")
