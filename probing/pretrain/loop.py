"""The pretraining loop, the same for every objective (BERT's MLM + NSP, ELMo's biLM).

An objective (`objective.py`; the `objective` config group, built by `_target_`) makes the model,
its batches and its checkpoints; this loop does the rest: AdamW (or any optimizer from the
`optim` group) with a linear warm-up then linear decay (`schedule.py`), gradient accumulation
and clipping, bf16 autocast on request, data-parallel training over `torchrun` processes
(`distributed.py`), held-out evaluation, metrics as CSV and TensorBoard events (`metrics.py`),
and checkpoints that resume exactly.

Exact resume rests on three things: the objective's batches are a pure function of (seed,
epoch, rank, position), so the data position is two integers; the only random stream that moves
during training is torch's (dropout), whose state is saved per process; and the optimizer and
scheduler states are saved with the weights.
"""

import hashlib
import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from probing.config.settings import check_settings
from probing.models.checkpoints import (
    CHECKPOINTS,
    INFO,
    KEPT_TRAINER_STATES,
    TRAINER_STATE,
    checkpoint_name,
    list_checkpoints,
    read_info,
    set_aside,
)
from probing.pretrain.corpus import TextCorpus
from probing.pretrain.distributed import Distributed
from probing.pretrain.metrics import MetricsLog, Tally
from probing.pretrain.objective import Batch, Objective
from probing.pretrain.schedule import parameter_groups, warmup_then_linear_decay
from probing.utils.atomic import write_json_atomic, written_in_place
from probing.utils.errors import ProbingError
from probing.utils.reproducibility import library_versions, seed_everything

log = logging.getLogger(__name__)

# What each group's `_target_` must be (probing/config/settings.py): a class of one's own is
# welcome.
KINDS = {"objective": Objective, "text": TextCorpus, "optim.optimizer": torch.optim.Optimizer}
TRAINER_STATE_KEYS = {"optimizer", "scheduler", "rng", "world_size", "progress"}


def first_line(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0]


class Precision(StrEnum):
    fp32 = "fp32"
    bf16 = "bf16"  # autocast: matmuls in bfloat16, weights and optimizer in float32


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
        Pretrainer(cfg, run_dir, env).run()
    finally:
        env.stop()


class Pretrainer:
    """One invocation of a pretraining run: fresh, or resumed from its latest checkpoint."""

    def __init__(self, cfg: DictConfig, run_dir: Path, env: Distributed) -> None:
        self.cfg, self.train, self.env = cfg, cfg.train, env
        self.run_dir = run_dir
        self.root = run_dir / CHECKPOINTS
        check_settings(cfg, kinds=KINDS)
        for key in ("batch_size", "accumulation", "max_steps", "log_every", "eval_every",
                    "save_every"):
            if self.train[key] < 1:
                raise ProbingError(f"train.{key} must be at least 1; got {self.train[key]}")
        if self.train.precision == Precision.bf16 and env.device.type == "cuda" \
                and not torch.cuda.is_bf16_supported():
            raise ProbingError("train.precision=bf16 but this GPU has no bfloat16; use fp32")
        seed_everything(cfg.seed)
        self.objective: Objective = instantiate(cfg.objective)
        corpus = instantiate(cfg.text)
        cache_dir = Path(cfg.paths.cache_dir).expanduser() / "pretrain"
        env.main_first(lambda: self.objective.prepare(corpus, cache_dir))
        resume = self._resume_point()
        model = resume[1] if resume else self.objective.build_model()
        self.model = model.to(env.device)
        self.optimizer = instantiate(cfg.optim.optimizer)(parameter_groups(self.model))
        self.scheduler = LambdaLR(self.optimizer, warmup_then_linear_decay(
            cfg.optim.warmup_steps, self.train.max_steps))
        if resume:
            self.progress = self._load_state(resume[0], resume[2])
        else:
            self.progress = Progress()
            # Dropout differs between processes; the initial weights do not (seeded above).
            dropout_seed = np.random.SeedSequence([cfg.seed, env.rank]).generate_state(1)[0]
            torch.manual_seed(int(dropout_seed))
        self.resumed_step = self.progress.step if resume else None
        self.net = (DistributedDataParallel(self.model) if env.world_size > 1 else self.model)
        self.autocast = torch.autocast(env.device.type, dtype=torch.bfloat16,
                                       enabled=self.train.precision == Precision.bf16)

    def _resume_point(self) -> tuple[Path, nn.Module, dict] | None:
        """The newest checkpoint that loads whole (its folder, model and trainer state). A
        damaged one is named in a warning and set aside, with any checkpoint after the one
        resumed from (they would be saved over); where none loads, an error names them all."""
        checkpoints = list_checkpoints(self.root)
        if not self.train.resume:
            if checkpoints:
                raise ProbingError(f"{self.root} already holds checkpoints: add train.resume=true "
                                   "to continue that run, or name a new one with name=...")
            return None
        candidates = [p for p in checkpoints if (p / TRAINER_STATE).is_file()]
        if not candidates:
            raise ProbingError(f"train.resume=true but {self.root} holds no checkpoint with a "
                               "trainer state to resume from; drop train.resume to start afresh")
        damaged = []
        for folder in reversed(candidates):
            try:
                model, state = self._read_checkpoint(folder)
            except Exception as e:  # a damaged file fails in its library's own way
                damaged.append(f"{folder.name} ({type(e).__name__}: {first_line(e)})")
                log.warning("cannot resume from %s, which is damaged: %s", folder, damaged[-1])
                continue
            if self.env.is_main:
                for later in checkpoints[checkpoints.index(folder) + 1:]:
                    set_aside(later, f"resuming from the earlier {folder.name}")
            self.env.barrier()
            log.info("resuming from %s", folder)
            return folder, model, state
        raise ProbingError(
            f"train.resume=true but no checkpoint in {self.root} can be resumed from: "
            f"{'; '.join(damaged)}. Restore the files from a copy, or start afresh under a new "
            f"name=...")

    def _read_checkpoint(self, folder: Path) -> tuple[nn.Module, dict]:
        read_info(folder)
        state = torch.load(folder / TRAINER_STATE, weights_only=True)
        if not isinstance(state, dict) or not state.keys() >= TRAINER_STATE_KEYS:
            lacking = TRAINER_STATE_KEYS - set(state if isinstance(state, dict) else ())
            raise ValueError(f"{TRAINER_STATE} is not a trainer state (it lacks "
                             f"{', '.join(sorted(lacking))})")
        return self.objective.load_model(folder), state

    def _load_state(self, folder: Path, state: dict) -> Progress:
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
        only the newest KEPT_TRAINER_STATES checkpoints keep their trainer state."""
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
            with written_in_place(final, ".tmp") as tmp:  # no half-written checkpoint is left
                try:
                    self._write_checkpoint(tmp, rngs, checksums)
                except Exception as e:
                    if not isinstance(e, OSError) and "SafetensorError" not in type(e).__name__:
                        raise
                    raise ProbingError(
                        f"could not save the checkpoint {final} ({first_line(e)}); nothing of it "
                        f"was kept, the checkpoints before it are whole. Free space in "
                        f"{self.root} (or fix its permissions), then add train.resume=true to go "
                        f"on from {previous[-1].name if previous else 'the start'}") from None
            for folder in previous[:len(previous) + 1 - KEPT_TRAINER_STATES]:
                (folder / TRAINER_STATE).unlink(missing_ok=True)
            log.info("saved %s", final)
        env.barrier()


    def _write_checkpoint(self, folder: Path, rngs: list, checksums: list[str]) -> None:
        progress, env = self.progress, self.env
        folder.mkdir(parents=True)
        self.objective.save(self.model, folder)
        torch.save({"optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "rng": rngs,
                    "world_size": env.world_size, "progress": asdict(progress)},
                   folder / TRAINER_STATE)
        info = {"step": progress.step, "tokens": progress.tokens, "epoch": progress.epoch,
                "seconds": round(progress.seconds, 1), "heldout": progress.heldout,
                "run": str(self.run_dir.resolve()), "objective": self.cfg.objective.name,
                "text": self.cfg.text.name, "seed": self.cfg.seed,
                "world_size": env.world_size, "replica_checksums": checksums,
                "versions": library_versions()}
        write_json_atomic(folder / INFO, info)


def _format(values: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4g}" for name, value in values.items())
