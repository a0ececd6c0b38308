"""Erasure probing (amnesic probing, Elazar et al. 2021, with LEACE, Belrose et al. 2023): does
the model use what a probe decodes? Erase the task's labels from layer l on the way through the
encoder and see what the probes of layer l and of every layer above lose, against erasing a
random subspace of the same rank.

For each erased layer l, the LEACE eraser is fitted on the training targets' vectors at layer l
(a target's span mean: the mean of its words' vectors, each span of a two-span target a sample
with the target's label), so that no linear classifier of those vectors beats a constant. The
encoder then runs over the test sentences with the eraser applied to hidden state l (a forward
hook: every block above reads the erased states), and the inner family's probes, trained once
on the unedited activations, are scored on the edited ones: each layer's probe at or above l,
and the mix over every layer. The control erases a random subspace of the eraser's rank
(drawn from the run's seed) the same way. A probe that is frozen reads the property as the
unedited model wrote it: its loss at layer m > l says that the layers between carried the
property on from layer l in the form the probe learnt, and did not rebuild it from the rest.

With `concepts`, other tasks' labels are erased the same way, one at a time (each fitted on
that task's training targets), and the run's task's probes scored: what the model loses for
this task when another task's property is removed.

Where the encoder has a masked-LM head (a BERT pretrained here), its own objective on the test
sentences is scored too, unedited and under every eraser, on the same masks
(`Encoder.masked_lm`): what erasing the property costs the model's predictions of words.

Each run gives the inner family's outcomes (the probes on unedited activations, `eraser`
"none"; with mix=every also the prefixes 0..l, whose cross-entropies give each layer's bits)
and one outcome per erased layer, eraser (leace, random) and probe; the report pairs them over
test sentences: damage = unedited - erased, and its excess over the control = random - leace,
the concept's damage beyond the rank's.
"""

from typing import Any

import numpy as np
import torch

from probing.encoders.base import Encoder, LayerEdit
from probing.probes.edge.spans import SpanTable
from probing.probes.erasure.concept import concept_vectors
from probing.probes.erasure.erasers import Eraser, leace, random_like
from probing.probes.erasure.fields import (
    LEACE,
    OBJECTIVE,
    OBJECTIVE_ARRAYS,
    OBJECTIVE_METRICS,
    PROBE,
    RANDOM,
    UNEDITED,
)
from probing.probes.family import Fitted, ProbeFamily, TrainedFamily, mean_bits
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import AllLayers, EveryLayer, LayerSelection
from probing.tasks import Task
from probing.utils.errors import ProbingError, check_integer

SCORED = ("all", "single")  # the selections scored on erased activations (the prefixes 0..l
# of a cumulative mix are scored unedited only: their cross-entropies give the bits per layer)


class Erasure(ProbeFamily):
    """`probe=erasure`: each selection's probe of the inner family (`probe`, the edge probe)
    scored with the task's labels erased at each layer of `layers` (null: every layer), and
    with a random subspace of the same rank erased; then the same with each task of
    `concepts` (by name) erased instead. An eraser is fitted on at most `fit_targets`
    training targets, drawn by the run's seed."""

    name = "erasure"
    report = "probing.probes.erasure.report.ErasureReport"

    def __init__(self, probe: TrainedFamily, layers: list[int] | None, fit_targets: int,
                 concepts: list[str]) -> None:
        if not isinstance(probe, TrainedFamily):
            raise ProbingError(f"probe.probe: the {probe.name} probe is not trained by the "
                               f"trainer, so it has no probes to score on erased activations; "
                               f"use the edge probe (the default)")
        check_integer("probe.fit_targets", fit_targets)
        if layers is not None and (not layers or not all(
                isinstance(layer, int) and not isinstance(layer, bool) for layer in layers)):
            raise ProbingError(f"probe.layers={layers}: give the layers to erase as whole "
                               f"numbers, e.g. [0, 3, 6], or null for every layer")
        if not all(isinstance(name, str) for name in concepts):
            raise ProbingError(f"probe.concepts={concepts}: give the other tasks whose labels "
                               f"to erase by name, e.g. [upos, deps], or [] for none")
        self.probe = probe
        self.layers = None if layers is None else sorted(set(layers))
        self.fit_targets = fit_targets
        self.concepts = list(dict.fromkeys(concepts))

    def other_tasks(self) -> list[str]:
        return self.concepts

    def check(self, task: Task, mix: LayerSelection | EveryLayer) -> None:
        self.probe.check(task, mix)
        if isinstance(mix, LayerSelection) and mix.mode not in SCORED:
            raise ProbingError(f"probe=erasure scores the mix over every layer and each layer "
                               f"alone on erased activations, and mix={mix.mode} gives neither; "
                               f"use mix=every (or mix=all, mix=single)")

    def check_encoder(self, encoder: Encoder) -> None:
        self.erased_layers(encoder)

    def erased_layers(self, encoder: Encoder) -> list[int]:
        """The layers to erase, checked against the encoder, which must be able to edit its
        hidden states."""
        layers = list(range(encoder.n_layers)) if self.layers is None else self.layers
        outside = [layer for layer in layers if not 0 <= layer < encoder.n_layers]
        if outside:
            raise ProbingError(f"probe.layers={self.layers}: encoder {encoder.name} has "
                               f"layers 0..{encoder.n_layers - 1}, so no layer {outside[0]}")
        with encoder.edited(LayerEdit(layers[0], lambda x: x, "check")):
            pass
        return layers

    def run(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> list[Outcome]:
        layers = self.erased_layers(inputs.encoder)
        fitted = self.probe.fit(inputs, selections, trainer, seed)
        objective = inputs.masked_lm("test", seed)  # None: the encoder has no objective
        unedited = self.probe.outcomes(fitted, selections)
        if objective is not None:
            unedited.append(objective_outcome(objective))
        own = inputs.task.name
        outcomes = [self.marked(outcome, own, own, None, UNEDITED, 0) for outcome in unedited]
        for name, (train, n_labels) in self.concept_tables(inputs, fitted).items():
            chosen = np.random.default_rng(seed).permutation(len(train))[:self.fit_targets]
            for layer in layers:
                vectors, labels = concept_vectors(train, layer, np.sort(chosen))
                concept = leace(vectors, labels, n_labels)
                rank = concept.rank
                for kind, eraser in ((LEACE, concept),
                                     (RANDOM, random_like(concept, vectors, seed))):
                    erased = self.erased(inputs, fitted, selections, layer, eraser, trainer)
                    if objective is not None:
                        erased.append(objective_outcome(
                            inputs.masked_lm("test", seed, eraser.at(layer))))
                    outcomes += [self.marked(outcome, own, name, layer, kind, rank)
                                 for outcome in erased]
        return outcomes

    @staticmethod
    def concept_tables(inputs: Inputs, fitted: Fitted) -> dict[str, tuple[SpanTable, int]]:
        """The training targets whose labels are erased, and their number of labels, by task:
        the run's own first, then those read beside it."""
        tables = {inputs.task.name: (fitted.tables["train"], len(inputs.vocab))}
        for name, beside in inputs.beside.items():
            tables[name] = (SpanTable.build(beside.examples["train"],
                                            beside.activations["train"], beside.vocab,
                                            beside.task.n_spans, beside.task.labeling),
                            len(beside.vocab))
        return tables

    @torch.inference_mode()
    def erased(self, inputs: Inputs, fitted: Fitted, selections: list[LayerSelection],
               layer: int, eraser: Eraser, trainer: Any) -> list[Outcome]:
        """The selections' probes that read `layer` or one above (each layer's alone, the mix
        over every layer) scored on the test split extracted with `eraser` applied at `layer`."""
        selections = [s for s in selections if s.mode in SCORED
                      and max(s.layers(inputs.n_layers)) >= layer]
        if not selections:  # mix=single below the erased layer: nothing to score
            return []
        with inputs.edited(eraser.at(layer), "test") as activations:
            tables = {**fitted.tables, "test": self.probe.table(
                inputs.with_activations("test", activations), "test")}
            probes = [fitted.probe(selection) for selection in selections]
            parts, bits = trainer.evaluate(fitted.bank, self.probe, tables["test"], probes)
        dev = fitted.evaluated["dev"][0]
        outcomes = []
        for i, (selection, k) in enumerate(zip(selections, probes, strict=True)):
            outcome = self.probe.outcome(selection, tables, fitted.bank, k,
                                         {"dev": dev[k], "test": parts[i]}, fitted.histories[k])
            if bits is not None:  # the test cross-entropy under erasure, for bits lost
                outcome.fields["cross_entropy_bits"] = {"test": mean_bits(bits[i])}
                outcome.test_arrays["nll_bits"] = bits[i]
            outcomes.append(outcome)
        return outcomes

    def marked(self, outcome: Outcome, task: str, concept: str, layer: int | None,
               eraser: str, rank: int) -> Outcome:
        """The outcome with what was erased where in its fields; an erased one keeps only
        these (its probe's own fields, the mixing weights, are the unedited outcome's)."""
        erasure = {"erased_layer": layer, "eraser": eraser, "eraser_rank": rank,
                   "concept": concept, "measured": outcome.fields.get("measured", PROBE)}
        if eraser == UNEDITED:
            outcome.fields.update(erasure)
        else:
            outcome.fields = {**erasure, "cross_entropy_bits":
                              outcome.fields.get("cross_entropy_bits")}
            whose = "" if concept == task else f"-{concept}"
            outcome.folder = f"{outcome.name}-erased{layer}-{eraser}{whose}"
        return outcome


def objective_outcome(scored: np.ndarray) -> Outcome:
    """The encoder's masked-LM loss (nats a masked piece) and accuracy on the test split,
    from each sentence's nats, masked pieces and pieces right (`Encoder.masked_lm`)."""
    nats, masked, right = scored.sum(0)
    loss, accuracy = OBJECTIVE_METRICS
    return Outcome(AllLayers(), accuracy,
                   {"dev": {}, "test": {loss: nats / masked, accuracy: right / masked}},
                   {"measured": OBJECTIVE},
                   test_arrays={"sentence": np.arange(len(scored)),
                                **dict(zip(OBJECTIVE_ARRAYS, scored.T, strict=True))},
                   folder="masked-lm")

