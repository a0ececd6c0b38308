"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, and hands them to the
probe family (`probe=`, default the edge probe), which trains and scores one probe per layer
selection (`mix=`). Each probe's record (results.json), test predictions and figure go into the
run folder, or with several probes into a subfolder each (all/, single-3/, cumulative-3/, ...).
In a sweep a job that fails leaves failed.json and the others go on; the sweep then exits 1
naming them (probing/report/failures.py).
"""

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from probing.encoders.base import Encoder
from probing.probes.family import Inputs, ProbeFamily
from probing.probes.selection import EveryLayer, LayerSelection, distinct_layer_sets
from probing.probes.trainer import Trainer
from probing.report.failures import outcome_recorded
from probing.report.record import RunRecord
from probing.report.run_folder import new_record, save_run, summarize
from probing.reproducibility import seed_everything
from probing.schemas import CONF_PATH, register_configs
from probing.settings import check_settings
from probing.tasks import Task
from probing.utils.timer import Laps

log = logging.getLogger(__name__)

# What each group's `_target_` must be (probing/settings.py): a class of one's own is welcome.
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
    encoder, trainer = instantiate(cfg.encoder), instantiate(cfg.trainer)
    selections = mix.selections(encoder.n_layers)
    laps = Laps()
    inputs = Inputs.read(task, encoder, cfg.paths.cache_dir, cfg.features, laps)
    outcomes = family.run(inputs, selections, trainer, cfg.seed)
    laps("probe")
    timings = {**laps.timings, "probes_trained_together": len(distinct_layer_sets(
        selections, encoder.n_layers))}
    records = []
    for outcome in outcomes:
        folder = output_dir if len(outcomes) == 1 else output_dir / outcome.name
        record = new_record(cfg, inputs, family.name, outcome, timings)
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


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="config")
def main(cfg: DictConfig) -> None:
    """One run, or with -m one job of a sweep."""
    with outcome_recorded():
        for record in probe_run(cfg, Path(HydraConfig.get().runtime.output_dir)):
            summarize(record)


if __name__ == "__main__":
    main()
