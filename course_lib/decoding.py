"""Generating a sequence token by token from a model of the next token: greedy decoding and beam search.

Both take the model as a function ``next_log_probs(rows, prefixes)``:

    rows:      (B,) int, which example (image) each prefix belongs to;
    prefixes:  (B, t) int, the tokens so far, starting with the start token;
    returns:   (B, V) log-probabilities of the next token.

so they work for any decoder (a captioner, a language model, a hand-made table in a test).
`course_lib.captioning.next_token_function` makes such a function from a trained captioner.

Greedy decoding takes the most probable token at every step. Beam search keeps the
`beam_width` most probable prefixes at every step, so a sequence whose first token is not
the single most probable one can still win. It usually finds more probable sequences than
greedy decoding, but not always (greedy's prefix can be pruned in favour of prefixes that
end worse); with a beam as wide as the number of possible prefixes it finds the most
probable sequence.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Decoded:
    """The output of `greedy_decode` and `beam_search`.

    Attributes:
        tokens: one list of token ids per example, without the start and end tokens.
        log_prob: ``(n,)`` the total log-probability of each sequence (end token included if emitted).
        finished: ``(n,)`` whether each sequence ended with the end token (else it hit `max_length`).
        beams: with ``beam_search(..., return_beams=True)``: per example, the final beams as
            ``(tokens, log_prob)`` pairs, best first.
    """

    tokens: list
    log_prob: np.ndarray
    finished: np.ndarray
    beams: list | None = None


def _check(n, start, end, max_length, beam_width=1):
    for name, value, low in (("n", n, 1), ("max_length", max_length, 1), ("beam_width", beam_width, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
    if start == end:
        raise ValueError(f"start and end must be different tokens, got {start} for both")


def _call(next_log_probs, rows, prefixes):
    out = np.asarray(next_log_probs(np.asarray(rows), np.asarray(prefixes)), np.float64)
    if out.ndim != 2 or out.shape[0] != len(rows):
        raise ValueError(f"next_log_probs must return (B, V) log-probabilities for B={len(rows)} prefixes, "
                         f"got shape {out.shape}")
    return out


def greedy_decode(next_log_probs, n: int, start: int, end: int, max_length: int = 20) -> Decoded:
    """The most probable token at every step, for `n` examples at once.

    Args:
        next_log_probs: ``f(rows, prefixes) -> (B, V)`` log-probabilities (see the module's docstring).
        n: number of examples (rows ``0 .. n-1``).
        start, end: the start and end tokens.
        max_length: most tokens generated per example (the end token included).
    """
    _check(n, start, end, max_length)
    prefixes = np.full((n, 1), start, np.int64)
    log_prob = np.zeros(n)
    done = np.zeros(n, bool)
    for _ in range(max_length):
        alive = np.flatnonzero(~done)
        if not len(alive):
            break
        lp = _call(next_log_probs, alive, prefixes[alive])
        best = lp.argmax(1)
        step = np.full(n, end, np.int64)        # finished rows are padded with `end` (dropped below)
        step[alive] = best
        log_prob[alive] += lp[np.arange(len(alive)), best]
        prefixes = np.concatenate([prefixes, step[:, None]], 1)
        done[alive] |= best == end
    tokens = [_strip(row, end) for row in prefixes[:, 1:]]
    return Decoded(tokens, log_prob, done.copy())


def _strip(row, end):
    row = list(int(t) for t in row)
    return row[:row.index(end)] if end in row else row


def beam_search(next_log_probs, n: int, start: int, end: int, beam_width: int = 3, max_length: int = 20,
                length_penalty: float = 0.0, return_beams: bool = False) -> Decoded:
    """Beam search for `n` examples at once: keep the `beam_width` best prefixes at every step.

    A prefix's score is its total log-probability; a finished sequence (one that emitted
    `end`) keeps its score and competes with the unfinished prefixes for a place in the beam.
    The search ends when every beam of every example has finished, or after `max_length`
    tokens. ``beam_width=1`` is greedy decoding.

    Args:
        next_log_probs: ``f(rows, prefixes) -> (B, V)`` log-probabilities (see the module's docstring).
        n: number of examples.
        start, end: the start and end tokens.
        beam_width: prefixes kept per example.
        max_length: most tokens generated (the end token included).
        length_penalty: α ≥ 0; the final choice among the beams divides each total
            log-probability by ``length ** α`` (0: the most probable sequence; larger values
            favour longer ones, which a sum of log-probabilities penalizes).
        return_beams: also return every final beam of every example.

    Returns:
        A `Decoded`; ``log_prob`` is the total log-probability of the chosen sequence.
    """
    _check(n, start, end, max_length, beam_width)
    if not length_penalty >= 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty!r}")
    # beams of every example, flattened: row (example), tokens, score, finished
    rows = np.arange(n)
    seqs = np.full((n, 1), start, np.int64)
    scores = np.zeros(n)
    finished = np.zeros(n, bool)
    for _ in range(max_length):
        if finished.all():
            break
        alive = np.flatnonzero(~finished)
        lp = _call(next_log_probs, rows[alive], seqs[alive])
        vocab = lp.shape[1]
        # candidates: every alive beam extended by every token, plus every finished beam as it is
        cand_row = np.concatenate([np.repeat(rows[alive], vocab), rows[finished]])
        cand_parent = np.concatenate([np.repeat(alive, vocab), np.flatnonzero(finished)])
        cand_token = np.concatenate([np.tile(np.arange(vocab), len(alive)), np.full(finished.sum(), end)])
        cand_score = np.concatenate([(scores[alive, None] + lp).ravel(), scores[finished]])
        cand_done = np.concatenate([np.tile(np.arange(vocab) == end, len(alive)), np.ones(finished.sum(), bool)])
        # the best `beam_width` candidates of each example (stable: ties keep the lower token)
        order = np.lexsort((-cand_score, cand_row))
        cand_row, cand_parent, cand_token, cand_score, cand_done = (
            a[order] for a in (cand_row, cand_parent, cand_token, cand_score, cand_done))
        first = np.searchsorted(cand_row, np.arange(n))
        rank = np.arange(len(cand_row)) - first[cand_row]
        keep = rank < beam_width
        rows, parent, token = cand_row[keep], cand_parent[keep], cand_token[keep]
        scores, finished = cand_score[keep], cand_done[keep]
        seqs = np.concatenate([seqs[parent], token[:, None]], 1)
    tokens, best_lp, best_done, beams = [], np.zeros(n), np.zeros(n, bool), []
    for i in range(n):
        mine = np.flatnonzero(rows == i)
        cand = [(_strip(seqs[j, 1:], end), float(scores[j]), bool(finished[j])) for j in mine]
        ranked = sorted(cand, key=lambda c: -c[1] / max(1, len(c[0]) + c[2]) ** length_penalty)
        tokens.append(ranked[0][0])
        best_lp[i], best_done[i] = ranked[0][1], ranked[0][2]
        beams.append([(c[0], c[1]) for c in ranked])
    return Decoded(tokens, best_lp, best_done, beams if return_beams else None)


def sequence_log_prob(next_log_probs, row: int, tokens, start: int, end: int | None = None) -> float:
    """Total log-probability of `tokens` (then `end`, if given) for example `row`, under the model."""
    seq = [start, *[int(t) for t in tokens]] + ([end] if end is not None else [])
    total = 0.0
    for t in range(1, len(seq)):
        lp = _call(next_log_probs, np.array([row]), np.array([seq[:t]]))
        total += float(lp[0, seq[t]])
    return total


__all__ = ["greedy_decode", "beam_search", "sequence_log_prob", "Decoded"]
