"""ScalarMix, the layer selections of the mix modes, and the edge probe over them."""

import pytest
import torch

from probing.errors import ProbingError
from probing.probes.edge import EdgeProbe, SelfAttentivePooling
from probing.probes.scalar_mix import (
    AllLayers,
    CumulativeLayers,
    ScalarMix,
    SingleLayer,
    center_of_gravity,
)


def test_weights_are_a_distribution_and_start_uniform():
    mix = ScalarMix(5)
    torch.testing.assert_close(mix.weights(), torch.full((5,), 0.2))
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([3.0, -1.0, 0.5, 2.0, 0.0]))
    assert mix.weights().sum().item() == pytest.approx(1.0)
    assert (mix.weights() > 0).all()


def test_output_is_gamma_times_weighted_sum():
    torch.manual_seed(0)
    layers = torch.randn(4, 3, 5, 8)  # (batch, width, layers, dim)
    mix = ScalarMix(5)
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]))
        mix.gamma.fill_(2.5)
    s = torch.softmax(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]), dim=0)
    expected = 2.5 * sum(s[i] * layers[:, :, i] for i in range(5))
    torch.testing.assert_close(mix(layers), expected)


def test_layer_norm_normalises_each_layer_before_mixing():
    layers = torch.randn(2, 1, 3, 16) * 100 + 7
    mixed = ScalarMix(3, layer_norm=True)(layers)
    assert mixed.abs().mean() < 5


def test_cumulative_masks_layers_above_l():
    mix = ScalarMix(6, CumulativeLayers(layer=2).layers(6))
    with torch.no_grad():
        mix.scalars.copy_(torch.arange(6.0))
    weights = mix.weights()
    assert (weights[3:] == 0).all()
    assert weights[:3].sum().item() == pytest.approx(1.0)
    layers = torch.randn(2, 1, 6, 4)
    changed = layers.clone()
    changed[:, :, 3:] = 1e6
    torch.testing.assert_close(mix(layers), mix(changed))


def test_single_layer_reads_only_that_layer():
    layers = torch.randn(2, 1, 4, 8)
    mix = ScalarMix(4, SingleLayer(layer=1).layers(4))
    torch.testing.assert_close(mix(layers), layers[:, :, 1])
    assert mix.weights().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_layer_selections():
    assert AllLayers().layers(3) == [0, 1, 2]
    assert SingleLayer(layer=2).layers(3) == [2]
    assert CumulativeLayers(layer=1).layers(3) == [0, 1]
    with pytest.raises(ProbingError, match=r"mix\.layer in 0\.\.2"):
        SingleLayer(layer=3).layers(3)


def test_center_of_gravity():
    assert center_of_gravity([1.0, 0.0, 0.0]) == 0.0
    assert center_of_gravity([0.0, 0.0, 1.0]) == 2.0
    assert center_of_gravity([0.25, 0.25, 0.25, 0.25]) == pytest.approx(1.5)


def test_self_attentive_pooling_is_the_softmax_weighted_mean_of_each_span():
    torch.manual_seed(0)
    pool = SelfAttentivePooling(4)
    rows = torch.randn(6, 4, requires_grad=True)
    # spans over rows (2, 3, 4), (4,) and (0, 1), padded with their first row
    positions = torch.tensor([[2, 3, 4], [4, 4, 4], [0, 1, 0]])
    mask = torch.tensor([[True, True, True], [True, False, False], [True, True, False]])
    pooled = pool(rows, positions, mask)
    for span, (position, keep) in enumerate(zip(positions, mask, strict=True)):
        words = rows[position[keep]]
        alpha = torch.softmax(pool.score(words).squeeze(-1), dim=0)
        torch.testing.assert_close(pooled[span], alpha @ words)
    torch.testing.assert_close(pooled[1], rows[4])
    pooled.sum().backward()
    assert rows.grad[5].abs().sum() == 0, "a row no span reads gets no gradient"


def test_one_word_spans_are_their_word():
    pool = SelfAttentivePooling(4)
    rows = torch.randn(5, 4)
    positions = torch.tensor([[3], [0], [3]])
    torch.testing.assert_close(pool(rows, positions, torch.ones(3, 1, dtype=torch.bool)),
                               rows[[3, 0, 3]])


def test_edge_probe_shapes_and_gradients_reach_the_mix():
    probe = EdgeProbe(n_layers=4, dim=8, n_labels=5, n_spans=2, selection=AllLayers(),
                      proj_dim=6, hidden_dim=7, dropout=0.0, mix_layer_norm=False)
    layers = torch.randn(5, 4, 8)
    spans = [(torch.randint(0, 5, (3, 2)), torch.ones(3, 2, dtype=torch.bool)) for _ in range(2)]
    logits = probe(layers, spans)
    assert logits.shape == (3, 5)
    logits.sum().backward()
    assert probe.mix.scalars.grad is not None and probe.mix.gamma.grad is not None
