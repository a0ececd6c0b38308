"""The optimizer's parameter groups and the learning-rate schedule of pretraining: linear
warm-up, then linear decay to 0 at train.max_steps."""

from collections.abc import Callable

from torch import nn


def warmup_then_linear_decay(warmup_steps: int, max_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier after `step` updates: (step + 1) / warmup_steps during the
    warm-up, then (max_steps - step) / (max_steps - warmup_steps), reaching 0 at max_steps."""
    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (max_steps - step) / max(1, max_steps - warmup_steps))
    return multiplier


def parameter_groups(model: nn.Module) -> list[dict]:
    """Weight decay on matrices only; biases and LayerNorm gains are not decayed (as BERT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim >= 2]},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
