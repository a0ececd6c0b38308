"""The one trainer of every probe family: Adam, learning-rate decay on plateau, early stopping
on dev, the best dev epoch kept; K probes of a bank side by side, each on its own course.

It knows nothing of what it trains: the family gives the batches of a split, the bank of
probes, the loss of a batch, the predictions and their scores (`probing.probes.family`)."""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from tqdm import tqdm

from probing.probes.family import SplitTable, TrainedFamily, mean_bits
from probing.probes.optimizer import BankAdam
from probing.utils.devices import resolve_device, resolve_precision
from probing.utils.errors import check_range

log = logging.getLogger(__name__)


@dataclass
class EarlyStopping:
    """One probe's way through training: its history, its best dev score and the weights of
    that epoch, and how many epochs in a row have not beaten it."""

    history: list[dict] = field(default_factory=list)
    best_score: float = -np.inf
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    bad_epochs: int = 0


class Trainer:
    """Trains the probes of a bank on frozen activations, each keeping its epoch with the best
    dev score.

    After every epoch (one pass over train, or several for a small split: at least
    `min_epoch_targets` targets) dev is scored; when a probe's dev metric does not improve, its
    learning rate is multiplied by `lr_decay`, and after `patience` such epochs in a row it
    stops. Each probe's weights of its best epoch are restored. `seed` fixes the batch order.

    `precision` (`probing.utils.devices.resolve_precision`): in bfloat16 the probes' matrix
    products run under autocast; the weights, the optimiser and the loss stay float32.
    """

    def __init__(self, batch_size: int, lr: float, weight_decay: float, max_epochs: int,
                 patience: int, lr_decay: float, eval_batch_size: int,
                 min_epoch_targets: int, device: str, precision: str) -> None:
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
        self.dtype = resolve_precision(precision, self.device)

    def fit(self, bank: nn.Module, family: TrainedFamily, train: SplitTable, dev: SplitTable,
            seed: int) -> list[list[dict]]:
        """Train every probe of `bank` on the same batches; returns each probe's history."""
        bank.to(self.device)
        n_probes = bank.n_probes
        optimizer = BankAdam(bank, n_probes, self.lr, self.weight_decay)
        courses = [EarlyStopping() for _ in range(n_probes)]
        rng = np.random.default_rng(seed)
        for epoch in range(1, self.max_epochs + 1):
            active = [k for k, rate in enumerate(optimizer.rates) if rate is not None]
            if not active:
                break
            start = time.perf_counter()
            losses = self._epoch(bank, family, train, optimizer, active, rng, epoch)
            predicted, nll = self.evaluate(bank, family, dev, active)
            scores = [family.score(dev, parts) for parts in predicted]
            if nll is not None:  # the dev loss beside the dev metric that early stopping reads
                scores = [{**score, "cross_entropy_bits": mean_bits(n)}
                          for score, n in zip(scores, nll, strict=True)]
            seconds = round(time.perf_counter() - start, 2)
            for k, loss, score in zip(active, losses, scores, strict=True):
                self._end_epoch(bank, k, courses[k], optimizer, epoch, float(loss), score,
                                family.metric, seconds)
            log.info("epoch %d: loss %s, dev %s %s", epoch, _first_values(losses),
                     family.metric, _first_values([s[family.metric] for s in scores]))
        restore_best(bank, courses)
        return [course.history for course in courses]

    def _epoch(self, bank: nn.Module, family: TrainedFamily, train: SplitTable,
               optimizer: BankAdam, active: list[int], rng: np.random.Generator, epoch: int
               ) -> np.ndarray:
        """One epoch of the probes still training (`active`): the mean loss of each."""
        bank.train()
        forward = probes_of(bank, active)
        # A small training split is passed over several times between two dev evaluations, so
        # that an epoch is at least `min_epoch_targets` targets (754 entities would otherwise
        # get 4 steps an epoch); a large one once, as an epoch is everywhere else.
        passes = max(1, -(-self.min_epoch_targets // len(train)))
        batches = [index for _ in range(passes) for index in train.batches(rng, self.batch_size)]
        total, count = torch.zeros(len(active)), 0
        for index in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False):
            batch = train.batch(index, self.device)
            with self.autocast():
                outputs = forward(batch)
            losses = family.loss(outputs.float(), batch)
            optimizer.zero_grad()
            losses.sum().backward()
            optimizer.step()
            total += losses.detach().cpu() * len(index)
            count += len(index)
        return (total / count).numpy()

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.dtype == torch.bfloat16)

    def _end_epoch(self, bank: nn.Module, k: int, course: EarlyStopping, optimizer: BankAdam,
                   epoch: int, loss: float, scores: dict[str, float], metric: str,
                   seconds: float) -> None:
        """Keep probe k's weights of a new best epoch; otherwise decay its rate, or stop it
        after `patience` epochs in a row without a new best."""
        course.history.append({"epoch": epoch, "loss": loss, "lr": optimizer.rates[k],
                               "seconds": seconds, **{f"dev_{n}": v for n, v in scores.items()}})
        if scores[metric] > course.best_score:
            course.best_score, course.bad_epochs = scores[metric], 0
            course.best_state = {name: p[k].detach().clone()
                                 for name, p in bank.state_dict().items()}
            return
        course.bad_epochs += 1
        optimizer.rates[k] = (None if course.bad_epochs >= self.patience
                              else optimizer.rates[k] * self.lr_decay)

    def predict(self, bank: nn.Module, family: TrainedFamily, split: SplitTable,
                probes: list[int] | None = None) -> list[list]:
        """The predictions on `split` of every probe (or of `probes`), per batch, reading
        each batch once."""
        return self.evaluate(bank, family, split, probes, cross_entropy=False)[0]

    @torch.inference_mode()
    def evaluate(self, bank: nn.Module, family: TrainedFamily, split: SplitTable,
                 probes: list[int] | None = None, cross_entropy: bool = True
                 ) -> tuple[list[list], list[np.ndarray] | None]:
        """Each probe's predictions on `split` (per batch) and, where the family gives each
        target's negative log-likelihood (`target_nll`) and `cross_entropy` asks for it, that
        of every target in bits (else None): what information measures are computed from
        (`mean_bits` gives the split's cross-entropy)."""
        bank.eval().to(self.device)
        probes = list(range(bank.n_probes)) if probes is None else probes
        forward = probes_of(bank, probes)
        predicted: list[list] = [[] for _ in probes]
        nats: list[torch.Tensor] = []
        scores_nll = cross_entropy and hasattr(family, "target_nll")
        for index in split.eval_batches(self.eval_batch_size):
            batch = split.batch(index, self.device)
            with self.autocast():
                outputs = forward(batch).float()
            for parts, decided in zip(predicted, family.decide(outputs, batch), strict=True):
                parts.append(decided)
            if scores_nll:
                nats.append(family.target_nll(outputs, batch).cpu())
        if not (scores_nll and nats):
            return predicted, None
        bits = (torch.cat(nats, dim=-1).double() / math.log(2)).float().numpy()
        return predicted, list(bits)


def probes_of(bank: nn.Module, probes: list[int]) -> Callable[[Any], torch.Tensor]:
    """The bank's forward pass for some of its probes only: the others are not computed. Once
    some probes of a bank have stopped, this saves their share of every batch; the gradient
    still reaches the bank's own parameters, through the indexing."""
    if probes == list(range(bank.n_probes)):
        return bank
    index = torch.tensor(probes, device=next(bank.parameters()).device)
    def forward(batch: Any) -> torch.Tensor:
        tensors = {name: t.index_select(0, index)
                   for name, t in (*bank.named_parameters(), *bank.named_buffers())}
        return functional_call(bank, tensors, (batch,))
    return forward


def restore_best(bank: nn.Module, courses: list[EarlyStopping]) -> None:
    """Put each probe's weights of its best dev epoch back into the bank."""
    state = bank.state_dict()
    with torch.no_grad():
        for k, course in enumerate(courses):
            for name, value in course.best_state.items():
                state[name][k].copy_(value)


def _first_values(values) -> str:
    shown = " ".join(f"{v:.4f}" for v in list(values)[:4])
    return shown + (f" ... ({len(values)} probes)" if len(values) > 4 else "")
