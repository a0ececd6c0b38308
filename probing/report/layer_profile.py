"""The layer profile: per encoder, task and layer, every family's measure of that layer beside
the others' (the mixing weight and single-layer score of the edge probe, MDL compression, the
structural probes' tree metrics, ...): do the mixing weights agree with measures that do not
depend on a mix? Each family's report gives its columns (`FamilyReport.profile`), in rank
order; a family without runs for a task gives them as NaN."""

import pandas as pd

from probing.report.pipeline import task_rank
from probing.report.study import KEYS, Study, step_of
from probing.runs.record import RunRecord


def _grouped(study: Study, families: set[str]) -> dict[tuple, dict[str, list[RunRecord]]]:
    """(task, encoder, step) -> family -> its runs (not the control runs), tasks in pipeline
    order."""
    grouped: dict[tuple, dict[str, list[RunRecord]]] = {}
    for r in study.records:
        if r.family in families and not r.control:
            key = (r.task, r.encoder, step_of(r))
            grouped.setdefault(key, {}).setdefault(r.family, []).append(r)
    return dict(sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                        task_rank(kv[0][0]))))


def layer_profile(study: Study) -> pd.DataFrame:
    """One row per encoder, task and layer, with the columns of every family that has a part
    in the profile."""
    reports = [report for report in study.reports.values() if report.panels]
    rows = []
    for key, families in _grouped(study, {report.family for report in reports}).items():
        n_layers = max(r.n_layers for runs in families.values() for r in runs)
        columns = [report.profile(study, families.get(report.family, []), n_layers)
                   for report in reports]
        for layer in range(n_layers):
            row = dict(zip(KEYS, key, strict=True), layer=layer)
            for of_report in columns:
                row.update(of_report[layer])
            rows.append(row)
    return pd.DataFrame(rows)
