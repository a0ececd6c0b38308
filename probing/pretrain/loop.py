"""The pretraining loop, the same for every objective (BERT's MLM + NSP, ELMo's biLM).

An objective (the `model` config group, built by `_target_`) makes the model, its batches and
its checkpoints; this loop does the rest: AdamW (or any optimizer from the `optim` group) with a
linear warm-up then linear decay, gradient accumulation and clipping, bf16 autocast on request,
data-parallel training over `torchrun` processes, held-out evaluation, metrics as CSV and
TensorBoard events, and checkpoints that resume exactly.

Exact resume rests on three things: the objective's batches are a pure function of (seed,
epoch, rank, position), so the data position is two integers; the only random stream that moves
during training is torch's (dropout), whose state is saved per process; and the optimizer and
scheduler states are saved with the weights.
"""

import csv
import hashlib
import io
import logging
import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from probing.errors import ProbingError
from probing.files import write_json_atomic, write_text_atomic
from probing.pretrain.checkpoints import (
    CHECKPOINTS,
    INFO,
    TRAINER_STATE,
    checkpoint_name,
    list_checkpoints,
)
from probing.pretrain.corpus import TextCorpus
from probing.runtime import library_versions, resolve_device, seed_everything

log = logging.getLogger(__name__)

# name -> (sum, count) over the examples of a batch; the reported value is sum / count, pooled
# over micro-batches, steps and processes.
Metrics = dict[str, tuple[torch.Tensor, torch.Tensor | float]]


@dataclass
class Batch:
    inputs: dict[str, torch.Tensor]
    n_tokens: int  # the positions the model reads, for throughput


class Objective(ABC):
    """What the loop needs from a pretraining objective."""

    @abstractmethod
    def prepare(self, corpus: TextCorpus, cache_dir: Path) -> None:
        """Make the vocabulary and training data from the corpus, or find them in `cache_dir`.
        Runs on the main process first, then on the others, which find the cache."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model; `model(**batch.inputs)` returns (loss, Metrics)."""

    @abstractmethod
    def load_model(self, folder: Path) -> nn.Module:
        """The model of a checkpoint folder written by `save`."""

    @abstractmethod
    def save(self, model: nn.Module, folder: Path) -> None:
        """Write the model (and its vocabulary) into `folder` in the model's own format."""

    @abstractmethod
    def train_batches(self, epoch: int, batch_size: int, rank: int, world_size: int
                      ) -> Sequence[Batch]:
        """This process's batches of one epoch, in order. A pure function of its arguments and
        the seed, with as many batches for every rank."""

    @abstractmethod
    def heldout_batches(self, batch_size: int, rank: int, world_size: int) -> Sequence[Batch]:
        """This process's share of the fixed held-out batches."""

    def derived_metrics(self, means: dict[str, float]) -> dict[str, float]:
        """Metrics that are functions of the pooled means rather than means themselves (a
        perplexity is exp of the mean loss); logged beside them. None by default."""
        return {}


@dataclass
class Distributed:
    """This process's place among the `torchrun` processes (one process: rank 0 of 1)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @classmethod
    def start(cls, device_name: str) -> "Distributed":
        device = resolve_device(device_name)
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls(device)
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(device, dist.get_rank(), world_size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def stop(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def all_reduce(self, tensor: torch.Tensor, op: dist.ReduceOp = dist.ReduceOp.SUM) -> None:
        if self.world_size > 1:
            dist.all_reduce(tensor, op)

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one."""
        tensor = torch.tensor([float(flag)], device=self.device)
        self.all_reduce(tensor, dist.ReduceOp.MAX)
        return bool(tensor.item())

    def gather(self, value: object) -> list:
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def main_first(self, work: Callable[[], None]) -> None:
        """Run `work` on the main process, then on the others, which find what it built.
        A failure on the main process stops the others instead of leaving them waiting."""
        if self.world_size == 1:
            work()
            return
        failed = torch.zeros(1, device=self.device)
        if self.is_main:
            try:
                work()
            except BaseException:
                failed.fill_(1)
                dist.broadcast(failed, 0)
                raise
            dist.broadcast(failed, 0)
            return
        dist.broadcast(failed, 0)
        if failed.item():
            raise ProbingError("the main process (rank 0) failed to prepare the data; its "
                               "message says why")
        work()


class Tally:
    """Running sums and counts of metrics and tokens since the last `reduce`."""

    def __init__(self) -> None:
        self.totals: dict[str, list] = {}
        self.tokens = 0

    def add(self, metrics: Metrics, tokens: int = 0) -> None:
        for name, (total, count) in metrics.items():
            sums = self.totals.setdefault(name, [0.0, 0.0])
            sums[0] = sums[0] + total.detach().double()
            sums[1] = sums[1] + (count.detach().double() if torch.is_tensor(count) else count)
        self.tokens += tokens

    def reduce(self, env: Distributed) -> tuple[dict[str, float], int]:
        """Means over every process, and the tokens they read; then start afresh."""
        names = sorted(self.totals)
        values = torch.tensor([float(self.tokens)] + [float(v) for name in names
                                                      for v in self.totals[name]],
                              dtype=torch.float64, device=env.device)
        env.all_reduce(values)
        self.totals, self.tokens = {}, 0
        means = {name: (values[1 + 2 * i] / values[2 + 2 * i]).item()
                 for i, name in enumerate(names)}
        return means, int(values[0].item())


@dataclass
class Progress:
    step: int = 0
    epoch: int = 0
    position: int = 0  # the next batch of the epoch
    tokens: int = 0
    seconds: float = 0.0  # training time over every run that led here, checkpoints excluded
    heldout: dict[str, float] = field(default_factory=dict)


class DataStream:
    """The objective's training batches, epoch after epoch, from a saved position."""

    def __init__(self, objective: Objective, batch_size: int, env: Distributed,
                 progress: Progress) -> None:
        self.objective, self.batch_size, self.env, self.progress = (objective, batch_size, env,
                                                                    progress)
        self.batches = self._epoch(progress.epoch)

    @property
    def epoch_done(self) -> bool:
        """The last batch of the epoch has been taken."""
        return self.progress.position == len(self.batches)

    def _epoch(self, epoch: int) -> Sequence[Batch]:
        batches = self.objective.train_batches(epoch, self.batch_size, self.env.rank,
                                               self.env.world_size)
        if not batches:
            raise ProbingError(f"the training text does not fill one batch of {self.batch_size} "
                               f"per process for {self.env.world_size} process(es); use more "
                               "text or lower train.batch_size")
        return batches

    def next(self) -> Batch:
        if self.progress.position == len(self.batches):
            self.progress.epoch += 1
            self.progress.position = 0
            self.batches = self._epoch(self.progress.epoch)
        batch = self.batches[self.progress.position]
        self.progress.position += 1
        return batch


class MetricsLog:
    """`metrics.csv` (step, split, metric, value) and TensorBoard events in the run folder.
    On resume, rows after the resumed step are dropped, as TensorBoard's purge_step does."""

    def __init__(self, run_dir: Path, resumed_step: int | None, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "metrics.csv"
        if resumed_step is not None and self.path.is_file():
            with self.path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_step]
            self._rewrite(rows)
        elif not self.path.is_file():
            self._rewrite([])
        purge = None if resumed_step is None else resumed_step + 1
        self.board = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)

    def _rewrite(self, rows: list[dict]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["step", "split", "metric", "value"])
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.path, text.getvalue())

    def write(self, step: int, split: str, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerows([step, split, name, f"{value:.6g}"]
                                    for name, value in values.items())
        for name, value in values.items():
            self.board.add_scalar(f"{split}/{name}", value, step)
        self.board.flush()

    def close(self) -> None:
        if self.enabled:
            self.board.close()


def warmup_then_linear_decay(warmup_steps: int, max_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier after `step` updates: (step + 1) / warmup_steps during the
    warm-up, then (max_steps - step) / (max_steps - warmup_steps), reaching 0 at max_steps."""
    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (max_steps - step) / max(1, max_steps - warmup_steps))
    return multiplier


def parameter_groups(model: nn.Module) -> list[dict]:
    """Weight decay on matrices only; biases and LayerNorm gains are not decayed (as BERT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim >= 2]},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def parameters_checksum(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def pretrain(cfg: DictConfig, run_dir: Path) -> None:
    env = Distributed.start(cfg.device)
    if not env.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        Trainer(cfg, run_dir, env).run()
    finally:
        env.stop()


class Trainer:
    """One invocation of a pretraining run: fresh, or resumed from its latest checkpoint."""

    def __init__(self, cfg: DictConfig, run_dir: Path, env: Distributed) -> None:
        self.cfg, self.train, self.env = cfg, cfg.train, env
        self.run_dir = run_dir
        self.root = run_dir / CHECKPOINTS
        for key in ("batch_size", "accumulation", "max_steps", "log_every", "eval_every",
                    "save_every"):
            if self.train[key] < 1:
                raise ProbingError(f"train.{key} must be at least 1; got {self.train[key]}")
        if self.train.precision == "bf16" and env.device.type == "cuda" \
                and not torch.cuda.is_bf16_supported():
            raise ProbingError("train.precision=bf16 but this GPU has no bfloat16; use fp32")
        seed_everything(cfg.seed)
        self.objective: Objective = instantiate(cfg.model)
        corpus = instantiate(cfg.corpus)
        cache_dir = Path(cfg.paths.cache_dir).expanduser() / "pretrain"
        env.main_first(lambda: self.objective.prepare(corpus, cache_dir))
        resume_from = self._resume_point()
        model = (self.objective.load_model(resume_from) if resume_from
                 else self.objective.build_model())
        self.model = model.to(env.device)
        self.optimizer = instantiate(cfg.optim.optimizer)(parameter_groups(self.model))
        self.scheduler = LambdaLR(self.optimizer, warmup_then_linear_decay(
            cfg.optim.warmup_steps, self.train.max_steps))
        if resume_from:
            self.progress = self._load_state(resume_from)
        else:
            self.progress = Progress()
            # Dropout differs between processes; the initial weights do not (seeded above).
            dropout_seed = np.random.SeedSequence([cfg.seed, env.rank]).generate_state(1)[0]
            torch.manual_seed(int(dropout_seed))
        self.resumed_step = self.progress.step if resume_from else None
        self.net = (DistributedDataParallel(self.model) if env.world_size > 1 else self.model)
        self.autocast = torch.autocast(env.device.type, dtype=torch.bfloat16,
                                       enabled=self.train.precision == "bf16")

    def _resume_point(self) -> Path | None:
        checkpoints = [p for p in list_checkpoints(self.root) if (p / TRAINER_STATE).is_file()]
        if not self.train.resume:
            if list_checkpoints(self.root):
                raise ProbingError(f"{self.root} already holds checkpoints: add train.resume=true "
                                   "to continue that run, or name a new one with name=...")
            return None
        if not checkpoints:
            raise ProbingError(f"train.resume=true but {self.root} holds no checkpoint with a "
                               "trainer state to resume from; drop train.resume to start afresh")
        log.info("resuming from %s", checkpoints[-1])
        return checkpoints[-1]

    def _load_state(self, folder: Path) -> Progress:
        state = torch.load(folder / TRAINER_STATE, weights_only=True)
        if state["world_size"] != self.env.world_size:
            raise ProbingError(f"{folder} was trained with {state['world_size']} process(es); "
                               f"resume it with as many (now {self.env.world_size}), since the "
                               "data are split between processes")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"][self.env.rank]
        torch.set_rng_state(rng["cpu"])
        if self.env.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.env.device)
        return Progress(**state["progress"])

    def run(self) -> None:
        metrics_log = MetricsLog(self.run_dir, self.resumed_step, self.env.is_main)
        if self.resumed_step is None:
            self._evaluate(metrics_log)
            self._save()
        with logging_redirect_tqdm():
            self._train(metrics_log)
        metrics_log.close()
        log.info("done at step %d: %s", self.progress.step,
                 self.root / checkpoint_name(self.progress.step))

    def _train(self, metrics_log: MetricsLog) -> None:
        train, progress = self.train, self.progress
        stream = DataStream(self.objective, train.batch_size, self.env, progress)
        end = min(train.max_steps, train.stop_at or train.max_steps)
        bar = tqdm(total=train.max_steps, initial=progress.step, unit="step", desc="pretraining",
                   disable=not self.env.is_main, dynamic_ncols=True)
        tally = Tally()
        while progress.step < end:
            clock = time.perf_counter()
            self.train_step(stream, tally)
            progress.step += 1
            progress.seconds += time.perf_counter() - clock
            bar.update()
            step = progress.step
            finished = step >= end or (step % train.log_every == 0 and self._out_of_time())
            saving = finished or step % train.save_every == 0
            if saving or step % train.log_every == 0:
                bar.set_postfix(self._log_train(tally, metrics_log), refresh=False)
            if finished or step % train.eval_every == 0 or (train.eval_each_epoch
                                                              and stream.epoch_done):
                self._evaluate(metrics_log)
            if saving:
                self._save()
            if finished:
                break
        bar.close()

    def train_step(self, stream: DataStream, tally: Tally) -> None:
        self.net.train()
        accumulation = self.train.accumulation
        for micro in range(accumulation):
            batch = stream.next()
            inputs = {k: v.to(self.env.device, non_blocking=True) for k, v in batch.inputs.items()}
            last = micro == accumulation - 1
            with nullcontext() if last or self.env.world_size == 1 else self.net.no_sync():
                with self.autocast:
                    loss, metrics = self.net(**inputs)
                (loss / accumulation).backward()
            tally.add({"loss": (loss, 1.0), **metrics}, batch.n_tokens)
        if self.cfg.optim.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _out_of_time(self) -> bool:
        limit = self.train.time_limit_minutes
        return limit is not None and self.env.any(self.progress.seconds > 60 * limit)

    def _log_train(self, tally: Tally, metrics_log: MetricsLog) -> dict[str, str]:
        means, tokens = tally.reduce(self.env)
        means |= self.objective.derived_metrics(means)
        self.progress.tokens += tokens
        values = {**means, "lr": self.scheduler.get_last_lr()[0], "tokens": self.progress.tokens,
                  "tokens_per_second": self.progress.tokens / max(self.progress.seconds, 1e-9)}
        metrics_log.write(self.progress.step, "train", values)
        log.info("step %d  %s", self.progress.step, _format(values))
        return {name: f"{value:.3f}" for name, value in means.items()}

    @torch.no_grad()
    def _evaluate(self, metrics_log: MetricsLog) -> None:
        self.model.eval()
        batches = self.objective.heldout_batches(self.train.batch_size, self.env.rank,
                                                 self.env.world_size)
        n_batches = min(len(batches), self.train.eval_batches or len(batches))
        tally = Tally()
        for i in range(n_batches):
            inputs = {k: v.to(self.env.device) for k, v in batches[i].inputs.items()}
            with self.autocast:
                loss, metrics = self.model(**inputs)
            tally.add({"loss": (loss, 1.0), **metrics})
        means, _ = tally.reduce(self.env)
        self.progress.heldout = means | self.objective.derived_metrics(means)
        metrics_log.write(self.progress.step, "heldout", self.progress.heldout)
        log.info("step %d  held out: %s", self.progress.step, _format(self.progress.heldout))

    def _save(self) -> None:
        """Write the checkpoint of this step under a temporary name, then rename it into place;
        the trainer state of the previous checkpoint is dropped (the latest one resumes)."""
        env, progress = self.env, self.progress
        rng = {"cpu": torch.get_rng_state()}
        if env.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(env.device)
        rngs = env.gather(rng)
        checksums = env.gather(parameters_checksum(self.model))
        if len(set(checksums)) > 1:
            raise RuntimeError(f"step {progress.step}: the processes' weights differ ({checksums})")
        if env.is_main:
            previous = list_checkpoints(self.root)
            final = self.root / checkpoint_name(progress.step)
            tmp = final.with_name(final.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            self.objective.save(self.model, tmp)
            torch.save({"optimizer": self.optimizer.state_dict(),
                        "scheduler": self.scheduler.state_dict(), "rng": rngs,
                        "world_size": env.world_size, "progress": asdict(progress)},
                       tmp / TRAINER_STATE)
            info = {"step": progress.step, "tokens": progress.tokens, "epoch": progress.epoch,
                    "seconds": round(progress.seconds, 1), "heldout": progress.heldout,
                    "run": str(self.run_dir.resolve()), "model": self.cfg.model.name,
                    "corpus": self.cfg.corpus.name, "seed": self.cfg.seed,
                    "world_size": env.world_size, "replica_checksums": checksums,
                    "versions": library_versions()}
            write_json_atomic(tmp / INFO, info)
            os.replace(tmp, final)
            for folder in previous:
                (folder / TRAINER_STATE).unlink(missing_ok=True)
            log.info("saved %s", final)
        env.barrier()


def _format(values: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4g}" for name, value in values.items())
