"""The one way a family intervenes in an encoder: an edit of layer l's hidden states on the
way through (probing/encoders/base.py, LayerEdit), on the tiny random BERT."""

import pytest
import torch

from probing.encoders.base import LayerEdit
from probing.encoders.hf import HFEncoder
from probing.utils.errors import ProbingError

SENTENCES = [["the", "cat", "sat"], ["a", "dog", "ran", "home", "fast"]]


@pytest.fixture
def encoder(tiny_bert):
    return HFEncoder(tiny_bert, "tiny", "mean", None, None, "cpu", "float32", False, 0, "error")


def stacked(encoder) -> torch.Tensor:
    return torch.cat(encoder.encode(SENTENCES), dim=1)  # (layers, words, dim)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_an_identity_edit_changes_no_bit(encoder, layer):
    clean = stacked(encoder)
    with encoder.edited(LayerEdit(layer, lambda h: h, "identity")) as edited:
        assert torch.equal(stacked(edited), clean)


@pytest.mark.parametrize("layer", [0, 1])
def test_an_edit_reaches_its_layer_and_every_layer_above(encoder, layer):
    clean, clean_key = stacked(encoder), encoder.fingerprint()
    with encoder.edited(LayerEdit(layer, lambda h: h * 0.0, "zero")) as edited:
        assert edited.fingerprint() != clean_key, "its vectors never share the clean cache"
        vectors = stacked(edited)
    assert torch.equal(vectors[:layer], clean[:layer]), "the layers below are untouched"
    assert torch.count_nonzero(vectors[layer]) == 0, "mean pooling of zeros"
    assert not torch.allclose(vectors[layer + 1:], clean[layer + 1:]), "the layers above read it"
    assert torch.equal(stacked(encoder), clean) and encoder.fingerprint() == clean_key, \
        "the edit ends with the block"


def test_an_edit_of_a_layer_the_encoder_lacks_is_refused(encoder):
    with pytest.raises(ProbingError, match="no layer 7"), encoder.edited(
            LayerEdit(7, lambda h: h, "x")):
        pass
