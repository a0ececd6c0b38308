"""Timing the pretraining loop's own steps, for the pretraining benchmarks in this folder."""

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from machine import timed  # this folder's helper
from omegaconf import DictConfig

from probing.pretrain.distributed import Distributed
from probing.pretrain.loop import DataStream, Pretrainer
from probing.pretrain.metrics import Tally
from probing.pretrain.objective import Batch
from probing.pretrain.pretrain_schemas import compose_pretraining
from probing.utils.atomic import write_json_atomic
from probing.utils.errors import reported_without_traceback

REPO = Path(__file__).resolve().parents[2]


class CountingStream:
    """The loop's data stream, remembering what each batch holds and how long it took."""

    def __init__(self, stream: DataStream) -> None:
        self.stream, self.batches, self.data_seconds = stream, [], 0.0

    def next(self) -> Batch:
        start = time.perf_counter()
        batch = self.stream.next()
        self.data_seconds += time.perf_counter() - start
        self.batches.append(batch)
        return batch


@dataclass
class TimedSteps:
    cfg: DictConfig
    trainer: Pretrainer
    batches: list[Batch]  # what the timed steps read
    seconds: float
    data_seconds: float  # of which building batches

    @property
    def tokens(self) -> int:
        return sum(b.n_tokens for b in self.batches)


def time_training_steps(overrides: list[str], steps: int, warmup: int) -> TimedSteps:
    """`steps` training steps of the pretraining run `overrides` describes, after `warmup`
    untimed ones, in a throw-away run folder."""
    cfg = compose_pretraining(overrides)
    env = Distributed.start(cfg.device)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Pretrainer(cfg, Path(run_dir), env)
        stream = CountingStream(DataStream(trainer.objective, cfg.train.batch_size, env,
                                           trainer.progress))
        for _ in range(warmup):
            trainer.train_step(stream, Tally())
        stream.batches, stream.data_seconds = [], 0.0
        seconds = timed(lambda: [trainer.train_step(stream, Tally()) for _ in range(steps)],
                        env.device)
    return TimedSteps(cfg, trainer, stream.batches, seconds, stream.data_seconds)


def benchmark_main(doc: str, name: str, base_overrides: list[str],
                   benchmark: Callable[[list[str], int, int], dict],
                   summary: Callable[[dict], str]) -> None:
    """The command line the pretraining benchmarks share: config overrides, step counts, and
    the JSON written to results/benchmarks/<name>.json (or --out)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="pretraining config overrides")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--out", type=Path, default=REPO / f"results/benchmarks/{name}.json")
    args = parser.parse_args()
    with reported_without_traceback():
        result = benchmark([*base_overrides, *args.overrides], args.steps, args.warmup)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, result)
    print(f"{summary(result)}; wrote {args.out}")
