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

from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from probing.probes.edge.report import (
    EdgeResampling,
    information_notes,
    information_summary_notes,
)
from probing.probes.erasure.fields import (
    LEACE,
    OBJECTIVE,
    OBJECTIVE_METRICS,
    OBJECTIVE_RATIOS,
    PROBE,
    RANDOM,
    UNEDITED,
)
from probing.report.family import Table
from probing.report.figures import Tables, name, step_suffix
from probing.report.information import information_layers, information_summary
from probing.report.notes import Notes
from probing.report.pipeline import task_rank
from probing.report.plots import SMALL
from probing.report.rows import interval_kind, with_difference, with_interval, with_scores
from probing.report.study import KEYS, Scores, Study, layer_of
from probing.runs.figure import save_figure
from probing.runs.record import RunRecord

FAMILY = "erasure"


def _probe(record: RunRecord) -> tuple[str, int]:
    return record.mode, layer_of(record)


def _measured(record: RunRecord) -> str:
    return record.family_fields.get("measured", PROBE)


def _erasures(runs: list[RunRecord], measured: str = PROBE
              ) -> dict[tuple, dict[str, list[RunRecord]]]:
    """Runs of what was `measured` by (concept, erased layer, probe mode, probe layer), then
    by eraser; the unedited runs (the task's probes, whichever concept is erased) under every
    concept and erased layer whose probes they match."""
    unedited: dict[tuple, list[RunRecord]] = {}
    erased: dict[tuple, dict[str, list[RunRecord]]] = {}
    for r in runs:
        fields = r.family_fields
        if _measured(r) != measured:
            continue
        if fields.get("eraser") == UNEDITED:
            unedited.setdefault(_probe(r), []).append(r)
        else:
            key = (fields["concept"], fields["erased_layer"], *_probe(r))
            erased.setdefault(key, {}).setdefault(fields["eraser"], []).append(r)
    for (_, _, mode, layer), by_eraser in erased.items():
        # the seeds the erasures ran with: differences pair seed j with seed j
        seeds = {r.seed for r in by_eraser.get(LEACE, [])}
        by_eraser[UNEDITED] = [r for r in unedited.get((mode, layer), []) if r.seed in seeds]
    return dict(sorted(erased.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "all",
                                                       kv[0][3])))


def with_erasure_scores(row: dict, scores: dict[str, Scores], prefix: str = "") -> None:
    """The unedited, erased and random scores, with their intervals, as columns of the row."""
    for kind, column in ((UNEDITED, "unedited"), (LEACE, "erased"), (RANDOM, "random")):
        with_scores(row, prefix + column, scores[kind])


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
            with_erasure_scores(row, scores)
            with_difference(row, "damage", scores[UNEDITED], scores[LEACE])
            with_difference(row, "control", scores[UNEDITED], scores[RANDOM])
            with_difference(row, "excess", scores[RANDOM], scores[LEACE])
            row["interval"] = interval_kind(scores[LEACE])
            rows.append(row)
    return pd.DataFrame(rows)


def erasure_objective(study: Study) -> pd.DataFrame:
    """Per task, encoder, concept and erased layer: the encoder's own masked-LM loss and
    accuracy on the test sentences, unedited, erased and random, and the paired excess of the
    erasure's damage over the random subspace's."""
    rows = []
    for key, runs in study.groups(FAMILY, control=None).items():
        for (concept, erased, _, _), by_eraser in _erasures(runs, OBJECTIVE).items():
            row: dict[str, Any] = dict(zip(KEYS, key, strict=True), concept=concept,
                                       erased_layer=erased)
            for metric in OBJECTIVE_METRICS:
                scores = {kind: study.scores(by_eraser.get(kind, []), metric)
                          for kind in (UNEDITED, LEACE, RANDOM)}
                with_erasure_scores(row, scores, f"{metric}_")
                worse, better = ((LEACE, RANDOM) if metric == "mlm_loss" else (RANDOM, LEACE))
                with_difference(row, f"{metric}_excess", scores[worse], scores[better])
            rows.append(row)
    return pd.DataFrame(rows)


def objective_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "The encoder's own masked-LM objective on the task's test sentences (BERT's "
            "masking of pretraining, 15% of each sentence's pieces, the same masks for every "
            "eraser), with the concept's labels erased by LEACE at erased_layer (erased), a "
            "random subspace of the same rank erased (random), and unedited. "
            "mlm_loss_excess = erased - random loss (nats a masked piece); "
            "mlm_accuracy_excess = random - erased accuracy: the damage beyond the rank's, "
            "each paired over the resampled sentences."]


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
            for column, scores in (("excess_here", excess.get(("single", erased))),
                                 ("excess_above", _mean(above) if above else None),
                                 ("excess_top", excess.get(("single", top))),
                                 ("excess_mix", excess.get(("all", -1)))):
                scores = scores or Scores(float("nan"), None, 0)
                with_interval(row, column, scores.point, scores.samples)
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


def figure_erasure(tables: Tables, out: Path) -> list[Path]:
    """Per encoder, a heatmap per probed task: the excess damage, averaged over the probes of
    the layers above the erased one, by erased concept (rows) and erased layer (columns)."""
    summary = tables["erasure_summary"]
    if summary.empty:
        return []
    paths = []
    for (encoder, step), cells in summary.groupby(["encoder", "step"]):
        tasks = sorted(set(cells.task), key=task_rank)
        # one colour scale for every panel of the encoder, 0 white
        scale = float(np.nanmax(np.abs(cells.excess_above), initial=0)) or 1.0
        fig, axes = plt.subplots(1, len(tasks), figsize=(2.2 + 2.6 * len(tasks), 2.8),
                                 squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            grid = cells[cells.task == task].pivot_table(
                index="concept", columns="erased_layer", values="excess_above", dropna=False)
            grid = grid.reindex(sorted(grid.index, key=task_rank))
            sns.heatmap(grid, vmin=-scale, vmax=scale, cmap="RdBu_r", annot=True, fmt=".2f",
                        cbar=False,
                        annot_kws={"fontsize": 6}, ax=ax)
            ax.set_title(f"{task} probes", fontsize=8)
            ax.set_xlabel("erased layer", fontsize=7)
            ax.set_ylabel("labels erased" if ax is axes[0][0] else "", fontsize=7)
            ax.tick_params(labelsize=SMALL, rotation=0)
        fig.suptitle(f"{encoder}: score lost by the layers above the erased one, beyond a "
                     f"random subspace of the same rank (mean excess)", fontsize=8)
        paths += save_figure(fig, out / name("erasure", encoder, step_suffix(step)))
    return paths


def is_unedited(record: RunRecord) -> bool:
    return record.family_fields.get("eraser") == UNEDITED


class ErasureReport(EdgeResampling):
    """Its probes are edge probes: scores and bits resample as the edge report's; the bits per
    layer come from its unedited prefixes 0..l (mix=every). The masked-LM objective resamples
    from each test sentence's nats, masked pieces and pieces right."""

    family = FAMILY
    rank = 30
    variants = ("concept", "erased_layer", "eraser")
    ratios: ClassVar = {**EdgeResampling.ratios, **OBJECTIVE_RATIOS}
    tables = (Table("erasure", erasure_table, erasure_notes),
              Table("erasure_summary", erasure_summary, summary_notes, echo=True),
              Table("erasure_objective", erasure_objective, objective_notes, echo=True),
              Table("erasure_information",
                    lambda study: information_layers(study, FAMILY, is_unedited),
                    information_notes),
              Table("erasure_information_summary",
                    lambda study: information_summary(study, FAMILY, is_unedited),
                    information_summary_notes, echo=True))
    figures = (figure_erasure,)

    def variant(self, record: RunRecord) -> str:
        """The concept, layer and eraser; the objective's records are set apart from the
        mix's, which share their selection."""
        erased = super().variant(record)
        if _measured(record) == PROBE:
            return erased
        return ", ".join([f"measured={_measured(record)}", *([erased] if erased else [])])
