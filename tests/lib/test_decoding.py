"""Greedy decoding and beam search on hand-made decoders whose best sequences are known."""

import itertools

import numpy as np
import pytest

from course_lib import decoding

START, END, A, B = 0, 1, 2, 3


def table_decoder(tables):
    """next_log_probs from per-example tables: {prefix tuple (after START): probabilities of START, END, A, B}."""
    def f(rows, prefixes):
        out = []
        for r, p in zip(rows, prefixes):
            probs = tables[int(r)].get(tuple(int(t) for t in p[1:]), [0, 1, 0, 0])    # unknown prefix: end
            out.append(np.log(np.maximum(probs, 1e-12)))
        return np.array(out)
    return f


# Example 0: greedy takes A (0.6) and then ends (0.34): p = 0.204; the best sequence is B, END: p = 0.4 * 0.9 = 0.36.
TRAP = {(): [0, 0, 0.6, 0.4], (A,): [0, 0.34, 0.33, 0.33], (B,): [0, 0.9, 0.05, 0.05]}
# Example 1: greedy is right: A, A, END with p = 0.7 * 0.8 * 1.
EASY = {(): [0, 0.1, 0.7, 0.2], (A,): [0, 0.2, 0.8, 0], (A, A): [0, 1, 0, 0]}


def test_greedy_falls_into_the_trap_and_beam_search_does_not():
    f = table_decoder([TRAP, EASY])
    greedy = decoding.greedy_decode(f, 2, START, END, max_length=5)
    assert greedy.tokens == [[A], [A, A]]
    np.testing.assert_allclose(np.exp(greedy.log_prob), [0.6 * 0.34, 0.7 * 0.8], rtol=1e-9)
    beam = decoding.beam_search(f, 2, START, END, beam_width=2, max_length=5)
    assert beam.tokens == [[B], [A, A]]
    np.testing.assert_allclose(np.exp(beam.log_prob), [0.4 * 0.9, 0.7 * 0.8], rtol=1e-9)
    assert beam.finished.all()
    one = decoding.beam_search(f, 2, START, END, beam_width=1, max_length=5)
    assert one.tokens == greedy.tokens


def test_beams_are_returned_best_first():
    f = table_decoder([TRAP])
    out = decoding.beam_search(f, 1, START, END, beam_width=2, max_length=5, return_beams=True)
    (best, lp_best), (second, lp_second) = out.beams[0][:2]
    assert best == [B] and lp_best > lp_second
    assert decoding.sequence_log_prob(f, 0, best, START, END) == pytest.approx(lp_best)


def random_decoder(seed, vocab=4, examples=3):
    def f(rows, prefixes):
        out = []
        for r, p in zip(rows, prefixes):
            rng = np.random.default_rng([seed, int(r), *map(int, p)])
            logits = rng.normal(0, 1.5, vocab)
            logits[START] = -np.inf                      # never generate the start token
            out.append(logits - np.logaddexp.reduce(logits))
        return np.array(out)
    return f


def brute_force(f, row, vocab, max_length):
    """The most probable complete sequence (ended by END, or cut at max_length tokens), by enumeration."""
    best, best_lp = None, -np.inf
    for n in range(1, max_length + 1):
        for seq in itertools.product(range(1, vocab), repeat=n):
            if END in seq[:-1] or (seq[-1] != END and n < max_length):
                continue                                 # complete: ends with END, or has max_length tokens
            lp = decoding.sequence_log_prob(f, row, seq, START)
            if lp > best_lp:
                best, best_lp = list(seq), lp
    return [t for t in best if t != END], best_lp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_wide_beam_finds_the_most_probable_sequence(seed):
    f = random_decoder(seed)
    out = decoding.beam_search(f, 3, START, END, beam_width=27, max_length=3)
    greedy = decoding.greedy_decode(f, 3, START, END, max_length=3)
    for row in range(3):
        tokens, lp = brute_force(f, row, 4, 3)
        assert out.tokens[row] == tokens
        assert out.log_prob[row] == pytest.approx(lp)
        assert out.log_prob[row] >= greedy.log_prob[row] - 1e-12


def test_length_penalty_prefers_longer_sequences():
    f = table_decoder([TRAP, EASY])
    plain = decoding.beam_search(f, 2, START, END, beam_width=3, max_length=5, return_beams=True)
    long = decoding.beam_search(f, 2, START, END, beam_width=3, max_length=5, length_penalty=5.0)
    assert [len(t) for t in long.tokens] >= [len(t) for t in plain.tokens]
    assert long.tokens[0] != plain.tokens[0]


def test_unfinished_sequences_stop_at_max_length():
    loop = {(): [0, 0, 1, 0], (A,): [0, 0, 1, 0], (A, A): [0, 0, 1, 0]}
    out = decoding.greedy_decode(table_decoder([loop]), 1, START, END, max_length=3)
    assert out.tokens == [[A, A, A]] and not out.finished[0]
    beam = decoding.beam_search(table_decoder([loop]), 1, START, END, beam_width=2, max_length=3)
    assert beam.tokens == [[A, A, A]] and not beam.finished[0]


def test_bad_arguments():
    f = table_decoder([TRAP])
    with pytest.raises(ValueError, match="beam_width must be an integer of at least 1, got 0"):
        decoding.beam_search(f, 1, START, END, beam_width=0)
    with pytest.raises(ValueError, match="start and end must be different tokens, got 1 for both"):
        decoding.greedy_decode(f, 1, END, END)
    with pytest.raises(ValueError, match=r"must return \(B, V\) log-probabilities for B=1 prefixes, got shape \(4,\)"):
        decoding.greedy_decode(lambda rows, p: np.zeros(4), 1, START, END)
