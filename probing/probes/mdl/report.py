"""The MDL probe's report: the table of codelengths and compression, with the final probe's
test score, and its column of the layer profile (the compression of each layer alone).
Codelengths and compression do not depend on resampled test sentences: their intervals are t
intervals over the shuffling seeds; the final score is resampled by the task's labelling."""

from typing import Any

import numpy as np
import pandas as pd

from probing.probes.mdl.fields import CodeFields
from probing.report.family import FamilyReport, Panel, Table, labeling_of
from probing.report.notes import Notes
from probing.report.pipeline import task_rank
from probing.report.rows import interval_kind, seed_kind, with_scores, with_seed_interval
from probing.report.study import KEYS, Study, step_of
from probing.runs.record import RunRecord

FAMILY = "mdl"
CODES = ("compression", "codelength_kbits", "uniform_kbits")  # its test scores that are codes


def final_metric(record: RunRecord) -> str:
    """The task's own metric, which the MDL record's final probe was scored by."""
    try:
        return labeling_of(record).metric
    except Exception:  # a labeling the report cannot import: the first score that is not a code
        return next(k for k in record.test if k not in CODES)


def mdl_table(study: Study) -> pd.DataFrame:
    """Per task (and its control), encoder and layer selection: online codelength (kbits),
    uniform codelength, compression (t over shuffling seeds) and the final probe's test
    score (resampled over test sentences where it saved predictions)."""
    configs: dict[tuple, list[RunRecord]] = {}
    for r in study.records:
        if r.family == FAMILY:
            key = (r.task, r.encoder, step_of(r), r.control, r.mode, r.layer)
            configs.setdefault(key, []).append(r)
    rows = []
    for key, runs in sorted(configs.items(), key=lambda kv: (
            kv[0][1], kv[0][2], task_rank(kv[0][0]), kv[0][3], kv[0][4] != "all",
            -1 if kv[0][5] is None else kv[0][5])):
        codes = [CodeFields.of(r) for r in runs]
        row = dict(zip([*KEYS, "control", "mode", "layer"], key, strict=True))
        row["layer"] = -1 if row["layer"] is None else row["layer"]
        row["seeds"] = len(runs)
        with_seed_interval(row, "codelength_kbits", [c.codelength_bits / 1000 for c in codes])
        row["uniform_kbits"] = float(np.mean([c.uniform_bits / 1000 for c in codes]))
        with_seed_interval(row, "compression", [r.score for r in runs])
        row["interval"] = seed_kind(len(runs))
        row["final_metric"] = final_metric(runs[0])
        final = study.scores(runs, row["final_metric"])
        with_scores(row, "final_score", final)
        row["final_interval"] = interval_kind(final)
        rows.append(row)
    return pd.DataFrame(rows)


def coded(study: Study) -> list[str]:
    """What the MDL runs code, task by task (for the MDL table's notes)."""
    said = {(r.task, CodeFields.of(r).coded or "") for r in study.records
            if r.family == FAMILY}
    return [f"{task}: {what}" for task, what in sorted(said, key=lambda t: task_rank(t[0]))]


def mdl_notes(notes: Notes) -> list[str]:
    return [notes.seed_only("Codelength and compression (over shuffling seeds)"),
            "codelength in kbits (online code, Voita & Titov 2020); compression = uniform / "
            "online codelength; final_score: the test score of the probe trained on all "
            "training targets, its interval from the bootstrap over test sentences where it "
            "saved predictions.",
            "What is coded: " + ("; ".join(coded(notes.study)) or "–") + "."]


class MDLReport(FamilyReport):
    family = FAMILY
    rank = 10
    score_resampled = False
    tables = (Table("mdl", mdl_table, mdl_notes, echo=True),)
    panels = (Panel(("compression",), "MDL compression\n(uniform / online code)"),)
    profile_seed_only = ("MDL compression (over shuffling seeds)",)

    def profile(self, study: Study, runs: list[RunRecord], n_layers: int
                ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{} for _ in range(n_layers)]
        for layer, row in enumerate(rows):
            with_seed_interval(row, "compression",
                               [r.score for r in study.select(runs, "single", layer)])
        return rows
