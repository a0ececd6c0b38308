"""`python -m probing.report RUN_OR_SWEEP_DIR ... [--out DIR]`: tables and figures of probe runs
(see probing/report/build.py for what it writes)."""

import argparse
from pathlib import Path

from probing.errors import reported_without_traceback
from probing.report import bootstrap
from probing.report.build import __doc__ as WHAT
from probing.report.build import report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.report", description=WHAT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="run or sweep folders")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default: <first path>/report)")
    parser.add_argument("--resamples", type=int, default=bootstrap.RESAMPLES,
                        help=f"bootstrap resamples (default {bootstrap.RESAMPLES})")
    parser.add_argument("--seed", type=int, default=bootstrap.SEED,
                        help=f"bootstrap seed (default {bootstrap.SEED})")
    args = parser.parse_args(argv)
    with reported_without_traceback():
        report(args.paths, args.out or args.paths[0] / "report", args.resamples, args.seed)


if __name__ == "__main__":
    main()
