"""How long the layer-roles study takes: runs `python -m probing.run -m +experiment=layer_roles`
(with any extra overrides), and writes its wall time and where the time went to
results/benchmarks/layer_roles.json.

    PROBING_DATA_DIR=../shared/data python experiments/benchmarks/layer_roles.py
    python experiments/benchmarks/layer_roles.py encoder.random_init=true \
        encoder.name=minilm-l6-random

Per stage (read, extract, train, evaluate) the seconds are summed over the sweep's runs, from
their records; a run of several probes (mix=layers) counts once. Extraction is cold or warm as
the cache is: the JSON says which corpora were extracted and which reused. The JSON is
layer_roles.json for MiniLM-L6, layer_roles_<encoder>.json for another encoder.
"""

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from probing.hardware import cpu_name
from probing.report.record import RECORD_NAME
from probing.reproducibility import library_versions

OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks" / "layer_roles.json"


def stage_seconds(sweep: Path) -> tuple[Counter, dict, int, int, str]:
    """Seconds per stage over the sweep's runs, caches extracted or reused, runs, probes and
    the encoder's name."""
    stages: Counter = Counter()
    caches: dict[str, bool] = {}
    runs: set[str] = set()
    records = sorted(sweep.rglob(RECORD_NAME))
    encoder = ""
    for path in records:
        record = json.loads(path.read_text())
        encoder = record["encoder"]["name"]
        # a run of several probes keeps each record in a subfolder of its job folder
        job = str(path.parent if (path.parent / ".hydra").is_dir() else path.parent.parent)
        if job in runs:
            continue
        runs.add(job)
        stages.update({k: v for k, v in record["timings"].items()
                       if k != "probes_trained_together"})
        for split, cache in record["caches"].items():
            caches[f"{record['task']['corpus']}/{split}"] = caches.get(
                f"{record['task']['corpus']}/{split}", True) and cache["reused"]
    return stages, caches, len(runs), len(records), encoder


def main(overrides: list[str]) -> None:
    sweep = Path("multirun") / f"layer_roles-benchmark-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [sys.executable, "-m", "probing.run", "-m", "+experiment=layer_roles",
               f"hydra.sweep.dir={sweep}", *overrides]
    start = time.perf_counter()
    returncode = subprocess.run(command).returncode
    wall = time.perf_counter() - start
    stages, caches, runs, probes, encoder = stage_seconds(sweep)
    result = {
        "encoder": encoder,
        "command": " ".join(["python -m probing.run -m +experiment=layer_roles", *overrides]),
        "sweep_dir": str(sweep), "exit_status": returncode,
        "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 1),
        "target_minutes": 45, "runs": runs, "probes": probes,
        "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
        "extracted": sorted(k for k, reused in caches.items() if not reused),
        "reused": sorted(k for k, reused in caches.items() if reused),
        "threads": torch.get_num_threads(), "cpu": cpu_name(), "versions": library_versions(),
    }
    out = OUT if encoder == "minilm-l6" else OUT.with_name(f"layer_roles_{encoder}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
