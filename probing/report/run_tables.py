"""The tables of every run of every family: one row per run (runs.csv) and one per
configuration (summary), its score resampled over test sentences and seeds where the family's
scores are (probing/report/family.py), else a t interval over seeds."""

import numpy as np
import pandas as pd

from probing.report.collect import settings_text
from probing.report.pipeline import task_rank
from probing.report.rows import interval_kind, seed_kind, with_scores, with_seed_interval
from probing.report.study import KEYS, Study, layer_of, step_of


def runs_table(study: Study) -> pd.DataFrame:
    """One row per run: what was probed, how, and what came out (`predictions`: False where
    the run should have saved predictions.npz and did not)."""
    missing = {r.folder for r in study.without_predictions}
    return pd.DataFrame([{
        "task": r.task, "encoder": r.encoder, "encoder_settings": settings_text(r),
        "step": step_of(r), "family": r.family, "control": r.control, "mode": r.mode,
        "layer": layer_of(r), "seed": r.seed, "metric": r.metric, "score": r.score,
        "dev_score": r.dev.get(r.metric, float("nan")), "baseline": r.baseline,
        "center_of_gravity": r.center_of_gravity, "gamma": r.gamma, "n_layers": r.n_layers,
        "predictions": r.folder not in missing,
        "run": str(r.folder)} for r in study.records])


def summary(study: Study) -> pd.DataFrame:
    """Test score of every configuration of every family: mean over seeds, spread, interval
    and what it resampled."""
    configs: dict[tuple, list] = {}
    for r in study.records:
        key = (r.family, r.task, r.encoder, step_of(r), r.control, r.mode, layer_of(r),
               r.metric, study.report_of(r).variant(r))
        configs.setdefault(key, []).append(r)
    rows = []
    for key, runs in sorted(configs.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][3],
                                                            task_rank(kv[0][1]), kv[0][4:])):
        row = dict(zip(["family", *KEYS, "control", "mode", "layer", "metric", "variant"], key,
                       strict=True))
        if not study.report_of(runs[0]).score_resampled:
            with_seed_interval(row, "score", [r.score for r in runs])
            row["interval"] = seed_kind(len(runs))
        else:
            scores = study.scores(runs)
            with_scores(row, "score", scores)
            row["interval"] = interval_kind(scores)
        row["score_std"] = float(np.std([r.score for r in runs], ddof=1)) if len(runs) > 1 \
            else float("nan")
        row["seeds"] = len({r.seed for r in runs})
        rows.append(row)
    return pd.DataFrame(rows)
