"""The edge probe (Tenney et al. 2019): spans of a sentence labelled from a scalar mix of the
encoder's layers, as one probe family."""

from typing import Any

import numpy as np
import torch

from probing.probes.edge.model import EdgeProbes
from probing.probes.edge.spans import SpanBatch, SpanTable
from probing.probes.family import TrainedFamily
from probing.probes.scalar_mix import center_of_gravity, weighted_norms
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import LayerSelection
from probing.tasks.labels import Labeling
from probing.utils.errors import ProbingError, check_integer, check_range


class EdgeProbe(TrainedFamily):
    """Targets are one or two spans with a label; the task's labeling gives the loss, the
    decision, the metrics and the dev metric."""

    name = "edge"
    report = "probing.probes.edge.report.EdgeReport"

    def __init__(self, proj_dim: int, hidden_dim: int, dropout: float,
                 mix_layer_norm: bool, mix_lr_scale: float) -> None:
        check_integer("probe.proj_dim", proj_dim)
        check_integer("probe.hidden_dim", hidden_dim)
        check_range("probe.dropout", dropout, 0, 1)
        check_range("probe.mix_lr_scale", mix_lr_scale, 0, float("inf"), low_open=True)
        if dropout == 1:
            raise ProbingError("probe.dropout=1 drops every unit; give a value in [0, 1)")
        self.proj_dim = proj_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.mix_layer_norm = mix_layer_norm
        self.mix_lr_scale = mix_lr_scale

    def prepare(self, inputs: Inputs) -> None:
        self.labeling: Labeling = inputs.task.labeling
        self.metric = self.labeling.metric
        self.labels = inputs.vocab.labels
        self.vocab = inputs.vocab
        self.n_spans = inputs.task.n_spans
        # what a mixing weight multiplies (after the mix's layer norm: sqrt(dim) for every layer)
        self.layer_norms = (None if self.mix_layer_norm
                            else inputs.activations["train"].mean_norms())

    def table(self, inputs: Inputs, split: str) -> SpanTable:
        return SpanTable.build(inputs.examples[split], inputs.activations[split], inputs.vocab,
                               self.n_spans, self.labeling)

    def bank(self, inputs: Inputs, layer_sets: list[tuple[int, ...]], seed: int) -> EdgeProbes:
        return EdgeProbes(layer_sets, inputs.n_layers, inputs.dim,
                          len(inputs.vocab), self.n_spans, self.proj_dim, self.hidden_dim,
                          self.dropout, self.mix_layer_norm, self.mix_lr_scale, seed)

    def loss(self, outputs: torch.Tensor, batch: SpanBatch) -> torch.Tensor:
        return self.labeling.loss(outputs, batch.labels)

    def target_nll(self, outputs: torch.Tensor, batch: SpanBatch) -> torch.Tensor:
        """Each probe's negative log-likelihood of each target's label(s), in nats: (K, n)."""
        return self.labeling.target_nll(outputs, batch.labels)

    def decide(self, outputs: torch.Tensor, batch: SpanBatch) -> list[np.ndarray]:
        return list(self.labeling.decide(outputs).cpu().numpy())

    def score(self, table: SpanTable, predicted: list[np.ndarray]) -> dict[str, float]:
        return self.labeling.score(table.labels, np.concatenate(predicted), self.labels)

    def outcome(self, selection: LayerSelection, tables: dict[str, SpanTable],
                bank: EdgeProbes, k: int, predicted: dict[str, list[Any]], history: list[dict]
                ) -> Outcome:
        test = np.concatenate(predicted["test"])
        null = self.labeling.null_nll_bits(tables["train"].labels, tables["test"].labels,
                                           len(self.labels))
        weights = bank.mix.weights()[k].tolist()
        norms = {} if self.layer_norms is None else {
            "layer_norms": self.layer_norms,
            "weighted_norms": weighted_norms(weights, self.layer_norms)}
        return Outcome(
            selection, self.metric,
            metrics={split: self.score(tables[split], parts) for split, parts in predicted.items()},
            fields={"mixing_weights": weights, "gamma": bank.mix.gamma[k].item(),
                    "center_of_gravity": center_of_gravity(weights), **norms,
                    "parameters": sum(p[k].numel() for p in bank.parameters()),
                    "null_cross_entropy_bits": float(np.mean(null, dtype=np.float64))},
            history=history,
            baseline=self.labeling.majority_baseline(tables["train"].labels,
                                                     tables["test"].labels, self.labels),
            test_arrays={"gold": tables["test"].labels, "predicted": test,
                         "sentence": tables["test"].sentence, "null_nll_bits": null},
            answers=self.vocab.decode(test))
