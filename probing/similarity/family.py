"""Layer similarity as a probe family that trains nothing: linear CKA between every pair of an
encoder's layers (and, with `against`, between its layers and another encoder's) over the
words of the task's test split, read from the activation caches the run hands in (the other
encoder's too: the family never extracts)."""

from dataclasses import replace
from typing import Any

import numpy as np

from probing.encoders.base import Encoder
from probing.probes.family import ProbeFamily
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import AllLayers, EveryLayer, LayerSelection
from probing.similarity.cka import cka_matrix
from probing.similarity.fields import SimilarityFields
from probing.tasks import Task
from probing.utils.errors import ProbingError


class LayerSimilarity(ProbeFamily):
    """`probe=cka`: one record a run whatever `mix` says, whose `matrix` is the L x L linear
    CKA of the layers (features standardised first where `standardized`, Timkey & van
    Schijndel 2021; the unbiased HSIC estimator where `debiased`) and whose score is the mean
    CKA of adjacent layers."""

    name = "cka"
    report = "probing.similarity.report.CKAReport"
    trains = False  # it compares representations: every trainer setting is ignored

    def __init__(self, debiased: bool, standardized: bool, against: Encoder | None) -> None:
        self.debiased = debiased
        self.standardized = standardized
        self.against = against

    def other_encoders(self) -> list[Encoder]:
        return [] if self.against is None else [self.against]

    def check(self, task: Task, mix: LayerSelection | EveryLayer) -> None:
        if not isinstance(mix, AllLayers):
            raise ProbingError(
                f"probe=cka compares every layer with every other in one matrix, so "
                f"mix={getattr(mix, 'mode', 'every')} would have no effect; drop the mix "
                f"setting (or give mix=all)")
        if task.control:
            raise ProbingError("probe=cka reads no labels, so task.control=true would give the "
                               "same matrix as the task itself; drop task.control")

    def run(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> list[Outcome]:
        vectors = inputs.activations["test"].vectors
        layers = [vectors[:, layer] for layer in range(vectors.shape[1])]
        matrix = cka_matrix(layers, None, self.debiased, self.standardized)
        fields = SimilarityFields(matrix.tolist(), self.debiased, self.standardized,
                                  len(vectors))
        if self.against is not None:
            other = inputs.others[self.against.name]
            fields = replace(fields, against=self.against.name, matrix_against=cka_matrix(
                layers, [other.vectors[:, layer] for layer in range(other.n_layers)],
                self.debiased, self.standardized).tolist())
        adjacent = float(np.mean(np.diag(matrix, k=1)))
        scores = {"dev": {}, "test": {"adjacent_cka": adjacent}}
        return [Outcome(AllLayers(), "adjacent_cka", scores, fields.to_json())]
