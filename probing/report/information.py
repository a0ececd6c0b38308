"""What each layer adds in bits: conditional V-information (Hewitt et al. 2021) from the
cumulative probes' test cross-entropy, Tenney's cumulative gains on an information scale.

With H_V(Y | 0..l) the test cross-entropy in bits per target of the probe over layers 0..l,
and H_V(Y | nothing) that of the training label shares (a guess that reads no input):

    I(0) = H_V(Y | nothing) - H_V(Y | 0)
    I(l) = H_V(Y | 0..l-1) - H_V(Y | 0..l)          (l >= 1: what layer l adds to those below)
    total = H_V(Y | nothing) - H_V(Y | 0..L)
    E_delta_bits = sum_l l I(l) / sum_l I(l)        (l >= 1, as Tenney's E_delta of scores)

Every value is resampled over test sentences and seeds like the scores (a run's bits are the
mean over its test targets; resampled, the sums over the drawn sentences' targets), I(l) paired.
E_delta_bits is undefined where the bits the layers above 0 add have an interval that includes
0, as E_delta is.
"""

from collections.abc import Callable

import pandas as pd

from probing.report.expected import expected_layers_of, normalised_depth
from probing.report.rows import with_difference, with_interval, with_scores
from probing.report.study import KEYS, Scores, Study
from probing.runs.record import RunRecord

Keep = Callable[[RunRecord], bool] | None

BITS, NULL_BITS = "bits", "null_bits"  # the edge report's names of what it resamples


def _negated(scores: Scores) -> Scores:
    """Bits as a score (higher is better), so that the gains of scores are the bits added."""
    return Scores(-scores.point, None if scores.samples is None else -scores.samples,
                  scores.seeds, scores.draws)


def information_layers(study: Study, family: str, keep: Keep = None) -> pd.DataFrame:
    """Per task, encoder, step and layer l: H_V(Y | 0..l) and I(l), with intervals; empty where
    no cumulative run saved its targets' bits. `keep`: which of the family's runs count (all
    by default)."""
    rows = []
    for key, runs in _with_bits(study, family, keep):
        cumulative = study.by_layer(runs, "cumulative", BITS)
        before = study.scores(study.select(runs, "cumulative", 0), NULL_BITS)
        for layer, after in enumerate(cumulative):
            row = dict(zip(KEYS, key, strict=True), layer=layer)
            with_scores(row, "H", after)
            with_difference(row, "I", before, after)
            rows.append(row)
            before = after
    return pd.DataFrame(rows)


def information_summary(study: Study, family: str, keep: Keep = None) -> pd.DataFrame:
    """Per task, encoder and step: H_V(Y | nothing), H_V(Y | all layers), the total bits the
    layers give, the bits above layer 0, E_delta in bits and its relative depth."""
    rows = []
    for key, runs in _with_bits(study, family, keep):
        cumulative = study.by_layer(runs, "cumulative", BITS)
        null = study.scores(study.select(runs, "cumulative", 0), NULL_BITS)
        row = dict(zip(KEYS, key, strict=True), n_layers=len(cumulative))
        with_scores(row, "H_null", null)
        with_scores(row, "H_all", cumulative[-1])
        with_difference(row, "total_bits", null, cumulative[-1])
        gains = expected_layers_of([_negated(s) for s in cumulative])
        with_scores(row, "bits_above_0", gains.gain)
        defined = gains.tenney.defined
        with_interval(row, "E_delta_bits", gains.tenney.point if defined else float("nan"),
                      gains.tenney.samples if defined else None)
        row["depth_bits"] = (float(normalised_depth(gains.tenney.point, gains.n_layers))
                             if defined else float("nan"))
        row["E_delta_bits_defined"] = defined
        rows.append(row)
    return pd.DataFrame(rows)


def _with_bits(study: Study, family: str, keep: Keep) -> list[tuple[tuple, list]]:
    """The groups whose cumulative runs (of those kept) all recorded their test bits."""
    chosen = []
    for key, runs in study.groups(family).items():
        runs = [r for r in runs if keep is None or keep(r)]
        cumulative = study.select(runs, "cumulative")
        if cumulative and all(r.family_fields.get("cross_entropy_bits") is not None
                              and r.family_fields.get("null_cross_entropy_bits") is not None
                              for r in cumulative):
            chosen.append((key, runs))
    return chosen
