"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, and hands them to the
probe family (`probe=`, default the edge probe), which trains and scores one probe per layer
selection (`mix=`). Each probe's record (results.json), test predictions and figure go into the
run folder, or with several probes into a subfolder each (all/, single-3/, cumulative-3/, ...).
In a sweep a job that fails leaves failed.json and the others go on; the sweep then exits 1
naming them (probing/report/failures.py). A run that saved every record marks its folder
finished; `resume=true` skips runs finished with the same settings (probing/runs/resume.py).
"""

import logging
import math
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from probing.config.composed import task_named
from probing.config.schemas import CONF_PATH, register_configs
from probing.config.settings import check_settings
from probing.encoders.base import Encoder
from probing.probes.family import ProbeFamily
from probing.probes.trainer import Trainer
from probing.runs.failure import outcome_recorded
from probing.runs.folder import new_record, save_run, summarize
from probing.runs.inputs import Inputs
from probing.runs.record import RunRecord
from probing.runs.resume import finished_earlier, mark_finished, start_attempt
from probing.runs.selection import EveryLayer, LayerSelection, distinct_layer_sets
from probing.tasks import Task
from probing.utils.reproducibility import seed_everything
from probing.utils.timer import Laps

log = logging.getLogger(__name__)

# What each group's `_target_` must be (probing/config/settings.py): a class of one's own is
# welcome.
KINDS = {"task": Task, "encoder": Encoder, "probe": ProbeFamily,
         "mix": (LayerSelection, EveryLayer), "trainer": Trainer}


def probe_run(cfg: DictConfig, output_dir: Path) -> list[RunRecord]:
    """Instantiate, read, probe, write: one record per probe the mix setting asks for."""
    check_settings(cfg, kinds=KINDS)  # before anything is built: a typo costs no minutes
    seed_everything(cfg.seed)
    task, family, mix = instantiate(cfg.task), instantiate(cfg.probe), instantiate(cfg.mix)
    family.check(task, mix)  # a task or mix the family cannot serve costs no extraction
    if HydraConfig.initialized():
        warn_of_ignored_trainer(family, list(HydraConfig.get().overrides.task))
    beside = [task_named(cfg, name) for name in family.other_tasks() if name != task.name]
    encoder, trainer = instantiate(cfg.encoder), instantiate(cfg.trainer)
    family.check_encoder(encoder)  # its layers, before any extraction
    selections = mix.selections(encoder.n_layers)
    laps = Laps()
    inputs = Inputs.read(task, encoder, cfg.paths.cache_dir, cfg.features, laps,
                         family.other_encoders(), beside)
    outcomes = family.run(inputs, selections, trainer, cfg.seed)
    laps("probe")
    timings = {**laps.timings, "probes_trained_together": len(distinct_layer_sets(
        selections, encoder.n_layers))}
    records = []
    for outcome in outcomes:
        folder = output_dir if len(outcomes) == 1 else output_dir / outcome.name
        record = new_record(cfg, inputs, family.name, family.report, outcome, timings)
        records.append(save_run(folder, record, outcome, inputs))
    return records


def warn_of_ignored_trainer(family: ProbeFamily, overrides: list[str]) -> None:
    """A family that trains no probe (CKA) ignores the trainer: say so of any trainer setting
    given, rather than drop it in silence (a sweep over families may give one to all)."""
    given = [o for o in overrides if o.lstrip("+~").startswith("trainer")]
    if given and not family.trains:
        log.warning("probe=%s trains no probe, so %s %s no effect on this run", family.name,
                    " ".join(given), "has" if len(given) == 1 else "have")


register_configs()


def dev_metric(records: list[RunRecord]) -> float:
    """What an optimising sweeper (Optuna) maximises: the dev score of the run's probe by its
    family's metric, the best of them where the run trained several; NaN where none has one
    (CKA), which Optuna counts as a failed trial."""
    scores = [r.dev.get(r.metric, math.nan) for r in records]
    return max((s for s in scores if not math.isnan(s)), default=math.nan)


def run_or_keep(cfg: DictConfig, folder: Path) -> list[RunRecord]:
    """`probe_run`, then mark the folder finished; with resume=true, a run of these settings
    that finished there earlier is kept instead (probing/runs/resume.py)."""
    records = finished_earlier(folder, cfg) if cfg.resume else None
    if records is not None:
        log.info("%s finished earlier with these settings: kept (resume=true)", folder)
        return records
    start_attempt(folder, cfg.resume)
    records = probe_run(cfg, folder)
    mark_finished(folder, cfg, records)
    return records


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="config")
def main(cfg: DictConfig) -> float:
    """One run, or with -m one job of a sweep; returns its dev metric (`dev_metric`), NaN for a
    job that failed (its failed.json says why)."""
    records: list[RunRecord] = []
    with outcome_recorded():
        records = run_or_keep(cfg, Path(HydraConfig.get().runtime.output_dir))
        for record in records:
            summarize(record)
    return dev_metric(records)


if __name__ == "__main__":
    main()
