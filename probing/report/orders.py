"""Orders of tasks by E_delta, tested rather than eyeballed: for every pair of tasks of an
encoder, the bootstrap probability that E_delta(A) < E_delta(B), a two-sided bootstrap p-value,
and whether the order holds at 95% after Holm's correction over the encoder's pairs.

The two tasks' resamples are paired where they share test sentences (the same sentence draws:
upos and deps on EWT) and independent otherwise; seeds are drawn per configuration. Resamples
where either E_delta is undefined are left out of that pair and counted (`resamples_used`); a
pair with a task whose E_delta is undefined is not tested."""

from itertools import combinations

import numpy as np
import pandas as pd

from probing.report.bootstrap import LEVEL, bootstrap_p_value, holm
from probing.report.expected import ExpectedLayer, expected_layers_of
from probing.report.study import Study

MEASURES = ("E_delta", "E_delta_clipped")


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
