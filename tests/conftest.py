"""Shared fixtures: the real corpora (skipped where absent) and tiny random models."""

import os
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizer

REPO = Path(__file__).resolve().parents[1]
# Absolute, so that a relative PROBING_DATA_DIR (../shared/data) works in every test
DATA_DIR = Path(os.environ.get("PROBING_DATA_DIR", REPO.parent / "shared" / "data")).resolve()

# Enough of English for hand-written test sentences to tokenize into several pieces a word.
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz",
              *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"), ".", ",", "the", "cat", "dog",
              "sat", "on", "mat", "a", "##s", "##ed", "##ing", "run", "big", "small"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared corpora; tests that need them skip, saying why, where they are absent."""
    if not (DATA_DIR / "ud-english-ewt").is_dir():
        pytest.skip(f"corpora not found at {DATA_DIR}: set PROBING_DATA_DIR to the folder that "
                    f"holds them (see ../shared/data/README.md)")
    return DATA_DIR


def make_tiny_bert(folder: Path, max_position_embeddings: int = 64, seed: int = 0) -> Path:
    """A 2-layer, 32-wide random BERT with a WordPiece tokenizer, saved as an HF folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(vocab={piece: i for i, piece in enumerate(TINY_VOCAB)},
                              do_lower_case=True, model_max_length=max_position_embeddings)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=max_position_embeddings)
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def task_files(name: str, corpus: str, train, dev=None, test=None) -> dict:
    """The settings every task takes (`**common`), for a task built by hand in a test."""
    return {"name": name, "corpus": corpus, "train": train, "dev": dev or train,
            "test": test or train, "control": False, "control_seed": 0}


@pytest.fixture(scope="session")
def treebank(tmp_path_factory) -> dict[str, Path]:
    """Train, dev and test CoNLL-U files of a toy grammar (tests/helpers.py)."""
    from helpers import write_treebank

    folder = tmp_path_factory.mktemp("treebank")
    return {split: write_treebank(folder / f"{split}.conllu", n, seed)
            for split, n, seed in (("train", 60, 0), ("dev", 20, 1), ("test", 20, 2))}


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that lowers torch's thread count (to keep a heavy test light) must not change the
    tests after it: the ELMo resume test is not exact when the count changes mid-process."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)

