"""ELMo pretraining (Peters et al. 2018, as bilm-tf trains it): a forward and a backward LSTM
language model over one character-CNN token encoder, trained together.

A sentence t_1..t_N is read as t_0 = <S>, t_1..t_N, t_{N+1} = </S>. The biLM maximises

    sum_{k=1}^{N+1} log p(t_k | t_0..t_{k-1}; Θ_x, Θ→_LSTM, Θ_s)
  + sum_{k=0}^{N}   log p(t_k | t_{k+1}..t_{N+1}; Θ_x, Θ←_LSTM, Θ_s)

with the char-CNN Θ_x and the softmax Θ_s shared by the two directions. The loss is each
direction's mean negative log-likelihood per predicted token, the two averaged:
loss = (L→ + L←) / 2, as in bilm-tf. Dropout (training only) hits every LSTM layer's input and
the top layer's output before the softmax.

Vocabulary: <S>, </S>, <UNK>, then the words of the training text by frequency (bilm-tf's
vocabulary file), up to `vocab_size` entries. The input reads every word's characters, in the
vocabulary or not; only the softmax's targets go through the vocabulary, any other word as <UNK>.

Softmax (`objective/softmax` config group): `FullSoftmax` over the vocabulary; `SampledSoftmax`
(bilm-tf's); `AdaptiveSoftmax` (PyTorch's, Grave et al. 2017). Held-out text is always scored
with the model's exact, normalised probabilities (the full softmax where training samples), so
the held-out perplexity exp(mean NLL per token, both directions) is a true perplexity. Beside it
the loop logs the perplexity of a unigram model of the training text on the same held-out
targets (`unigram_perplexity`), the baseline it must beat.

Training batches: whole sentences (the default), each from zero LSTM state as probing reads
them, or with `unroll_steps` windows of that many tokens cut from the running text (<S> ...
</S> <S> ... </S> ...), bilm-tf's truncated backpropagation through time, each window also from
zero state: carrying the state to the next batch would hand the backward LM the text it is
predicting, unless its windows ran through the text in reverse order, as bilm-tf's second input
stream does. Held-out batches are always whole sentences.

Checkpoints: `options.json` + `weights.hdf5` (the published format, read by `load_elmo` and the
ELMo encoder), the vocabulary as `vocab.txt` and the softmax as `softmax.safetensors`.
"""

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from probing.models.elmo_bilm import ELMoBiLM, save_elmo
from probing.models.elmo_chars import BOS, EOS, word_char_ids
from probing.models.elmo_weights import (
    OPTIONS_NAME,
    WEIGHTS_NAME,
    check_options,
    read_options,
    read_weights,
)
from probing.pretrain.corpus import CORPUS_SPLITS, TextCorpus
from probing.pretrain.objective import Batch, Metrics, Objective
from probing.pretrain.softmax import Softmax
from probing.pretrain.token_cache import (
    TokenizedText,
    cached_folder,
    offsets,
    random_stream,
    step_rows,
)
from probing.utils.atomic import write_text_atomic
from probing.utils.errors import ProbingError

log = logging.getLogger(__name__)

CACHE_VERSION = 1
UNK = "<UNK>"
SPECIALS = (BOS, EOS, UNK)  # ids 0, 1, 2, as in bilm-tf's vocabulary files
BOS_ID, EOS_ID, UNK_ID = range(3)
NO_TARGET = -1
VOCAB_NAME = "vocab.txt"
SOFTMAX_NAME = "softmax.safetensors"
ORDER, OFFSET = 0, 1  # tags that keep the random streams of one seed apart
BUCKET = 50  # batches whose sentences are sorted by length together (little padding)


# --- the corpus as word ids -----------------------------------------------------------------

def word_corpus(corpus: TextCorpus, cache_dir: Path) -> Path:
    """The cache folder of the corpus as word-type ids: `types.json` (the specials, the training
    words by frequency, ties in code-point order, then words seen only in held-out text),
    `counts.npy` (each type's count in the training text), `train/` and `heldout/`
    (TokenizedText). Any vocabulary size is a prefix of the types, so one cache serves all."""
    settings = {"corpus": corpus.fingerprint(), "version": CACHE_VERSION}

    def build(folder: Path) -> dict:
        splits = corpus.read()
        counts = Counter(w for doc in splits.train for s in doc.sentences for w in s)
        heldout = {w for doc in splits.heldout for s in doc.sentences for w in s}
        words = sorted(counts.keys() - set(SPECIALS), key=lambda w: (-counts[w], w))
        types = [*SPECIALS, *words, *sorted(heldout - counts.keys() - set(SPECIALS))]
        index = {w: i for i, w in enumerate(types)}

        def encode(sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
            ids = np.fromiter((index[w] for s in sentences for w in s), dtype=np.int32)
            return ids, np.array([len(s) for s in sentences], dtype=np.int64)

        folder.mkdir(parents=True)
        (folder / "types.json").write_text(json.dumps(types, ensure_ascii=False))
        np.save(folder / "counts.npy", np.array([counts[w] for w in types], dtype=np.int64))
        sizes = {}
        for split in CORPUS_SPLITS:
            text = TokenizedText.from_documents(encode, getattr(splits, split))
            text.save(folder / split)
            sizes[split] = {"documents": text.n_documents, "sentences": text.n_sentences,
                            "words": len(text.ids)}
        sizes["types"] = {"train": len(words), "all": len(types)}
        log.info("word corpus: %s", sizes)
        return {"sizes": sizes, "files": [str(f) for f in corpus.files()]}

    return cached_folder(cache_dir, f"elmo-{corpus.name}", settings, build)


@dataclass
class Layout:
    """Examples as spans of a flat array of type ids: example j reads ids[start:end]; the
    backward LM's target at its first position is ids[start - 1], the forward LM's at its last
    ids[end] (NO_TARGET: none)."""

    ids: np.ndarray
    spans: np.ndarray  # (n, 2): start, end

    @property
    def lengths(self) -> np.ndarray:
        return self.spans[:, 1] - self.spans[:, 0]


def sentence_layout(text: TokenizedText, max_length: int) -> Layout:
    """Every sentence as <S> words </S>, with NO_TARGET between sentences, so that nothing is
    predicted across a boundary. A sentence of more than `max_length` words is cut into pieces
    of at most that many, each read as a sentence."""
    lengths = np.diff(text.sentences)
    n_pieces = -(-lengths // max_length)
    sentence = np.repeat(np.arange(len(lengths)), n_pieces)
    piece_of_sentence = np.arange(len(sentence)) - np.repeat(np.cumsum(n_pieces) - n_pieces,
                                                              n_pieces)
    word_start = text.sentences[:-1][sentence] + piece_of_sentence * max_length
    n_words = np.minimum(word_start + max_length, text.sentences[1:][sentence]) - word_start
    # Piece k: NO_TARGET, <S> at starts[k], its words, </S>; one more NO_TARGET closes the last.
    starts = 1 + offsets(n_words + 3)[:-1]
    ids = np.full(len(text.ids) + 3 * len(starts) + 1, NO_TARGET, dtype=np.int32)
    ids[starts] = BOS_ID
    ids[starts + n_words + 1] = EOS_ID
    ids[np.arange(len(text.ids)) + np.repeat(starts + 1 - word_start, n_words)] = text.ids
    return Layout(ids, np.stack([starts, starts + n_words + 2], axis=1))


def running_text(text: TokenizedText) -> np.ndarray:
    """The split as one stream of ids: <S> words </S> <S> words </S> ..., sentences whole."""
    ids = sentence_layout(text, max_length=int(np.diff(text.sentences).max())).ids
    return ids[ids != NO_TARGET]


def window_layout(stream: np.ndarray, unroll_steps: int, offset: int) -> Layout:
    """Consecutive windows of `unroll_steps` tokens of the running text (<S> ... </S> <S> ...),
    the first at `offset` (>= 1, so that every position has both targets)."""
    starts = np.arange(offset, len(stream) - unroll_steps, unroll_steps)
    return Layout(stream, np.stack([starts, starts + unroll_steps], axis=1))


def bucketed_batches(order: np.ndarray, lengths: np.ndarray, size: int,
                     stream: np.random.Generator) -> list[np.ndarray]:
    """`order` cut into groups of `size` examples of similar length, in random order: examples
    are sorted by length within runs of BUCKET groups, so that a batch holds little padding
    while which examples meet stays random; the groups are then shuffled."""
    groups = []
    for start in range(0, len(order), size * BUCKET):
        run = order[start:start + size * BUCKET]
        run = run[np.argsort(lengths[run], kind="stable")]
        groups += [run[i:i + size] for i in range(0, len(run), size)]
    return [groups[j] for j in stream.permutation(len(groups))]


def char_table(types: list[str], max_chars: int) -> np.ndarray:
    """ELMo's character ids of every word type, (n_types + 1, max_chars); the last row, zeros,
    is what id NO_TARGET (-1) picks: a padding position."""
    table = np.zeros((len(types) + 1, max_chars), dtype=np.int16)
    table[:-1] = [word_char_ids(w, max_chars) for w in types]
    return table


class LMBatches(Sequence[Batch]):
    """Batch i holds the examples `rows[i]` of a layout: their characters, and per position the
    forward LM's target (the next token) and the backward LM's (the previous one) as vocabulary
    ids, NO_TARGET on padding."""

    def __init__(self, layout: Layout, rows: list[np.ndarray], chars: np.ndarray,
                 vocab_size: int) -> None:
        self.layout, self.rows, self.chars, self.vocab_size = layout, rows, chars, vocab_size

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Batch:
        spans = self.layout.spans[self.rows[i]]
        lengths = spans[:, 1] - spans[:, 0]
        # Row r: ids[start - 1 : end + 1], the example with one more id on either side.
        around = np.full((len(spans), lengths.max() + 2), NO_TARGET, dtype=np.int64)
        for row, (start, end) in enumerate(spans):
            around[row, :end - start + 2] = self.layout.ids[start - 1:end + 1]
        real = np.arange(lengths.max())[None] < lengths[:, None]
        tokens, next_ids, previous_ids = (np.where(real, a, NO_TARGET) for a in
                                          (around[:, 1:-1], around[:, 2:], around[:, :-2]))
        inputs = {"char_ids": torch.from_numpy(self.chars[tokens].astype(np.int64)),
                  "next_ids": torch.from_numpy(self._vocabulary_ids(next_ids)),
                  "previous_ids": torch.from_numpy(self._vocabulary_ids(previous_ids))}
        return Batch(inputs, int(real.sum()))

    def _vocabulary_ids(self, ids: np.ndarray) -> np.ndarray:
        return np.where(ids >= self.vocab_size, UNK_ID, ids)


# --- the language model ---------------------------------------------------------------------

class BiLMLanguageModel(nn.Module):
    """The biLM with its softmax: `forward(char_ids, next_ids, previous_ids)` returns the loss
    (L→ + L←) / 2 and metrics. In training, `<direction>_loss` (what the softmax minimises); in
    evaluation, the exact `<direction>_nll`, `nll` over both directions, and `unigram_nll`, the
    unigram model's on the same targets."""

    def __init__(self, bilm: ELMoBiLM, softmax: Softmax, dropout: float,
                 unigram_log_probs: torch.Tensor) -> None:
        super().__init__()
        self.bilm, self.softmax, self.dropout = bilm, softmax, dropout
        # (2, V): log p(w) of the unigram model, forward (</S> predicted) and backward (<S>).
        self.register_buffer("unigram_log_probs", unigram_log_probs, persistent=False)

    def forward(self, char_ids: torch.Tensor, next_ids: torch.Tensor,
                previous_ids: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
        """char_ids (B, T, max_chars) with <S> and </S> in place; next_ids and previous_ids
        (B, T) vocabulary ids, NO_TARGET where nothing is predicted."""
        out = self.bilm(char_ids, add_boundaries=False)
        metrics: Metrics = {}
        by_direction, unigram = [], 0.0
        for d, (name, top, targets) in enumerate((("forward", out.forward[-1], next_ids),
                                                  ("backward", out.backward[-1], previous_ids))):
            real = out.mask & (targets != NO_TARGET)
            h, targets = top[real], targets[real]
            if self.training:
                losses = self.softmax.loss(F.dropout(h, self.dropout, training=True), targets)
                metrics[f"{name}_loss"] = (losses.detach().sum(), float(len(losses)))
            else:
                losses = self.softmax.nll(h, targets)
                metrics[f"{name}_nll"] = (losses.sum(), float(len(losses)))
                unigram = unigram - self.unigram_log_probs[d, targets].sum()
            by_direction.append(losses)
        forward, backward = by_direction
        if not self.training:
            n = float(len(forward) + len(backward))
            metrics["nll"] = (forward.sum() + backward.sum(), n)
            metrics["unigram_nll"] = (unigram, n)
        return (forward.mean() + backward.mean()) / 2, metrics


def unigram_log_probs(counts: np.ndarray, vocab_size: int, n_sentences: int) -> torch.Tensor:
    """log p(w) = log((c(w) + 1) / (sum_v c(v) + V)), add-one estimates from the training text
    over the V vocabulary entries, words outside the vocabulary counted as <UNK>. The boundary
    a direction predicts (</S> forward, <S> backward) counts once per sentence; the other one
    is never a target. Rows: forward, backward."""
    c = counts[:vocab_size].astype(np.float64)
    c[UNK_ID] += counts[vocab_size:].sum()
    c[[BOS_ID, EOS_ID]] = 0
    by_direction = np.stack([c, c])
    by_direction[0, EOS_ID] = by_direction[1, BOS_ID] = n_sentences
    p = (by_direction + 1) / (by_direction.sum(1, keepdims=True) + vocab_size)
    return torch.from_numpy(np.log(p)).float()


def unigram_perplexity(layout: Layout, log_probs: torch.Tensor, vocab_size: int) -> float:
    """The unigram model's perplexity on every target of a sentence layout, both directions."""
    ids = layout.ids[layout.ids != NO_TARGET]
    ids = torch.from_numpy(np.where(ids < vocab_size, ids, UNK_ID).astype(np.int64))
    forward = -log_probs[0, ids[ids != BOS_ID]].double().sum()
    backward = -log_probs[1, ids[ids != EOS_ID]].double().sum()
    return math.exp(float(forward + backward) / (2 * int((ids != BOS_ID).sum())))


# --- the objective --------------------------------------------------------------------------

class ElmoObjective(Objective):
    """ELMo's biLM on a word vocabulary of the corpus, with the char-CNN and LSTM shape of the
    config (bilm-tf's option names). `softmax(vocab_size, dim)` makes the softmax layer (a
    `objective/softmax` config); `unroll_steps` null trains on whole sentences (cut at
    `max_length` words), a number on windows of that many tokens of running text."""

    def __init__(self, name: str, lstm: dict, char_cnn: dict,
                 softmax: Callable[[int, int], Softmax], seed: int, vocab_size: int,
                 dropout: float, unroll_steps: int | None, max_length: int) -> None:
        self.name, self.seed = name, seed
        self.options = {"lstm": dict(lstm), "char_cnn": dict(char_cnn)}
        self.max_vocab_size, self.dropout, self.softmax = vocab_size, dropout, softmax
        self.unroll_steps, self.max_length = unroll_steps, max_length

    def check(self) -> None:
        """Raise ProbingError on settings that cannot work (here rather than in __init__, whose
        errors Hydra's instantiate wraps into a traceback)."""
        check_options(self.options, f"model {self.name}")
        unroll_steps = 1 if self.unroll_steps is None else self.unroll_steps
        for key, value, least in (("vocab_size", self.max_vocab_size, len(SPECIALS) + 1),
                                  ("max_length", self.max_length, 1),
                                  ("unroll_steps", unroll_steps, 1)):
            if value < least:
                raise ProbingError(f"objective.{key} must be at least {least}; got {value}")

    def prepare(self, corpus: TextCorpus, cache_dir: Path) -> None:
        self.check()
        folder = word_corpus(corpus, cache_dir)
        types = json.loads((folder / "types.json").read_text())
        counts = np.load(folder / "counts.npy")
        n_train_words = int((counts[len(SPECIALS):] > 0).sum())
        self.vocab = types[:min(self.max_vocab_size, len(SPECIALS) + n_train_words)]
        self.chars = char_table(types, self.options["char_cnn"]["max_characters_per_token"])
        train, heldout = (TokenizedText.open(folder / split) for split in CORPUS_SPLITS)
        if self.unroll_steps is None:
            self.train = sentence_layout(train, self.max_length)
        else:  # cut into windows anew every epoch
            self.stream = running_text(train)
        self.heldout = sentence_layout(heldout, self.max_length)
        self.unigram = unigram_log_probs(counts, len(self.vocab), train.n_sentences)
        in_vocab = counts[:len(self.vocab)].sum() / max(1, counts.sum())
        log.info("ELMo vocabulary: %d entries (%.2f%% of training words; the rest are %s); "
                 "unigram baseline on all held-out text: perplexity %.2f", len(self.vocab),
                 100 * in_vocab, UNK, unigram_perplexity(self.heldout, self.unigram,
                                                         len(self.vocab)))

    def model_options(self) -> dict:
        """options.json: the shape in bilm-tf's names, plus its training keys for the record."""
        return {**self.options, "n_tokens_vocab": len(self.vocab), "bidirectional": True,
                "dropout": self.dropout, "unroll_steps": self.unroll_steps}

    def build_model(self) -> BiLMLanguageModel:
        bilm = ELMoBiLM(self.model_options(), dropout=self.dropout, seed=self.seed)
        return self._language_model(bilm)

    def _language_model(self, bilm: ELMoBiLM) -> BiLMLanguageModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            softmax = self.softmax(len(self.vocab), self.options["lstm"]["projection_dim"])
        return BiLMLanguageModel(bilm, softmax, self.dropout, self.unigram)

    def load_model(self, folder: Path) -> BiLMLanguageModel:
        options = read_options(folder / OPTIONS_NAME)
        for key in self.options:
            if options[key] != self.options[key]:
                raise ProbingError(f"{folder / OPTIONS_NAME}: its '{key}' options {options[key]} "
                                   f"differ from objective.{key} {self.options[key]}; resume "
                                   "with the objective config the run started with")
        if (folder / VOCAB_NAME).read_text().split("\n")[:-1] != self.vocab:
            raise ProbingError(f"{folder / VOCAB_NAME} differs from the vocabulary of this text "
                               "and objective.vocab_size; resume with the text and vocabulary "
                               "size the run started with")
        bilm = ELMoBiLM(options, dropout=self.dropout, seed=self.seed)
        bilm.load_state_dict(read_weights(folder / WEIGHTS_NAME, options))
        model = self._language_model(bilm)
        model.softmax.load_state_dict(load_file(folder / SOFTMAX_NAME))
        return model

    def save(self, model: BiLMLanguageModel, folder: Path) -> None:
        save_elmo(model.bilm, folder)
        write_text_atomic(folder / VOCAB_NAME, "".join(f"{w}\n" for w in self.vocab))
        save_file({k: v.contiguous() for k, v in model.softmax.state_dict().items()},
                  folder / SOFTMAX_NAME)

    def train_batches(self, epoch: int, batch_size: int, rank: int, world_size: int
                      ) -> LMBatches:
        if self.unroll_steps is None:
            layout = self.train
        else:
            offset = 1 + int(random_stream(self.seed, 0, epoch, OFFSET).integers(self.unroll_steps))
            layout = window_layout(self.stream, self.unroll_steps, offset)
        stream = random_stream(self.seed, 0, epoch, ORDER)
        per_step = batch_size * world_size
        order = stream.permutation(len(layout.spans))
        steps = bucketed_batches(order[:len(order) // per_step * per_step], layout.lengths,
                                 per_step, stream)
        rows = step_rows(np.concatenate([order[:0], *steps]), batch_size, rank, world_size)
        return LMBatches(layout, rows, self.chars, len(self.vocab))

    def heldout_batches(self, batch_size: int, rank: int, world_size: int) -> LMBatches:
        stream = random_stream(self.seed, 1, 0, ORDER)
        mine = stream.permutation(len(self.heldout.spans))[rank::world_size]
        rows = bucketed_batches(mine, self.heldout.lengths, batch_size, stream)
        return LMBatches(self.heldout, rows, self.chars, len(self.vocab))

    def derived_metrics(self, means: dict[str, float]) -> dict[str, float]:
        """perplexity = exp(nll) per direction, both, and the unigram baseline's."""
        return {name.removesuffix("nll") + "perplexity": math.exp(value)
                for name, value in means.items() if name.endswith("nll")}
