"""How long a study takes: runs `python -m probing.run -m +experiment=NAME` (with any extra
overrides) and writes its wall time and where the time went to results/benchmarks/NAME.json.

    PROBING_DATA_DIR=../shared/data python experiments/benchmarks/study.py layer_roles \
        hydra/launcher=joblib hydra.launcher.n_jobs=2
    python experiments/benchmarks/study.py layer_methods hydra/launcher=joblib \
        hydra.launcher.n_jobs=2

Per stage (read, extract, probe) the seconds are summed over the sweep's runs, from their
records; a run of several probes counts once. Extraction is cold or warm as the cache is: the
JSON says which corpora were extracted and which reused. The JSON is NAME.json for MiniLM-L6,
NAME_<encoder>.json for another encoder. The target is 45 minutes on 2 cores.
"""

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from machine import cpu_name  # this folder's helper

from probing.runs.record import RECORD_NAME, RunRecord
from probing.utils.reproducibility import library_versions

OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks"
TARGET_MINUTES = 45


def stage_seconds(sweep: Path) -> tuple[Counter, dict, int, int, str]:
    """Seconds per stage over the sweep's runs, caches extracted or reused, runs, records and
    the encoder's name."""
    stages: Counter = Counter()
    caches: dict[str, bool] = {}
    runs: set[Path] = set()
    records = [RunRecord.read(path) for path in sorted(sweep.rglob(RECORD_NAME))]
    for record in records:
        # a run of several probes keeps each record in a subfolder of its job folder
        job = record.folder if (record.folder / ".hydra").is_dir() else record.folder.parent
        if job in runs:
            continue
        runs.add(job)
        stages.update({k: v for k, v in record.timings.items()
                       if k != "probes_trained_together"})
        for split, cache in record.caches.items():
            name = f"{record.corpus}/{split}"
            caches[name] = caches.get(name, True) and cache["reused"]
    return stages, caches, len(runs), len(records), records[0].encoder if records else ""


def main(experiment: str, overrides: list[str]) -> None:
    sweep = Path("multirun") / f"{experiment}-benchmark-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [sys.executable, "-m", "probing.run", "-m", f"+experiment={experiment}",
               f"hydra.sweep.dir={sweep}", *overrides]
    start = time.perf_counter()
    returncode = subprocess.run(command).returncode
    wall = time.perf_counter() - start
    stages, caches, runs, records, encoder = stage_seconds(sweep)
    result = {
        "experiment": experiment, "encoder": encoder,
        "command": " ".join([f"python -m probing.run -m +experiment={experiment}", *overrides]),
        "sweep_dir": str(sweep), "exit_status": returncode,
        "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 1),
        "target_minutes": TARGET_MINUTES, "within_target": wall / 60 <= TARGET_MINUTES,
        "runs": runs, "records": records,
        "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
        "extracted": sorted(k for k, reused in caches.items() if not reused),
        "reused": sorted(k for k, reused in caches.items() if reused),
        "threads": torch.get_num_threads(), "cpu": cpu_name(), "versions": library_versions(),
    }
    name = experiment if encoder == "minilm-l6" else f"{experiment}_{encoder}"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(f"usage: python {sys.argv[0]} EXPERIMENT [overrides ...]")
    main(sys.argv[1], sys.argv[2:])
