"""Orders of tasks by E_delta, tested rather than eyeballed: for every pair of tasks of an
encoder, the bootstrap probability that E_delta(A) < E_delta(B), a two-sided bootstrap p-value,
and whether the order holds at 95% after Holm's correction over the encoder's pairs.

The two tasks' resamples are paired where they share test sentences (the same sentence draws:
upos and deps on EWT) and independent otherwise; seeds are drawn per configuration. Resamples
where either E_delta is undefined are left out of that pair and counted (`resamples_used`); a
pair with a task whose E_delta is undefined is not tested.

A bootstrap p-value is never below 2 / (B + 1) with B resamples, and Holm multiplies the
smallest of m by m: with 1,000 resamples and Tenney's 8 tasks (28 pairs) no order could hold
at 95% however clear. The report draws at least `resamples_needed(m)`, which puts Holm's floor
m * 2 / (B + 1) a tenth of the way to 0.05, so that the floor decides no order."""

import math
from itertools import combinations

import numpy as np
import pandas as pd

from probing.report.bootstrap import LEVEL, bootstrap_p_value, holm
from probing.report.expected import ExpectedLayer, expected_layers_of
from probing.report.study import Study
from probing.runs.record import RunRecord

MEASURES = ("E_delta", "E_delta_clipped")
FLOOR_SHARE = 0.1  # Holm's p-value floor at most this share of the test level's 1 - LEVEL


def resamples_needed(pairs: int) -> int:
    """The fewest resamples B whose Holm floor over `pairs` tests, pairs * 2 / (B + 1), is at
    most FLOOR_SHARE * (1 - LEVEL): 400 a pair at 95%."""
    if pairs == 0:
        return 0
    return math.ceil(2 * pairs / (FLOOR_SHARE * (1 - LEVEL)) - 1)


def holm_floor(pairs: int, resamples: int) -> float:
    """The smallest Holm-adjusted p-value `pairs` tests can have with `resamples`."""
    return min(1.0, pairs * 2 / (resamples + 1))


def pairs_tested(records: list[RunRecord], family: str) -> int:
    """The most pairs of tasks any encoder (and step) has with cumulative runs of `family`:
    the m of Holm's correction in the order table."""
    tasks: dict[tuple, set[str]] = {}
    for r in records:
        if r.family == family and r.mode == "cumulative" and not r.control:
            tasks.setdefault((r.encoder, r.step), set()).add(r.task)
    return max((math.comb(len(t), 2) for t in tasks.values()), default=0)


def _variant(gains, measure: str) -> ExpectedLayer:
    return gains.tenney if measure == "E_delta" else gains.clipped


def _compare(a: ExpectedLayer, b: ExpectedLayer) -> dict:
    if not (a.defined and b.defined) or a.samples is None or b.samples is None:
        why = ("undefined" if False in (a.defined, b.defined) else
               "missing layers" if None in (a.defined, b.defined) else "no interval")
        return {"p_a_below_b": float("nan"), "p_value": float("nan"), "resamples_used": 0,
                "order": why}
    usable = np.isfinite(a.samples) & np.isfinite(b.samples)
    difference = a.samples[usable] - b.samples[usable]
    below = float((difference < 0).mean()) if len(difference) else float("nan")
    return {"p_a_below_b": below, "p_value": bootstrap_p_value(difference),
            "resamples_used": int(usable.sum()), "order": ""}


def order_table(study: Study, family: str) -> pd.DataFrame:
    """One row per encoder, measure (Tenney's or the clipped E_delta) and pair of tasks (in
    pipeline order): both values, P(E(A) < E(B)), the p-value, Holm's adjusted p-value, and
    the order that holds at 95% ("not supported" where none does)."""
    by_encoder: dict[tuple, list] = {}
    for (task, encoder, step), runs in study.groups(family).items():
        gains = expected_layers_of(study.by_layer(runs, "cumulative"))
        by_encoder.setdefault((encoder, step), []).append(
            (task, gains, study.test_sentences(runs[0])))
    rows = []
    for (encoder, step), tasks in by_encoder.items():
        for measure in MEASURES:
            pairs = []
            for (a, gains_a, draws_a), (b, gains_b, draws_b) in combinations(tasks, 2):
                ea, eb = _variant(gains_a, measure), _variant(gains_b, measure)
                pairs.append({"encoder": encoder, "step": step, "measure": measure,
                              "task_a": a, "task_b": b, "E_a": ea.point, "E_b": eb.point,
                              "paired": draws_a == draws_b, **_compare(ea, eb)})
            adjusted = holm(np.array([p["p_value"] for p in pairs], dtype=float))
            for pair, p_holm in zip(pairs, adjusted, strict=True):
                pair["p_holm"] = float(p_holm)
                pair["holds"] = bool(p_holm < 1 - LEVEL)
                if not pair["order"]:
                    pair["order"] = _order(pair)
            rows += pairs
    columns = ["encoder", "step", "measure", "task_a", "task_b", "E_a", "E_b", "p_a_below_b",
               "p_value", "p_holm", "holds", "order", "paired", "resamples_used"]
    return pd.DataFrame(rows, columns=columns)


def _order(pair: dict) -> str:
    if not pair["holds"]:
        return "not supported"
    a, b = pair["task_a"], pair["task_b"]
    return f"{a} < {b}" if pair["p_a_below_b"] > 0.5 else f"{b} < {a}"


def supported_orders(orders: pd.DataFrame, encoder: str, step: int,
                     measure: str = "E_delta") -> list[str]:
    """The orders that hold for one encoder (for the summary figure)."""
    chosen = orders[(orders["encoder"] == encoder) & (orders["step"] == step)
                    & (orders["measure"] == measure) & orders["holds"]]
    return chosen["order"].tolist()


def pipeline_verdicts(orders: pd.DataFrame, measure: str = "E_delta") -> list[str]:
    """Per encoder, what its tested orders say of the pipeline order (task_a comes before
    task_b in every row): how many pairs hold in the pipeline's direction, how many against it,
    and "the pipeline order holds" only where every pair of its tasks holds that way."""
    lines = []
    chosen = orders[(orders["measure"] == measure) & orders["p_value"].notna()]
    for (encoder, step), pairs in chosen.groupby(["encoder", "step"], sort=False):
        name = encoder if step < 0 else f"{encoder} (step {step})"
        along = int((pairs["holds"] & (pairs["p_a_below_b"] > 0.5)).sum())
        against = int((pairs["holds"] & (pairs["p_a_below_b"] < 0.5)).sum())
        verdict = ("the pipeline order holds (every pair)" if along == len(pairs) else
                   f"{along} of {len(pairs)} pairs of tasks in the pipeline's order, "
                   f"{against} against it, the rest not supported")
        lines.append(f"{name}: {verdict}")
    return lines
