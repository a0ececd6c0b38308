"""The erasure family's report: per task, erased layer and probe, the score unedited, with the
task's labels erased (LEACE) and with a random subspace of the same rank erased, and the
differences, paired over test sentences and seeds:

    damage  = unedited - leace           what erasing the labels at layer l costs the probe
    control = unedited - random          what erasing as many random directions costs it
    excess  = random - leace             the labels' damage beyond the rank's (= damage - control)

The summary gives, per erased layer, the excess at the erased layer's own probe (the eraser
works where it was fitted), at the top layer's and at the mix's over every layer (what the
layers above make of the erasure), and its mean over the probes of the layers above l.
"""

from typing import Any

import numpy as np
import pandas as pd

from probing.probes.edge.report import (
    EdgeResampling,
    information_notes,
    information_summary_notes,
)
from probing.report.family import Table
from probing.report.information import information_layers, information_summary
from probing.report.notes import Notes
from probing.report.rows import interval_kind, with_difference, with_interval, with_scores
from probing.report.study import KEYS, Scores, Study, layer_of
from probing.runs.record import RunRecord

FAMILY = "erasure"
UNEDITED, LEACE, RANDOM = "none", "leace", "random"


def _probe(record: RunRecord) -> tuple[str, int]:
    return record.mode, layer_of(record)


def _erasures(runs: list[RunRecord]) -> dict[tuple, dict[str, list[RunRecord]]]:
    """Runs by (concept, erased layer, probe mode, probe layer), then by eraser; the unedited
    runs under every erased layer whose probes they match."""
    unedited: dict[tuple, list[RunRecord]] = {}
    erased: dict[tuple, dict[str, list[RunRecord]]] = {}
    for r in runs:
        fields = r.family_fields
        if fields.get("eraser") == UNEDITED:
            unedited.setdefault((fields["concept"], *_probe(r)), []).append(r)
        else:
            key = (fields["concept"], fields["erased_layer"], *_probe(r))
            erased.setdefault(key, {}).setdefault(fields["eraser"], []).append(r)
    for (concept, _, mode, layer), by_eraser in erased.items():
        by_eraser[UNEDITED] = unedited.get((concept, mode, layer), [])
    return dict(sorted(erased.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "all",
                                                       kv[0][3])))


def erasure_table(study: Study) -> pd.DataFrame:
    """Per task, encoder, concept, erased layer and probe: the three scores and the paired
    differences damage, control and excess."""
    rows = []
    for key, runs in study.groups(FAMILY, control=None).items():
        for (concept, erased, mode, layer), by_eraser in _erasures(runs).items():
            scores = {kind: study.scores(by_eraser.get(kind, [])) for kind in
                      (UNEDITED, LEACE, RANDOM)}
            row: dict[str, Any] = dict(zip(KEYS, key, strict=True), concept=concept,
                                       erased_layer=erased, probe=mode, probe_layer=layer,
                                       rank=by_eraser[LEACE][0].family_fields["eraser_rank"]
                                       if by_eraser.get(LEACE) else -1,
                                       seeds=scores[LEACE].seeds,
                                       metric=(by_eraser.get(LEACE) or runs)[0].metric)
            for kind, name in ((UNEDITED, "unedited"), (LEACE, "erased"), (RANDOM, "random")):
                with_scores(row, name, scores[kind])
            with_difference(row, "damage", scores[UNEDITED], scores[LEACE])
            with_difference(row, "control", scores[UNEDITED], scores[RANDOM])
            with_difference(row, "excess", scores[RANDOM], scores[LEACE])
            row["interval"] = interval_kind(scores[LEACE])
            rows.append(row)
    return pd.DataFrame(rows)


def _excess(study: Study, by_eraser: dict[str, list[RunRecord]]) -> Scores:
    random, erased = study.scores(by_eraser[RANDOM]), study.scores(by_eraser[LEACE])
    samples = (None if random.samples is None or erased.samples is None
               else random.samples - erased.samples)
    return Scores(random.point - erased.point, samples, erased.seeds, erased.draws)


def _mean(scores: list[Scores]) -> Scores:
    """The mean of paired statistics, resampled alike (NaN where there are none)."""
    if not scores:
        return Scores(float("nan"), None, 0)
    samples = (None if any(s.samples is None for s in scores)
               else np.mean([s.samples for s in scores], axis=0))
    return Scores(float(np.mean([s.point for s in scores])), samples, scores[0].seeds,
                  scores[0].draws)


def erasure_summary(study: Study) -> pd.DataFrame:
    """Per task, encoder, concept and erased layer l: the excess damage at layer l's own probe,
    its mean over the probes of the layers above l, at the top layer's probe and at the mix's
    over every layer."""
    rows = []
    for key, runs in study.groups(FAMILY, control=None).items():
        by_layer: dict[tuple, dict[tuple, Scores]] = {}
        for (concept, erased, mode, layer), by_eraser in _erasures(runs).items():
            if by_eraser.get(LEACE) and by_eraser.get(RANDOM):
                by_layer.setdefault((concept, erased), {})[(mode, layer)] = _excess(
                    study, by_eraser)
        top = study.n_layers(runs) - 1
        for (concept, erased), excess in by_layer.items():
            row: dict[str, Any] = dict(zip(KEYS, key, strict=True), concept=concept,
                                       erased_layer=erased)
            above = [s for (mode, layer), s in excess.items() if mode == "single"
                     and layer > erased]
            for name, scores in (("excess_here", excess.get(("single", erased))),
                                 ("excess_above", _mean(above) if above else None),
                                 ("excess_top", excess.get(("single", top))),
                                 ("excess_mix", excess.get(("all", -1)))):
                scores = scores or Scores(float("nan"), None, 0)
                with_interval(row, name, scores.point, scores.samples)
            rows.append(row)
    return pd.DataFrame(rows)


def erasure_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "unedited: the probe's test score; erased: the same probe (trained on unedited "
            "activations) on test activations extracted with the task's labels erased by "
            "LEACE at erased_layer; random: with a random subspace of the eraser's rank erased "
            "there instead (its subspace drawn by the seed). damage = unedited - erased, "
            "control = unedited - random, excess = random - erased (the labels' damage beyond "
            "the rank's), each paired over the resampled sentences. probe: all = the mix over "
            "every layer, single = probe_layer alone."]


def summary_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "excess = random - erased score (erasure_table). excess_here: at the erased "
            "layer's own probe; excess_above: its mean over the probes of every layer above "
            "it; excess_top: at the top layer's probe; excess_mix: at the mix over every layer. "
            "Empty where the run has no such probe (the top layer's erasure has none above)."]


def unedited(record: RunRecord) -> bool:
    return record.family_fields.get("eraser") == UNEDITED


class ErasureReport(EdgeResampling):
    """Its probes are edge probes: scores and bits resample as the edge report's; the bits per
    layer come from its unedited prefixes 0..l (mix=every)."""

    family = FAMILY
    rank = 30
    variants = ("concept", "erased_layer", "eraser")
    tables = (Table("erasure", erasure_table, erasure_notes),
              Table("erasure_summary", erasure_summary, summary_notes, echo=True),
              Table("erasure_information",
                    lambda study: information_layers(study, FAMILY, unedited),
                    information_notes),
              Table("erasure_information_summary",
                    lambda study: information_summary(study, FAMILY, unedited),
                    information_summary_notes, echo=True))
