"""Vocabulary, teacher forcing, the captioner, its training and decoding, BLEU and the attention hit rate."""

import collections
import math

import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib import captioning
from course_lib.data import scene_captions


@pytest.fixture(autouse=True)
def _setup():
    cl.setup(seed=0, profile="smoke", quiet=True)


CAPTIONS = [["a bag to the left of a coat", "a bag and a coat"], ["there is a t-shirt", "one t-shirt"]]


def test_vocabulary_round_trip_and_special_tokens():
    vocab = captioning.Vocabulary.from_grammar(max_items=4)
    assert vocab.tokens[:4] == ("<pad>", "<unk>", "<start>", "<end>")
    assert len(vocab) == 4 + len(scene_captions.vocabulary(4))
    ids = vocab.encode("a t-shirt, two bags: from left to right")
    assert captioning.UNK not in ids
    assert vocab.decode(ids) == "a t-shirt two bags from left to right"
    assert vocab.encode("a zebra")[1] == captioning.UNK
    assert vocab.decode([captioning.START, *vocab.encode("a bag"), captioning.END, 0, 0]) == "a bag"
    with pytest.raises(ValueError, match="not special tokens"):
        captioning.Vocabulary(("a", "<end>"))


def test_vocabulary_from_captions_by_frequency():
    vocab = captioning.Vocabulary.from_captions(CAPTIONS)
    assert vocab.words[0] == "a"


def test_teacher_forcing_shifts_by_one():
    vocab = captioning.Vocabulary.from_grammar(max_items=4)
    tf = captioning.teacher_forcing(vocab, CAPTIONS)
    assert tf.inputs.shape == (4, 9) and tf.length == 9            # longest caption: 8 words + 1
    np.testing.assert_array_equal(tf.image, [0, 0, 1, 1])
    for row, caption in zip(range(4), [c for refs in CAPTIONS for c in refs]):
        ids = vocab.encode(caption)
        n = len(ids)
        np.testing.assert_array_equal(tf.inputs[row, :n + 1], [captioning.START, *ids])
        np.testing.assert_array_equal(tf.targets[row, :n + 1], [*ids, captioning.END])
        assert not tf.inputs[row, n + 1:].any() and not tf.targets[row, n + 1:].any()
    with pytest.raises(ValueError, match="needs 9 tokens .* but length=5; use length >= 9"):
        captioning.teacher_forcing(vocab, CAPTIONS, length=5)
    with pytest.raises(ValueError, match="one list of captions per image, got a string"):
        captioning.teacher_forcing(vocab, ["a bag"])


def reference_bleu(hyps, refs, n_max):
    """Corpus BLEU as Papineni et al. define it, written out: clipped n-gram counts, closest reference length."""
    matches, totals, hyp_len, ref_len = [0] * n_max, [0] * n_max, 0, 0
    for h, rs in zip(hyps, refs):
        h, rs = h.split(), [r.split() for r in rs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, n_max + 1):
            grams = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            best = collections.Counter()
            for r in rs:
                best |= collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, best[g]) for g, c in grams.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    precision = math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / n_max)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * penalty * precision


def test_bleu_matches_the_definition():
    hyps = ["a bag to the left of a coat", "there is a t-shirt on its own", "a coat"]
    refs = [["a bag to the left of a coat", "a coat to the right of a bag"],
            ["one t-shirt", "there is a t-shirt"],
            ["a coat on its own", "there is a coat"]]
    scores = captioning.bleu(hyps, refs)
    assert list(scores) == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"]
    for n in range(1, 5):
        assert scores[f"BLEU-{n}"] == pytest.approx(reference_bleu(hyps, refs, n), rel=1e-6)
    assert captioning.bleu(["a bag"], [["a bag", "a bag"]])["BLEU-2"] == pytest.approx(100)
    with pytest.raises(ValueError, match="2 hypotheses but 1 lists of references"):
        captioning.bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match=r"the same number of references, got \[1, 2\]"):
        captioning.bleu(["a", "b"], [["a"], ["b", "c"]])


def test_attention_hit_rate_on_a_hand_made_scene():
    # 2x2 grid, cell centres at (8, 8), (8, 24), (24, 8), (24, 24); a bag (class 8) in the top left quarter
    centres = np.array([[8, 8], [8, 24], [24, 8], [24, 24]])
    boxes = np.array([[[8, 0, 0, 16, 16], [4, 16, 16, 32, 32], [-1] * 5]], "float32")   # bag; coat bottom right
    words = [["a", "bag", "above", "a", "coat", "and", "a", "sandal"]]
    att = np.full((8, 4), 0.25)
    att[1] = [0.7, 0.1, 0.1, 0.1]          # "bag": peak top left: hit
    att[4] = [0.1, 0.7, 0.1, 0.1]          # "coat": peak top right: miss
    r = captioning.attention_hit_rate(words, [att], boxes, centres)
    assert (r.hits, r.words, r.wrong_item) == (1, 2, 1)     # "sandal" names no item of the scene
    assert r.rate == 0.5 and r.uniform == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"weights must be \(words, cells\) = \(8, 4\), got \(8, 3\)"):
        captioning.attention_hit_rate(words, [att[:, :3]], boxes, centres)


def tiny_task():
    """Two 'images' whose features say which caption is right."""
    vocab = captioning.Vocabulary.from_grammar(max_items=4)
    captions = [["a bag above a coat"], ["two sandals side by side"]] * 64
    features = np.zeros((128, 2, 2, 3), "float32")
    features[0::2, ..., 0] = 1
    features[1::2, ..., 1] = 1
    return vocab, captions, features, captioning.teacher_forcing(vocab, captions)


@pytest.mark.parametrize("attention", [False, True])
def test_captioner_learns_a_tiny_task_and_decodes_it(attention):
    vocab, captions, features, tf = tiny_task()
    model = cl.models.captioner(len(vocab), (2, 2, 3), length=tf.length, attention=attention, embed_dim=8, units=16,
                                cell_features=4, attention_units=4, dropout=0.0)
    history = captioning.fit(model, features, tf, epochs=20, batch_size=16, learning_rate=2e-2)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    greedy = captioning.generate(model, features[:2], vocab, tf.length)
    beam = captioning.generate(model, features[:2], vocab, tf.length, beam_width=3)
    assert greedy == beam == ["a bag above a coat", "two sandals side by side"]
    assert captioning.bleu(greedy, [c for c in captions[:2]])["BLEU-4"] == pytest.approx(100)


def test_next_token_function_reads_the_prefix_only():
    vocab, _, features, tf = tiny_task()
    model = cl.models.captioner(len(vocab), (2, 2, 3), length=tf.length, units=8, embed_dim=4, cell_features=4,
                                attention_units=4)
    f = captioning.next_token_function(model, features, tf.length)
    full = np.asarray(model.predict([features[:1], tf.inputs[:1]], verbose=0))
    for t in (1, 3):
        np.testing.assert_allclose(f(np.array([0]), tf.inputs[:1, :t])[0], np.log(full[0, t - 1]), atol=1e-5)
    with pytest.raises(ValueError, match="does not fit the decoder's length"):
        f(np.array([0]), np.zeros((1, tf.length + 1), "int32"))


def test_captioner_saved_and_reloaded_with_attention_weights(tmp_path):
    vocab, _, features, tf = tiny_task()
    model = cl.models.captioner(len(vocab), (2, 2, 3), length=tf.length, units=8, embed_dim=4, cell_features=4,
                                attention_units=4)
    path = tmp_path / "captioner.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = [features[:2], tf.inputs[:2]]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    probs, weights = cl.models.attention_model(loaded).predict(x, verbose=0)
    assert weights.shape == (2, tf.length, 4)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    plain = cl.models.captioner(len(vocab), (2, 2, 3), attention=False, units=8)
    assert not any(isinstance(layer, cl.layers.BahdanauAttention) for layer in plain.layers)
    with pytest.raises(ValueError, match="has no BahdanauAttention layer"):
        cl.models.attention_model(plain)


def test_captioner_bad_arguments():
    with pytest.raises(ValueError, match=r"grid_shape must be \(H, W, C\).*got \(4, 4\)"):
        cl.models.captioner(50, (4, 4))
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 5, got 3"):
        cl.models.captioner(3, (4, 4, 8))
    vocab, _, features, tf = tiny_task()
    model = cl.models.captioner(len(vocab), (2, 2, 3), length=tf.length, units=8)
    with pytest.raises(ValueError, match="refer to image 127, but features has only 4 rows"):
        captioning.fit(model, features[:4], tf)


def test_caption_faults_find_wrong_items_and_wrong_relations():
    # a bag (class 8) on the left, a coat (class 4) on the right of a 64 x 64 canvas
    boxes = np.array([[8, 20, 2, 44, 22], [4, 20, 40, 44, 62], [-1] * 5], "float32")
    areas = np.array([300, 300, 0])
    assert captioning.caption_faults("a bag to the left of a coat", boxes, areas, 64) == []
    assert captioning.caption_faults("a bag to the right of a coat", boxes, areas, 64) == ["wrong relation"]
    assert captioning.caption_faults("a sandal and a coat", boxes, areas, 64) == ["wrong item: sandal"]
    assert captioning.caption_faults("a bag and a coat", boxes, areas, 64) == []
    instances = np.zeros((1, 4, 4), np.uint8)
    instances[0, :2] = 1
    instances[0, 3, 3] = 2
    np.testing.assert_array_equal(captioning.item_areas(instances, 3), [[8, 1, 0]])
