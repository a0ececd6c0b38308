"""The run record, results.json: everything `report` needs to know about one probe run.

`run.py` writes it as a dict (`write_record`); the report reads it back as one typed
`RunRecord` (`RunRecord.from_json`), so that a field is looked up by name in one place. Beside
results.json a run folder holds predictions.npz (`gold`, `predicted` of the test split, in the
same target order for every run of a task on one test file), which the bootstrap resamples.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from probing.atomic import write_json_atomic
from probing.errors import ProbingError

RECORD_NAME = "results.json"
PREDICTIONS_NAME = "predictions.npz"


def write_record(folder: str | Path, record: dict) -> Path:
    """Write results.json atomically: a reader never sees half a record."""
    return write_json_atomic(Path(folder) / RECORD_NAME, record)


def read_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


@dataclass(frozen=True)
class RunRecord:
    """One probe run as the report sees it."""

    folder: Path
    task: str
    metric: str
    encoder: str
    mode: str  # mix | single | cumulative
    layer: int | None
    seed: int
    test: dict[str, float]
    dev: dict[str, float]
    weights: list[float]
    center_of_gravity: float
    gamma: float
    n_layers: int
    step: int | None = None  # pretraining step of a checkpoint encoder
    labeling: str | None = None  # qualified class name of the task's Labeling
    labels: list[str] = field(default_factory=list)
    control: bool = False  # a Hewitt & Liang control task
    baseline_label: Any = None  # the majority training label
    baseline_test: dict[str, float] = field(default_factory=dict)
    # what made the activations: the weights' fingerprint and the alignment settings (pooling,
    # window); None in records that do not say
    encoder_fingerprint: str | None = None
    encoder_settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, path: str | Path) -> "RunRecord":
        path = Path(path)
        try:
            raw = read_record(path)
            return cls.from_dict(raw, path.parent)
        except (KeyError, TypeError, ValueError) as e:
            raise ProbingError(f"{path} is not a complete probe run record ({type(e).__name__}: "
                               f"{e}); rerun that run or move it out of the report's "
                               "folders") from e

    @classmethod
    def from_dict(cls, raw: dict, folder: Path) -> "RunRecord":
        task, encoder, mix = raw["task"], raw["encoder"], raw["mix"]
        baseline = raw.get("baseline") or {}
        weights = [float(w) for w in raw["mixing_weights"]]
        return cls(
            folder=Path(folder), task=task["name"], metric=task["metric"],
            encoder=encoder["name"], mode=mix["mode"], layer=mix.get("layer"),
            seed=int(raw["seed"]), test=raw["metrics"]["test"], dev=raw["metrics"]["dev"],
            weights=weights, center_of_gravity=float(raw["center_of_gravity"]),
            gamma=float(raw["gamma"]), n_layers=int(encoder.get("n_layers", len(weights))),
            step=encoder.get("step"), labeling=task.get("labeling"),
            labels=list(task.get("labels", [])), control=bool(task.get("control", False)),
            baseline_label=baseline.get("label"), baseline_test=baseline.get("test", {}),
            encoder_fingerprint=encoder.get("fingerprint"),
            encoder_settings=encoder.get("settings") or {})

    @property
    def score(self) -> float:
        """The task's report metric on test."""
        return float(self.test[self.metric])

    @property
    def baseline(self) -> float:
        return float(self.baseline_test.get(self.metric, float("nan")))

    def predictions(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Gold and predicted test labels, or None where the run saved none (an older run):
        single-label (n,) label indices, multi-label (n, n_labels) 0/1."""
        path = self.folder / PREDICTIONS_NAME
        if not path.is_file():
            return None
        with np.load(path) as saved:
            gold, predicted = saved["gold"], saved["predicted"]
        if gold.shape != predicted.shape or gold.ndim not in (1, 2):
            raise ProbingError(f"{path}: gold {gold.shape} and predicted {predicted.shape} should "
                               "be the same shape, (n,) label indices or (n, labels) 0/1")
        return gold, predicted
