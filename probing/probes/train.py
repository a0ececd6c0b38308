"""The probe's training regimen: Adam, learning-rate halving on plateau, early stopping on dev."""

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from probing.devices import resolve_device
from probing.errors import ProbingError
from probing.probes.spans import SpanTable
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
    """Trains probes on frozen activations and keeps each one's epoch with the best dev score.

    After every epoch (one pass over train, or several for a small split: at least
    `min_epoch_targets` targets) the dev split is scored; when the task's dev metric does not
    improve, the learning rate is multiplied by `lr_decay`, and after `patience` such epochs in
    a row training stops. The weights of the best epoch are restored. `seed` fixes the order of
    the batches. The task's labeling gives the loss, the decision rule and the metrics.
    """

    def __init__(self, batch_size: int, lr: float, weight_decay: float, max_epochs: int,
                 patience: int, lr_decay: float, eval_batch_size: int,
                 min_epoch_targets: int, device: str) -> None:
        for setting, value, low, high, low_open in (
                ("batch_size", batch_size, 1, float("inf"), False),
                ("eval_batch_size", eval_batch_size, 1, float("inf"), False),
                ("max_epochs", max_epochs, 1, float("inf"), False),
                ("patience", patience, 1, float("inf"), False),
                ("min_epoch_targets", min_epoch_targets, 0, float("inf"), False),
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
        self.min_epoch_targets = min_epoch_targets
        self.device = resolve_device(device)

    def fit(self, probes: list[nn.Module], train: Split, dev: Split, labeling: Labeling,
            labels: list[str], seed: int) -> list[list[dict]]:
        """Train `probes` side by side on the same batches (each batch of activations is read
        once for all of them); each keeps its own optimizer, learning rate, patience and best
        epoch, and leaves the batches when it stops. Returns each probe's history."""
        courses = [Course(probe.to(self.device), torch.optim.Adam(
            probe.parameters(), lr=self.lr, weight_decay=self.weight_decay, fused=True))
                   for probe in probes]
        rng = np.random.default_rng(seed)
        for epoch in range(1, self.max_epochs + 1):
            active = [course for course in courses if not course.done]
            if not active:
                break
            start = time.perf_counter()
            losses = self._epoch(active, train, labeling, rng, epoch)
            scores = self.evaluate([course.probe for course in active], dev, labeling, labels)
            seconds = round(time.perf_counter() - start, 2)
            for course, loss, score in zip(active, losses, scores, strict=True):
                course.end_epoch(epoch, loss, score, labeling.metric, seconds, self.patience,
                                 self.lr_decay)
            log.info("epoch %d: loss %s, dev %s %s", epoch, _few(losses), labeling.metric,
                     _few([score[labeling.metric] for score in scores]))
        for course in courses:
            course.probe.load_state_dict(course.best_state)
        return [course.history for course in courses]

    def _epoch(self, courses: list["Course"], train: Split, labeling: Labeling,
               rng: np.random.Generator, epoch: int) -> list[float]:
        for course in courses:
            course.probe.train()
        totals, count = np.zeros(len(courses)), 0
        # A small training split is passed over several times between two dev evaluations, so
        # that an epoch is at least `min_epoch_targets` targets (877 entities would otherwise
        # get 4 steps an epoch); a large one once, as an epoch is everywhere else.
        passes = max(1, -(-self.min_epoch_targets // len(train.table)))
        batches = [batch for _ in range(passes)
                   for batch in train.table.sentence_batches(rng, self.batch_size)]
        for index in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False):
            batch = train.table.batch(index, train.vectors, self.device)
            for k, course in enumerate(courses):
                loss = labeling.loss(course.probe(batch.layers, batch.spans), batch.labels)
                course.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                course.optimizer.step()
                totals[k] += loss.item() * len(index)
            count += len(index)
        return (totals / count).tolist()

    @torch.inference_mode()
    def predict(self, probes: list[nn.Module], split: Split, labeling: Labeling
                ) -> list[np.ndarray]:
        """Each probe's decisions on every target of `split`, reading each batch once."""
        for probe in probes:
            probe.eval().to(self.device)
        predictions: list[list[np.ndarray]] = [[] for _ in probes]
        for start in range(0, len(split.table), self.eval_batch_size):
            index = np.arange(start, min(start + self.eval_batch_size, len(split.table)))
            batch = split.table.batch(index, split.vectors, self.device)
            for probe, decided in zip(probes, predictions, strict=True):
                decided.append(labeling.decide(probe(batch.layers, batch.spans)).cpu().numpy())
        return [np.concatenate(decided) for decided in predictions]

    def evaluate(self, probes: list[nn.Module], split: Split, labeling: Labeling,
                 labels: list[str]) -> list[dict[str, float]]:
        return [labeling.score(split.table.labels, predicted, labels)
                for predicted in self.predict(probes, split, labeling)]


@dataclass
class Course:
    """One probe's way through training: its optimizer, history, best dev score and weights,
    and how many epochs in a row have not beaten it."""

    probe: nn.Module
    optimizer: torch.optim.Optimizer
    history: list[dict] = field(default_factory=list)
    best_score: float = -np.inf
    best_state: dict | None = None
    bad_epochs: int = 0
    done: bool = False

    def end_epoch(self, epoch: int, loss: float, scores: dict[str, float], metric: str,
                  seconds: float, patience: int, lr_decay: float) -> None:
        """Keep the weights of a new best epoch; otherwise decay the rate, or stop after
        `patience` epochs in a row without a new best."""
        self.history.append({"epoch": epoch, "loss": loss,
                             "lr": self.optimizer.param_groups[0]["lr"], "seconds": seconds,
                             **{f"dev_{k}": v for k, v in scores.items()}})
        if scores[metric] > self.best_score:
            self.best_score, self.bad_epochs = scores[metric], 0
            self.best_state = copy.deepcopy(self.probe.state_dict())
            return
        self.bad_epochs += 1
        if self.bad_epochs >= patience:
            self.done = True
            return
        for group in self.optimizer.param_groups:
            group["lr"] *= lr_decay


def _few(values: list[float]) -> str:
    shown = " ".join(f"{v:.4f}" for v in values[:4])
    return shown + (f" ... ({len(values)} probes)" if len(values) > 4 else "")
