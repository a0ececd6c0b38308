"""The layer-similarity (CKA) report: the mean CKA of adjacent layers, every cell of every
matrix, and the heatmaps. CKA trains nothing and saves no predictions: its intervals are t
intervals over runs where several ran."""

from pathlib import Path

import numpy as np
import pandas as pd

from probing.report.family import FamilyReport, Table
from probing.report.figures import Tables, name, step_suffix
from probing.report.profile_plots import plot_cka
from probing.report.rows import with_seed_interval
from probing.report.study import Study, step_of
from probing.runs.record import RunRecord
from probing.similarity.fields import SimilarityFields

FAMILY = "cka"
CKA_KEYS = ["encoder", "step", "task", "debiased", "against"]


def _groups(study: Study) -> dict[tuple, list[RunRecord]]:
    groups: dict[tuple, list[RunRecord]] = {}
    for r in study.records:
        if r.family == FAMILY:
            found = SimilarityFields.of(r)
            key = (r.encoder, step_of(r), r.task, bool(found.debiased), found.against or "")
            groups.setdefault(key, []).append(r)
    return dict(sorted(groups.items()))


def cka_table(study: Study) -> pd.DataFrame:
    """Per encoder, task (whose test words were compared), estimator and other encoder: the
    mean CKA of adjacent layers (t over runs where several ran)."""
    rows = []
    for key, runs in _groups(study).items():
        row = dict(zip(CKA_KEYS, key, strict=True), seeds=len(runs),
                   words=SimilarityFields.of(runs[0]).words)
        with_seed_interval(row, "adjacent_cka", [r.score for r in runs])
        rows.append(row)
    return pd.DataFrame(rows)


def cka_matrices(study: Study) -> pd.DataFrame:
    """Every cell of every CKA matrix, long: layer_a of the encoder against layer_b of itself
    (`against` empty; every CKA run has that matrix) or of the other encoder; the mean over
    the runs that give it (t over them where several ran)."""
    matrices: dict[tuple, list] = {}
    for r in study.records:
        if r.family != FAMILY:
            continue
        found = SimilarityFields.of(r)
        key = (r.encoder, step_of(r), r.task, bool(found.debiased))
        matrices.setdefault((*key, ""), []).append(found.matrix)
        if found.against:
            matrices.setdefault((*key, found.against), []).append(found.matrix_against)
    rows = []
    for key, values in sorted(matrices.items()):
        cells = np.array(values, dtype=float)
        for a in range(cells.shape[1]):
            for b in range(cells.shape[2]):
                row = dict(zip(CKA_KEYS, key, strict=True), layer_a=a, layer_b=b)
                with_seed_interval(row, "cka", cells[:, a, b].tolist())
                rows.append(row)
    return pd.DataFrame(rows)


def figure_cka(tables: Tables, out: Path) -> list[Path]:
    """(g) CKA between the layers of an encoder, and against another encoder where run."""
    matrices = tables["cka_matrix"]
    if matrices.empty:
        return []
    paths = []
    for (encoder, step, task, debiased, against), cells in matrices.groupby(CKA_KEYS,
                                                                            dropna=False):
        estimator = "debiased" if debiased else ""
        title = (f"linear CKA{' (debiased)' if debiased else ''} · {encoder}"
                 f"{' vs ' + against if against else ''} · {task} test words")
        paths += plot_cka(cells, title, encoder, against or encoder,
                          out / name("cka", encoder, step_suffix(step), task, estimator,
                                     f"vs_{against}" if against else ""))
    return paths


class CKAReport(FamilyReport):
    family = FAMILY
    rank = 40
    score_resampled = False
    saves_predictions = False
    variants = ("against", "debiased")
    tables = (
        Table("cka", cka_table, lambda notes: [
            notes.seed_only("Adjacent-layer CKA (over runs)"),
            "adjacent_cka: mean linear CKA of layers l and l+1 over the task's test words."],
            echo=True),
        Table("cka_matrix", cka_matrices, lambda notes: [notes.seed_only("CKA (over runs)")]),
    )
    figures = (figure_cka,)

