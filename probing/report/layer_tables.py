"""The tables of a family's layer analysis (Tenney et al. 2019), from that family's records
only (the edge probe's report shows them): per layer, per task (E_s, E_delta) and the
overview. The point values are means over seeds; the intervals resample test sentences and
seeds (bootstrap.py), or seeds alone where nothing depends on the test sentences."""

import numpy as np
import pandas as pd

from probing.report.bootstrap import seed_interval
from probing.report.collect import settings_text
from probing.report.expected import Gains, expected_layers_of, normalised_depth
from probing.report.rows import with_difference, with_interval, with_scores
from probing.report.study import KEYS, NONE, Study

GATED_BY_GAIN = ("E_delta", "E_delta_clipped", "depth", "depth_clipped")


def layer_table(study: Study, family: str) -> pd.DataFrame:
    """Per task, encoder and step, one row per layer: mixing weight (t-interval over seeds),
    the layer's mean vector norm and the weight times the norm as a share of the mix (t over
    seeds; NaN where the records predate them or the mix normalises its layers), single-layer
    score, cumulative score and its gain delta_l over layers 0..l-1 (bootstrap
    intervals, paired); delta_0 is not a gain and has no row value."""
    rows = []
    for key, runs in study.groups(family).items():
        weights, weights_lo, weights_hi, _ = study.weights(runs)
        norms = study.weights(runs, "layer_norms")[0]
        weighted = study.weights(runs, "weighted_norms")[:3]
        single, cumulative = study.by_layer(runs, "single"), study.by_layer(runs, "cumulative")
        for layer in range(study.n_layers(runs)):
            row = dict(zip(KEYS, key, strict=True), layer=layer, metric=runs[0].metric)
            row["weight"], row["weight_lo"], row["weight_hi"] = (
                float(weights[layer]), float(weights_lo[layer]), float(weights_hi[layer]))
            row["norm"] = float(norms[layer])
            row["weighted_norm"], row["weighted_norm_lo"], row["weighted_norm_hi"] = (
                float(bound[layer]) for bound in weighted)
            with_scores(row, "single", single[layer])
            with_scores(row, "cumulative", cumulative[layer])
            if layer == 0:
                with_interval(row, "delta", float("nan"), None)
            else:
                with_difference(row, "delta", cumulative[layer], cumulative[layer - 1])
            rows.append(row)
    return pd.DataFrame(rows)


def mix_check(study: Study, family: str) -> pd.DataFrame:
    """The estimator's invariant, checked: a mix over layers 0..l can put all its weight on
    any one of them, so it should score at least the best of them alone. Per task, encoder,
    step and l >= 1 (at l = 0 the mix is that layer): the cumulative mix's test score, the best
    single layer in 0..l chosen on mean dev score (test stays unseen), the shortfall mix - that
    layer (bootstrap over sentences and seeds, paired), its seed noise (the half-width of the
    t-interval over seeds of the per-seed shortfalls), `beyond_seed_noise` (the shortfall below
    minus its seed noise) and `loses` (the shortfall's interval wholly below 0). Both NA where
    one seed ran and the noise is unknown."""
    rows = []
    for key, runs in study.groups(family).items():
        single, cumulative = study.by_layer(runs, "single"), study.by_layer(runs, "cumulative")
        dev = _mean_dev(study, runs)
        for layer in range(1, study.n_layers(runs)):
            if np.isnan(dev[:layer + 1]).all() or np.isnan(cumulative[layer].point):
                continue
            best = int(np.nanargmax(dev[:layer + 1]))
            mix, alone = cumulative[layer], single[best]
            row = dict(zip(KEYS, key, strict=True), layer=layer, metric=runs[0].metric,
                       best_layer=best)
            with_scores(row, "mix", mix)
            with_scores(row, "single", alone)
            with_difference(row, "shortfall", mix, alone)
            by_seed = _per_seed_shortfalls(study.select(runs, "cumulative", layer),
                                           study.select(runs, "single", best))
            _, lo, hi = seed_interval(by_seed)
            row["seeds"], row["seed_noise"] = len(by_seed), float((hi - lo) / 2)
            known = not np.isnan(row["seed_noise"])
            row["beyond_seed_noise"] = (bool(row["shortfall"] < -row["seed_noise"]) if known
                                        else pd.NA)
            row["loses"] = bool(row["shortfall_hi"] < 0) if known else pd.NA
            rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("beyond_seed_noise", "loses"):
        if column in frame:
            frame[column] = frame[column].astype("boolean")
    return frame


def _per_seed_shortfalls(mixes: list, singles: list) -> np.ndarray:
    """mix - layer alone on test, for each seed both ran."""
    alone = {r.seed: r.score for r in singles}
    return np.array([r.score - alone[r.seed] for r in mixes if r.seed in alone], dtype=float)


def _mean_dev(study: Study, runs: list) -> np.ndarray:
    return np.array([np.mean([r.dev.get(r.metric, np.nan) for r in chosen])
                     if (chosen := study.select(runs, "single", layer)) else np.nan
                     for layer in range(study.n_layers(runs))])


def _gains(study: Study, runs: list) -> Gains:
    return expected_layers_of(study.by_layer(runs, "cumulative"))


def with_expected_layers(row: dict, gains: Gains) -> None:
    """The total gain, Tenney's and the clipped E_delta with the share of resamples where each
    is undefined, their normalised depths, and whether E_delta is defined: where it is not (the
    total gain's interval includes 0), both E_delta and both depths are NaN, intervals too, and
    only the undefined shares say how often a resample had a value."""
    with_scores(row, "gain", gains.gain)
    for name, variant in (("E_delta", gains.tenney), ("E_delta_clipped", gains.clipped)):
        with_interval(row, name, variant.point, variant.samples, always_share=True)
    for name, variant in (("depth", gains.tenney), ("depth_clipped", gains.clipped)):
        row[name], row[f"{name}_lo"], row[f"{name}_hi"] = (
            float(normalised_depth(v, gains.n_layers)) for v in (
                variant.point, variant.interval.lo, variant.interval.hi))
    row["E_delta_defined"] = gains.tenney.defined
    if gains.tenney.defined is False:  # undefined in every file, the CSV included
        for name in GATED_BY_GAIN:
            row[name] = row[f"{name}_lo"] = row[f"{name}_hi"] = float("nan")


def _seeds(study: Study, runs: list, mode: str) -> int:
    """The fewest seeds of any configuration of this mode (layer by layer)."""
    counts = [len(study.select(runs, mode, layer)) for layer in range(study.n_layers(runs))] \
        if mode != "all" else [len(study.select(runs, "all"))]
    return min(counts, default=0)


def expected_layers(study: Study, family: str) -> pd.DataFrame:
    """Per task, encoder and step: the mix score, E_s (t over the mix seeds), the total gain
    and E_delta, Tenney's and clipped, with their normalised depths and undefined shares."""
    rows = []
    for key, runs in study.groups(family).items():
        row = dict(zip(KEYS, key, strict=True), encoder_settings=settings_text(runs[0]),
                   metric=runs[0].metric, n_layers=study.n_layers(runs),
                   seeds=_seeds(study, runs, "all"),
                   cumulative_seeds=_seeds(study, runs, "cumulative"))
        with_scores(row, "score", study.scores(study.select(runs, "all")))
        mean, lo, hi, _ = study.center_of_gravity(runs)
        row["E_s"], row["E_s_lo"], row["E_s_hi"] = mean, lo, hi
        with_expected_layers(row, _gains(study, runs))
        rows.append(row)
    return pd.DataFrame(rows)


def best_on_dev(study: Study, runs: list) -> int | None:
    """The single layer whose mean dev score is highest (test stays unseen); None where no
    layer ran alone."""
    dev = _mean_dev(study, runs)
    return None if np.isnan(dev).all() else int(np.nanargmax(dev))


def control_seen(controls: list) -> float:
    """The share of test targets whose control key was seen in training, from the control
    records (NaN where the task does not say)."""
    shares = [r.task_info["control_key_seen_in_train"] for r in controls
              if r.task_info.get("control_key_seen_in_train") is not None]
    return float(np.mean(shares)) if shares else float("nan")


def overview(study: Study, family: str) -> pd.DataFrame:
    """Per encoder and task (Tenney et al. 2019, Table 1 and 2 in one): majority baseline,
    P0 (layer 0 alone), the full mix, the best single layer chosen on dev and its test score,
    the control task's mix score and selectivity (mix - control, paired) with the share of
    test targets whose control key was seen in training, E_s and E_delta."""
    controls = study.groups(family, control=True)
    rows = []
    for key, runs in study.groups(family).items():
        row = {"encoder": key[1], "task": key[0], "step": key[2],
               "encoder_settings": settings_text(runs[0]), "metric": runs[0].metric,
               "n_layers": study.n_layers(runs), "seeds": _seeds(study, runs, "all"),
               "layer_seeds": min(_seeds(study, runs, "single"),
                                  _seeds(study, runs, "cumulative"))}
        with_scores(row, "majority", study.baseline(runs))
        single = study.by_layer(runs, "single")
        with_scores(row, "P0", single[0])
        mix = study.scores(study.select(runs, "all"))
        with_scores(row, "mix", mix)
        best = best_on_dev(study, runs)
        row["best_layer"] = best
        with_scores(row, "best_single", NONE if best is None else single[best])
        control_runs = study.select(controls.get(key, []), "all")
        control = study.scores(control_runs)
        with_scores(row, "control", control)
        with_difference(row, "selectivity", mix, control)
        row["control_seen"] = control_seen(control_runs)
        mean, lo, hi, _ = study.center_of_gravity(runs)
        row["E_s"], row["E_s_lo"], row["E_s_hi"] = mean, lo, hi
        with_expected_layers(row, _gains(study, runs))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["best_layer"] = frame["best_layer"].astype("Int64")  # a layer, not 3.000
    return frame
