"""The probe's training regimen: Adam, learning-rate halving on plateau, early stopping on dev."""

import copy
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from probing.errors import ProbingError
from probing.probes.spans import SpanTable
from probing.runtime import resolve_device
from probing.tasks.labels import Labeling

log = logging.getLogger(__name__)


@dataclass
class Split:
    """The targets of one split and the activations they point into."""

    table: SpanTable
    vectors: np.ndarray


def check_range(setting: str, value: float, low: float, high: float = float("inf"),
                low_open: bool = False) -> None:
    """Refuse a numeric setting outside [low, high] (or (low, high]), naming it and the range."""
    if not (low < value if low_open else low <= value) or value > high:
        bracket = "(" if low_open else "["
        raise ProbingError(f"{setting}={value} is out of range: allowed {bracket}{low}, {high}]")


class Trainer:
    """Trains a probe on frozen activations and keeps the epoch with the best dev score.

    After every epoch the dev split is scored; when the task's dev metric does not improve the
    learning rate is multiplied by `lr_decay`, and after `patience` such epochs in a row
    training stops. The weights of the best epoch are restored. `seed` fixes the order of the
    batches. The task's labeling gives the loss, the decision rule and the metrics.
    """

    def __init__(self, batch_size: int, lr: float, weight_decay: float, max_epochs: int,
                 patience: int, lr_decay: float, eval_batch_size: int, device: str) -> None:
        for setting, value, low, high, low_open in (
                ("batch_size", batch_size, 1, float("inf"), False),
                ("eval_batch_size", eval_batch_size, 1, float("inf"), False),
                ("max_epochs", max_epochs, 1, float("inf"), False),
                ("patience", patience, 1, float("inf"), False),
                ("lr", lr, 0, float("inf"), True),
                ("weight_decay", weight_decay, 0, float("inf"), False),
                ("lr_decay", lr_decay, 0, 1, True)):
            check_range(f"trainer.{setting}", value, low, high, low_open)
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.lr_decay = lr_decay
        self.eval_batch_size = eval_batch_size
        self.device = resolve_device(device)

    def fit(self, probe: nn.Module, train: Split, dev: Split, labeling: Labeling,
            labels: list[str], seed: int) -> list[dict]:
        metric = labeling.metric
        probe.to(self.device)
        optimizer = torch.optim.Adam(probe.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay, fused=True)
        rng = np.random.default_rng(seed)
        history: list[dict] = []
        best_score, best_state, bad_epochs = -np.inf, None, 0
        for epoch in range(1, self.max_epochs + 1):
            start = time.perf_counter()
            loss = self._epoch(probe, optimizer, train, labeling, rng, epoch)
            scores = self.evaluate(probe, dev, labeling, labels)
            history.append({"epoch": epoch, "loss": loss, "lr": optimizer.param_groups[0]["lr"],
                            "seconds": round(time.perf_counter() - start, 2),
                            **{f"dev_{k}": v for k, v in scores.items()}})
            log.info("epoch %d: loss %.4f, dev %s %.4f", epoch, loss, metric, scores[metric])
            if scores[metric] > best_score:
                best_score, best_state, bad_epochs = scores[metric], copy.deepcopy(
                    probe.state_dict()), 0
                continue
            bad_epochs += 1
            if bad_epochs >= self.patience:
                break
            for group in optimizer.param_groups:
                group["lr"] *= self.lr_decay
        probe.load_state_dict(best_state)
        return history

    def _epoch(self, probe: nn.Module, optimizer: torch.optim.Optimizer, train: Split,
               labeling: Labeling, rng: np.random.Generator, epoch: int) -> float:
        probe.train()
        total, count = 0.0, 0
        batches = train.table.sentence_batches(rng, self.batch_size)
        for index in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False):
            batch = train.table.batch(index, train.vectors, self.device)
            loss = labeling.loss(probe(batch.layers, batch.spans), batch.labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            count += len(index)
        return total / count

    @torch.inference_mode()
    def predict(self, probe: nn.Module, split: Split, labeling: Labeling) -> np.ndarray:
        probe.eval().to(self.device)
        predictions = []
        for start in range(0, len(split.table), self.eval_batch_size):
            index = np.arange(start, min(start + self.eval_batch_size, len(split.table)))
            batch = split.table.batch(index, split.vectors, self.device)
            predictions.append(labeling.decide(probe(batch.layers, batch.spans)).cpu().numpy())
        return np.concatenate(predictions)

    def evaluate(self, probe: nn.Module, split: Split, labeling: Labeling, labels: list[str]
                 ) -> dict[str, float]:
        return labeling.score(split.table.labels, self.predict(probe, split, labeling), labels)
