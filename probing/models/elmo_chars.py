"""ELMo's input: a word as its UTF-8 bytes between begin- and end-of-word markers, as character
ids in bilm-tf's vocabulary, and the sentence markers <S> and </S> the biLM reads around every
sentence."""

import numpy as np
import torch

# bilm-tf's character vocabulary: bytes 0..255 and five markers, every id shifted up by one so
# that 0 pads whole tokens (262 ids in all).
BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR = 256, 257, 258, 259, 260
N_CHAR_IDS = 262
BOS, EOS = "<S>", "</S>"


def word_char_ids(word: str, max_chars: int = 50) -> list[int]:
    """[BOW, bytes of the word (at most max_chars - 2), EOW, PAD...], shifted by one.

    <S> and </S> read as ELMo's sentence markers ([BOW, BOS|EOS, EOW]), as in bilm-tf, where
    they are vocabulary words."""
    if word in (BOS, EOS):
        body = [BOS_CHAR if word == BOS else EOS_CHAR]
    else:
        body = list(word.encode("utf-8", "ignore")[:max_chars - 2])
    ids = [BOW_CHAR, *body, EOW_CHAR]
    return [i + 1 for i in ids + [PAD_CHAR] * (max_chars - len(ids))]


def batch_to_char_ids(sentences: list[list[str]], max_chars: int = 50) -> torch.Tensor:
    """(batch, longest sentence, max_chars) long tensor; rows of zeros pad short sentences."""
    ids = np.zeros((len(sentences), max(map(len, sentences)), max_chars), dtype=np.int64)
    for i, words in enumerate(sentences):
        if words:
            ids[i, :len(words)] = [word_char_ids(w, max_chars) for w in words]
    return torch.from_numpy(ids)


def add_sentence_boundaries(char_ids: torch.Tensor, mask: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Put <S> before and </S> after each sentence's words: (B, T, C) -> (B, T + 2, C)."""
    batch, n_tokens, max_chars = char_ids.shape
    lengths = mask.sum(1)
    bounded = char_ids.new_zeros(batch, n_tokens + 2, max_chars)
    bounded[:, 1:-1] = char_ids
    device = char_ids.device
    bounded[:, 0] = torch.tensor(word_char_ids(BOS, max_chars), device=device)
    bounded[torch.arange(batch, device=device), lengths + 1] = torch.tensor(
        word_char_ids(EOS, max_chars), device=device)
    positions = torch.arange(n_tokens + 2, device=mask.device)
    return bounded, positions[None] < (lengths + 2)[:, None]
