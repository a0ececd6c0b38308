"""Learning curves of a pretraining run: `python -m probing.report.curves RUN_DIR [METRIC ...]`.

Reads the run's metrics.csv (step, split, metric, value) and draws each named metric against
the step, training and held-out (`perplexity/unigram_perplexity` draws two in one panel);
writes curves.{png,pdf} and heldout.md (the held-out metrics at every evaluation) into the run
folder, or into --out.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from probing.runs.figure import save_figure
from probing.utils.errors import ProbingError, reported_without_traceback


def read_metrics(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        raise ProbingError(f"{path} not found: give the folder of a pretraining run "
                           "(outputs/pretrain/<name>)")
    return pd.read_csv(path)


def plot_curves(metrics: pd.DataFrame, panels: list[str], title: str, stem: Path) -> list[Path]:
    """One panel per entry of `panels`; "a/b" draws metrics a and b in one panel (a model
    beside its baseline); perplexities on a log scale."""
    names = [name for panel in panels for name in panel.split("/")]
    missing = sorted(set(names) - set(metrics["metric"]))
    if missing:
        raise ProbingError(f"no metric {', '.join(missing)} in this run; it has "
                           f"{', '.join(sorted(metrics['metric'].unique()))}")
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        shown = metrics[metrics["metric"].isin(panel.split("/"))]
        series = shown["split"] if "/" not in panel else shown["metric"] + ", " + shown["split"]
        sns.lineplot(data=shown.assign(series=series), x="step", y="value", hue="series",
                     marker=".", ax=ax)
        ax.legend(title=None)
        if "perplexity" in panel:
            ax.set_yscale("log")
        ax.set(title=panel.replace("/", " vs "), xlabel="step", ylabel="")
    fig.suptitle(title)
    return save_figure(fig, stem)


def heldout_table(metrics: pd.DataFrame) -> pd.DataFrame:
    heldout = metrics[metrics["split"] == "heldout"]
    return heldout.pivot_table(index="step", columns="metric", values="value").reset_index()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.report.curves", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("metrics", nargs="*", default=["loss"],
                        help="metrics to draw, one panel each; a/b draws a and b together "
                             "(default: loss)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or args.run_dir
    with reported_without_traceback():
        metrics = read_metrics(args.run_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_curves(metrics, args.metrics, args.run_dir.name, out / "curves")
        table = heldout_table(metrics).to_markdown(index=False, floatfmt=".4g")
        (out / "heldout.md").write_text(table + "\n")
        print(table)


if __name__ == "__main__":
    main()
