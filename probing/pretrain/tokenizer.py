"""A WordPiece vocabulary learned from the pretraining corpus, as a Hugging Face BERT tokenizer."""

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerBase

from probing.utils.errors import ProbingError

# Special tokens take the first ids, so every id from len(SPECIAL_TOKENS) on is a word piece.
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(sentences: Sequence[list[str]], vocab_size: int, lowercase: bool,
                    min_frequency: int) -> BertTokenizer:
    """Learn a WordPiece vocabulary of at most `vocab_size` pieces from word-split sentences.

    The pieces are learned with the same normalisation (BERT's: accents stripped when
    lowercasing) and pre-tokenisation (whitespace and punctuation) that the returned BERT
    tokenizer applies, so that it splits text exactly as the vocabulary was learned.
    """
    learner = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    learner.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    learner.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=SPECIAL_TOKENS + _initial_symbols(learner, sentences))
    learner.train_from_iterator((" ".join(words) for words in sentences), trainer)
    return BertTokenizer(vocab=learner.get_vocab(), do_lower_case=lowercase)


def _initial_symbols(learner: Tokenizer, sentences: Sequence[list[str]]) -> list[str]:
    """Every character that starts a piece and, `##`-prefixed, every one that continues one.

    Handed to the trainer up front, these get fixed ids. Left to it, the continuing ones are
    numbered in hash-map order, which changes from run to run and, through the tie-breaks
    between merges of equal count, changes the vocabulary itself (huggingface/tokenizers#1794).
    """
    starts, continues = set(), set()
    for word in {word for words in sentences for word in words}:
        normalized = learner.normalizer.normalize_str(word)
        for piece, _ in learner.pre_tokenizer.pre_tokenize_str(normalized):
            starts.add(piece[0])
            continues.update(piece[1:])
    return sorted(starts) + [f"##{c}" for c in sorted(continues)]


def load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise ProbingError(f"no tokenizer could be loaded from {folder} ({e}); delete the folder "
                           "to have it learned again") from None


def encode(tokenizer: PreTrainedTokenizerBase, sentences: list[list[str]]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Piece ids of word-split sentences, without special tokens, flat: (ids, lengths)."""
    encodings = tokenizer.backend_tokenizer.encode_batch(sentences, is_pretokenized=True,
                                                         add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), dtype=np.int32,
                      count=int(lengths.sum()))
    return ids, lengths
