"""The run record (results.json) and the test predictions (predictions.npz): one type each,
written and read here and nowhere else.

A run folder is complete when it holds results.json, which is written last: a folder without
it is a run that failed or never finished, and the report never mistakes it for a run.
"""

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from probing.utils.atomic import write_json_atomic, written_in_place
from probing.utils.errors import ProbingError

RECORD_NAME = "results.json"
PREDICTIONS_NAME = "predictions.npz"
FORMAT = 2  # 2: probe families (the `probe` section); records before it have no `format`


@dataclass(frozen=True)
class RunRecord:
    """One probe of one run: what was probed, how, and what came out.

    The JSON keeps these fields in sections (task, encoder, probe, mix, ...) for a human
    reader; `to_json` and `from_json` are each other's inverse."""

    task: str
    corpus: str
    metric: str  # the score the report shows (the family's; for the edge probe the task's)
    labeling: str | None  # qualified class name of the task's Labeling
    labels: list[str]
    control: bool  # a control task (Hewitt & Liang 2019)
    task_info: dict[str, Any]  # files and what the task says of itself (split rule, ...)
    encoder: str
    encoder_fingerprint: str
    encoder_settings: dict[str, Any]  # the alignment settings (pooling, window)
    n_layers: int
    dim: int
    step: int | None  # pretraining step of a checkpoint encoder
    encoder_info: dict[str, Any]
    family: str  # edge, mdl, distance, depth, cka, ...
    family_fields: dict[str, Any]  # what the family adds (mixing weights, codelength, ...)
    mode: str  # all | single | cumulative
    layer: int | None
    layers: list[int]
    seed: int
    test: dict[str, float]
    dev: dict[str, float]
    report: str | None = None  # qualified name of the family's report (probing/report/family.py)
    baseline_label: Any = None  # the majority training label, where the family has one
    baseline_test: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, Any] = field(default_factory=dict)
    caches: dict[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    folder: Path = Path()  # where it was read from or written to; not in the JSON

    @property
    def score(self) -> float:
        """The report metric on test."""
        return float(self.test[self.metric])

    @property
    def baseline(self) -> float:
        return float(self.baseline_test.get(self.metric, float("nan")))

    @property
    def weights(self) -> list[float] | None:
        """The scalar mix's weights, where the family has a mix."""
        return self.family_fields.get("mixing_weights")

    @property
    def center_of_gravity(self) -> float:
        return float(self.family_fields.get("center_of_gravity", float("nan")))

    @property
    def gamma(self) -> float:
        return float(self.family_fields.get("gamma", float("nan")))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "task": {"name": self.task, "corpus": self.corpus, "labeling": self.labeling,
                     "labels": self.labels, "control": self.control, **self.task_info},
            "encoder": {"name": self.encoder, "fingerprint": self.encoder_fingerprint,
                        "settings": self.encoder_settings, "n_layers": self.n_layers,
                        "dim": self.dim, "step": self.step, **self.encoder_info},
            "probe": {"family": self.family, "report": self.report, "metric": self.metric,
                      **self.family_fields},
            "mix": {"mode": self.mode, "layer": self.layer, "layers": self.layers},
            "seed": self.seed,
            "metrics": {"dev": self.dev, "test": self.test},
            "baseline": {"label": self.baseline_label, "test": self.baseline_test},
            "sizes": self.sizes, "caches": self.caches, "history": self.history,
            "timings": self.timings, "versions": self.versions, "created": self.created,
            "config": self.config}

    @classmethod
    def from_json(cls, raw: dict[str, Any], folder: Path) -> "RunRecord":
        task, encoder, probe = dict(raw["task"]), dict(raw["encoder"]), dict(raw["probe"])
        mix, baseline = raw["mix"], raw.get("baseline") or {}
        return cls(
            task=task.pop("name"), corpus=task.pop("corpus"), labeling=task.pop("labeling"),
            labels=list(task.pop("labels")), control=bool(task.pop("control")), task_info=task,
            encoder=encoder.pop("name"), encoder_fingerprint=encoder.pop("fingerprint"),
            encoder_settings=encoder.pop("settings") or {},
            n_layers=int(encoder.pop("n_layers")), dim=int(encoder.pop("dim")),
            step=encoder.pop("step"), encoder_info=encoder,
            family=probe.pop("family"), report=probe.pop("report", None),
            metric=probe.pop("metric"), family_fields=probe,
            mode=mix["mode"], layer=mix["layer"], layers=list(mix["layers"]),
            seed=int(raw["seed"]), test=raw["metrics"]["test"], dev=raw["metrics"]["dev"],
            baseline_label=baseline.get("label"), baseline_test=baseline.get("test") or {},
            sizes=raw.get("sizes", {}), caches=raw.get("caches", {}),
            history=raw.get("history", []), timings=raw.get("timings", {}),
            versions=raw.get("versions", {}), created=raw.get("created", ""),
            config=raw.get("config", {}), folder=Path(folder))

    def write(self, folder: Path) -> Path:
        """results.json into `folder`, atomically: a reader never sees half a record."""
        return write_json_atomic(Path(folder) / RECORD_NAME, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> "RunRecord":
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ProbingError(f"{path} cannot be read as a run record ({e}); rerun that run or "
                               "move it out of the report's folders") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ProbingError(f"{path} is a run record of an older format (before probe "
                               "families); rerun that run, or report it with the version "
                               "that made it")
        try:
            return cls.from_json(raw, path.parent)
        except (KeyError, TypeError, ValueError) as e:
            raise ProbingError(f"{path} is not a complete probe run record ({type(e).__name__}: "
                               f"{e}); rerun that run or move it out of the report's "
                               "folders") from None


@dataclass
class Predictions:
    """Per-item arrays of a run's test split, for the report's bootstrap: all with the same
    first dimension, `sentence` among them (each item's test sentence, so that intervals
    resample sentences). For a labelling task: `gold` and `predicted` label indices (n,), or
    0/1 rows (n, n_labels) for a multi-label one."""

    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def save(self, folder: Path) -> Path:
        """predictions.npz into `folder`, written beside it and renamed into place."""
        path = Path(folder) / PREDICTIONS_NAME
        with written_in_place(path) as partial, open(partial, "wb") as f:
            np.savez_compressed(f, **{name: _compact(a) for name, a in self.arrays.items()})
        return path

    @classmethod
    def load(cls, folder: Path) -> "Predictions | None":
        """The run's predictions; None where it saved none."""
        path = Path(folder) / PREDICTIONS_NAME
        if not path.is_file():
            return None
        try:
            with np.load(path) as saved:
                arrays = {name: saved[name] for name in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ProbingError(f"{path} is damaged ({type(e).__name__}: {e}); rerun that run, "
                               "or delete the file to report the run without intervals") from None
        if "sentence" not in arrays or len({len(a) for a in arrays.values()}) != 1:
            raise ProbingError(f"{path}: its arrays ({', '.join(arrays)}) should all have one "
                               "row per test item, `sentence` among them; rerun that run")
        return cls(arrays)


def _compact(array: np.ndarray) -> np.ndarray:
    """Label indices as int16, 0/1 rows as uint8; anything else as it is."""
    if array.dtype == np.float32 and array.ndim == 2 and np.isin(array, (0, 1)).all():
        return array.astype(np.uint8)
    if (np.issubdtype(array.dtype, np.integer) and array.ndim == 1
            and array.min(initial=0) >= 0 and array.max(initial=0) < 2**15):
        return array.astype(np.int16)
    return array
