"""Image captioning around a CNN encoder and an LSTM decoder: words, training, decoding, scores.

    vocab = Vocabulary.from_grammar()                        # every word of the scenes' captions
    data = teacher_forcing(vocab, scenes.extras["captions"])  # inputs, targets, image index
    fit(model, features, data, epochs=8)                      # one image's features, several captions
    captions = generate(model, features_test, vocab, beam_width=3)
    bleu(captions, scenes_test.extras["captions"])            # BLEU-1..4 (sacrebleu)

- `Vocabulary`: words and token ids (0 padding, 1 unknown, 2 start, 3 end, then the words);
  the same words as Keras' ``TextVectorization`` would find, but it keeps the hyphen of
  "t-shirt" and runs without TensorFlow (the JAX machines have none).
- `teacher_forcing`: each caption as a decoder input (start token, then the words) and a
  target (the words, then the end token): the decoder learns p(w_t | image, w_1..w_{t-1})
  from the true previous words.
- `fit`: trains a captioner on (features, tokens) → next tokens with the course's
  optimizer and loss (`course_lib.training.compile`); each caption is paired with its
  image's features batch by batch, so five captions per image do not copy the features five times.
- `next_token_function`, `generate`: decoding with `course_lib.decoding` (greedy or beam search).
- `bleu`: corpus BLEU-1..4 with sacrebleu, against all reference captions of each image.
- `attention_hit_rate`: where the attention peaks when the decoder names an item, against the item's box.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from course_lib.data import scene_captions

PAD, UNK, START, END = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<start>", "<end>")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Words and token ids; ids 0..3 are padding, unknown, start and end.

    Args:
        words: the words, in id order from 4 on.
    """

    words: tuple

    @classmethod
    def from_grammar(cls, max_items: int = scene_captions.MAX_ITEMS) -> "Vocabulary":
        """Every word the scene captions can contain (`scene_captions.vocabulary`), sorted."""
        return cls(tuple(scene_captions.vocabulary(max_items)))

    @classmethod
    def from_captions(cls, captions) -> "Vocabulary":
        """The words of `captions` (a list of strings, or of lists of strings), by frequency, then alphabetically."""
        counts = {}
        for caption in _flat(captions):
            for w in scene_captions.tokenize(caption):
                counts[w] = counts.get(w, 0) + 1
        return cls(tuple(sorted(counts, key=lambda w: (-counts[w], w))))

    def __post_init__(self):
        clash = set(self.words) & set(SPECIALS)
        if clash or len(set(self.words)) != len(self.words):
            raise ValueError(f"words must be distinct and not special tokens; repeated or special: "
                             f"{sorted(clash or {w for w in self.words if self.words.count(w) > 1})}")

    @property
    def tokens(self) -> tuple:
        """Every token in id order, the special ones first."""
        return SPECIALS + tuple(self.words)

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.words)

    @property
    def index(self) -> dict:
        return {w: i for i, w in enumerate(self.tokens)}

    def encode(self, caption: str) -> list[int]:
        """The token ids of a caption's words (unknown words become `UNK`)."""
        index = self.index
        return [index.get(w, UNK) for w in scene_captions.tokenize(caption)]

    def decode(self, ids) -> str:
        """The words of token ids as a sentence; padding, start and end are left out."""
        tokens = self.tokens
        return " ".join(tokens[int(i)] for i in ids if int(i) not in (PAD, START, END))


def _flat(captions):
    for c in captions:
        if isinstance(c, str):
            yield c
        else:
            yield from c


@dataclasses.dataclass
class TeacherForcing:
    """Decoder inputs and targets for every (image, caption) pair.

    Attributes:
        inputs: ``(pairs, length)`` int32: start token, the words, padding.
        targets: ``(pairs, length)`` int32: the words, end token, padding (the inputs shifted by one).
        image: ``(pairs,)`` int32: the image each caption describes.
    """

    inputs: np.ndarray
    targets: np.ndarray
    image: np.ndarray

    @property
    def length(self) -> int:
        return self.inputs.shape[1]


def teacher_forcing(vocab: Vocabulary, captions, length: int | None = None) -> TeacherForcing:
    """Every caption of every image as a decoder input and its target.

    Args:
        vocab: the `Vocabulary`.
        captions: one list of reference captions per image (``extras["captions"]``).
        length: tokens per row (default: the longest caption plus one); a longer caption is an error.
    """
    encoded, image = [], []
    for i, refs in enumerate(captions):
        if isinstance(refs, str):
            raise ValueError("captions must hold one list of captions per image, got a string; "
                             "wrap single captions: [[c] for c in captions]")
        for c in refs:
            encoded.append(vocab.encode(c))
            image.append(i)
    longest = max(len(e) for e in encoded) + 1
    length = longest if length is None else length
    if longest > length:
        raise ValueError(f"a caption needs {longest} tokens with its start or end token, but length={length}; "
                         f"use length >= {longest}")
    inputs = np.zeros((len(encoded), length), np.int32)
    targets = np.zeros((len(encoded), length), np.int32)
    for r, e in enumerate(encoded):
        inputs[r, :len(e) + 1] = [START, *e]
        targets[r, :len(e) + 1] = [*e, END]
    return TeacherForcing(inputs, targets, np.asarray(image, np.int32))


# --- training ---

def _pair_batches(features, tokens: TeacherForcing, batch_size, shuffle, seed):
    import keras

    class PairBatches(keras.utils.PyDataset):
        """Shuffled batches of ((features of each caption's image, decoder inputs), targets)."""

        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(tokens.image)) if shuffle else np.arange(len(tokens.image))

        def __len__(self):
            return math.ceil(len(tokens.image) / batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch_size:(i + 1) * batch_size])
            return (features[tokens.image[idx]], tokens.inputs[idx]), tokens.targets[idx]

        def on_epoch_end(self):
            if shuffle:
                self.order = self.rng.permutation(len(tokens.image))

    return PairBatches()


def fit(model, features, tokens: TeacherForcing, *, epochs: int = 1, batch_size: int = 64, optimizer=None,
        learning_rate=None, validation=None, callbacks=(), seed: int = 0, verbose=0):
    """Train a captioner (inputs ``[features, decoder tokens]``) on teacher-forced captions.

    Compiled like every course model (`course_lib.training.compile`: Adam 1e-3 unless told)
    with sparse categorical cross-entropy on the next word; padding positions are masked by
    the decoder's ``Embedding(mask_zero=True)`` and count neither in the loss nor in the accuracy.

    Args:
        model: e.g. `course_lib.models.captioner`.
        features: ``(images, ...)`` the encoder's output for every image.
        tokens: `teacher_forcing` of the images' captions.
        epochs, batch_size, optimizer, learning_rate, callbacks, seed, verbose: as in `course_lib.training.fit`.
        validation: ``(features, TeacherForcing)`` evaluated after every epoch.

    Returns:
        Keras' ``History``.
    """
    from course_lib import training

    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if len(features) <= int(tokens.image.max()):
        raise ValueError(f"the captions refer to image {int(tokens.image.max())}, but features has only "
                         f"{len(features)} rows; pass the features of the same images as the captions")
    training.compile(model, optimizer, learning_rate, loss="sparse_categorical_crossentropy", metrics=("accuracy",))
    val = None
    if validation is not None:
        vf, vt = validation
        val = _pair_batches(vf, vt, 512, False, seed)
    return model.fit(_pair_batches(features, tokens, batch_size, True, seed), epochs=epochs, validation_data=val,
                     callbacks=list(callbacks), verbose=verbose)


# --- decoding ---

def next_token_function(model, features, length: int, batch_size: int = 512):
    """``f(rows, prefixes) -> (B, V)`` log-probabilities of the next word, for `course_lib.decoding`.

    The prefixes are padded to `length` (the decoder is causal, so the padding after the
    prefix changes nothing before it) and the model's output at the prefix's last position is read.

    Args:
        model: a trained captioner with inputs ``[features, tokens]`` and outputs ``(batch, T, V)`` probabilities.
        features: ``(images, ...)`` the encoder's output; ``rows`` index into it.
        length: the decoder's sequence length (prefixes may not be longer).
    """
    def next_log_probs(rows, prefixes):
        b, t = prefixes.shape
        if t > length:
            raise ValueError(f"a prefix of {t} tokens does not fit the decoder's length {length}")
        padded = np.zeros((b, length), np.int32)
        padded[:, :t] = prefixes
        probs = np.asarray(model.predict([features[rows], padded], batch_size=batch_size, verbose=0))
        return np.log(np.maximum(probs[:, t - 1], 1e-30))

    return next_log_probs


def generate(model, features, vocab: Vocabulary, length: int, beam_width: int = 1, length_penalty: float = 0.0,
             return_decoded: bool = False):
    """Captions for every row of `features`: greedy decoding (``beam_width=1``) or beam search.

    Returns:
        A list of strings (and the `course_lib.decoding.Decoded` with `return_decoded`).
    """
    from course_lib import decoding

    f = next_token_function(model, features, length)
    if beam_width == 1:
        out = decoding.greedy_decode(f, len(features), START, END, max_length=length)
    else:
        out = decoding.beam_search(f, len(features), START, END, beam_width=beam_width, max_length=length,
                                   length_penalty=length_penalty)
    captions = [vocab.decode(t) for t in out.tokens]
    return (captions, out) if return_decoded else captions


# --- scores ---

def bleu(hypotheses, references, max_order: int = 4) -> dict:
    """Corpus BLEU-1 .. BLEU-`max_order` (Papineni et al., 2002) with sacrebleu, in percent.

    BLEU-n is the geometric mean of the modified 1..n-gram precisions over the whole corpus,
    times a brevity penalty; each hypothesis is matched against all its references. The
    captions are compared word by word as `scene_captions.tokenize` splits them (sacrebleu's
    own tokenizer is switched off).

    Args:
        hypotheses: one generated caption per image.
        references: one list of reference captions per image (the same number for each).

    Returns:
        ``{"BLEU-1": ..., ..., "BLEU-4": ...}``, each between 0 and 100.
    """
    from sacrebleu.metrics import BLEU

    hypotheses, references = list(hypotheses), [list(r) for r in references]
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} lists of references; one list per hypothesis")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    counts = {len(r) for r in references}
    if len(counts) != 1:
        raise ValueError(f"every image needs the same number of references, got {sorted(counts)}")
    norm = lambda s: " ".join(scene_captions.tokenize(s))          # noqa: E731
    hyps = [norm(h) for h in hypotheses]
    refs = [[norm(r[k]) for r in references] for k in range(counts.pop())]   # sacrebleu: one stream per reference
    return {f"BLEU-{n}": float(BLEU(max_ngram_order=n, tokenize="none").corpus_score(hyps, refs).score)
            for n in range(1, max_order + 1)}


# Head words of the item nouns ("pair of trousers" -> "trousers", "ankle boot" -> "boot"), singular and plural.
ITEM_WORDS = {w: c for c, pair in enumerate(scene_captions.CLASS_WORDS) for w in (p.split()[-1] for p in pair)}


@dataclasses.dataclass
class HitRate:
    """Where the attention peaks on item words, against the items' boxes.

    Attributes:
        hits: item words whose attention peak is inside a box of the item they name.
        words: item words that name an item in the scene (the denominator).
        wrong_item: item words naming a class the scene does not hold (not counted in `words`).
        uniform: the fraction a uniform map would score: on average, the share of grid cells
            whose centre is inside a box of the named item.
    """

    hits: int
    words: int
    wrong_item: int
    uniform: float

    @property
    def rate(self) -> float:
        return self.hits / self.words if self.words else float("nan")


def attention_hit_rate(words, weights, boxes, centres) -> HitRate:
    """How often the attention peak of a generated item word falls inside that item's box.

    Args:
        words: one list of generated words per image.
        weights: one ``(len(words[i]), cells)`` array per image: the attention weights used to
            predict each word.
        boxes: ``(images, max_items, 5)`` rows ``[class, y0, x0, y1, x1]`` (end exclusive, -1 padding).
        centres: ``(cells, 2)`` the (y, x) pixel centre of each grid cell in the image.

    Returns:
        A `HitRate`.
    """
    centres = np.asarray(centres, np.float64)
    hits = total = wrong = 0
    uniform = []
    for i, (ws, att) in enumerate(zip(words, weights)):
        att = np.asarray(att)
        if att.shape != (len(ws), len(centres)):
            raise ValueError(f"image {i}: weights must be (words, cells) = {(len(ws), len(centres))}, got {att.shape}")
        items = np.asarray(boxes[i])
        items = items[items[:, 0] >= 0]
        for j, w in enumerate(ws):
            if w not in ITEM_WORDS:
                continue
            mine = items[items[:, 0] == ITEM_WORDS[w]]
            if not len(mine):
                wrong += 1
                continue
            y, x = centres[:, 0, None], centres[:, 1, None]
            inside = ((y >= mine[:, 1]) & (y < mine[:, 3]) & (x >= mine[:, 2]) & (x < mine[:, 4])).any(1)   # (cells,)
            total += 1
            hits += bool(inside[int(np.argmax(att[j]))])
            uniform.append(inside.mean())
    return HitRate(hits, total, wrong, float(np.mean(uniform)) if uniform else float("nan"))


def item_areas(instances, max_items: int) -> np.ndarray:
    """``(images, max_items)`` visible pixels of each item, from the scenes' instance masks (``extras["instances"]``)."""
    instances = np.asarray(instances)
    return np.stack([(instances == k + 1).sum((1, 2)) for k in range(max_items)], 1)


def caption_faults(caption: str, boxes, areas, size: int) -> list[str]:
    """What is wrong with a generated caption of one scene, as far as the grammar can tell.

    Two faults are detected: an item word naming a class that is not in the scene
    (``"wrong item: coat"``), and a relation sentence ("A to the left of B", "A above B", ...)
    about items that are there but that the scene's boxes do not support (``"wrong relation"``).

    Args:
        caption: the generated sentence.
        boxes: ``(max_items, 5)`` the scene's rows ``[class, y0, x0, y1, x1]`` (-1 padding).
        areas: ``(max_items,)`` visible pixels of each item (`item_areas`).
        size: side of the canvas.

    Returns:
        The faults found (empty: none found; the caption may still be wrong in ways not checked).
    """
    boxes = np.asarray(boxes)
    keep = boxes[:, 0] >= 0
    classes = boxes[keep, 0].astype(int)
    words = scene_captions.tokenize(caption)
    faults = [f"wrong item: {w}" for w in words if w in ITEM_WORDS and ITEM_WORDS[w] not in classes]
    if not faults and any(f" {r} " in f" {caption} " for r in scene_captions.RELATIONS):
        true = scene_captions.candidates(classes, boxes[keep, 1:], np.asarray(areas)[keep], size).get("relation", [])
        if caption not in true:
            faults.append("wrong relation")
    return faults


def word_attention(attention, captions, vocab: Vocabulary, features, length: int):
    """The attention weights that produced each word of generated captions.

    Args:
        attention: `course_lib.models.attention_model` of a trained captioner.
        captions: one generated caption per row of `features`.
        vocab: the `Vocabulary`.
        features: the encoder's output for the same images.
        length: the decoder's sequence length.

    Returns:
        ``(words, weights)``: per caption, its words and a ``(len(words), cells)`` array: the
        weights at the position that predicted each word.
    """
    inputs = np.zeros((len(captions), length), np.int32)
    words = []
    for i, caption in enumerate(captions):
        ids = [START, *vocab.encode(caption)][:length]
        inputs[i, :len(ids)] = ids
        words.append([vocab.tokens[t] for t in ids[1:]])
    _, weights = attention.predict([features, inputs], batch_size=512, verbose=0)
    return words, [np.asarray(weights[i, :len(w)]) for i, w in enumerate(words)]


__all__ = ["item_areas", "caption_faults", "word_attention", "Vocabulary", "TeacherForcing", "teacher_forcing", "fit", "next_token_function", "generate", "bleu",
           "attention_hit_rate", "HitRate", "ITEM_WORDS", "PAD", "UNK", "START", "END", "SPECIALS"]
