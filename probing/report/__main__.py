"""Tables and figures across probe runs: `python -m probing.report RUN_OR_SWEEP_DIR ...`.

Reads every results.json under the given folders (and nothing else) and writes into --out:
runs.csv (one row per run), summary.{csv,md} (mean and spread over seeds), layers.{csv,md}
(per layer: mixing weight, single-layer and cumulative score, delta), expected_layers.{csv,md}
(E_s and E_delta), a layers figure per task and encoder, and, where encoders carry a
pretraining step, score and center of gravity against the step.
"""

import argparse
from pathlib import Path

import pandas as pd

from probing.errors import reported_without_traceback
from probing.report.plots import plot_against_step, plot_layers
from probing.report.tables import KEYS, expected_layers, layer_table, load_runs, summary


def write_table(frame: pd.DataFrame, out: Path, name: str) -> None:
    frame.to_csv(out / f"{name}.csv", index=False)
    (out / f"{name}.md").write_text(frame.to_markdown(index=False, floatfmt=".4f") + "\n")
    print(f"\n## {name}\n\n{frame.to_markdown(index=False, floatfmt='.4f')}")


def report(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(paths)
    runs.drop(columns="weights").to_csv(out / "runs.csv", index=False)
    layers = layer_table(runs)
    expected = expected_layers(runs)
    write_table(summary(runs), out, "summary")
    write_table(layers, out, "layers")
    write_table(expected, out, "expected_layers")
    for (task, encoder, step), group in layers.groupby(KEYS):
        name = f"layers_{task}_{encoder}" + (f"_step{step}" if step >= 0 else "")
        title = f"{task} · {encoder}" + (f" · step {step}" if step >= 0 else "")
        plot_layers(group, title, out / name.replace("/", "_"))
    stepped = expected[expected["step"] >= 0]
    if stepped["step"].nunique() > 1:
        plot_against_step(stepped, out / "against_step")
    print(f"\nwrote {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="run or sweep folders")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default: <first path>/report)")
    args = parser.parse_args(argv)
    with reported_without_traceback():
        report(args.paths, args.out or args.paths[0] / "report")


if __name__ == "__main__":
    main()
