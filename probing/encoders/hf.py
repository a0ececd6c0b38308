"""Any BERT-family Hugging Face encoder, by hub name or local folder, as word vectors per layer."""

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, AutoTokenizer

from probing.checkpoints import checkpoint_provenance
from probing.devices import resolve_device
from probing.encoders.alignment import Pooling, Window, plan_windows
from probing.encoders.base import Encoder, hash_module
from probing.errors import ProbingError

log = logging.getLogger(__name__)

# Keys of a model config that name where it came from rather than what it computes.
_PROVENANCE_KEYS = {"transformers_version", "architectures", "dtype", "torch_dtype"}


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

    def __init__(self, name_or_path: str, name: str | None = None,
                 pooling: Pooling | str = Pooling.mean, max_length: int | None = None,
                 stride: int | None = None, device: str = "auto", dtype: str = "float32",
                 random_init: bool = False, seed: int = 0, long_words: str = "error") -> None:
        if long_words not in ("error", "truncate"):
            raise ProbingError(f"encoder.long_words must be error or truncate, not {long_words!r}")
        self.long_words = long_words
        self.name = name or str(name_or_path)
        self.name_or_path = str(name_or_path)
        self.pooling = Pooling(pooling)
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

    @property
    def settings(self) -> dict:
        # Refusing long words never changes a vector, so only cutting them enters the key.
        cut = {"long_words": "truncate"} if self.long_words == "truncate" else {}
        return {"pooling": self.pooling.value, "max_length": self.max_length,
                "stride": self.stride, **cut}

    def fingerprint(self) -> str:
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
        n_special = self.tokenizer.num_special_tokens_to_add()
        return [sum(counts) + n_special for counts in self._piece_counts(sentences)]

    def encode(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        counts = self._piece_counts(sentences)
        sentences = [self._with_unknowns(self._fitting_words(words, n), n)
                     for words, n in zip(sentences, counts, strict=True)]
        rows: list[tuple[int, Window]] = []
        for i in range(len(sentences)):
            rows.extend((i, window) for window in plan_windows(counts[i], self.max_pieces,
                                                                 self.stride))
        batch = self.tokenizer([sentences[i][w.start:w.end] for i, w in rows],
                               is_split_into_words=True, padding=True, return_tensors="pt")
        with torch.inference_mode():
            output = self.model(**batch.to(self.device), output_hidden_states=True)
        hidden = torch.stack(output.hidden_states).float()  # (layers, rows, pieces, dim)
        lengths = [len(words) for words in sentences]
        words = self._pool(hidden, batch, rows, lengths)
        return list(words.cpu().split(lengths, dim=1))

    def _pool(self, hidden: torch.Tensor, batch, rows: list[tuple[int, Window]],
              lengths: list[int]) -> torch.Tensor:
        """Average the selected pieces of each kept word into that word's slot of the output."""
        word_ids = torch.tensor([[-1 if w is None else w for w in batch.word_ids(r)]
                                 for r in range(len(rows))])
        first_word = torch.tensor([0, *lengths]).cumsum(0)
        base = torch.tensor([first_word[i] + w.start for i, w in rows])[:, None]
        keep = torch.tensor([[w.keep_start - w.start, w.keep_end - w.start] for _, w in rows])
        chosen = (self.pooling.select(word_ids) & (word_ids >= keep[:, :1])
                  & (word_ids < keep[:, 1:])).flatten().nonzero().squeeze(1)
        target = (base + word_ids).flatten()[chosen]
        counts = torch.bincount(target, minlength=sum(lengths))
        flat = hidden.flatten(1, 2)
        out = flat.new_zeros(flat.shape[0], sum(lengths), flat.shape[2])
        out.index_add_(1, target.to(flat.device), flat[:, chosen.to(flat.device)])
        return out / counts.to(flat.device)[None, :, None]

    def _piece_counts(self, sentences: list[list[str]]) -> list[list[int]]:
        encoded = self.tokenizer(sentences, is_split_into_words=True, add_special_tokens=False)
        counts = []
        for i, words in enumerate(sentences):
            per_word = [0] * len(words)
            for word in encoded.word_ids(i):
                per_word[word] += 1
            counts.append(per_word)
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

    def _with_unknowns(self, words: list[str], counts: list[int]) -> list[str]:
        """Words the tokenizer maps to no piece at all (empty, whitespace-only, zero-width or
        control characters) become the unknown token, one piece, so that every word has a
        vector. Updates counts in place."""
        if 0 not in counts:
            return words
        if self.tokenizer.unk_token is None:
            blank = words[counts.index(0)]
            raise ProbingError(
                f"encoder {self.name}: the word {blank!r} makes no piece and this tokenizer has "
                f"no unknown token to encode it as; drop or replace such words in the corpus "
                f"(sentence: {' '.join(words)[:100]!r})")
        words = [w if count else self.tokenizer.unk_token
                 for w, count in zip(words, counts, strict=True)]
        counts[:] = [count or 1 for count in counts]
        return words

    def _fitting_words(self, words: list[str], counts: list[int]) -> list[str]:
        """Words with more pieces than the window stop the run or are cut to their leading
        characters that fit, by `long_words`. Updates counts in place."""
        if max(counts, default=0) <= self.max_pieces:
            return words
        words = list(words)
        for i, count in enumerate(counts):
            if count <= self.max_pieces:
                continue
            if self.long_words == "error":
                raise ProbingError(
                    f"encoder {self.name}: the word {words[i][:60]!r} alone is {count} pieces, "
                    f"more than the model's window of {self.max_pieces}; drop or shorten it in "
                    f"the corpus, or set encoder.long_words=truncate to encode its first "
                    f"pieces (sentence: {' '.join(words)[:100]!r})")
            word = words[i]
            # Pieces grow with characters: cut in proportion until it fits. One character can
            # still be several byte-level pieces, so the loop also ends there.
            while count > self.max_pieces and len(word) > 1:
                word = word[:max(1, len(word) * self.max_pieces // count)]
                [[count]] = self._piece_counts([[word]])
            if count > self.max_pieces:
                raise ProbingError(f"encoder {self.name}: even the first character of "
                                   f"{words[i][:60]!r} is more pieces than the model's window "
                                   f"of {self.max_pieces}; give a larger encoder.max_length")
            log.warning("encoder %s: cut the %d-piece word %r to %r, the window's %d pieces",
                        self.name, counts[i], words[i][:60], word[:60], self.max_pieces)
            words[i], counts[i] = word, count
        return words


def _load(auto_class, name_or_path: str, **kwargs):
    try:
        return auto_class.from_pretrained(name_or_path, **kwargs)
    except SafetensorError as e:
        raise ProbingError(
            f"{Path(name_or_path) / 'model.safetensors'} is damaged or incomplete ({e}); copy or "
            f"download the model again (or save the checkpoint again), then rerun") from None
    except (OSError, ValueError) as e:
        raise ProbingError(
            f"could not load {auto_class.__name__} from {name_or_path!r}: it is neither a local "
            f"folder with a Hugging Face model nor a model the hub could serve ({e}). Give "
            f"encoder.name_or_path a model folder, or a hub name on a machine that can reach "
            f"the hub.") from None
