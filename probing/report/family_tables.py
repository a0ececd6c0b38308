"""Tables of the probe families beside the edge probe (issue 19): the layer profile (the edge
probe's single layers and mixing weights beside MDL compression and the structural probes'
tree metrics, layer by layer), the MDL table and the CKA tables.

MDL codelengths and compression, CKA and mixing weights do not depend on resampled test
sentences: their intervals are Student-t intervals over seeds (shuffling seeds for MDL); the
tree metrics and probe scores are resampled over test sentences and seeds."""

import numpy as np
import pandas as pd
from hydra.utils import get_class

from probing.report.pipeline import task_rank
from probing.report.rows import (
    interval_kind,
    seed_kind,
    with_scores,
    with_seed_interval,
)
from probing.report.study import KEYS, Study, step_of
from probing.runs.record import RunRecord

# family -> the test metrics the layer profile shows for it
TREE_METRICS = {"distance": ("uuas", "dspr"), "depth": ("root_accuracy", "nspr")}
PROFILE_FAMILIES = ("edge", "mdl", *TREE_METRICS)


def _grouped(study: Study, families: tuple[str, ...], control: bool = False
             ) -> dict[tuple, dict[str, list[RunRecord]]]:
    """(task, encoder, step) -> family -> its runs, tasks in pipeline order."""
    grouped: dict[tuple, dict[str, list[RunRecord]]] = {}
    for r in study.records:
        if r.family in families and r.control == control:
            key = (r.task, r.encoder, step_of(r))
            grouped.setdefault(key, {}).setdefault(r.family, []).append(r)
    return dict(sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                        task_rank(kv[0][0]))))


def layer_profile(study: Study) -> pd.DataFrame:
    """Per encoder, task and layer: the mixing weight (t over seeds), the edge probe's
    single-layer score, MDL compression of that layer alone (t over shuffling seeds), and the
    structural probes' UUAS, DSpr, root accuracy and NSpr of that layer alone (bootstrap);
    NaN where the study has no such run."""
    rows = []
    for key, families in _grouped(study, PROFILE_FAMILIES).items():
        n_layers = max(r.n_layers for runs in families.values() for r in runs)
        edge, mdl = families.get("edge", []), families.get("mdl", [])
        weights = study.weights(edge)[:3] if edge else (np.full(n_layers, np.nan),) * 3
        for layer in range(n_layers):
            row = dict(zip(KEYS, key, strict=True), layer=layer,
                       metric=edge[0].metric if edge else "")
            row["weight"], row["weight_lo"], row["weight_hi"] = (float(w[layer])
                                                                 for w in weights)
            with_scores(row, "single", study.scores(study.select(edge, "single", layer)))
            with_seed_interval(row, "compression",
                               [r.score for r in study.select(mdl, "single", layer)])
            for family, names in TREE_METRICS.items():
                runs = study.select(families.get(family, []), "single", layer)
                for name in names:
                    with_scores(row, name, study.scores(runs, name))
            rows.append(row)
    return pd.DataFrame(rows)


def final_metric(record: RunRecord) -> str:
    """The task's own metric, which the MDL record's final probe was scored by."""
    try:
        return get_class(record.labeling).metric
    except Exception:  # a labeling the report cannot import: the first score that is not a code
        return next(k for k in record.test if k not in ("compression", "codelength_kbits",
                                                         "uniform_kbits"))


def mdl_table(study: Study) -> pd.DataFrame:
    """Per task (and its control), encoder and layer selection: online codelength (kbits),
    uniform codelength, compression (t over shuffling seeds) and the final probe's test
    score (resampled over test sentences where it saved predictions)."""
    configs: dict[tuple, list[RunRecord]] = {}
    for r in study.records:
        if r.family == "mdl":
            key = (r.task, r.encoder, step_of(r), r.control, r.mode, r.layer)
            configs.setdefault(key, []).append(r)
    rows = []
    for key, runs in sorted(configs.items(), key=lambda kv: (
            kv[0][1], kv[0][2], task_rank(kv[0][0]), kv[0][3], kv[0][4] != "all",
            -1 if kv[0][5] is None else kv[0][5])):
        row = dict(zip([*KEYS, "control", "mode", "layer"], key, strict=True))
        row["layer"] = -1 if row["layer"] is None else row["layer"]
        row["seeds"] = len(runs)
        with_seed_interval(row, "codelength_kbits", [r.test["codelength_kbits"] for r in runs])
        row["uniform_kbits"] = float(np.mean([r.test["uniform_kbits"] for r in runs]))
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
    said = {(r.task, r.family_fields.get("coded", "")) for r in study.records
            if r.family == "mdl"}
    return [f"{task}: {what}" for task, what in sorted(said, key=lambda t: task_rank(t[0]))]


def _cka_groups(study: Study) -> dict[tuple, list[RunRecord]]:
    groups: dict[tuple, list[RunRecord]] = {}
    for r in study.records:
        if r.family == "cka":
            key = (r.encoder, step_of(r), r.task, bool(r.family_fields.get("debiased")),
                   r.family_fields.get("against") or "")
            groups.setdefault(key, []).append(r)
    return dict(sorted(groups.items()))


CKA_KEYS = ["encoder", "step", "task", "debiased", "against"]


def cka_table(study: Study) -> pd.DataFrame:
    """Per encoder, task (whose test words were compared), estimator and other encoder: the
    mean CKA of adjacent layers (t over runs where several ran)."""
    rows = []
    for key, runs in _cka_groups(study).items():
        row = dict(zip(CKA_KEYS, key, strict=True), seeds=len(runs),
                   words=runs[0].family_fields.get("words"))
        with_seed_interval(row, "adjacent_cka", [r.score for r in runs])
        rows.append(row)
    return pd.DataFrame(rows)


def cka_matrices(study: Study) -> pd.DataFrame:
    """Every cell of every CKA matrix, long: layer_a of the encoder against layer_b of itself
    (`against` empty; every CKA run has that matrix) or of the other encoder; the mean over
    the runs that give it (t over them where several ran)."""
    matrices: dict[tuple, list] = {}
    for r in study.records:
        if r.family != "cka":
            continue
        key = (r.encoder, step_of(r), r.task, bool(r.family_fields.get("debiased")))
        matrices.setdefault((*key, ""), []).append(r.family_fields["matrix"])
        if r.family_fields.get("against"):
            matrices.setdefault((*key, r.family_fields["against"]), []).append(
                r.family_fields["matrix_against"])
    rows = []
    for key, values in sorted(matrices.items()):
        cells = np.array(values, dtype=float)
        for a in range(cells.shape[1]):
            for b in range(cells.shape[2]):
                row = dict(zip(CKA_KEYS, key, strict=True), layer_a=a, layer_b=b)
                with_seed_interval(row, "cka", cells[:, a, b].tolist())
                rows.append(row)
    return pd.DataFrame(rows)
