"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, and hands them to the
probe family (`probe=`, default the edge probe), which trains and scores one probe per layer
selection (`mix=`). Each probe's record (results.json), test predictions and figure go into the
run folder, or with several probes into a subfolder each (all/, single-3/, cumulative-3/, ...).
In a sweep a job that fails leaves failed.json and the others go on; the sweep then exits 1
naming them (probing/report/failures.py).
"""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from probing.hardware import Laps
from probing.probes.family import Inputs
from probing.probes.selection import distinct_layer_sets
from probing.report.failures import outcome_recorded
from probing.report.record import RunRecord
from probing.report.run_folder import new_record, save_run, summarize
from probing.reproducibility import seed_everything
from probing.schemas import CONF_PATH, register_configs
from probing.settings import check_settings


def probe_run(cfg: DictConfig, output_dir: Path) -> list[RunRecord]:
    """Instantiate, read, probe, write: one record per probe the mix setting asks for."""
    check_settings(cfg)  # before anything is built: a typo costs no minutes
    seed_everything(cfg.seed)
    task, family, mix = instantiate(cfg.task), instantiate(cfg.probe), instantiate(cfg.mix)
    family.check(task, mix)  # a task or mix the family cannot serve costs no extraction
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


register_configs()


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="config")
def main(cfg: DictConfig) -> None:
    """One run, or with -m one job of a sweep."""
    with outcome_recorded():
        for record in probe_run(cfg, Path(HydraConfig.get().runtime.output_dir)):
            summarize(record)


if __name__ == "__main__":
    main()
