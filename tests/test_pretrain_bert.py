"""BERT pretraining: corpus reading, WordPiece, MLM + NSP examples, the loop (exact resume,
two processes under torchrun) and its checkpoints in the probing pipeline. Tiny models on
generated text; one test reads a real Gutenberg book."""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from from_yaml import hf_encoder
from helpers import bert_overrides
from hydra.utils import instantiate
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from probing.models.checkpoints import (
    checkpoint_provenance,
    checkpoint_sweep,
    list_checkpoints,
    read_info,
)
from probing.models.masking import Masking
from probing.pretrain.bert_objective import (
    BertObjective,
    PairBatches,
    TokenizedText,
    make_pairs,
    tokenized_corpus,
)
from probing.pretrain.corpus import TextCorpus, strip_gutenberg
from probing.pretrain.loop import pretrain
from probing.pretrain.pretrain_schemas import compose_pretraining
from probing.pretrain.tokenizer import SPECIAL_TOKENS, encode, train_wordpiece
from probing.utils.errors import ProbingError

REPO = Path(__file__).resolve().parents[1]
PAD, UNK, CLS, SEP, MASK = range(5)
MASKING = Masking(MASK, 10_000, len(SPECIAL_TOKENS))
WORDS = {"DET": ["the", "a", "every", "no"], "ADJ": ["big", "small", "old", "red", "quiet"],
         "VERB": ["saw", "chased", "found", "liked", "heard"]}
NOUNS = ["cat", "dog", "ship", "whale", "house", "garden", "king", "sailor", "letter", "river",
         "horse", "window", "captain", "forest", "lamp", "church"]


def write_corpus(folder: Path, n_docs: int = 6, n_sentences: int = 80, seed: int = 0) -> Path:
    """Documents of simple sentences, each with nouns of its own, in paragraphs of four."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(n_docs):
        nouns = rng.sample(NOUNS, 4)
        sentences = [" ".join([rng.choice(WORDS["DET"]).capitalize(), rng.choice(WORDS["ADJ"]),
                               rng.choice(nouns), rng.choice(WORDS["VERB"]),
                               rng.choice(WORDS["DET"]), rng.choice(nouns)]) + "."
                     for _ in range(n_sentences)]
        paragraphs = [" ".join(sentences[i:i + 4]) for i in range(0, n_sentences, 4)]
        (folder / f"doc{d}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return folder


def synthetic_text(n_docs: int, n_sentences: int, seed: int = 0) -> TokenizedText:
    """Piece ids that say where they come from: 1000 * (document + 1) + sentence."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 25, n_docs * n_sentences)
    ids = np.concatenate([np.full(n, 1000 * (i // n_sentences + 1) + i % n_sentences)
                          for i, n in enumerate(lengths)])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return TokenizedText(ids, offsets, np.arange(0, n_docs * n_sentences + 1, n_sentences))


def document_of(text: TokenizedText, position: int) -> int:
    return int(text.ids[position]) // 1000 - 1


def text_corpus(*paths: Path, **settings) -> TextCorpus:
    """conf/pretrain/text/files.yaml's corpus over `paths`, read by one process, with `settings`."""
    return instantiate(compose_pretraining(["text=files"]).text, paths=[str(p) for p in paths],
                       **{"workers": 1, **settings})


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(list_checkpoints(run_dir)[-1] / "model.safetensors")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, corpus_dir) -> Path:
    """A 24-step run of a 2 x 32 BERT with checkpoints at steps 0, 12 and 24."""
    run_dir = tmp_path_factory.mktemp("run")
    pretrain(compose_pretraining(bert_overrides(corpus_dir, run_dir.parent / "cache")), run_dir)
    return run_dir


# --- examples -------------------------------------------------------------------------------

def test_masking_statistics():
    text = synthetic_text(n_docs=20, n_sentences=200)
    pairs = make_pairs(text, 61, 0.1, np.random.default_rng(0))
    batches = PairBatches(text, pairs, [], MASKING, CLS, SEP, (0, 0, 0, 2))
    maskable = masked = kept = as_mask = replaced = 0
    for j, (a0, a1, b0, b1, _) in enumerate(pairs):
        original = np.concatenate([[CLS], text.ids[a0:a1], [SEP], text.ids[b0:b1], [SEP]])
        inputs, segments, positions, labels = batches.example(j)
        special = np.isin(original, [CLS, SEP])
        assert not special[positions].any(), "[CLS] and [SEP] are never masked"
        assert (labels == original[positions]).all()
        untouched = np.ones(len(original), dtype=bool)
        untouched[positions] = False
        assert (inputs[untouched] == original[untouched]).all()
        assert (segments == np.r_[np.zeros(a1 - a0 + 2), np.ones(b1 - b0 + 1)]).all()
        assert len(positions) <= 20
        maskable += (~special).sum()
        masked += len(positions)
        as_mask += (inputs[positions] == MASK).sum()
        kept += (inputs[positions] == labels).sum()
        random_pieces = inputs[positions][(inputs[positions] != MASK)
                                          & (inputs[positions] != labels)]
        replaced += len(random_pieces)
        assert (random_pieces >= len(SPECIAL_TOKENS)).all(), "random pieces are not special"
    assert masked > 5000
    assert masked / maskable == pytest.approx(0.15, abs=0.01)
    assert as_mask / masked == pytest.approx(0.8, abs=0.02)
    assert kept / masked == pytest.approx(0.1, abs=0.02)
    assert replaced / masked == pytest.approx(0.1, abs=0.02)


def test_masks_are_drawn_anew_each_epoch():
    text = synthetic_text(n_docs=4, n_sentences=50)
    pairs = make_pairs(text, 61, 0.1, np.random.default_rng(0))

    def positions(epoch: int) -> list[np.ndarray]:
        batches = PairBatches(text, pairs, [], MASKING, CLS, SEP, (0, 0, epoch, 2))
        return [batches.example(j)[2] for j in range(len(pairs))]

    first, again, second = positions(0), positions(0), positions(1)
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    changed = sum(len(a) != len(b) or (a != b).any() for a, b in zip(first, second, strict=True))
    assert changed > 0.9 * len(pairs)


def test_nsp_pairs_half_random_from_another_document():
    text = synthetic_text(n_docs=20, n_sentences=200)
    pairs = make_pairs(text, 61, 0.1, np.random.default_rng(0))
    random_next = pairs[:, 4] == 1
    assert len(pairs) > 1000
    assert random_next.mean() == pytest.approx(0.5, abs=0.05)
    for a0, a1, b0, b1, is_random in pairs:
        assert a1 > a0 and b1 > b0 and (a1 - a0) + (b1 - b0) <= 61
        assert document_of(text, a0) == document_of(text, a1 - 1)
        assert document_of(text, b0) == document_of(text, b1 - 1)
        if is_random:
            assert document_of(text, b0) != document_of(text, a0)
        else:
            assert document_of(text, b0) == document_of(text, a0) and b0 >= a1
    lengths = (pairs[:, 1] - pairs[:, 0]) + (pairs[:, 3] - pairs[:, 2])
    assert (lengths == 61).mean() > 0.7, "most examples are packed full"
    assert 0.03 < (lengths < 40).mean() < 0.25, "short_seq_prob makes some shorter"
    again = make_pairs(text, 61, 0.1, np.random.default_rng(0))
    other = make_pairs(text, 61, 0.1, np.random.default_rng(1))
    assert np.array_equal(pairs, again) and not np.array_equal(pairs, other)


# --- corpus and tokenizer -------------------------------------------------------------------

GUTENBERG_BOOK = """The Project Gutenberg EBook of A Test, by Nobody

Title: A Test

***START OF THE PROJECT GUTENBERG EBOOK A TEST***

CHAPTER I

Smith went to
London. He saw the river there.

It rained.

End of the Project Gutenberg EBook of A Test, by
Nobody

*** END OF THIS PROJECT GUTENBERG EBOOK A TEST ***

*** START: FULL LICENSE ***
Redistribution is subject to the Project Gutenberg License.
"""


def test_gutenberg_header_and_licence_are_stripped(tmp_path):
    body = strip_gutenberg(GUTENBERG_BOOK)
    assert "Title" not in body and "License" not in body and "End of the" not in body
    assert "CHAPTER I" in body and "It rained." in body
    (tmp_path / "book.txt").write_text(GUTENBERG_BOOK)
    (tmp_path / "plain.txt").write_text(GUTENBERG_BOOK.split("***START")[0])
    with pytest.raises(ProbingError, match=r"plain\.txt.*START/END.*text\.gutenberg=false"):
        text_corpus(tmp_path, gutenberg=True).read()
    splits = text_corpus(tmp_path / "book.txt", gutenberg=True, heldout_fraction=0.25).read()
    assert splits.train[0].name == splits.heldout[0].name == "book"
    assert splits.train[0].sentences[:2] == [["CHAPTER", "I"],
                                             ["Smith", "went", "to", "London", "."]]
    assert splits.heldout[0].sentences == [["It", "rained", "."]], "the last quarter is held out"


def test_real_gutenberg_book(data_dir):
    book = data_dir / "gutenberg" / "pg1342.txt"
    splits = text_corpus(book, gutenberg=True, heldout_fraction=0.01).read()
    train, heldout = splits.train[0].sentences, splits.heldout[0].sentences
    words = {w for s in train + heldout for w in s}
    assert "Gutenberg" not in words and "License" not in words
    assert " ".join(heldout[-1]).endswith("the means of uniting them .")
    assert len(heldout) == round(0.01 * (len(train) + len(heldout)))
    assert sum(s[-1] in ("Mr.", "Mrs.") for s in train) == 0, "Punkt learned the abbreviations"
    assert any(s[:3] == ["It", "is", "a"] and "truth" in s for s in train)


def test_corpus_errors_name_the_file(tmp_path):
    with pytest.raises(ProbingError, match="corpus path not found: /no/such/dir"):
        text_corpus(Path("/no/such/dir")).files()
    write_corpus(tmp_path, n_docs=2, n_sentences=8)
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(ProbingError, match=r"empty\.txt holds no text"):
        text_corpus(tmp_path, heldout_fraction=0.0).read()
    with pytest.raises(ProbingError, match="heldout_documents"):
        text_corpus(tmp_path, heldout_documents=["nope"]).files()
    with pytest.raises(ProbingError, match="no held-out text"):
        text_corpus(tmp_path / "doc0.txt", heldout_fraction=0.0).read()


def test_tokenizer_is_saved_for_auto_tokenizer(tmp_path, corpus_dir):
    splits = text_corpus(corpus_dir, heldout_fraction=0.1).read()
    sentences = [s for doc in splits.train for s in doc.sentences]
    tokenizer = train_wordpiece(sentences, vocab_size=120, lowercase=True, min_frequency=1)
    for _ in range(3):
        again = train_wordpiece(sentences, vocab_size=120, lowercase=True, min_frequency=1)
        assert again.get_vocab() == tokenizer.get_vocab(), "the same text, the same vocabulary"
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.is_fast and len(loaded) == len(tokenizer) <= 120
    assert loaded.convert_ids_to_tokens(list(range(5))) == SPECIAL_TOKENS
    assert loaded.tokenize("The old Captain saw every window.") == [
        "the", "old", "captain", "saw", "every", "window", "."]
    pieces = loaded.tokenize("The captains")
    assert pieces[:2] == ["the", "captain"] and pieces[2].startswith("##")
    ids, lengths = encode(loaded, sentences[:20])
    expected = loaded(sentences[:20], is_split_into_words=True, add_special_tokens=False)
    assert ids.tolist() == [i for row in expected["input_ids"] for i in row]
    assert lengths.tolist() == [len(row) for row in expected["input_ids"]]
    pair = loaded("a cat", "the dog")
    assert pair["input_ids"][0] == CLS and pair["input_ids"].count(SEP) == 2
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]


def test_tokenized_corpus_is_cached(tmp_path, corpus_dir, monkeypatch):
    corpus = text_corpus(corpus_dir, heldout_fraction=0.1)
    folder = tokenized_corpus(corpus, tmp_path, vocab_size=200, lowercase=True, min_frequency=1)
    train = TokenizedText.open(folder / "train")
    assert isinstance(train.ids, np.memmap)
    assert train.n_documents == 6 and len(train.sentences) - 1 == 6 * 72
    assert AutoTokenizer.from_pretrained(folder / "tokenizer").is_fast

    def no_reading(self):
        raise AssertionError("the corpus was read again")

    monkeypatch.setattr(TextCorpus, "read", no_reading)
    assert tokenized_corpus(corpus, tmp_path, 200, True, 1) == folder
    with pytest.raises(AssertionError, match="read again"):
        tokenized_corpus(corpus, tmp_path, 250, True, 1)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name], "nothing half-written left"


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "remove", "no meta"])
def test_a_damaged_token_cache_is_rebuilt_with_a_warning(tmp_path, corpus_dir, caplog, damage):
    corpus = text_corpus(corpus_dir, heldout_fraction=0.1)
    folder = tokenized_corpus(corpus, tmp_path, vocab_size=200, lowercase=True, min_frequency=1)
    clean = TokenizedText.open(folder / "train").ids.copy()
    ids = folder / "train" / "ids.npy"
    if damage == "flip a byte":
        data = bytearray(ids.read_bytes())
        data[-3] ^= 0x10
        ids.write_bytes(bytes(data))
    elif damage == "cut short":
        ids.write_bytes(ids.read_bytes()[:-8])
    elif damage == "remove":
        ids.unlink()
    else:
        (folder / "meta.json").unlink()
    assert tokenized_corpus(corpus, tmp_path, 200, True, 1) == folder
    assert f"the cache {folder} is damaged" in caplog.text
    assert np.array_equal(TokenizedText.open(folder / "train").ids, clean)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


# --- training loop --------------------------------------------------------------------------

def test_run_writes_checkpoints_and_metrics(pretrained):
    checkpoints = list_checkpoints(pretrained)
    assert [read_info(c)["step"] for c in checkpoints] == [0, 12, 24]
    assert [c.name for c in checkpoints] == ["step-0000000", "step-0000012", "step-0000024"]
    assert [(c / "trainer_state.pt").is_file() for c in checkpoints] == [False, True, True]
    info = read_info(checkpoints[-1])
    assert info["epoch"] >= 1, "the run crossed an epoch boundary"
    assert info["tokens"] > 24 * 8 * 10
    assert set(info["heldout"]) == {"loss", "mlm_loss", "mlm_acc", "nsp_loss", "nsp_acc"}
    rows = (pretrained / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,split,metric,value"
    heldout_loss = {int(r.split(",")[0]): float(r.split(",")[3]) for r in rows[1:]
                    if ",heldout,mlm_loss," in r}
    assert sorted(heldout_loss) == [0, 12, 24]
    assert heldout_loss[24] < heldout_loss[0], "the masked LM learns"
    assert list((pretrained / "tensorboard").glob("events.out.tfevents.*"))


def test_sinusoidal_position_init(pretrained, corpus_dir):
    cfg = compose_pretraining([*bert_overrides(corpus_dir, pretrained.parent / "cache"),
                    "objective.position_init=sinusoidal"])
    objective = instantiate(cfg.objective)
    objective.prepare(instantiate(cfg.text), Path(cfg.paths.cache_dir) / "pretrain")
    settings = {k: v for k, v in OmegaConf.to_container(cfg.objective, resolve=True).items()
                if not k.startswith("_")}
    table = objective.build_model().net.bert.embeddings.position_embeddings.weight
    assert table.shape == (32, 32) and table.requires_grad, "still learned, one row a position"
    assert table.pow(2).mean().sqrt().item() == pytest.approx(0.02, rel=1e-3)
    # What makes attending at a fixed offset easy: the similarity of two positions depends on
    # their offset only.
    similarity = table @ table.T
    for offset in (1, 3):
        along = torch.diagonal(similarity, offset)
        assert torch.allclose(along, along[0].expand_as(along), atol=1e-6)
    with pytest.raises(ProbingError, match="position_init='learned'"):
        BertObjective(**{**settings, "position_init": "learned"})


def test_stopped_and_resumed_run_ends_with_the_same_weights(pretrained, corpus_dir, tmp_path):
    overrides = bert_overrides(corpus_dir, pretrained.parent / "cache")
    pretrain(compose_pretraining([*overrides, "train.stop_at=14"]), tmp_path)
    assert read_info(list_checkpoints(tmp_path)[-1])["step"] == 14
    with pytest.raises(ProbingError, match=r"train\.resume=true"):
        pretrain(compose_pretraining(overrides), tmp_path)
    pretrain(compose_pretraining([*overrides, "train.resume=true"]), tmp_path)
    resumed, straight = final_weights(tmp_path), final_weights(pretrained)
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    steps = [int(r.split(",")[0]) for r in (tmp_path / "metrics.csv").read_text().splitlines()[1:]
             if ",train,loss," in r]
    assert steps == sorted(set(steps)), "no step logged twice after resuming"


class NotAState:
    """Pickled by torch.save as an object, which a weights-only load refuses."""


DAMAGES = {
    "trainer state cut short": lambda c: (c / "trainer_state.pt").write_bytes(
        (c / "trainer_state.pt").read_bytes()[:100]),
    "trainer state of another kind": lambda c: torch.save(NotAState(), c / "trainer_state.pt"),
    "trainer state without its parts": lambda c: torch.save({"step": 3}, c / "trainer_state.pt"),
    "checkpoint.json cut short": lambda c: (c / "checkpoint.json").write_text('{"step": 1'),
    "weights cut short": lambda c: (c / "model.safetensors").write_bytes(b"\x00" * 10),
}


@pytest.fixture(scope="module")
def stopped(pretrained, corpus_dir, tmp_path_factory) -> Path:
    """The run of `pretrained` stopped at step 14: checkpoints 0, 12 and 14, the last two with a
    trainer state."""
    run_dir = tmp_path_factory.mktemp("stopped")
    overrides = bert_overrides(corpus_dir, pretrained.parent / "cache")
    pretrain(compose_pretraining([*overrides, "train.stop_at=14"]), run_dir)
    return run_dir


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_one_before_resumed(
        stopped, pretrained, corpus_dir, tmp_path, caplog, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    DAMAGES[damage](run_dir / "checkpoints" / "step-0000014")
    overrides = bert_overrides(corpus_dir, pretrained.parent / "cache")
    pretrain(compose_pretraining([*overrides, "train.resume=true"]), run_dir)
    assert "cannot resume from" in caplog.text and "step-0000014" in caplog.text
    assert (run_dir / "checkpoints" / "step-0000014.damaged").is_dir(), "kept, not deleted"
    assert [c.name for c in list_checkpoints(run_dir)] == [
        "step-0000000", "step-0000012", "step-0000024"]
    resumed, straight = final_weights(run_dir), final_weights(pretrained)
    assert all(torch.equal(resumed[k], straight[k]) for k in straight), "resumed exactly from 12"


def test_no_whole_checkpoint_to_resume_from_is_an_error_naming_each(
        stopped, pretrained, corpus_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    DAMAGES["trainer state cut short"](run_dir / "checkpoints" / "step-0000014")
    DAMAGES["checkpoint.json cut short"](run_dir / "checkpoints" / "step-0000012")
    overrides = bert_overrides(corpus_dir, pretrained.parent / "cache")
    with pytest.raises(ProbingError, match=r"no checkpoint in .* can be resumed from: "
                                           r"step-0000014 \(.*\); step-0000012 \(.*"):
        pretrain(compose_pretraining([*overrides, "train.resume=true"]), run_dir)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "step-0000000", "step-0000012", "step-0000014"], "nothing moved or deleted"


def test_a_full_disk_while_saving_leaves_no_partial_checkpoint(
        pretrained, corpus_dir, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise SafetensorError("Error while serializing: No space left on device (os error 28)")

    overrides = bert_overrides(corpus_dir, pretrained.parent / "cache")
    cfg = compose_pretraining([*overrides, "train.max_steps=12"])
    saves = iter([True, False])  # step 0 is saved, step 12 finds the disk full
    real_save = BertObjective.save
    monkeypatch.setattr(BertObjective, "save", lambda self, model, folder: (
        real_save(self, model, folder) if next(saves) else disk_full()))
    with pytest.raises(ProbingError, match=r"could not save the checkpoint .*step-0000012 "
                                           r"\(.*No space left.*train\.resume=true .*step-0000000"):
        pretrain(cfg, tmp_path)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-0000000"]


def test_checkpoint_sweep_names_a_damaged_checkpoint_record(stopped, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    DAMAGES["checkpoint.json cut short"](run_dir / "checkpoints" / "step-0000012")
    with pytest.raises(ProbingError, match=r"step-0000012/checkpoint\.json cannot be read"):
        checkpoint_provenance(run_dir / "checkpoints" / "step-0000012")


def test_two_processes_stay_in_sync(corpus_dir, tmp_path):
    run_dir = tmp_path / "run"
    overrides = [*bert_overrides(corpus_dir, tmp_path / "cache"), "train.max_steps=6",
                 "train.save_every=3", "train.eval_every=3", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc_per_node", "2", "-m", "probing.pretrain", *overrides],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    infos = [read_info(c) for c in list_checkpoints(run_dir)]
    assert [i["step"] for i in infos] == [0, 3, 6]
    for info in infos:
        assert info["world_size"] == 2
        assert len(info["replica_checksums"]) == 2
        assert len(set(info["replica_checksums"])) == 1, "both processes hold the same weights"
    assert infos[0]["replica_checksums"] != infos[-1]["replica_checksums"], "it trained"
    single = read_info(list_checkpoints(run_dir)[1])["tokens"]
    assert single > 3 * 2 * 8 * 10, "tokens count both processes' batches"


def test_command_line_error_has_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "probing.pretrain", "text=files",
                             "text.paths=[/no/such/dir]", f"paths.cache_dir={tmp_path}",
                             f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "corpus path not found: /no/such/dir" in output
    assert "Traceback" not in output


# --- checkpoints in the probing pipeline ----------------------------------------------------

def previous_piece_bert(folder: Path, tokenizer_from: Path, length: int = 16) -> Path:
    """A one-layer BERT whose single head attends to the previous piece: positions are one-hot,
    the query of position i is the one-hot of i - 1, the key of j that of j."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=length, num_hidden_layers=1,
                        num_attention_heads=1, intermediate_size=4,
                        max_position_embeddings=length)
    model = BertModel(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.embeddings.position_embeddings.weight.copy_(torch.eye(length))
        model.embeddings.LayerNorm.weight.fill_(1.0)
        attention = model.encoder.layer[0].attention.self
        attention.query.weight.copy_(100 * torch.eye(length).roll(-1, dims=0))
        attention.key.weight.copy_(torch.eye(length))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def attention_rows(checkpoint: Path, text: Path, length: int, out: Path) -> list[list[float]]:
    subprocess.run([sys.executable, str(REPO / "experiments" / "attention_offsets.py"),
                    str(checkpoint), "--text", str(text), "--length", str(length),
                    "--windows", "4", "--out", str(out)], check=True, capture_output=True)
    return [[float(x) for x in line.split("|")[1:-1]] for line in out.read_text().splitlines()
            if line.startswith("| ") and line[2].isdigit()]


def test_attention_offsets(pretrained, corpus_dir, tmp_path):
    text = corpus_dir / "doc0.txt"
    wired = previous_piece_bert(tmp_path / "wired", list_checkpoints(pretrained)[0])
    [(layer, head, previous, following, _, entropy)] = attention_rows(wired, text, 16,
                                                                      tmp_path / "wired.md")
    assert (layer, head) == (0, 0)
    assert previous > 0.99 and following < 0.01 and entropy < 0.1
    # At initialisation (weights of std 0.02) every head attends almost uniformly: 1/32 on
    # each neighbour in windows of 32 pieces, entropy near ln 32.
    rows = attention_rows(list_checkpoints(pretrained)[0], text, 32, tmp_path / "random.md")
    assert [(layer, head) for layer, head, *_ in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for _, _, previous, following, _, entropy in rows:
        assert previous == pytest.approx(1 / 32, rel=0.2)
        assert following == pytest.approx(1 / 32, rel=0.2)
        assert entropy == pytest.approx(np.log(32), abs=0.05)


def test_checkpoint_is_an_hf_encoder(pretrained):
    first, last = list_checkpoints(pretrained)[0], list_checkpoints(pretrained)[-1]
    assert type(AutoModel.from_pretrained(last)).__name__ == "BertModel"
    encoders = [hf_encoder(folder) for folder in (first, last)]
    vectors = encoders[1].encode([["The", "old", "captain", "saw", "a", "whale", "."]])
    assert vectors[0].shape == (3, 7, 32)
    assert encoders[1].max_length == 32, "the window is the length it was trained on"
    assert encoders[0].fingerprint() != encoders[1].fingerprint()


CONLLU_ROW = "{i}\t{w}\t{w}\t{t}\t{t}\t_\t0\tdep\t_\t_"


def write_treebank(path: Path, n_sentences: int, seed: int) -> str:
    rng = random.Random(seed)
    tags = ["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN"]
    blocks = []
    for _ in range(n_sentences):
        words = [rng.choice(WORDS.get(t, NOUNS)) for t in tags]
        blocks.append("\n".join(CONLLU_ROW.format(i=i, w=w, t=t)
                                for i, (w, t) in enumerate(zip(words, tags, strict=True), 1)))
    path.write_text("\n\n".join(blocks) + "\n\n")
    return str(path)


@pytest.mark.slow
def test_experiment_probes_every_checkpoint(pretrained, tmp_path):
    assert checkpoint_sweep(str(pretrained)).count("step-") == 3
    task = {split: write_treebank(tmp_path / f"{split}.conllu", n, seed)
            for split, n, seed in (("train", 40, 0), ("dev", 10, 1), ("test", 10, 2))}
    args = ["-m", "+experiment=pretrain_checkpoints", f"+pretrain_run={pretrained}",
            f"task.train={task['train']}", f"task.dev={task['dev']}",
            f"task.test={task['test']}", f"paths.cache_dir={tmp_path / 'cache'}",
            "trainer.max_epochs=2", "device=cpu", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "probing.run", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")]
    steps = sorted(r["encoder"]["step"] for r in records)
    assert steps == [0, 12, 24]


def test_the_learning_rate_warms_up_linearly_then_decays_to_zero():
    from probing.pretrain.schedule import warmup_then_linear_decay

    multiplier = warmup_then_linear_decay(warmup_steps=4, max_steps=12)
    assert [multiplier(step) for step in range(13)] == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0])
    assert multiplier(20) == 0.0, "past max_steps the rate stays at 0"
