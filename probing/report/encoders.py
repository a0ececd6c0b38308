"""Encoders side by side: the layer-roles answer of each encoder on one relative scale, and the
differences between encoders tested rather than read off two intervals.

`encoder_table`: per task and encoder, the relative depth (E_delta - 1) / (L - 1) of Tenney's
cumulative gains (L the top layer), E_s / (L - 1) of the mixing weights, what the layers above
0 add (mix - P0) and what pretraining adds (the mix of the trained encoder minus that of its
random-weights twin: the same model built with `encoder.random_init=true`), each with its
interval. `encoder_differences`: per task, every pair of trained encoders, the difference of
their depths, a two-sided bootstrap p-value (paired over the test sentences the two share, as
every run of a task does) and Holm's correction over the task's pairs.
"""

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from probing.report.bootstrap import LEVEL, bootstrap_p_value, holm, seed_interval
from probing.report.expected import Gains, expected_layers_of, normalised_depth
from probing.report.rows import with_difference, with_interval
from probing.report.study import Scores, Study
from probing.runs.record import RunRecord

# settings that tell a random-weights twin from its trained encoder, not the model apart
TWIN_SETTINGS = ("name", "random_init", "seed", "weight_file")


def is_twin(record: RunRecord) -> bool:
    return bool((record.config.get("encoder") or {}).get("random_init"))


def model_key(record: RunRecord) -> str:
    """What a trained encoder and its random-weights twin have in common: the encoder settings
    other than its name, seed and weights."""
    encoder = record.config.get("encoder") or {}
    return repr(sorted((k, repr(v)) for k, v in encoder.items() if k not in TWIN_SETTINGS))


def comparable(study: Study, family: str) -> bool:
    """Several encoders (or pretraining steps) ran the family's cumulative probes."""
    return len({(r.encoder, r.step) for r in study.records if r.family == family
                and r.mode == "cumulative" and not r.control}) >= 2


def _depth_point(gains: Gains) -> float:
    return (float(normalised_depth(gains.tenney.point, gains.n_layers)) if gains.tenney.defined
            else float("nan"))


def _depth_samples(gains: Gains) -> np.ndarray | None:
    if gains.tenney.samples is None or not gains.tenney.defined:
        return None
    return np.asarray(normalised_depth(gains.tenney.samples, gains.n_layers), dtype=float)


def encoder_table(study: Study, family: str) -> pd.DataFrame:
    """One row per task, encoder and step where several encoders ran (empty otherwise)."""
    if not comparable(study, family):
        return pd.DataFrame()
    groups = study.groups(family)
    twins = {(task, model_key(runs[0])): (encoder, runs)
             for (task, encoder, _), runs in groups.items() if is_twin(runs[0])}
    rows = []
    for (task, encoder, step), runs in groups.items():
        top = study.n_layers(runs) - 1
        gains = expected_layers_of(study.by_layer(runs, "cumulative"))
        row: dict[str, Any] = {"task": task, "encoder": encoder, "step": step,
                               "n_layers": top + 1, "metric": runs[0].metric,
                               "twin": is_twin(runs[0])}
        with_interval(row, "depth", _depth_point(gains), _depth_samples(gains))
        mixes = [r.center_of_gravity / top for r in study.select(runs, "all")
                 if r.weights is not None and top >= 1]
        mean, lo, hi = seed_interval(np.array(mixes)) if mixes else (np.nan,) * 3
        row["E_s_relative"], row["E_s_relative_lo"], row["E_s_relative_hi"] = (
            float(mean), float(lo), float(hi))
        mix = study.scores(study.select(runs, "all"))
        with_difference(row, "mix_minus_P0", mix, study.scores(study.select(runs, "single", 0)))
        twin = None if row["twin"] else twins.get((task, model_key(runs[0])))
        row["twin_encoder"] = twin[0] if twin else ""
        with_difference(row, "trained_minus_twin", mix,
                    study.scores(study.select(twin[1], "all")) if twin else Scores(
                        float("nan"), None, 0))
        rows.append(row)
    return pd.DataFrame(rows)


def encoder_differences(study: Study, family: str) -> pd.DataFrame:
    """Per task and pair of trained encoders: both depths, P(depth A < depth B), the two-sided
    p-value of their difference, Holm over the task's pairs, and what holds at 95%."""
    if not comparable(study, family):
        return pd.DataFrame()
    by_task: dict[str, list[tuple[str, int, Gains, tuple]]] = {}
    for (task, encoder, step), runs in study.groups(family).items():
        if not is_twin(runs[0]):
            by_task.setdefault(task, []).append(
                (encoder, step, expected_layers_of(study.by_layer(runs, "cumulative")),
                 study.test_sentences(runs[0])))
    rows = []
    for task, encoders in by_task.items():
        pairs = [_tested_pair(task, a, b) for a, b in combinations(encoders, 2)]
        for pair, p_holm in zip(pairs, holm(np.array([p["p_value"] for p in pairs])),
                                strict=True):
            pair["p_holm"] = float(p_holm)
            pair["holds"] = bool(p_holm < 1 - LEVEL)
            pair["finding"] = pair["finding"] or (
                "not supported" if not pair["holds"] else
                f"{pair['encoder_a']} shallower" if pair["p_a_below_b"] > 0.5 else
                f"{pair['encoder_b']} shallower")
        rows += pairs
    columns = ["task", "encoder_a", "step_a", "encoder_b", "step_b", "depth_a", "depth_b",
               "difference", "p_a_below_b", "p_value", "p_holm", "holds", "finding", "paired",
               "resamples_used"]
    return pd.DataFrame(rows, columns=columns)


def _tested_pair(task: str, a: tuple, b: tuple) -> dict:
    (enc_a, step_a, gains_a, draws_a), (enc_b, step_b, gains_b, draws_b) = a, b
    depth_a, depth_b = _depth_point(gains_a), _depth_point(gains_b)
    row = {"task": task, "encoder_a": enc_a, "step_a": step_a, "encoder_b": enc_b,
           "step_b": step_b, "depth_a": depth_a, "depth_b": depth_b,
           "difference": depth_a - depth_b, "paired": draws_a == draws_b,
           "p_a_below_b": float("nan"), "p_value": float("nan"), "resamples_used": 0,
           "finding": ""}
    samples_a, samples_b = _depth_samples(gains_a), _depth_samples(gains_b)
    if samples_a is None or samples_b is None:
        undefined = False in (gains_a.tenney.defined, gains_b.tenney.defined)
        row["finding"] = "undefined" if undefined else "no interval"
        return row
    usable = np.isfinite(samples_a) & np.isfinite(samples_b)
    difference = samples_a[usable] - samples_b[usable]
    row["p_a_below_b"] = float((difference < 0).mean()) if len(difference) else float("nan")
    row["p_value"] = bootstrap_p_value(difference)
    row["resamples_used"] = int(usable.sum())
    return row


def pairs_tested(records: list[RunRecord], family: str) -> int:
    """The most pairs of trained encoders any task has: the m of Holm's correction."""
    encoders: dict[str, set] = {}
    for r in records:
        if r.family == family and r.mode == "cumulative" and not r.control and not is_twin(r):
            encoders.setdefault(r.task, set()).add((r.encoder, r.step))
    return max((len(e) * (len(e) - 1) // 2 for e in encoders.values()), default=0)
