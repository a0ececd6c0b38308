"""ELMo: reference outputs of the original TensorFlow biLM (the AllenNLP fixture), batching and
state, the weight format round trip, random init, the Encoder contract and bad files."""

import json
import random
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from from_yaml import elmo_encoder
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from probing.config.schemas import register_configs
from probing.encoders.elmo_encoder import ELMoEncoder
from probing.models.checkpoints import checkpoint_name
from probing.models.elmo_bilm import ELMoBiLM, load_elmo, save_elmo
from probing.models.elmo_chars import batch_to_char_ids, word_char_ids
from probing.models.elmo_weights import tf_shapes
from probing.pretrain.pretrain_schemas import compose_pretraining
from probing.utils.errors import ProbingError

REPO = Path(__file__).resolve().parents[1]
ATOL = 1e-6

# A shape unlike the fixture's: tanh, one LSTM layer, filters adding up to the projection size
# (so no CNN_proj), no skip connections, no clipping.
SMALL_OPTIONS = {
    "lstm": {"dim": 12, "projection_dim": 6, "n_layers": 1, "use_skip_connections": False},
    "char_cnn": {"embedding": {"dim": 3}, "filters": [[1, 2], [2, 4]], "n_highway": 1,
                 "n_characters": 262, "max_characters_per_token": 50, "activation": "tanh"},
}


@pytest.fixture(scope="module")
def fixture(data_dir) -> Path:
    return data_dir / "elmo-fixture"


@pytest.fixture(scope="module")
def sentences(fixture) -> list[list[list[str]]]:
    """Three lists of ten whitespace-tokenized sentences."""
    return [[s.split() for s in group] for group in json.loads(
        (fixture / "sentences.json").read_text())]


@pytest.fixture(scope="module")
def reference(fixture) -> list[np.ndarray]:
    """Top layer of sentences[0][i], (2, n_words, 16): forward then backward."""
    with h5py.File(fixture / "lm_embeddings_0.hdf5", "r") as f:
        return [f[str(i)][...] for i in range(len(f))]


def elmo(fixture: Path, stateful: bool = False) -> ELMoBiLM:
    return load_elmo(fixture / "options.json", fixture / "lm_weights.hdf5", stateful).eval()


def top_layer(model: ELMoBiLM, batch: list[list[str]], row: int) -> np.ndarray:
    """(2, n_words, P) of one row, <S> and </S> removed, like the reference."""
    with torch.no_grad():
        out = model(batch_to_char_ids(batch))
    n = len(batch[row])
    return torch.stack([out.forward[-1][row, 1:n + 1],
                        out.backward[-1][row, 1:n + 1]]).numpy()


def test_char_ids_follow_bilm_tf():
    ids = word_char_ids("é", max_chars=6)
    assert ids == [259, 0xC3 + 1, 0xA9 + 1, 260, 261, 261]  # BOW, two UTF-8 bytes, EOW, pad
    assert word_char_ids("<S>", 5) == [259, 257, 260, 261, 261]
    assert word_char_ids("x" * 60) == [259, *[ord("x") + 1] * 48, 260]
    ids = batch_to_char_ids([["a", "b"], ["c"]])
    assert ids.shape == (2, 2, 50) and (ids[1, 1] == 0).all() and (ids[0, 1] > 0).all()


def test_stateful_top_layer_matches_tensorflow(fixture, sentences, reference):
    """Batches as the reference was made: batch i = [s[0][i], s[1][i], s[2][i]], state kept."""
    model = elmo(fixture, stateful=True)
    for i, expected in enumerate(reference):
        batch = [group[i] for group in sentences]
        np.testing.assert_allclose(top_layer(model, batch, row=0), expected, rtol=0, atol=ATOL)


def test_stateful_matches_in_other_batch_compositions(fixture, sentences, reference):
    """State is carried per batch row, so s[0] gives the reference in any row and with any
    batch-mates, as long as it keeps its row: here row 2 behind reordered mates, then alone in a
    smaller batch (row 0)."""
    model = elmo(fixture, stateful=True)
    for i, expected in enumerate(reference):
        batch = [sentences[2][i], sentences[1][i], sentences[0][i]]
        np.testing.assert_allclose(top_layer(model, batch, row=2), expected, rtol=0, atol=ATOL)
    model = elmo(fixture, stateful=True)
    for i, expected in enumerate(reference):
        np.testing.assert_allclose(top_layer(model, [sentences[0][i]], row=0), expected,
                                   rtol=0, atol=ATOL)


def test_token_embeddings_match_tensorflow(fixture):
    vocab = (fixture / "vocab_test.txt").read_text().split("\n")
    with h5py.File(fixture / "elmo_token_embeddings.hdf5", "r") as f:
        expected = f["embedding"][...]
    assert len(vocab) == len(expected)
    encoder = elmo_encoder(fixture / "options.json", fixture / "lm_weights.hdf5")
    layer0 = torch.cat([vectors[0] for vectors in encoder.encode([[w] for w in vocab])])
    np.testing.assert_allclose(layer0[:, :16].numpy(), expected, rtol=0, atol=ATOL)


def test_stateless_ignores_batch_mates_padding_and_order(fixture, sentences):
    encoder = elmo_encoder(fixture / "options.json", fixture / "lm_weights.hdf5")
    everything = [s for group in sentences for s in group]
    alone = [encoder.encode([s])[0] for s in everything]
    shuffled = list(range(len(everything)))
    random.Random(0).shuffle(shuffled)
    for size in (7, len(everything)):
        for start in range(0, len(shuffled), size):
            chunk = shuffled[start:start + size]
            for i, vectors in zip(chunk, encoder.encode([everything[i] for i in chunk]),
                                  strict=True):
                # A batch of other sizes may round a float32 sum differently in its last
                # place (seen: 1.2e-6 on a value of 2); what a leak from a batch mate or from
                # padding would cause is orders of magnitude larger.
                torch.testing.assert_close(vectors, alone[i], rtol=1e-6, atol=ATOL)
    stateful = elmo(fixture, stateful=True)
    first = [group[0] for group in sentences]
    top_layer(stateful, first, row=0)
    carried = top_layer(stateful, first, row=0)
    stateless = top_layer(elmo(fixture), first, row=0)
    assert np.abs(carried - stateless).max() > 1e-2  # the carried state does matter
    stateful.reset_states()
    np.testing.assert_array_equal(top_layer(stateful, first, row=0), stateless)


def test_encoder_contract(fixture):
    encoder = elmo_encoder(fixture / "options.json", fixture / "lm_weights.hdf5")
    assert (encoder.n_layers, encoder.dim, encoder.settings) == (3, 32, {"stateful": False})
    sentences = [["The", "cat", "sat", "."], ["Hi"]]
    out = encoder.encode(sentences)
    assert [v.shape for v in out] == [(3, 4, 32), (3, 1, 32)]
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in out)
    torch.testing.assert_close(out[0][0, :, :16], out[0][0, :, 16:], rtol=0, atol=0)
    assert not torch.equal(out[0][1, :, :16], out[0][1, :, 16:])  # forward != backward
    assert encoder.sizes(sentences) == [6, 3]
    again = elmo_encoder(fixture / "options.json", fixture / "lm_weights.hdf5")
    random_init = elmo_encoder(fixture / "options.json", random_init=True)
    assert encoder.fingerprint() == again.fingerprint() != random_init.fingerprint()


def test_random_init_has_the_shape_but_not_the_weights(fixture):
    loaded = elmo(fixture).state_dict()
    fresh = [elmo_encoder(fixture / "options.json", random_init=True, seed=seed).model.state_dict()
             for seed in (0, 0, 1)]
    assert {k: v.shape for k, v in fresh[0].items()} == {k: v.shape for k, v in loaded.items()}
    for name, tensor in loaded.items():
        if tensor.abs().sum() > 0:
            assert not torch.equal(fresh[0][name], tensor), name
    assert all(torch.equal(fresh[0][k], fresh[1][k]) for k in loaded)
    assert not torch.equal(fresh[0]["char_cnn.char_embed.weight"],
                           fresh[2]["char_cnn.char_embed.weight"])


def test_save_load_round_trip_is_exact(fixture, tmp_path):
    model = elmo(fixture)
    options_path, weights_path = save_elmo(model, tmp_path / "ckpt")
    with h5py.File(fixture / "lm_weights.hdf5", "r") as a, h5py.File(weights_path, "r") as b:
        for name in tf_shapes(model.options):
            np.testing.assert_array_equal(a[name][...], b[name][...], err_msg=name)
    reloaded = load_elmo(options_path, weights_path).eval()
    batch = batch_to_char_ids([["A", "round", "trip", "."], ["Again"]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(batch).layers(), model(batch).layers(), rtol=0, atol=0)
    assert not list(tmp_path.glob("ckpt/*.tmp-*"))


def test_round_trip_and_gradients_for_another_shape(tmp_path):
    """A model in training: every weight gets a gradient from a language-model-style loss on
    the top layer of each direction, and the trained weights survive save and load."""
    model = ELMoBiLM(SMALL_OPTIONS, dropout=0.1, seed=3).train()
    batch = batch_to_char_ids([["One", "two", "three"], ["four"]])
    out = model(batch)
    loss = (out.forward[-1].pow(2) * out.mask[..., None]).sum() + out.backward[-1].sum()
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert out.layers().shape == (2, 2, 5, 12)
    reloaded = load_elmo(*save_elmo(model, tmp_path))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(batch).layers(), model(batch).layers(), rtol=0, atol=0)


def test_bad_files_name_the_file(fixture, tmp_path):
    weights = fixture / "lm_weights.hdf5"
    with pytest.raises(ProbingError, match=r"nowhere\.json.*give encoder.options_file"):
        load_elmo(tmp_path / "nowhere.json", weights)
    unmade = tmp_path / "pretrain" / "my-elmo" / "checkpoints" / "step-0000100" / "options.json"
    with pytest.raises(ProbingError, match=r"checkpoint of the pretraining run .*my-elmo.*"
                                           r"pretrain it first.*name=my-elmo"):
        load_elmo(unmade, weights)
    broken = tmp_path / "broken.json"
    broken.write_text('{"lstm": {\n  "dim": 64,,\n}}')
    with pytest.raises(ProbingError, match=r"broken.json:2"):
        load_elmo(broken, weights)
    lacking = tmp_path / "lacking.json"
    lacking.write_text(json.dumps({"lstm": SMALL_OPTIONS["lstm"], "char_cnn": {}}))
    with pytest.raises(ProbingError, match=r"lacking.json.*char_cnn.filters"):
        load_elmo(lacking, weights)
    with pytest.raises(ProbingError, match=r"missing\.hdf5"):
        load_elmo(fixture / "options.json", tmp_path / "missing.hdf5")
    not_hdf5 = tmp_path / "text.hdf5"
    not_hdf5.write_text("hello")
    with pytest.raises(ProbingError, match=r"text\.hdf5"):
        load_elmo(fixture / "options.json", not_hdf5)
    other_shape = tmp_path / "small.json"
    other_shape.write_text(json.dumps(SMALL_OPTIONS))
    with pytest.raises(ProbingError, match=r"lm_weights\.hdf5: dataset 'char_embed' has shape"):
        load_elmo(other_shape, weights)
    with pytest.raises(ProbingError, match="weight_file"):
        elmo_encoder(fixture / "options.json", None)


def test_hydra_configs_build_the_encoder(data_dir):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "encoder=elmo_fixture", f"paths.data_dir={data_dir}", "device=cpu"])
        random_cfg = compose(config_name="config", overrides=[
            "encoder=elmo", f"encoder.options_file={data_dir}/elmo-fixture/options.json",
            "encoder.weight_file=null", "encoder.random_init=true", "device=cpu"])
    encoder, random_encoder = instantiate(cfg.encoder), instantiate(random_cfg.encoder)
    assert isinstance(encoder, ELMoEncoder) and not encoder.random_init
    assert encoder.name == "elmo-fixture" and random_encoder.random_init


def test_the_project_elmo_config_reads_the_pretraining_checkpoint():
    # encoder=elmo_gutenberg names the folder that results/elmo-gutenberg's pretraining command
    # writes (outputs/pretrain/<name>/checkpoints/<step>); its weights are not committed
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["encoder=elmo_gutenberg"])
    pretrain = compose_pretraining(["objective=elmo", "text=gutenberg",
                                    "name=elmo-gutenberg-30min"], return_hydra_config=True)
    step = Path(pretrain.hydra.run.dir) / "checkpoints" / checkpoint_name(2000)
    assert Path(cfg.encoder.options_file) == step / "options.json"
    assert Path(cfg.encoder.weight_file) == step / "weights.hdf5"
    readme = (REPO / "results" / "elmo-gutenberg" / "README.md").read_text()
    assert "name=elmo-gutenberg-30min" in readme and "train.max_steps=2000" in readme
