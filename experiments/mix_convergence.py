"""Does the mix over layers 0..l reach its best layer? The measurement behind
`probe.mix_lr_scale` and `trainer.min_epoch_targets` (docs/estimator.md): one `layers` run
(the mix, each layer alone, each prefix 0..l, side by side) per task and setting, written to
results/estimator/mix_convergence.json.

    PROBING_DATA_DIR=../shared/data OMP_NUM_THREADS=2 python experiments/mix_convergence.py

Settings: before (the mixing weights at the probe's learning rate, an epoch of at least 20,000
targets) and now (the shipped configs). Per run and l: the cumulative mix's test score, the best
single layer in 0..l chosen on dev, the shortfall, and the full mix's weights and stopping
epoch. One seed each: a diagnosis, not an interval; the study's `mix_check` table is the test.
"""

import subprocess
import sys
import time
from pathlib import Path

from probing.runs.record import RECORD_NAME, RunRecord
from probing.utils.atomic import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "estimator" / "mix_convergence.json"
TASKS = ("entities", "relations")
SETTINGS = {"before": ["probe.mix_lr_scale=1", "trainer.min_epoch_targets=20000"],
            "now": []}


def run(task: str, setting: str, folder: Path) -> None:
    command = [sys.executable, "-m", "probing.run", f"task={task}", "+study=layers", "seed=0",
               f"hydra.run.dir={folder}", *SETTINGS[setting]]
    subprocess.run(command, check=True, cwd=ROOT)


def summary(folder: Path) -> dict:
    records = [RunRecord.read(p) for p in sorted(folder.rglob(RECORD_NAME))]
    by = {(r.mode, r.layer): r for r in records}
    n_layers = records[0].n_layers
    rows = []
    for layer in range(n_layers):
        singles = [by[("single", i)] for i in range(layer + 1)]
        best = max(singles, key=lambda r: r.dev[r.metric])
        mix = by[("cumulative", layer)]
        rows.append({"layer": layer, "mix": mix.score, "best_layer": best.layer,
                     "best_single": best.score, "shortfall": mix.score - best.score,
                     "mix_weights": [round(w, 4) for w in mix.weights]})
    full = by[("all", None)]
    return {"metric": full.metric, "mix_lr_scale": full.config["probe"]["mix_lr_scale"],
            "min_epoch_targets": full.config["trainer"]["min_epoch_targets"],
            "all": {"score": full.score, "weights": [round(w, 4) for w in full.weights],
                    "epochs": len(full.history)},
            "largest_shortfall": min(row["shortfall"] for row in rows), "cumulative": rows}


def main() -> None:
    scratch = ROOT / "multirun" / f"mix_convergence-{time.strftime('%Y%m%d-%H%M%S')}"
    results = {}
    for task in TASKS:
        for setting in SETTINGS:
            folder = scratch / f"{task}-{setting}"
            run(task, setting, folder)
            results.setdefault(task, {})[setting] = summary(folder)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(OUT, {"command": "python experiments/mix_convergence.py",
                            "settings": SETTINGS, "runs": str(scratch.relative_to(ROOT)),
                            "results": results})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
