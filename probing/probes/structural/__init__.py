"""Structural probes (Hewitt & Manning 2019) as probe families: `probe=distance` recovers tree
distances between words (UUAS, DSpr), `probe=depth` each word's depth (root accuracy, NSpr).
Their tasks are Universal Dependencies trees (task=deps, upos or xpos: the same sentences)."""

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from probing.probes.family import TrainedFamily
from probing.probes.structural import metrics
from probing.probes.structural.model import StructuralProbes, l1_loss
from probing.probes.structural.trees import TreeBatch, TreeTable
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import EveryLayer, LayerSelection
from probing.tasks import Task
from probing.utils.errors import ProbingError, check_integer, check_range


class StructuralProbe(TrainedFamily):
    """Early stopping watches the dev loss (as the authors' code does): the metric it maximises
    is its negative; the tree metrics are computed once, on the best epoch's dev and test
    predictions."""

    depth: ClassVar[bool]
    report_metric: ClassVar[str]  # what the report shows
    metric = "negative_l1_loss"

    def __init__(self, rank: int, mix_lr_scale: float) -> None:
        check_integer("probe.rank", rank)
        check_range("probe.mix_lr_scale", mix_lr_scale, 0, float("inf"), low_open=True)
        self.rank = rank
        self.mix_lr_scale = mix_lr_scale

    def check(self, task: Task, mix: LayerSelection | EveryLayer) -> None:
        if not task.has_trees:
            raise ProbingError(
                f"probe={self.name} needs a dependency tree for every sentence, and "
                f"task={task.name} has none; probe a Universal Dependencies task (task=deps, "
                f"upos or xpos)")

    def table(self, inputs: Inputs, split: str) -> TreeTable:
        return TreeTable.build(inputs.examples[split], inputs.activations[split], self.depth,
                               split)

    def bank(self, inputs: Inputs, layer_sets: list[tuple[int, ...]], seed: int
             ) -> StructuralProbes:
        return StructuralProbes(layer_sets, inputs.n_layers, inputs.dim,
                                self.rank, self.depth, self.mix_lr_scale, seed)

    def loss(self, outputs: torch.Tensor, batch: TreeBatch) -> torch.Tensor:
        return l1_loss(outputs, batch)

    def decide(self, outputs: torch.Tensor, batch: TreeBatch) -> list[list[np.ndarray]]:
        """Each probe's predictions, one array a sentence, cut to its length."""
        outputs, lengths = outputs.cpu().numpy(), batch.lengths.tolist()
        cut = (lambda a, n: a[:n, :n]) if outputs.ndim == 4 else (lambda a, n: a[:n])
        return [[cut(sentence, n) for sentence, n in zip(probe, lengths, strict=True)]
                for probe in outputs]

    def score(self, table: TreeTable, predicted: list[list[np.ndarray]]) -> dict[str, float]:
        sentences = [sentence for part in predicted for sentence in part]
        errors = [np.abs(p - g).sum() / len(g) ** g.ndim
                  for p, g in zip(sentences, table.gold, strict=True)]
        return {"negative_l1_loss": -float(np.mean(errors))}

    @abstractmethod
    def statistics(self, table: TreeTable, sentences: list[np.ndarray]
                   ) -> dict[str, np.ndarray]:
        """Per test sentence, what the tree metrics are made of (structural/metrics.py)."""

    @abstractmethod
    def tree_scores(self, stats: dict[str, np.ndarray]) -> dict[str, float]: ...

    def outcome(self, selection: LayerSelection, tables: dict[str, TreeTable],
                bank: StructuralProbes, k: int, predicted: dict[str, list[Any]],
                history: list[dict]) -> Outcome:
        metrics_of, test_stats = {}, None
        for split, parts in predicted.items():
            sentences = [sentence for part in parts for sentence in part]
            stats = self.statistics(tables[split], sentences)
            metrics_of[split] = {**self.tree_scores(stats),
                                 **self.score(tables[split], parts)}
            test_stats = stats if split == "test" else test_stats
        weights = bank.mix.weights()[k].tolist()
        return Outcome(
            selection, self.report_metric, metrics_of,
            fields={"rank": self.rank, "mixing_weights": weights,
                    "gamma": bank.mix.gamma[k].item(),
                    "punctuation": "UPOS PUNCT is left out of the trees of UUAS and of the "
                                   "root search; Spearman averages every word",
                    "spearman_lengths": list(metrics.SPEARMAN_LENGTHS)},
            history=history,
            test_arrays={**test_stats, "sentence": np.arange(len(test_stats["length"]))})


class DistanceProbe(StructuralProbe):
    """Squared distances under B match tree distances; scored by UUAS and DSpr."""

    name = "distance"
    report = "probing.probes.structural.report.DistanceReport"
    report_metric = "uuas"
    depth = False

    def statistics(self, table: TreeTable, sentences: list[np.ndarray]
                   ) -> dict[str, np.ndarray]:
        return metrics.distance_statistics(sentences, table.heads, table.punct)

    def tree_scores(self, stats: dict[str, np.ndarray]) -> dict[str, float]:
        return {"uuas": metrics.uuas(stats), "dspr": metrics.distance_spearman(stats)}


class DepthProbe(StructuralProbe):
    """Squared norms under B match tree depths; scored by root accuracy and NSpr."""

    name = "depth"
    report = "probing.probes.structural.report.DepthReport"
    report_metric = "root_accuracy"
    depth = True

    def statistics(self, table: TreeTable, sentences: list[np.ndarray]
                   ) -> dict[str, np.ndarray]:
        return metrics.depth_statistics(sentences, table.heads, table.punct)

    def tree_scores(self, stats: dict[str, np.ndarray]) -> dict[str, float]:
        return {"root_accuracy": metrics.root_accuracy(stats),
                "nspr": metrics.depth_spearman(stats)}
