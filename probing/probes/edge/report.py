"""The edge probe's report: the layer analysis of Tenney et al. (2019) (overview, layers,
expected layers, tested orders of tasks) with its figures, and its columns of the layer
profile (the mixing weight and the score of each layer alone). Its scores are resampled by the
task's labelling (the default of `FamilyReport`)."""

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from probing.report import encoders, figures
from probing.report.encoders import encoder_differences, encoder_table
from probing.report.family import FamilyReport, Panel, Table
from probing.report.information import information_layers, information_summary
from probing.report.layer_tables import expected_layers, layer_table, mix_check, overview
from probing.report.notes import Notes
from probing.report.orders import (
    holm_floor,
    order_table,
    pairs_tested,
    pipeline_verdicts,
    resamples_needed,
)
from probing.report.rows import with_scores
from probing.report.study import Study
from probing.runs.record import RunRecord
from probing.tasks.resampled import ratio, sentence_sums

FAMILY = "edge"


def overview_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(), notes.seed_only("Mixing weights and E_s"), notes.expected(),
            "best_layer: the single layer of highest mean dev score; best_single: its test "
            "score. selectivity: mix - control mix (paired); control_seen: the share of test "
            "targets whose control key occurs in training ('–' where the control task does "
            "not record it)."]


def layers_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(), notes.seed_only("Mixing weights"),
            "delta_l = P(0..l) - P(0..l-1), paired; none for layer 0.",
            "weight: s_l, the share of layer l's vectors in the mix. norm: the mean L2 norm of "
            "layer l's word vectors (training split). weighted_norm: s_l norm_l / sum_j s_j "
            "norm_j (t over seeds), layer l's share of the mix's magnitude: a weight alone "
            "ignores the layers' scale, which differs by layer (Fayyaz et al. 2021), so read "
            "the two together."]


def mix_check_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "mix: the mix over layers 0..l (cumulative, l >= 1); single: the best layer in "
            "0..l alone (best_layer, chosen on mean dev score); shortfall: mix - single, "
            "paired over sentences and seeds. seed_noise: the half-width of the t-interval "
            "over seeds of the per-seed shortfalls; beyond_seed_noise: shortfall < "
            "-seed_noise; loses: the shortfall's interval lies wholly below 0 (both NA from "
            "one seed). A mix can put all its weight on one layer, so where it loses, E_delta "
            "measures the optimiser as well as the layers.", _losers(mix_check(notes.study,
                                                                              FAMILY))]


def _losers(table: pd.DataFrame) -> str:
    if table.empty:
        return "No cumulative mix to check."
    if table["loses"].isna().all():
        return "One seed a probe: whether a mix loses to its best layer cannot be told."
    lost = table[table["loses"].fillna(False)]
    beyond = table[table["beyond_seed_noise"].fillna(False) & ~table["loses"].fillna(False)]
    parts = []
    if not lost.empty:
        parts.append("The mix loses to its best layer (interval below 0): " + _named(lost))
    if not beyond.empty:
        parts.append("It falls short by more than the seed noise, within the interval: "
                     + _named(beyond))
    return " ".join(parts) or ("Every mix over 0..l scores at least its best layer alone "
                               "within seed noise, and none loses at 95%.")


def _named(rows: pd.DataFrame) -> str:
    return "; ".join(sorted(f"{r.task} ({r.encoder}) at l = {', '.join(map(str, sorted(g)))}"
                            for r, g in _grouped(rows))) + "."


def _grouped(lost: pd.DataFrame) -> Iterator[tuple[Any, list[int]]]:
    for _, group in lost.groupby(["task", "encoder", "step"]):
        yield group.iloc[0], group["layer"].tolist()


def expected_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(), notes.seed_only("E_s"), notes.expected()]


def orders_notes(notes: Notes) -> list[str]:
    pairs = pairs_tested(notes.study.records, FAMILY)
    return [notes.bootstrap(),
            "p_a_below_b: the share of resamples where E(A) < E(B), over those where both are "
            "defined (resamples_used); p_value: two-sided bootstrap, at least 2/(resamples + "
            f"1) = {2 / (notes.resamples + 1):.2g}; p_holm: Holm over the encoder's pairs of "
            f"one measure; holds: p_holm < {1 - notes.level:.2f}. paired: the two tasks share "
            "test sentences (else independent draws). Pairs with an undefined E_delta are not "
            "tested.",
            f"The p-value floor: with {pairs} pairs an encoder and {notes.resamples} resamples "
            f"(at least {resamples_needed(pairs)} are drawn for {pairs} pairs, whatever was "
            f"asked), the smallest Holm-adjusted p-value is "
            f"{holm_floor(pairs, notes.resamples):.2g}, a tenth of {1 - notes.level:.2f} or "
            "less: an order that does not hold fails on its own p-value, not on the floor."]


def encoders_notes(notes: Notes) -> list[str]:
    verdicts = pipeline_verdicts(order_table(notes.study, FAMILY))
    return [notes.bootstrap(), notes.seed_only("E_s"),
            "depth: (E_delta - 1) / (L - 1), L the encoder's top layer (0 = the first gain at "
            "layer 1, 1 = all of it at the top), NaN where E_delta is undefined. "
            "E_s_relative: E_s / L (t over seeds), the mixing weights' centre on the same "
            "0..1 scale. mix_minus_P0: the full mix minus layer 0 alone (paired). "
            "trained_minus_twin: the trained encoder's "
            "mix minus that of its random-weights twin (twin_encoder: the same model settings "
            "with encoder.random_init=true; paired), NaN where no twin ran.",
            "Task orders per encoder, from the orders table (E_delta, Holm over the encoder's "
            "pairs): " + ("; ".join(verdicts) + "." if verdicts else "none tested.")]


def information_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "Bits per test target (Hewitt et al. 2021, conditional V-information): H = "
            "H_V(Y | layers 0..l), the test cross-entropy of the probe over layers 0..l; I(l) "
            "= H_V(Y | 0..l-1) - H_V(Y | 0..l), what layer l adds to the layers below it, "
            "paired (I(0) against H_V(Y | nothing), the training label shares, add-one "
            "smoothed). A negative I(l): the probe over more layers generalised worse."]


def information_summary_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "H_null: H_V(Y | nothing); H_all: H_V(Y | 0..L); total_bits: H_null - H_all; "
            "bits_above_0: H_V(Y | 0) - H_all; E_delta_bits: sum_l l I(l) / sum_l I(l) over "
            "l >= 1 (Tenney's E_delta with bits in place of scores), undefined (NaN) where "
            "bits_above_0's interval includes 0; depth_bits: (E_delta_bits - 1) / (L - 1)."]


def encoder_differences_notes(notes: Notes) -> list[str]:
    return [notes.bootstrap(),
            "Per task, every pair of trained encoders (twins left out): depth_a - depth_b, "
            "P(depth_a < depth_b) over the resamples where both are defined, a two-sided "
            "bootstrap p-value, Holm over the task's pairs; holds: p_holm < "
            f"{1 - notes.level:.2f}. paired: the two share test sentences (the same draws). "
            "'undefined': an E_delta whose total gain's interval includes 0."]


# What the information tables resample (probing/report/information.py): the cross-entropy in
# bits per test target of a probe and of the guess that reads no input, each from its field in
# the record and its per-target array in the predictions.
BITS = {"bits": ("cross_entropy_bits", "nll_bits"),
        "null_bits": ("null_cross_entropy_bits", "null_nll_bits")}


class EdgeResampling(FamilyReport):
    """How an edge probe's records resample: by the labelling for scores, and a metric of
    `ratios` as the ratio of two per-target arrays' sums (bits: `BITS`, from the per-target
    cross-entropies); for every family whose probes are edge probes, which may add ratios."""

    # metric: (numerator array, denominator array; None: one per target)
    ratios: ClassVar[dict[str, tuple[str, str | None]]] = {
        metric: (array, None) for metric, (_, array) in BITS.items()}

    def point(self, record: RunRecord, metric: str) -> float:
        if metric not in BITS:
            return super().point(record, metric)
        value = record.family_fields.get(BITS[metric][0])
        return float(value["test"] if isinstance(value, dict) else
                     float("nan") if value is None else value)

    def can_resample(self, arrays: Any, metric: str) -> bool:
        if metric in self.ratios:
            return "sentence" in arrays and all(
                name in arrays for name in self.ratios[metric] if name is not None)
        return super().can_resample(arrays, metric)

    def statistics(self, record: RunRecord, arrays: Any, metric: str, n: int,
                   predicted: np.ndarray | None = None) -> Any:
        """For a ratio: per test sentence, its targets' numerator and denominator summed."""
        if metric not in self.ratios:
            return super().statistics(record, arrays, metric, n, predicted)
        top, bottom = self.ratios[metric]
        numerator = np.asarray(arrays[top], dtype=np.float64)
        denominator = (np.ones_like(numerator) if bottom is None
                       else np.asarray(arrays[bottom], dtype=np.float64))
        return {"sums": sentence_sums(np.stack([numerator, denominator], axis=1),
                                      np.asarray(arrays["sentence"], dtype=np.int64), n)}

    def resample_statistics(self, record: RunRecord, statistics: Any, counts: np.ndarray,
                            metric: str) -> np.ndarray:
        if metric not in self.ratios:
            return super().resample_statistics(record, statistics, counts, metric)
        sums = counts @ statistics["sums"]
        return ratio(sums[:, 0], sums[:, 1])


class EdgeReport(EdgeResampling):
    family = FAMILY
    rank = 0
    tables = (
        Table("overview", lambda study: overview(study, FAMILY), overview_notes, echo=True),
        Table("layers", lambda study: layer_table(study, FAMILY), layers_notes),
        Table("expected_layers", lambda study: expected_layers(study, FAMILY), expected_notes),
        Table("mix_check", lambda study: mix_check(study, FAMILY), mix_check_notes),
        Table("orders", lambda study: order_table(study, FAMILY), orders_notes, echo=True),
        Table("information", lambda study: information_layers(study, FAMILY),
              information_notes),
        Table("information_summary", lambda study: information_summary(study, FAMILY),
              information_summary_notes, echo=True),
        Table("encoders", lambda study: encoder_table(study, FAMILY), encoders_notes,
              echo=True),
        Table("encoder_differences", lambda study: encoder_differences(study, FAMILY),
              encoder_differences_notes, echo=True),
    )
    figures = (figures.figure_layers, figures.figure_summary, figures.figure_heatmap,
               figures.figure_scores, figures.figure_relative_depth,
               figures.figure_against_step)
    panels = (Panel(("weight",), "mixing weight $s_l$", bars=True, elsewhere=True),
              Panel(("single",), "edge probe, layer alone:\ntest {metric}", elsewhere=True))
    profile_seed_only = ("Mixing weights",)

    def resamples_needed(self, records: list[RunRecord]) -> int:
        return resamples_needed(max(pairs_tested(records, FAMILY),
                                    encoders.pairs_tested(records, FAMILY)))

    def profile(self, study: Study, runs: list[RunRecord], n_layers: int
                ) -> list[dict[str, Any]]:
        """The metric, the mixing weight (t over seeds) and the score of each layer alone."""
        weights = study.weights(runs)[:3] if runs else (np.full(n_layers, np.nan),) * 3
        rows = []
        for layer in range(n_layers):
            row: dict[str, Any] = {"metric": runs[0].metric if runs else ""}
            row["weight"], row["weight_lo"], row["weight_hi"] = (float(w[layer])
                                                                 for w in weights)
            with_scores(row, "single", study.scores(study.select(runs, "single", layer)))
            rows.append(row)
        return rows
