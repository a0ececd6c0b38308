"""Run records -> one pandas frame -> the tables of a study.

Tenney et al.'s (2019) two summaries of where a task lives in the encoder:
- center of gravity of the mixing weights, E_s[l] = sum_l l * s_l (from `mix` runs);
- cumulative expected layer, E_delta[l] = sum_{l>=1} l * delta_l / sum_{l>=1} delta_l with
  delta_l = score(0..l) - score(0..l-1) (from `cumulative` runs over every layer).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from probing.errors import ProbingError
from probing.report.record import RECORD_NAME, read_record

KEYS = ["task", "encoder", "step"]


def find_records(paths: list[str | Path]) -> list[Path]:
    found = sorted({p for path in map(Path, paths)
                    for p in ([path] if path.is_file() else path.rglob(RECORD_NAME))})
    if not found:
        raise ProbingError(f"no {RECORD_NAME} under {', '.join(map(str, paths))}; give the run "
                           "or sweep folders of finished probe runs")
    return found


def load_runs(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run: what was probed, how, and what came out."""
    return pd.DataFrame([run_row(read_record(path), path) for path in find_records(paths)])


def run_row(record: dict, path: Path) -> dict:
    metric = record["task"]["metric"]
    return {
        "task": record["task"]["name"], "encoder": record["encoder"]["name"],
        "step": record["encoder"].get("step", -1), "mode": record["mix"]["mode"],
        "layer": -1 if record["mix"]["layer"] is None else record["mix"]["layer"],
        "seed": record["seed"], "metric": metric,
        "score": record["metrics"]["test"][metric], "dev_score": record["metrics"]["dev"][metric],
        "center_of_gravity": record["center_of_gravity"], "gamma": record["gamma"],
        "weights": record["mixing_weights"], "run": str(path.parent),
    }


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Test score and center of gravity of every configuration, mean and spread over seeds."""
    grouped = runs.groupby([*KEYS, "mode", "layer", "metric"])
    table = grouped.agg(score=("score", "mean"), score_std=("score", "std"),
                        center_of_gravity=("center_of_gravity", "mean"), seeds=("seed", "nunique"))
    return table.reset_index()


def layer_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per task, encoder and step, one row per layer: mixing weight, single-layer score,
    cumulative score and its gain delta_l over layers 0..l-1."""
    frames = []
    for key, group in runs.groupby(KEYS):
        frame = pd.DataFrame({"weight": _mean_weights(group), "single": _scores(group, "single"),
                              "cumulative": _scores(group, "cumulative")})
        frame["delta"] = frame["cumulative"].diff()
        frame.index.name = "layer"
        frames.append(frame.reset_index().assign(**dict(zip(KEYS, key, strict=True))))
    table = pd.concat(frames, ignore_index=True)
    return table[[*KEYS, "layer", "weight", "single", "cumulative", "delta"]]


def expected_layers(runs: pd.DataFrame) -> pd.DataFrame:
    """Score and E_s of the `mix` runs, and E_delta of the `cumulative` runs, per task,
    encoder and step; E_delta is missing until every layer's cumulative run is there."""
    mix = runs[runs["mode"] == "mix"].groupby(KEYS).agg(
        score=("score", "mean"), E_s=("center_of_gravity", "mean"))
    e_delta = layer_table(runs).groupby(KEYS)["cumulative"].agg(
        lambda scores: cumulative_expected_layer(scores.to_numpy())).rename("E_delta")
    return mix.join(e_delta, how="outer").reset_index()


def cumulative_expected_layer(scores: np.ndarray) -> float:
    """E_delta from the cumulative scores of layers 0..L-1 (NaN where one is missing)."""
    if len(scores) < 2 or np.isnan(scores).any():
        return float("nan")
    delta = np.diff(scores)
    return float((np.arange(1, len(scores)) * delta).sum() / delta.sum())


def _mean_weights(group: pd.DataFrame) -> pd.Series:
    mix = group[group["mode"] == "mix"]
    if mix.empty:
        return pd.Series(dtype=float)
    return pd.Series(np.mean(np.stack(mix["weights"].to_list()), axis=0))


def _scores(group: pd.DataFrame, mode: str) -> pd.Series:
    runs = group[group["mode"] == mode]
    return runs.groupby("layer")["score"].mean()
