"""A report that can be recomputed from itself: beside its tables, every report writes the
records it read (`records.jsonl.gz`) and, per run and resampled metric, the per-sentence
statistics its intervals resampled (`sentence_statistics.npz`: the summed counts a metric is a
function of, or a structural probe's per-sentence values). Both are small, so a study's report
is committed with them: the statistics of one metric are stacked over runs and each run's counts
kept as its difference from the runs' median (runs agree on most sentences, so the differences
are mostly 0 and LZMA shrinks them to about a sixth of the arrays compressed one by one), and

    python -m probing.report results/layer_roles/minilm-l6 --out /tmp/again

recomputes every interval and order of it from the repository alone, equal to the committed
tables (the resample draws depend only on the bootstrap seed and the test files' names and
sizes, which the records keep). The run folders and their predictions are not needed."""

import gzip
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from probing.report.family import Arrays
from probing.runs.record import FORMAT, RunRecord
from probing.utils.atomic import written_in_place
from probing.utils.errors import ProbingError

RECORDS_NAME = "records.jsonl.gz"
STATISTICS_NAME = "sentence_statistics.npz"
SEPARATOR = "::"  # between a group's number and the name of one of its arrays
BASELINE = "baseline:"  # the statistics of the majority baseline's answers on a run's test set

# (run folder, what was resampled: a metric, or "baseline:<metric>") -> its arrays
Statistics = dict[tuple[str, str], Arrays]


def is_archive(path: Path) -> bool:
    return (Path(path) / RECORDS_NAME).is_file()


def write_archive(records: list[RunRecord], statistics: Statistics, out: Path) -> None:
    """The records and statistics of a report into its folder, each file whole or not at all."""
    with written_in_place(out / RECORDS_NAME) as tmp, gzip.open(tmp, "wt") as f:
        for record in records:
            f.write(json.dumps({"folder": str(record.folder), **record.to_json()},
                               default=str) + "\n")
    with written_in_place(out / STATISTICS_NAME) as tmp, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_LZMA) as stored:
        for i, (runs, name, key, stack) in enumerate(_stacks(statistics)):
            group = f"{i}{SEPARATOR}"
            _put(stored, group + "runs", np.array(runs))
            _put(stored, group + "names", np.array([name, key]))
            if stack.dtype.kind == "i":  # counts: stored as each run's difference from the median
                reference = np.median(stack, axis=0).round().astype(stack.dtype)
                _put(stored, group + "reference", reference)
                stack = _narrowest(stack - reference)
            # the runs vary fastest: runs' counts of one sentence are alike, so they compress
            _put(stored, group + "values", np.moveaxis(stack, 0, -1))


def _stacks(statistics: Statistics) -> Iterator[tuple[list[str], str, str, np.ndarray]]:
    """The statistics grouped by metric, array and shape, each group's arrays stacked over runs
    (its first axis), in the order of the runs' names."""
    groups: dict[tuple, tuple[list[str], list[np.ndarray]]] = {}
    for (run, name), parts in sorted(statistics.items()):
        for key, value in parts.items():
            array = _compact(np.asarray(value))
            runs, arrays = groups.setdefault((name, key, array.shape, array.dtype.str), ([], []))
            runs.append(run)
            arrays.append(array)
    for (name, key, _, _), (runs, arrays) in groups.items():
        yield runs, name, key, np.stack(arrays)


def _narrowest(differences: np.ndarray) -> np.ndarray:
    for dtype in (np.int8, np.int16):
        info = np.iinfo(dtype)
        if not differences.size or (differences.min() >= info.min
                                    and differences.max() <= info.max):
            return differences.astype(dtype)
    return differences


def _put(stored: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with stored.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, array, allow_pickle=False)


def _compact(array: np.ndarray) -> np.ndarray:
    """Counts as 32-bit integers (exact, and a fraction of the size once compressed); any other
    values as they are."""
    if (array.dtype.kind == "f" and array.size and np.isfinite(array).all()
            and (array == np.round(array)).all() and np.abs(array).max() < 2**31):
        return array.astype(np.int32)
    return array


def load_archive(folder: Path) -> tuple[list[RunRecord], Statistics]:
    """The records and statistics a report wrote (`write_archive`)."""
    folder = Path(folder)
    path = folder / RECORDS_NAME
    again = "write the report again with python -m probing.report from the run folders"
    try:
        with gzip.open(path, "rt") as f:
            raw = [json.loads(line) for line in f if line.strip()]
        if any(r.get("format") != FORMAT for r in raw):
            raise ValueError(f"records of another format than {FORMAT}")
        records = [RunRecord.from_json(r, Path(r.pop("folder"))) for r in raw]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ProbingError(f"{path}: not a report's records ({e}); {again}") from None
    path = folder / STATISTICS_NAME
    if not path.is_file():
        raise ProbingError(f"{path} is missing beside {RECORDS_NAME}, so no interval could be "
                           f"recomputed; {again}, or restore the file")
    try:
        return records, _unstacked(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ProbingError(f"{path}: damaged ({e}); {again}") from None


def _unstacked(path: Path) -> Statistics:
    """The statistics `write_archive` stacked, each run's arrays as they were given."""
    statistics: Statistics = {}
    with np.load(path) as stored:
        groups = sorted({key.split(SEPARATOR)[0] for key in stored.files}, key=int)
        for group in groups:
            part = {key: stored[f"{group}{SEPARATOR}{key}"]
                    for key in ("runs", "names", "values", "reference")
                    if f"{group}{SEPARATOR}{key}" in stored.files}
            stack = np.moveaxis(part["values"], -1, 0)
            if "reference" in part:
                reference = part["reference"]
                stack = (stack + reference).astype(reference.dtype)
            name, key = (str(n) for n in part["names"])
            for run, array in zip(part["runs"], stack, strict=True):
                statistics.setdefault((str(run), name), {})[key] = array
    return statistics
