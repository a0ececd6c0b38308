"""Metrics of pretraining: running tallies pooled over micro-batches, steps and processes, and
their log in the run folder (`metrics.csv` and TensorBoard events)."""

import csv
import io
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from probing.pretrain.distributed import Distributed
from probing.pretrain.objective import Metrics
from probing.utils.atomic import write_text_atomic


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
