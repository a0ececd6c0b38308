"""Minimum description length probing (Voita & Titov 2020): how many bits it takes to send the
training labels with a probe that learns as it goes, the online code, as a probe family.

The training targets are shuffled once (per shuffling seed: `shuffle_seeds`, one record each,
so that the report gives intervals over them) and cut into blocks at `block_fractions` of
them. The first block is sent with the uniform code; each later
block with a fresh probe of the inner family (the edge probe) trained on every target before
it, early stopping on dev, charged its summed negative log-likelihood of the block in bits
(probing/probes/mdl/online_code.py). The probes of every layer selection train side by side on the
same prefixes, from the run's seed. A final probe trained once on all training targets gives
the test scores of every shuffle's record.

What is coded: a single-label task's labels (one of K, log2 K bits a target uniformly; for
SemEval relations the 19 directed labels, not the official score); a multi-label task's labels
one by one (each label's presence a yes/no decision, K bits a target uniformly).
"""

import math
from itertools import pairwise
from typing import Any

import numpy as np
import torch

from probing.probes.family import ProbeFamily, TrainedFamily
from probing.probes.mdl.fields import CodeFields
from probing.probes.mdl.online_code import block_ends, compression, online_codelength
from probing.probes.mdl.online_code import uniform_codelength as uniform
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import EveryLayer, LayerSelection, distinct_layer_sets
from probing.tasks import Task
from probing.tasks.labels import MultiLabel
from probing.utils.errors import ProbingError


def check_fractions(fractions: list[float]) -> list[float]:
    """`probe.block_fractions`: numbers that rise strictly from above 0 to exactly 1."""
    numbers = all(isinstance(f, int | float) and not isinstance(f, bool) for f in fractions)
    if not fractions or not numbers or fractions != sorted(set(fractions)) \
            or fractions[0] <= 0 or fractions[-1] != 1:
        raise ProbingError(f"probe.block_fractions={fractions}: the blocks end at these shares "
                           f"of the training targets, so they must rise strictly from above 0 "
                           f"to exactly 1, e.g. [0.1, 0.25, 0.5, 1.0]")
    return fractions


class OnlineCode(ProbeFamily):
    """`probe=mdl`: the online codelength of each layer selection's probe, once per shuffling
    seed (`probe` is the family whose probes send the labels; it must give each target a
    log-likelihood: `target_nll`)."""

    name = "mdl"
    report = "probing.probes.mdl.report.MDLReport"

    def __init__(self, probe: TrainedFamily, block_fractions: list[float],
                 shuffle_seeds: list[int]) -> None:
        if not hasattr(probe, "target_nll"):
            raise ProbingError(f"probe.probe: the {probe.name} probe gives no log-likelihood of "
                               f"each target (target_nll), which the online code sends the "
                               f"labels with; use the edge probe (the default)")
        self.probe = probe
        self.block_fractions = check_fractions(list(block_fractions))
        self.shuffle_seeds = list(shuffle_seeds)
        if not self.shuffle_seeds or len(set(self.shuffle_seeds)) < len(self.shuffle_seeds) \
                or not all(isinstance(seed, int) for seed in self.shuffle_seeds):
            raise ProbingError(f"probe.shuffle_seeds={self.shuffle_seeds}: give one or more "
                               f"distinct whole numbers (a record each), e.g. [0, 1, 2]")

    def check(self, task: Task, mix: LayerSelection | EveryLayer) -> None:
        self.probe.check(task, mix)

    def run(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> list[Outcome]:
        family = self.probe
        family.prepare(inputs)
        layer_sets = distinct_layer_sets(selections, inputs.n_layers)
        tables = {split: family.table(inputs, split) for split in ("train", "dev", "test")}
        ends = block_ends(len(tables["train"]), self.block_fractions)
        final = family.bank(inputs, layer_sets, seed)
        histories = trainer.fit(final, family, tables["train"], tables["dev"], seed)
        predicted = {split: trainer.predict(final, family, tables[split]) for split in
                     ("dev", "test")}
        multilabel = isinstance(inputs.task.labeling, MultiLabel)
        outcomes = []
        for shuffle in self.shuffle_seeds:
            blocks = self.online_code(inputs, tables, layer_sets, ends, trainer, seed, shuffle)
            for selection in selections:
                k = layer_sets.index(tuple(selection.layers(inputs.n_layers)))
                trained = family.outcome(selection, tables, final, k,
                                         {split: parts[k] for split, parts in predicted.items()},
                                         histories[k])
                outcome = self.coded(trained, ends, [float(b[k]) for b in blocks],
                                     len(inputs.vocab), multilabel)
                outcome.seed, outcome.folder = shuffle, f"{selection.name}-shuffle{shuffle}"
                outcomes.append(outcome)
        return outcomes

    def online_code(self, inputs: Inputs, tables: dict[str, Any],
                    layer_sets: list[tuple[int, ...]], ends: list[int], trainer: Any,
                    seed: int, shuffle: int) -> list[np.ndarray]:
        """Every block after the first: each probe's summed negative log-likelihood in nats,
        from probes trained on the targets before it (the targets shuffled by `shuffle`)."""
        family, train = self.probe, tables["train"]
        order = np.random.default_rng(shuffle).permutation(len(train))
        blocks = []
        for start, end in pairwise(ends):
            bank = family.bank(inputs, layer_sets, seed)
            trainer.fit(bank, family, train.subset(order[:start]), tables["dev"], seed)
            blocks.append(self.block_nll(trainer, family, bank, train.subset(order[start:end])))
        return blocks

    @torch.inference_mode()
    def block_nll(self, trainer: Any, family: TrainedFamily, bank: torch.nn.Module,
                  block: Any) -> np.ndarray:
        """Each probe's summed negative log-likelihood of the block's targets, in nats: (K,)."""
        bank.eval()
        total = torch.zeros(bank.n_probes, dtype=torch.float64)
        for index in block.eval_batches(trainer.eval_batch_size):
            batch = block.batch(index, trainer.device)
            total += family.target_nll(bank(batch), batch).sum(-1).double().cpu()
        return total.numpy()

    def coded(self, trained: Outcome, ends: list[int], nll: list[float], n_labels: int,
              multilabel: bool) -> Outcome:
        """The final probe's outcome, its codelength and compression added."""
        n = ends[-1]
        bits = online_codelength(ends[0], n_labels, nll, multilabel)
        ratio = compression(n, n_labels, bits, multilabel)
        code = {"compression": ratio, "codelength_kbits": bits / 1000,
                "uniform_kbits": uniform(n, n_labels, multilabel) / 1000}
        coded = ("each target's labels one by one, every label's presence a yes/no decision"
                 if multilabel else f"each target's label, one of {n_labels}")
        fields = CodeFields(
            codelength_bits=bits, uniform_bits=uniform(n, n_labels, multilabel),
            compression=ratio, coded=coded, targets=n,
            blocks=[{"end": end, "bits": (uniform(ends[0], n_labels, multilabel)
                                          if i == 0 else nll[i - 1] / math.log(2))}
                    for i, end in enumerate(ends)],
            final_probe=trained.fields).to_json()
        return Outcome(trained.selection, "compression",
                       {"dev": trained.metrics["dev"], "test": {**code, **trained.metrics["test"]}},
                       fields, trained.history, trained.baseline, trained.test_arrays)
