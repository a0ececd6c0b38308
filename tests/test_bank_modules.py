"""The bank's own dropout (its drop rate, its scaling, its stream) and the precision of its
matrix products."""

import pytest
import torch

from probing.probes.bank import Dropout
from probing.utils.devices import resolve_precision
from probing.utils.errors import ProbingError


def test_dropout_drops_its_share_and_scales_the_rest():
    x = torch.ones(13, 300, 256)
    dropped = Dropout(0.2, seed=0).train()(x)
    kept = dropped != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.003  # 1M units: s.e. 0.0004
    torch.testing.assert_close(dropped[kept], torch.full((int(kept.sum()),), 1 / 0.8))


def test_dropout_masks_follow_the_seed_and_differ_between_probes():
    x = torch.ones(2, 50, 64)
    first, again = Dropout(0.5, seed=3).train(), Dropout(0.5, seed=3).train()
    assert torch.equal(first(x), again(x))
    assert not torch.equal(first(x), Dropout(0.5, seed=4).train()(x))
    masks = first(x)
    assert not torch.equal(masks[0], masks[1])


def test_dropout_passes_through_in_evaluation_and_at_zero():
    x = torch.randn(3, 4, 5)
    assert torch.equal(Dropout(0.3, seed=0).eval()(x), x)
    assert torch.equal(Dropout(0.0, seed=0).train()(x), x)


def test_precision_auto_is_bf16_only_where_the_device_has_bf16_units():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu, {"avx2", "fma"}) == torch.float32
    assert resolve_precision("auto", cpu, {"avx2", "avx512_bf16"}) == torch.bfloat16
    assert resolve_precision("auto", cpu, {"amx_bf16"}) == torch.bfloat16
    assert resolve_precision("fp32", cpu, {"amx_bf16"}) == torch.float32
    assert resolve_precision("bf16", cpu, set()) == torch.bfloat16


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ProbingError, match=r"trainer\.precision=fp16: give one of auto, fp32"):
        resolve_precision("fp16", torch.device("cpu"))
