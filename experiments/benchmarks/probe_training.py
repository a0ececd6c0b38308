"""How fast probes train: targets per second, the share of the machine's matmul peak their
matrix products reach, where a step's time goes, and peak memory, for today's trainer beside
an earlier commit's. Writes results/benchmarks/probe_training.json.

    PROBING_DATA_DIR=../shared/data python experiments/benchmarks/probe_training.py
    python experiments/benchmarks/probe_training.py --baseline fb6e088 --encoders minilm,mpnet

For each encoder, task and bank (`1`: the mix over all layers alone, the default run's probe;
`1+2L`: every selection of the layers study, trained side by side) a child process reads the
first `--train` training and `--dev` dev sentences (their activations extracted once into the
cache, a subset so that a 12-layer encoder costs minutes, not an hour), builds the run's own
table and bank, and times `--batches` training steps after 3 untimed ones, split into reading
and converting the batch's activations, forward, backward and the optimiser step, then one dev
evaluation. Useful FLOPs are the matrix products' FLOPs of one step as torch's FlopCounterMode
counts them (forward and backward), so the achieved fraction of peak is the matrix products'
share of what the machine's best matmul gives. `--baseline` (a commit) runs the same children
on that commit's package, from a git worktree. The ablation undoes one change of today's
trainer at a time (MiniLM-L6, upos). The default run (`python -m probing.run`, warm cache) is
timed whole, with its peak RSS, for both trainers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from machine import cpu_name, matmul_peak, timed  # this folder's helper

from probing.utils.atomic import write_json_atomic

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "probe_training.json"
ABLATIONS = {
    "dropout masks from torch.rand": "torch_rand_dropout",
    "Adam over one slice a probe": "adam_per_probe",
    "one thread": "one_thread",
    "bf16 matrix products (autocast)": "bf16",
}


# ---- the child: one encoder, task and bank ----------------------------------------------------

def child(encoder: str, task_name: str, bank_kind: str, n_train: int, n_dev: int,
          n_batches: int, ablation: str | None) -> dict:
    from hydra.utils import instantiate

    from probing.config.composed import composed
    from probing.features import extract
    from probing.probes.optimizer import BankAdam
    from probing.runs.inputs import Inputs
    from probing.runs.selection import distinct_layer_sets

    torch.set_num_threads(1 if ablation == "one_thread" else int(os.environ.get("THREADS", 2)))
    overrides = [f"encoder={encoder}", f"task={task_name}"]
    overrides += ["+study=layers"] if bank_kind == "1+2L" else []
    overrides += ["trainer.precision=bf16"] if ablation == "bf16" else []
    cfg = composed(*overrides)
    task, family, mix = instantiate(cfg.task), instantiate(cfg.probe), instantiate(cfg.mix)
    model, trainer = instantiate(cfg.encoder), instantiate(cfg.trainer)
    undo(ablation)
    examples = task.read_splits()
    vocab = task.vocabulary(examples)
    examples = {"train": examples["train"][:n_train], "dev": examples["dev"][:n_dev]}
    activations = {split: extract(model, [ex.words for ex in exs], cfg.paths.cache_dir,
                                  desc=f"{task.corpus}/{split}[:{len(exs)}]", **cfg.features)
                   for split, exs in examples.items()}
    inputs = Inputs(task, model, examples, activations, vocab)
    family.prepare(inputs)
    layer_sets = distinct_layer_sets(mix.selections(model.n_layers), inputs.n_layers)
    train, dev = family.table(inputs, "train"), family.table(inputs, "dev")
    bank = family.bank(inputs, layer_sets, 0).to(trainer.device).train()
    optimizer = BankAdam(bank, bank.n_probes, trainer.lr, trainer.weight_decay)
    autocast = getattr(trainer, "autocast", nullcontext)
    batches = train.batches(np.random.default_rng(0), trainer.batch_size)
    device = trainer.device

    def step(index, seconds: dict | None):
        marks = [time.perf_counter()]
        def mark():
            if seconds is not None:
                timed(lambda: None, device)  # waits for queued GPU work
                marks.append(time.perf_counter())
        batch = train.batch(index, device)
        mark()
        with autocast():
            outputs = bank(batch)
        losses = family.loss(outputs.float(), batch)
        mark()
        optimizer.zero_grad()
        losses.sum().backward()
        mark()
        optimizer.step()
        mark()
        if seconds is not None:
            for stage, a, b in zip(("read", "forward", "backward", "step"), marks[:-1], marks[1:],
                                   strict=True):
                seconds[stage] += b - a

    for index in batches[:3]:
        step(index, None)
    per_target = step_flops(lambda: step(batches[3], None)) / len(batches[3])
    seconds = dict.fromkeys(("read", "forward", "backward", "step"), 0.0)
    timed_batches = batches[4:4 + n_batches]
    for index in timed_batches:
        step(index, seconds)
    targets = sum(len(i) for i in timed_batches)
    total = sum(seconds.values())
    dev_seconds = timed(lambda: trainer.evaluate(bank, family, dev), device)
    return {
        "encoder": model.name, "task": task_name, "bank": bank_kind,
        "probes": bank.n_probes, "n_layers": inputs.n_layers, "dim": inputs.dim,
        "dtype": str(getattr(trainer, "dtype", torch.float32)).removeprefix("torch."),
        "threads": torch.get_num_threads(), "device": str(device),
        "train_targets": len(train), "timed_targets": targets,
        "targets_per_second": round(targets / total, 1),
        "probe_targets_per_second": round(bank.n_probes * targets / total, 1),
        "matmul_flops_per_target": round(per_target),
        "matmul_flop_per_second": round(per_target * targets / total),
        "seconds_per_batch": {k: round(v / len(timed_batches), 5) for k, v in seconds.items()},
        "share": {k: round(v / total, 3) for k, v in seconds.items()},
        "dev_targets_per_second": round(len(dev) / dev_seconds, 1),
        "package": str(Path(__import__("probing").__file__).parent),
    }


def step_flops(one_step) -> int:
    """The matrix products' FLOPs of one training step, forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        one_step()
    return counter.get_total_flops()


def undo(ablation: str | None) -> None:
    """Put back one thing today's trainer changed, in this process only."""
    if ablation == "torch_rand_dropout":
        from probing.probes import bank

        def torch_rand(self, x):
            if not self.training or self.p == 0:
                return x
            return x * (torch.rand_like(x) >= self.p) / (1 - self.p)
        bank.Dropout.forward = torch_rand
    elif ablation == "adam_per_probe":
        from probing.probes import optimizer
        optimizer.consecutive_runs = lambda indices: [(k, k + 1) for k in indices]


# ---- the parent ----------------------------------------------------------------------------

def measured(command: list[str], package: Path | None) -> tuple[str, float, int]:
    """Run `command` (on `package` where given, else on this checkout): its stdout, wall
    seconds and peak RSS in MB, the child's own (os.wait4), not the largest child's so far."""
    env = {**os.environ, **({"PYTHONPATH": str(package)} if package else {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=package or REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if process.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{err.read()[-3000:]}")
        return out.read(), wall, round(usage.ru_maxrss / 1024)


def run_child(args, encoder: str, task: str, bank: str, package: Path | None,
              ablation: str | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", encoder, task, bank,
               "--train", str(args.train), "--dev", str(args.dev),
               "--batches", str(args.batches)] + (["--ablation", ablation] if ablation else [])
    stdout, _, rss = measured(command, package)
    result = {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_mb": rss}
    print(f"{encoder} {task} {bank} {ablation or ''} {'baseline' if package else 'now'}: "
          f"{result['targets_per_second']} targets/s", flush=True)
    return result


def default_run(package: Path | None) -> dict:
    """`python -m probing.run` (MiniLM-L6, UPOS, the mix) on a warm cache: wall and peak RSS."""
    with tempfile.TemporaryDirectory() as folder:
        _, wall, rss = measured([sys.executable, "-m", "probing.run", f"hydra.run.dir={folder}"],
                                package)
        record = json.loads((Path(folder) / "results.json").read_text())
    return {"wall_seconds": round(wall, 1), "peak_rss_mb": rss,
            "stage_seconds": record.get("timings", {}),
            "test_accuracy": record["metrics"]["test"]["accuracy"]}


def worktree(commit: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="probing-baseline-"))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), commit],
                   check=True, capture_output=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("ENCODER", "TASK", "BANK"))
    parser.add_argument("--ablation")
    parser.add_argument("--baseline", default="fb6e088", help="commit of the earlier trainer")
    parser.add_argument("--encoders", default="minilm,mpnet")
    parser.add_argument("--tasks", default="upos,deps,relations")
    parser.add_argument("--train", type=int, default=2000, help="training sentences")
    parser.add_argument("--dev", type=int, default=400, help="dev sentences")
    parser.add_argument("--batches", type=int, default=40, help="timed training steps")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.train, args.dev, args.batches, args.ablation)))
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(int(os.environ.get("THREADS", 2)))
    peaks = {str(dtype).removeprefix("torch."): round(matmul_peak(dtype, device))
             for dtype in (torch.float32, torch.bfloat16)}
    baseline = worktree(args.baseline)
    try:
        banks = []
        for encoder in args.encoders.split(","):
            for task in args.tasks.split(","):
                for bank in ("1", "1+2L"):
                    before = run_child(args, encoder, task, bank, baseline)
                    now = run_child(args, encoder, task, bank, None)
                    banks.append({"encoder": now["encoder"], "task": task, "bank": bank,
                                  "speedup": round(now["targets_per_second"]
                                                   / before["targets_per_second"], 2),
                                  "baseline": before, "now": now})
        now = {b["bank"]: b["now"] for b in banks
               if b["encoder"] == "minilm-l6" and b["task"] == "upos"}
        ablation = []
        for name, key in ABLATIONS.items():
            for bank in now:
                undone = run_child(args, "minilm", "upos", bank, None, key)
                ablation.append({
                    "undone": name, "bank": bank, "targets_per_second":
                    undone["targets_per_second"], "dtype": undone["dtype"],
                    "threads": undone["threads"], "share": undone["share"],
                    "now_over_undone": round(now[bank]["targets_per_second"]
                                             / undone["targets_per_second"], 2)})
        runs = {"baseline": default_run(baseline), "now": default_run(None)}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)],
                       capture_output=True)
    for entry in banks:
        entry["now"]["fraction_of_peak"] = round(
            entry["now"]["matmul_flop_per_second"] / peaks[entry["now"]["dtype"]], 3)
        entry["baseline"]["fraction_of_peak"] = round(
            entry["baseline"]["matmul_flop_per_second"] / peaks["float32"], 3)
    result = {
        "command": "python experiments/benchmarks/probe_training.py " + " ".join(sys.argv[1:]),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "threads": torch.get_num_threads(), "matmul_peak_flop_per_second": peaks,
        "baseline_commit": args.baseline,
        "subset": {"train_sentences": args.train, "dev_sentences": args.dev,
                   "timed_batches": args.batches},
        "banks": banks, "ablation": ablation, "default_run": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
