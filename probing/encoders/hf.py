"""Any BERT-family Hugging Face encoder, by hub name or local folder, as word vectors per layer."""

import hashlib
import json
import logging
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

from probing.encoders.alignment import LongWords, Pooling, Row, WordPooling, plan_windows
from probing.encoders.base import Encoder, LayerEdit, hash_module
from probing.models.checkpoints import checkpoint_provenance
from probing.models.masking import Masking
from probing.utils.devices import resolve_device
from probing.utils.errors import ProbingError

log = logging.getLogger(__name__)

# Keys of a model config that name where it came from rather than what it computes.
_PROVENANCE_KEYS = {"transformers_version", "architectures", "dtype", "torch_dtype"}
DTYPES = ("float32", "float16", "bfloat16")  # what a model's weights may be loaded as
_MEMO_WORDS = 1 << 20  # word types whose pieces are remembered
_CHUNK = 4096  # sentences tokenized together when counting pieces
_MLM_BATCH = 32  # sentences scored together by the masked-LM head
_MLM_HEADS = ("ForMaskedLM", "ForPreTraining")  # architectures saved with a masked-LM head


class HFEncoder(Encoder):
    """`AutoModel` with `output_hidden_states`: layer 0 is the embedding output, layer l the
    output of Transformer block l.

    Words are tokenized into pieces and a word's vector pools its pieces' vectors (`pooling`:
    first, mean or last). A sentence with more pieces than the model's window (`max_length`,
    special tokens included) is encoded in overlapping windows of whole words that start
    `stride` pieces apart; each word takes its vectors from the window where it sits most
    centrally. Nothing is cut, except a single word with more pieces than the window (a long
    URL, say): `long_words="error"` stops with its name, `"truncate"` encodes its leading
    characters that fit and logs a warning. A word the tokenizer maps to no piece at all (an
    empty, whitespace-only or zero-width word: "", " ", "\\u200b", "\\ufeff", a stray control
    character) is encoded as the tokenizer's unknown token, one piece, so that every word keeps
    a vector; extraction warns once per corpus how many such words it holds and where the
    first one is (`check_words`). Other words' vectors do not change. `random_init` builds the
    same architecture with fresh weights from `seed`, the usual random-encoder baseline.
    """

    def __init__(self, name_or_path: str, name: str, pooling: Pooling | str,
                 max_length: int | None, stride: int | None, device: str, dtype: str,
                 random_init: bool, seed: int, long_words: LongWords | str) -> None:
        try:
            self.long_words = LongWords(long_words)
        except ValueError:
            raise ProbingError(f"encoder.long_words must be error or truncate, not "
                               f"{long_words!r}") from None
        self.name = name
        self.name_or_path = str(name_or_path)
        self.pooling = Pooling(pooling)
        if dtype not in DTYPES:
            raise ProbingError(f"encoder.dtype={dtype}: use one of {', '.join(DTYPES)}")
        self.device = resolve_device(device)
        self.random_init = random_init
        self.tokenizer = _load(AutoTokenizer, self.name_or_path)
        if not self.tokenizer.is_fast:
            raise ProbingError(f"{self.name_or_path}: a fast (Rust) tokenizer is needed to align "
                               "pieces to words; this model only has a slow one")
        config = _load(AutoConfig, self.name_or_path)
        if random_init:
            torch.manual_seed(seed)
            model = AutoModel.from_config(config, dtype=getattr(torch, dtype))
        else:
            model = _load(AutoModel, self.name_or_path, dtype=getattr(torch, dtype))
        self.model = model.to(self.device).eval()
        self.n_layers = config.num_hidden_layers + 1
        self.dim = config.hidden_size
        window = min(self.tokenizer.model_max_length, config.max_position_embeddings)
        self.max_length = max_length or window
        n_special = self.tokenizer.num_special_tokens_to_add()
        self.max_pieces = self.max_length - n_special
        self.stride = stride or self.max_pieces // 2
        if self.max_length > window or not 0 < self.stride <= self.max_pieces:
            raise ProbingError(
                f"encoder {self.name}: need max_length <= {window} (the model's window) and "
                f"0 < stride <= max_length - {n_special}; got max_length={self.max_length}, "
                f"stride={self.stride}")
        self._fingerprint: str | None = None
        self._edit: LayerEdit | None = None
        self._mlm: nn.Module | None = None  # the masked-LM model, loaded when first asked for
        self._pieces: dict[str, list[int]] = {}
        self._specials = _special_tokens(self.tokenizer)

    @property
    def settings(self) -> dict:
        # Refusing long words never changes a vector, so only cutting them enters the key.
        cut = {"long_words": "truncate"} if self.long_words is LongWords.truncate else {}
        return {"pooling": self.pooling.value, "max_length": self.max_length,
                "stride": self.stride, **cut}

    def fingerprint(self) -> str:
        clean = self._clean_fingerprint()
        if self._edit is None:
            return clean
        return hashlib.sha256(f"{clean} edit {self._edit.layer} {self._edit.key}".encode()
                              ).hexdigest()

    @contextmanager
    def edited(self, edit: LayerEdit) -> Iterator["HFEncoder"]:
        """A forward hook on the module whose output is layer `edit.layer` (the embeddings for
        0, Transformer block l for l >= 1) replaces that output by the edited one, so that the
        model's hidden state l and every block above see it."""
        if not 0 <= edit.layer < self.n_layers:
            raise ProbingError(f"encoder {self.name} has layers 0..{self.n_layers - 1}, so no "
                               f"layer {edit.layer} to edit")
        if self._edit is not None:
            raise ProbingError(f"encoder {self.name} is already edited at layer "
                               f"{self._edit.layer}; apply one edit at a time")

        def replace_output(module: nn.Module, args: Any, output: Any) -> Any:
            if isinstance(output, tuple):
                return (edit.apply(output[0]), *output[1:])
            return edit.apply(output)

        # first among the hooks, so that whatever records the hidden states sees the edit
        handle = self._layer_module(edit.layer).register_forward_hook(replace_output,
                                                                      prepend=True)
        self._edit = edit
        try:
            yield self
        finally:
            handle.remove()
            self._edit = None

    def _layer_module(self, layer: int) -> nn.Module:
        """The module whose output is hidden state `layer`."""
        if layer == 0:
            embeddings = getattr(self.model, "embeddings", None)
            if isinstance(embeddings, nn.Module):
                return embeddings
        blocks = next((m for m in self.model.modules() if isinstance(m, nn.ModuleList)
                       and len(m) == self.n_layers - 1), None)
        if blocks is None or layer == 0:
            raise ProbingError(f"encoder {self.name}: {type(self.model).__name__} has no "
                               f"{'embeddings module' if layer == 0 else 'list of blocks'} "
                               f"where an edit of layer {layer} could be applied")
        return blocks[layer - 1]

    def masked_lm(self, sentences: list[list[str]], seed: int) -> np.ndarray | None:
        """BERT's masking of pretraining (15% of a sentence's pieces, at least one and
        without its cap per sequence: 80% the mask token, 10% a random piece, 10% kept), drawn
        from (seed, sentence); a random piece is drawn above the tokenizer's count of special
        pieces (ours come first; a hub vocabulary may place some higher). A sentence longer
        than the window is scored on its first window's pieces."""
        head = self._masked_lm_model()
        if head is None:
            return None
        masking = Masking(self.tokenizer.mask_token_id, len(self.tokenizer),
                          len(self.tokenizer.all_special_ids), max_predictions=self.max_pieces)
        prefix, suffix = self._specials
        scored = np.zeros((len(sentences), 3))
        order = np.argsort([len(words) for words in sentences], kind="stable")
        for start in range(0, len(order), _MLM_BATCH):
            batch = order[start:start + _MLM_BATCH]
            rows = []
            for i in batch:
                pieces = list(chain.from_iterable(self._fitting(
                    sentences[i], self._word_pieces(sentences[i]))))[:self.max_pieces]
                ids = np.array([*prefix, *pieces, *suffix], dtype=np.int64)
                maskable = np.zeros(len(ids), dtype=bool)
                maskable[len(prefix):len(prefix) + len(pieces)] = True
                rows.append(masking(ids, maskable, np.random.default_rng([seed, int(i)])))
            scored[batch] = self._masked_lm_batch(head, rows)
        return scored

    def _masked_lm_batch(self, head: nn.Module, rows: list[tuple]) -> np.ndarray:
        """Per row (inputs, masked positions, original pieces): nats, masked, right."""
        width = max(len(ids) for ids, _, _ in rows)
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_token_id)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (ids, _, _) in enumerate(rows):
            input_ids[r, :len(ids)] = torch.from_numpy(ids)
            attention[r, :len(ids)] = 1
        inputs = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self.tokenizer.model_input_names:
            inputs["token_type_ids"] = torch.zeros_like(input_ids)
        with torch.inference_mode():
            logits = head(**{k: v.to(self.device) for k, v in inputs.items()}).logits.float()
        scored = np.zeros((len(rows), 3))
        for r, (_, positions, labels) in enumerate(rows):
            predicted = logits[r, torch.from_numpy(positions).to(self.device)]
            target = torch.from_numpy(labels).to(self.device)
            nats = torch.nn.functional.cross_entropy(predicted, target, reduction="sum")
            right = (predicted.argmax(-1) == target).sum()
            scored[r] = (nats.item(), len(labels), right.item())
        return scored

    def _masked_lm_model(self) -> nn.Module | None:
        """The checkpoint's masked-LM model around this encoder's own model (so that an edit
        of it applies), or None where the checkpoint has no trained masked-LM head."""
        architectures = self.model.config.architectures or []  # as the checkpoint saved them
        if self.random_init or (architectures and not any(
                name.endswith(_MLM_HEADS) for name in architectures)):
            return None  # a bare encoder (a sentence encoder's checkpoint): nothing to load
        if self._mlm is None:
            try:
                model, info = AutoModelForMaskedLM.from_pretrained(
                    self.name_or_path, output_loading_info=True, dtype=self.model.dtype)
            except (OSError, ValueError):  # an architecture with no masked-LM class
                return None
            prefix = model.base_model_prefix
            if any(not key.startswith(prefix) for key in info["missing_keys"]):
                return None  # the head would be random: a sentence encoder's checkpoint
            setattr(model, prefix, self.model)
            self._mlm = model.to(self.device).eval()
        return self._mlm

    def _clean_fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            config = {k: v for k, v in self.model.config.to_dict().items()
                      if not k.startswith("_") and k not in _PROVENANCE_KEYS}
            digest.update(type(self.model).__name__.encode())
            digest.update(json.dumps(config, sort_keys=True, default=str).encode())
            digest.update(self.tokenizer.backend_tokenizer.to_str().encode())
            hash_module(self.model, digest)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def provenance(self) -> dict:
        return {} if self.random_init else checkpoint_provenance(self.name_or_path)

    def sizes(self, sentences: list[list[str]]) -> list[int]:
        n_special = sum(map(len, self._specials))
        return [sum(counts) + n_special for counts in self._piece_counts(sentences)]

    def prepare(self, sentences: list[list[str]]) -> "PieceBatch":
        """Pieces of every word (from a per-word memo: a word's pieces do not depend on its
        neighbours), windows for long sentences, padded model inputs and the pooling weights."""
        rows: list[Row] = []
        for words in sentences:
            pieces = self._fitting(words, self._word_pieces(words))
            counts = [len(p) for p in pieces]
            rows.extend(Row(pieces[w.start:w.end], w.keep_start - w.start, w.keep_end - w.start)
                        for w in plan_windows(counts, self.max_pieces, self.stride))
        prefix, suffix = self._specials
        ids = [[*prefix, *chain.from_iterable(row.pieces), *suffix] for row in rows]
        lengths = np.array([len(row_ids) for row_ids in ids])
        width = int(lengths.max())
        attention = np.arange(width) < lengths[:, None]
        input_ids = np.full((len(ids), width), self.tokenizer.pad_token_id, np.int64)
        input_ids[attention] = np.fromiter(chain.from_iterable(ids), np.int64, lengths.sum())
        inputs = {"input_ids": torch.from_numpy(input_ids),
                  "attention_mask": torch.from_numpy(attention.astype(np.int64))}
        if "token_type_ids" in self.tokenizer.model_input_names:
            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
        return PieceBatch(inputs, WordPooling.of(rows, self.pooling, len(prefix), width))

    def forward(self, prepared: "PieceBatch") -> tuple[torch.Tensor, ...]:
        inputs = {k: v.to(self.device) for k, v in prepared.inputs.items()}
        with torch.inference_mode():
            return self.model(**inputs, output_hidden_states=True).hidden_states

    def words(self, prepared: "PieceBatch", output: tuple[torch.Tensor, ...],
              dtype: torch.dtype) -> torch.Tensor:
        """Each layer's piece vectors gathered (and averaged) into word vectors, written
        straight into the output in `dtype` (no float32 copy of every layer first)."""
        with torch.inference_mode():
            words = torch.empty(len(prepared.pooling.first), len(output), self.dim, dtype=dtype,
                                device=output[0].device)
            for i, layer in enumerate(output):
                words[:, i] = prepared.pooling(layer.float())
            return words.cpu()

    def _word_pieces(self, words: list[str]) -> list[list[int]]:
        """Piece ids of each word; words not seen before are tokenized in one call."""
        new = list({w: None for w in words if w not in self._pieces})
        if new:
            if len(self._pieces) + len(new) > _MEMO_WORDS:  # memory bounded on any corpus
                self._pieces.clear()
                new = list(dict.fromkeys(words))
            encoded = self.tokenizer([[w] for w in new], is_split_into_words=True,
                                     add_special_tokens=False)["input_ids"]
            self._pieces.update(zip(new, encoded, strict=True))
        return [self._pieces[w] for w in words]

    def _piece_counts(self, sentences: list[list[str]]) -> list[list[int]]:
        counts = []
        for start in range(0, len(sentences), _CHUNK):
            chunk = sentences[start:start + _CHUNK]
            pieces = iter(self._word_pieces([w for words in chunk for w in words]))
            counts.extend([len(next(pieces)) for _ in words] for words in chunk)
        return counts

    def blank_words(self, sentences: list[list[str]]) -> list[tuple[int, int]]:
        """(sentence, word) indices of the words the tokenizer maps to no piece (empty,
        whitespace-only or zero-width words): those `encode` encodes as the unknown token."""
        return [(i, j) for i, counts in enumerate(self._piece_counts(sentences))
                for j, count in enumerate(counts) if count == 0]

    def check_words(self, sentences: list[list[str]], desc: str) -> None:
        blank = self.blank_words(sentences)
        if not blank:
            return
        i, j = blank[0]
        log.warning(
            "%s: %d word(s) are empty, whitespace or zero-width characters only, which the "
            "tokenizer of encoder %s makes no piece of; each is encoded as the unknown token "
            "%s so that it keeps a vector. The first is word %d (%r) of sentence %d: %r. Drop "
            "or replace them in the corpus if they should not be probed.",
            desc or "corpus", len(blank), self.name, self.tokenizer.unk_token, j + 1,
            sentences[i][j], i + 1, " ".join(sentences[i])[:100])

    def _fitting(self, words: list[str], pieces: list[list[int]]) -> list[list[int]]:
        """Every word as at least one piece and at most a window's: a word the tokenizer maps
        to no piece (empty, whitespace-only, zero-width or control characters) becomes the
        unknown token; a word longer than the window stops the run or is cut to its leading
        characters that fit, by `long_words`."""
        if all(0 < len(p) <= self.max_pieces for p in pieces):
            return pieces
        return [self._unknown(words) if not p else self._fitting_word(words, i, p)
                for i, p in enumerate(pieces)]

    def _unknown(self, words: list[str]) -> list[int]:
        if self.tokenizer.unk_token_id is None:
            blank = next(w for w, p in zip(words, self._word_pieces(words), strict=True)
                         if not p)
            raise ProbingError(
                f"encoder {self.name}: the word {blank!r} makes no piece and this tokenizer has "
                f"no unknown token to encode it as; drop or replace such words in the corpus "
                f"(sentence: {' '.join(words)[:100]!r})")
        return [self.tokenizer.unk_token_id]

    def _fitting_word(self, words: list[str], i: int, pieces: list[int]) -> list[int]:
        count = len(pieces)
        if count <= self.max_pieces:
            return pieces
        if self.long_words is LongWords.error:
            raise ProbingError(
                f"encoder {self.name}: the word {words[i][:60]!r} alone is {count} pieces, "
                f"more than the model's window of {self.max_pieces}; drop or shorten it in "
                f"the corpus, or set encoder.long_words=truncate to encode its first "
                f"pieces (sentence: {' '.join(words)[:100]!r})")
        word = words[i]
        # Pieces grow with characters: cut in proportion until it fits. One character can
        # still be several byte-level pieces, so the loop also ends there.
        while len(pieces) > self.max_pieces and len(word) > 1:
            word = word[:max(1, len(word) * self.max_pieces // len(pieces))]
            [pieces] = self._word_pieces([word])
        if len(pieces) > self.max_pieces:
            raise ProbingError(f"encoder {self.name}: even the first character of "
                               f"{words[i][:60]!r} is more pieces than the model's window "
                               f"of {self.max_pieces}; give a larger encoder.max_length")
        log.warning("encoder %s: cut the %d-piece word %r to %r, the window's %d pieces",
                    self.name, count, words[i][:60], word[:60], self.max_pieces)
        return pieces


@dataclass
class PieceBatch:
    """A prepared batch: model inputs (rows, positions) and where each word's vector comes
    from in the model's output."""

    inputs: dict[str, torch.Tensor]
    pooling: WordPooling


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single sequence ([CLS] .. [SEP])."""
    bare = tokenizer(["a"], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    full = tokenizer(["a"], is_split_into_words=True)["input_ids"]
    start = next(i for i in range(len(full)) if full[i:i + len(bare)] == bare)
    return full[:start], full[start + len(bare):]


def _load(auto_class, name_or_path: str, **kwargs):
    try:
        return auto_class.from_pretrained(name_or_path, **kwargs)
    except SafetensorError as e:
        raise ProbingError(
            f"{Path(name_or_path) / 'model.safetensors'} is damaged or incomplete ({e}); copy or "
            f"download the model again (or save the checkpoint again), then rerun") from None
    except (pickle.UnpicklingError, EOFError, RuntimeError) as e:
        raise ProbingError(
            f"the weights in {name_or_path} cannot be read ({type(e).__name__}: {e}); the file is "
            f"damaged or not a model: copy or download the model again, then rerun") from None
    except (OSError, ValueError) as e:
        raise ProbingError(
            f"could not load {auto_class.__name__} from {name_or_path!r}: it is neither a local "
            f"folder with a Hugging Face model nor a model the hub could serve ({e}). Give "
            f"encoder.name_or_path a model folder, or a hub name on a machine that can reach "
            f"the hub.") from None
