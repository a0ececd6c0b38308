"""BERT pretraining (Devlin et al. 2019): masked language model + next sentence prediction.

The corpus is tokenised once into WordPiece ids and cached on disk, memory-mapped. Every epoch
then draws its examples afresh, as the original does, from (seed, epoch):

- sentence pairs: consecutive sentences of a document are packed until they reach the target
  length (max_seq_length - 3 pieces, or with probability `short_seq_prob` a shorter one drawn
  uniformly from [2, max_seq_length - 3]) and cut at a random sentence boundary into segments A
  and B; half the time B is replaced by a run of sentences from a random other document
  (`random_next`), and the sentences it displaced go back to the document. Over-long pairs are
  trimmed a piece at a time from the longer segment, at its front or back at random.
- masks: `masked_lm_prob` of the pieces (at most `max_predictions`, never [CLS] or [SEP]) are
  predicted; of these 80% are replaced by [MASK], 10% by a random piece and 10% kept.

Every example has its own random stream (seed, split, epoch, example), so its masks do not
depend on batching or on the number of processes. Pairs are stored as spans of the flat id
array, so an epoch's examples cost five integers each.

The MLM head runs at the masked positions only (as the original does), not over the whole
sequence: loss = CE(MLM at masked positions) + CE(NSP on the pooled [CLS]).
"""

import functools
import logging
from collections.abc import Sequence
from enum import StrEnum
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForPreTraining

from probing.models.masking import Masking
from probing.pretrain.corpus import CORPUS_SPLITS, TextCorpus
from probing.pretrain.objective import Batch, Metrics, Objective
from probing.pretrain.token_cache import TokenizedText, cached_folder, random_stream, step_rows
from probing.pretrain.tokenizer import SPECIAL_TOKENS, encode, load_tokenizer, train_wordpiece
from probing.utils.errors import ProbingError

log = logging.getLogger(__name__)

CACHE_VERSION = 2
# Tags that keep the random streams of one seed apart.
PAIRS, ORDER, MASKS = 0, 1, 2


class PositionInit(StrEnum):
    """How BERT's learned position embeddings start."""

    random = "random"  # BERT's: N(0, initializer_range)
    # Sinusoids (Vaswani et al. 2017) of that scale: attending at a fixed offset is then one
    # linear map of them.
    sinusoidal = "sinusoidal"


def tokenized_corpus(corpus: TextCorpus, cache_dir: Path, vocab_size: int, lowercase: bool,
                     min_frequency: int) -> Path:
    """The cache folder of the corpus tokenised with a WordPiece vocabulary learned from its
    training split: `tokenizer/`, `train/` and `heldout/` (TokenizedText), `meta.json`."""
    settings = {"corpus": corpus.fingerprint(), "vocab_size": vocab_size, "lowercase": lowercase,
                "min_frequency": min_frequency, "version": CACHE_VERSION,
                "tokenizers": metadata.version("tokenizers")}

    def build(folder: Path) -> dict:
        splits = corpus.read()
        log.info("learning a WordPiece vocabulary of %d pieces", vocab_size)
        tokenizer = train_wordpiece([s for doc in splits.train for s in doc.sentences],
                                    vocab_size, lowercase, min_frequency)
        tokenizer.save_pretrained(folder / "tokenizer")
        sizes = {}
        for split in CORPUS_SPLITS:
            text = TokenizedText.from_documents(functools.partial(encode, tokenizer),
                                                getattr(splits, split))
            text.save(folder / split)
            sizes[split] = {"documents": text.n_documents, "sentences": text.n_sentences,
                            "pieces": len(text.ids)}
        log.info("tokenised corpus: %s", sizes)
        return {"sizes": sizes, "files": [str(f) for f in corpus.files()]}

    return cached_folder(cache_dir, f"bert-{corpus.name}", settings, build)


def make_pairs(text: TokenizedText, max_pieces: int, short_seq_prob: float,
               rng: np.random.Generator) -> np.ndarray:
    """An epoch's sentence-pair examples as spans of `text.ids`: rows of (a_start, a_end,
    b_start, b_end, random_next), with at most `max_pieces` pieces in A and B together."""
    pairs = [pair for doc in range(text.n_documents)
             for pair in _document_pairs(text, doc, max_pieces, short_seq_prob, rng)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 5)


def _document_pairs(text: TokenizedText, doc: int, max_pieces: int, short_seq_prob: float,
                    rng: np.random.Generator) -> list[tuple[int, ...]]:
    offsets = text.sentences
    start, last = int(text.documents[doc]), int(text.documents[doc + 1])
    pairs = []
    while start < last:
        target = max_pieces
        if rng.random() < short_seq_prob:
            target = int(rng.integers(2, max_pieces + 1))
        # The chunk is sentences start..end-1: the fewest that reach the target, or the rest.
        end = int(np.searchsorted(offsets, offsets[start] + target))
        end = min(max(end, start + 1), last)
        n_a = 1 if end - start == 1 else int(rng.integers(1, end - start))
        a = (int(offsets[start]), int(offsets[start + n_a]))
        random_next = end - start == 1 or rng.random() < 0.5
        if random_next:
            b = _random_segment(text, doc, target - (a[1] - a[0]), rng)
            end = start + n_a
        else:
            b = (a[1], int(offsets[end]))
        pairs.append((*_truncate(a, b, max_pieces, rng), int(random_next)))
        start = end
    return pairs


def _random_segment(text: TokenizedText, doc: int, target: int, rng: np.random.Generator
                    ) -> tuple[int, int]:
    """Sentences from a random place of a random other document, at least one, until they
    reach `target` pieces or the document ends."""
    other = int(rng.integers(text.n_documents - 1))
    other += other >= doc
    first, last = int(text.documents[other]), int(text.documents[other + 1])
    start = int(rng.integers(first, last))
    offsets = text.sentences
    end = int(np.searchsorted(offsets, offsets[start] + target))
    end = min(max(end, start + 1), last)
    return int(offsets[start]), int(offsets[end])


def _truncate(a: tuple[int, int], b: tuple[int, int], max_pieces: int,
              rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Trim A and B to `max_pieces` together as BERT does, one piece at a time from the longer
    one (B on a tie), at its front or back at random. The counts are taken at once: the longer
    segment loses the difference first, then the two lose pieces in turn; how many of a
    segment's cuts fall at its front is binomial(cuts, 1/2)."""
    len_a, len_b = a[1] - a[0], b[1] - b[0]
    excess = len_a + len_b - max_pieces
    if excess <= 0:
        return (*a, *b)
    first_a = min(max(len_a - len_b, 0), excess)
    first_b = min(max(len_b - len_a, 0), excess)
    rest = excess - first_a - first_b
    cut_a, cut_b = first_a + rest // 2, first_b + (rest + 1) // 2
    front_a, front_b = int(rng.binomial(cut_a, 0.5)), int(rng.binomial(cut_b, 0.5))
    return a[0] + front_a, a[1] - (cut_a - front_a), b[0] + front_b, b[1] - (cut_b - front_b)


class PairBatches(Sequence[Batch]):
    """Batches of sentence-pair examples: batch i holds the examples `rows[i]` of `pairs`."""

    def __init__(self, text: TokenizedText, pairs: np.ndarray, rows: list[np.ndarray],
                 masking: Masking, cls_id: int, sep_id: int, seed: tuple[int, ...]) -> None:
        self.text, self.pairs, self.rows, self.masking = text, pairs, rows, masking
        self.cls_id, self.sep_id, self.seed = cls_id, sep_id, seed

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Batch:
        examples = [self.example(int(j)) for j in self.rows[i]]
        length = max(len(pieces) for pieces, *_ in examples)
        n_predictions = max(len(positions) for _, _, positions, _ in examples)
        size = len(examples)
        input_ids = torch.zeros(size, length, dtype=torch.long)
        token_type_ids = torch.zeros(size, length, dtype=torch.long)
        attention_mask = torch.zeros(size, length, dtype=torch.long)
        mlm_positions = torch.zeros(size, n_predictions, dtype=torch.long)
        mlm_labels = torch.full((size, n_predictions), -100, dtype=torch.long)
        for row, (pieces, segments, positions, labels) in enumerate(examples):
            input_ids[row, :len(pieces)] = torch.from_numpy(pieces)
            token_type_ids[row, :len(pieces)] = torch.from_numpy(segments)
            attention_mask[row, :len(pieces)] = 1
            mlm_positions[row, :len(positions)] = torch.from_numpy(positions)
            mlm_labels[row, :len(labels)] = torch.from_numpy(labels)
        nsp_labels = torch.from_numpy(self.pairs[self.rows[i], 4])
        inputs = {"input_ids": input_ids, "token_type_ids": token_type_ids,
                  "attention_mask": attention_mask, "mlm_positions": mlm_positions,
                  "mlm_labels": mlm_labels, "nsp_labels": nsp_labels}
        return Batch(inputs, int(attention_mask.sum()))

    def example(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(input pieces, segment ids, masked positions, their labels) of example j:
        [CLS] A [SEP] B [SEP], masked from example j's own random stream."""
        a_start, a_end, b_start, b_end, _ = self.pairs[j]
        ids = self.text.ids
        len_a, len_b = a_end - a_start, b_end - b_start
        pieces = np.concatenate([[self.cls_id], ids[a_start:a_end], [self.sep_id],
                                 ids[b_start:b_end], [self.sep_id]]).astype(np.int64)
        segments = np.zeros(len(pieces), dtype=np.int64)
        segments[len_a + 2:] = 1
        maskable = np.ones(len(pieces), dtype=bool)
        maskable[[0, len_a + 1, len_a + len_b + 2]] = False
        inputs, positions, labels = self.masking(pieces, maskable,
                                                 np.random.default_rng([*self.seed, j]))
        return inputs, segments, positions, labels


def sinusoids(positions: int, width: int) -> torch.Tensor:
    """The position encodings of Vaswani et al. (2017), scaled to a root mean square of 1:
    PE[p, 2i] = sin(p / 10000^(2i/width)), PE[p, 2i+1] = cos(p / 10000^(2i/width))."""
    inverse_wavelengths = 10000.0 ** (-torch.arange(0, width, 2) / width)
    angles = torch.arange(positions).unsqueeze(1) * inverse_wavelengths
    table = torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(positions, -1)
    return table[:, :width] * 2**0.5


class BertPretraining(nn.Module):
    """`BertForPreTraining` with the loss of the original: CE of the MLM head at the masked
    positions + CE of the NSP head on the pooled [CLS] vector."""

    def __init__(self, net: BertForPreTraining) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                attention_mask: torch.Tensor, mlm_positions: torch.Tensor,
                mlm_labels: torch.Tensor, nsp_labels: torch.Tensor
                ) -> tuple[torch.Tensor, Metrics]:
        hidden, pooled = self.net.bert(input_ids=input_ids, token_type_ids=token_type_ids,
                                       attention_mask=attention_mask, return_dict=False)[:2]
        index = mlm_positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        mlm_logits = self.net.cls.predictions(hidden.gather(1, index)).float()
        nsp_logits = self.net.cls.seq_relationship(pooled).float()
        predicted = mlm_labels != -100
        n_predicted = predicted.sum()
        mlm_loss = F.cross_entropy(mlm_logits[predicted], mlm_labels[predicted])
        nsp_loss = F.cross_entropy(nsp_logits, nsp_labels)
        mlm_correct = (mlm_logits[predicted].argmax(-1) == mlm_labels[predicted]).sum()
        nsp_correct = (nsp_logits.argmax(-1) == nsp_labels).sum()
        n_pairs = len(nsp_labels)
        metrics = {"mlm_loss": (mlm_loss.detach() * n_predicted, n_predicted),
                   "mlm_acc": (mlm_correct, n_predicted),
                   "nsp_loss": (nsp_loss.detach() * n_pairs, float(n_pairs)),
                   "nsp_acc": (nsp_correct, float(n_pairs))}
        return mlm_loss + nsp_loss, metrics


class BertObjective(Objective):
    """BERT's masked LM + next sentence prediction on a WordPiece vocabulary of the corpus,
    with a `BertForPreTraining` of the configured size. Checkpoints are Hugging Face folders
    (model and tokenizer) that `AutoModel` / `AutoTokenizer` load as an ordinary BERT."""

    def __init__(self, name: str, seed: int, vocab_size: int, lowercase: bool,
                 min_frequency: int, hidden_size: int, num_layers: int, num_heads: int,
                 intermediate_size: int, dropout: float, max_seq_length: int,
                 short_seq_prob: float, masked_lm_prob: float, max_predictions: int,
                 position_init: PositionInit | str) -> None:
        if max_seq_length < 5:
            raise ProbingError(f"objective.max_seq_length={max_seq_length} leaves no room for a "
                               "sentence pair: [CLS] A [SEP] B [SEP] needs at least 5")
        if hidden_size % num_heads:
            raise ProbingError(f"objective.hidden_size={hidden_size} does not split into "
                               f"objective.num_heads={num_heads} heads of equal width")
        self.name, self.seed = name, seed
        self.vocab = {"vocab_size": vocab_size, "lowercase": lowercase,
                      "min_frequency": min_frequency}
        self.shape = {"hidden_size": hidden_size, "num_hidden_layers": num_layers,
                      "num_attention_heads": num_heads, "intermediate_size": intermediate_size,
                      "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
        self.max_seq_length = max_seq_length
        self.short_seq_prob = short_seq_prob
        self.masked_lm_prob, self.max_predictions = masked_lm_prob, max_predictions
        if position_init not in PositionInit.__members__:
            raise ProbingError(f"objective.position_init={position_init!r}: expected one of "
                               f"{', '.join(PositionInit)}")
        self.position_init = PositionInit(position_init)

    def prepare(self, corpus: TextCorpus, cache_dir: Path) -> None:
        folder = tokenized_corpus(corpus, cache_dir, **self.vocab)
        self.tokenizer = load_tokenizer(folder / "tokenizer")
        self.tokenizer.model_max_length = self.max_seq_length
        self.text = {split: TokenizedText.open(folder / split) for split in CORPUS_SPLITS}
        for split, text in self.text.items():
            if text.n_documents < 2:
                raise ProbingError(
                    f"corpus {corpus.name}: the {split} text has {text.n_documents} document(s); "
                    "next sentence prediction draws random segments from another document, so "
                    "it needs at least two (give more files, or hold out a fraction of each "
                    "with text.heldout_fraction)")
        self.masking = Masking(self.tokenizer.mask_token_id, len(self.tokenizer),
                               len(SPECIAL_TOKENS), self.masked_lm_prob, self.max_predictions)

    def config(self) -> BertConfig:
        return BertConfig(vocab_size=len(self.tokenizer), type_vocab_size=2,
                          max_position_embeddings=self.max_seq_length,
                          pad_token_id=self.tokenizer.pad_token_id, **self.shape)

    def build_model(self) -> nn.Module:
        net = BertForPreTraining(self.config())
        if self.position_init is PositionInit.sinusoidal:
            table = net.bert.embeddings.position_embeddings.weight
            with torch.no_grad():
                table.copy_(sinusoids(*table.shape) * net.config.initializer_range)
        return BertPretraining(net)

    def load_model(self, folder: Path) -> nn.Module:
        return BertPretraining(BertForPreTraining.from_pretrained(folder))

    def save(self, model: nn.Module, folder: Path) -> None:
        model.net.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def train_batches(self, epoch: int, batch_size: int, rank: int, world_size: int
                      ) -> PairBatches:
        pairs = self._pairs("train", epoch)
        order = random_stream(self.seed, 0, epoch, ORDER).permutation(len(pairs))
        return self._batches("train", epoch, pairs,
                             step_rows(order, batch_size, rank, world_size))

    def heldout_batches(self, batch_size: int, rank: int, world_size: int) -> PairBatches:
        pairs = self._pairs("heldout", 0)
        mine = np.arange(rank, len(pairs), world_size)
        rows = [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]
        return self._batches("heldout", 0, pairs, rows)

    def _pairs(self, split: str, epoch: int) -> np.ndarray:
        return make_pairs(self.text[split], self.max_seq_length - 3, self.short_seq_prob,
                          random_stream(self.seed, CORPUS_SPLITS.index(split), epoch, PAIRS))

    def _batches(self, split: str, epoch: int, pairs: np.ndarray, rows: list[np.ndarray]
                 ) -> PairBatches:
        return PairBatches(self.text[split], pairs, rows, self.masking,
                           self.tokenizer.cls_token_id, self.tokenizer.sep_token_id,
                           (self.seed, CORPUS_SPLITS.index(split), epoch, MASKS))
