"""`python -m probing.report RUN_OR_SWEEP_DIR ... [--out DIR] [--resamples N] [--seed S]`:
tables and figures of probe runs (see probing/report/build.py for what it writes).

The defaults of --resamples and --seed live in one place, the sweep report's config
(conf/hydra/callbacks/report.yaml, `SweepReport`), and are read from the composed config."""

import argparse
from pathlib import Path

from hydra import compose, initialize_config_dir, initialize_config_module
from omegaconf import DictConfig

from probing.config.schemas import CONF_PATH, register_configs
from probing.report.build import __doc__ as WHAT
from probing.report.build import check_resamples, check_seed, report
from probing.utils.errors import reported_without_traceback

PACKAGE = "pkg://"


def report_settings() -> DictConfig:
    """The `hydra.callbacks.report` node of the composed probe-run config."""
    register_configs()
    initialize = (initialize_config_module(CONF_PATH.removeprefix(PACKAGE).replace("/", "."),
                                           version_base="1.3")
                  if CONF_PATH.startswith(PACKAGE) else
                  initialize_config_dir(config_dir=CONF_PATH, version_base="1.3"))
    with initialize:
        config = compose(config_name="config", return_hydra_config=True)
    return config.hydra.callbacks.report


def main(argv: list[str] | None = None) -> None:
    with reported_without_traceback():
        defaults = report_settings()
        parser = argparse.ArgumentParser(prog="python -m probing.report", description=WHAT,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("paths", nargs="+", type=Path, help="run or sweep folders")
        parser.add_argument("--out", type=Path, default=None,
                            help=f"where to write (default: <first path>/{defaults.folder})")
        parser.add_argument("--resamples", type=int, default=defaults.resamples,
                            help=f"bootstrap resamples, at least 1 (default "
                                 f"{defaults.resamples}, from conf/hydra/callbacks/report.yaml)")
        parser.add_argument("--seed", type=int, default=defaults.seed,
                            help=f"bootstrap seed (default {defaults.seed}, from "
                                 "conf/hydra/callbacks/report.yaml)")
        parser.add_argument("--leave-out", action="append", default=[], metavar="TASK",
                            help="leave this task's records of a committed report out, to "
                                 "report a rerun of that task beside the report's other tasks "
                                 "(repeatable)")
        args = parser.parse_args(argv)
        check_resamples(args.resamples)
        check_seed(args.seed)
        report(args.paths, args.out or args.paths[0] / defaults.folder, args.resamples,
               args.seed, left_out=frozenset(args.leave_out))


if __name__ == "__main__":
    main()
