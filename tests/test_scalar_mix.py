"""ScalarMix, the layer selections of the mix settings, and the edge probe over them: K probes
side by side in one bank."""

import pytest
import torch

from probing.probes.edge.model import EdgeProbes, SelfAttentivePooling
from probing.probes.edge.spans import SpanBatch
from probing.probes.scalar_mix import ScalarMix, center_of_gravity
from probing.runs.selection import (
    AllLayers,
    CumulativeLayers,
    EveryLayer,
    SingleLayer,
    distinct_layer_sets,
)
from probing.utils.errors import ProbingError


def test_weights_are_a_distribution_and_start_uniform():
    mix = ScalarMix(5, [tuple(range(5))], layer_norm=False)
    torch.testing.assert_close(mix.weights(), torch.full((1, 5), 0.2))
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([[3.0, -1.0, 0.5, 2.0, 0.0]]))
    assert mix.weights().sum().item() == pytest.approx(1.0)
    assert (mix.weights() > 0).all()


def mixed(mix: ScalarMix, layers: torch.Tensor) -> torch.Tensor:
    """The mixes themselves: read through the identity map."""
    k, dim = len(mix.gamma), layers.shape[-1]
    return mix(layers, torch.eye(dim).expand(k, dim, dim), None)


def test_output_is_gamma_times_weighted_sum_for_each_probe():
    torch.manual_seed(0)
    layers = torch.randn(5, 6, 8)  # (layers, rows, dim)
    mix = ScalarMix(5, [tuple(range(5)), (1, 2)], layer_norm=False)
    a = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    with torch.no_grad():
        mix.scalars.copy_(torch.stack([a, a]))
        mix.gamma.copy_(torch.tensor([2.5, 0.5]))
    s = torch.softmax(a, dim=0)
    torch.testing.assert_close(mixed(mix, layers)[0],
                               2.5 * sum(s[i] * layers[i] for i in range(5)))
    s12 = torch.softmax(a[1:3], dim=0)
    torch.testing.assert_close(mixed(mix, layers)[1],
                               0.5 * (s12[0] * layers[1] + s12[1] * layers[2]))


def test_the_hand_written_gradient_equals_autograd_of_mix_then_project():
    torch.manual_seed(1)
    layers = torch.randn(4, 6, 5)
    sets = [(0, 1, 2, 3), (2,), (0, 1), (3,)]
    weight, bias = torch.randn(4, 5, 3, requires_grad=True), torch.randn(4, 1, 3)
    mix = ScalarMix(4, sets, layer_norm=False)
    with torch.no_grad():
        mix.scalars.normal_()
        mix.gamma.uniform_(0.5, 2)
    target = torch.randn(4, 6, 3)
    ((mix(layers, weight, bias) - target) ** 2).sum().backward()
    fused = [mix.scalars.grad.clone(), mix.gamma.grad.clone(), weight.grad.clone()]
    for t in (mix.scalars, mix.gamma, weight):
        t.grad = None
    plain = ((mix.gamma[:, None] * mix.weights()) @ layers.reshape(4, -1)).view(4, 6, 5)
    ((torch.bmm(plain, weight) + bias - target) ** 2).sum().backward()
    for got, want in zip(fused, (mix.scalars.grad, mix.gamma.grad, weight.grad), strict=True):
        torch.testing.assert_close(got, want)


def test_layer_norm_normalises_each_layer_before_mixing():
    layers = torch.randn(3, 2, 16) * 100 + 7
    assert mixed(ScalarMix(3, [(0, 1, 2)], layer_norm=True), layers).abs().mean() < 5


def test_cumulative_masks_layers_above_l():
    mix = ScalarMix(6, [tuple(CumulativeLayers(layer=2).layers(6))], layer_norm=False)
    with torch.no_grad():
        mix.scalars.copy_(torch.arange(6.0)[None])
    weights = mix.weights()[0]
    assert (weights[3:] == 0).all()
    assert weights[:3].sum().item() == pytest.approx(1.0)
    layers = torch.randn(6, 2, 4)
    changed = layers.clone()
    changed[3:] = 1e6
    torch.testing.assert_close(mixed(mix, layers), mixed(mix, changed))


def test_single_layer_reads_only_that_layer():
    layers = torch.randn(4, 2, 8)
    mix = ScalarMix(4, [tuple(SingleLayer(layer=1).layers(4))], layer_norm=False)
    torch.testing.assert_close(mixed(mix, layers)[0], layers[1])
    assert mix.weights()[0].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_layer_selections():
    assert AllLayers().layers(3) == [0, 1, 2]
    assert SingleLayer(layer=2).layers(3) == [2]
    assert CumulativeLayers(layer=1).layers(3) == [0, 1]
    with pytest.raises(ProbingError, match=r"mix\.layer in 0\.\.2"):
        SingleLayer(layer=3).layers(3)
    every = EveryLayer(single=True, cumulative=True).selections(3)
    assert [s.name for s in every] == ["all", "single-0", "single-1", "single-2",
                                       "cumulative-0", "cumulative-1", "cumulative-2"]
    assert distinct_layer_sets(every, 3) == [(0, 1, 2), (0,), (1,), (2,), (0, 1)]
    assert [s.name for s in EveryLayer(single=True, cumulative=False).selections(2)] == [
        "all", "single-0", "single-1"]


def test_center_of_gravity():
    assert center_of_gravity([1.0, 0.0, 0.0]) == 0.0
    assert center_of_gravity([0.0, 0.0, 1.0]) == 2.0
    assert center_of_gravity([0.25, 0.25, 0.25, 0.25]) == pytest.approx(1.5)


def test_self_attentive_pooling_is_the_softmax_weighted_mean_of_each_span():
    pool = SelfAttentivePooling(2, 4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        pool.score.weight[1].mul_(-3)  # the second probe scores words otherwise
    rows = torch.randn(2, 6, 4, requires_grad=True)
    # spans over rows (2, 3, 4), (4,) and (0, 1), padded with their first row
    positions = torch.tensor([[2, 3, 4], [4, 4, 4], [0, 1, 0]])
    mask = torch.tensor([[True, True, True], [True, False, False], [True, True, False]])
    pooled = pool(rows, positions, mask)
    for k in range(2):
        for span, (position, keep) in enumerate(zip(positions, mask, strict=True)):
            words = rows[k, position[keep]]
            scores = words @ pool.score.weight[k, :, 0] + pool.score.bias[k, 0, 0]
            torch.testing.assert_close(pooled[k, span], torch.softmax(scores, 0) @ words)
        torch.testing.assert_close(pooled[k, 1], rows[k, 4])
    pooled.sum().backward()
    assert rows.grad[:, 5].abs().sum() == 0, "a row no span reads gets no gradient"


def test_one_word_spans_are_their_word():
    pool = SelfAttentivePooling(1, 4, torch.Generator().manual_seed(0))
    rows = torch.randn(1, 5, 4)
    positions = torch.tensor([[3], [0], [3]])
    torch.testing.assert_close(pool(rows, positions, torch.ones(3, 1, dtype=torch.bool)),
                               rows[:, [3, 0, 3]])


def test_edge_probes_start_alike_and_gradients_reach_each_mix():
    probes = EdgeProbes([(0, 1, 2, 3), (2,)], n_layers=4, dim=8, n_labels=5, n_spans=2,
                        proj_dim=6, hidden_dim=7, dropout=0.0, mix_layer_norm=False,
                        mix_lr_scale=30, seed=0)
    for name, p in probes.named_parameters():
        if name != "mix.scalars":
            torch.testing.assert_close(p[0], p[1], msg=f"{name} differs between the probes")
    alone = EdgeProbes([(2,)], n_layers=4, dim=8, n_labels=5, n_spans=2, proj_dim=6,
                       hidden_dim=7, dropout=0.0, mix_layer_norm=False, mix_lr_scale=30, seed=0)
    torch.testing.assert_close(alone.output.weight[0], probes.output.weight[1])
    batch = SpanBatch(torch.randn(4, 5, 8),
                      [(torch.randint(0, 5, (3, 2)), torch.ones(3, 2, dtype=torch.bool))] * 2,
                      torch.zeros(3, dtype=torch.long))
    logits = probes(batch)
    assert logits.shape == (2, 3, 5)
    torch.testing.assert_close(alone(batch)[0], logits[1])
    logits.sum().backward()
    assert probes.mix.scalars.grad[0].abs().sum() > 0 and probes.mix.gamma.grad.abs().min() > 0
    assert probes.mix.scalars.grad[1].abs().sum() == 0, "one layer alone has nothing to mix"
