"""What each table says of itself: how its intervals were made (what was resampled, how many
seeds, how many resamples), how its columns are defined, and what is missing and why; and the
titles of the figures (encoder, pooling, seeds)."""

from probing.report.bootstrap import LEVEL
from probing.report.family_tables import coded
from probing.report.figures import Tables
from probing.report.study import Study, step_of
from probing.runs.record import PREDICTIONS_NAME


def _kinds_text(kinds: dict[str, list[int]]) -> str:
    """{mix: [3], single: [1, 3]} -> "all: 3, single: 1-3"."""
    return ", ".join(f"{kind}: {ks[0]}" if len(ks) == 1 else f"{kind}: {ks[0]}-{ks[-1]}"
                     for kind, ks in kinds.items())


def encoder_titles(study: Study) -> dict[tuple[str, int], str]:
    """(encoder, step) -> "minilm-l6 · pooling=mean · seeds: 3 a probe"."""
    titles = {}
    for key in sorted({(r.encoder, step_of(r)) for r in study.records}):
        runs = [r for r in study.records if (r.encoder, step_of(r)) == key]
        family = "edge" if any(r.family == "edge" for r in runs) else runs[0].family
        configs: dict[tuple, int] = {}
        for r in runs:
            if r.family == family:
                config = (r.task, r.control, r.mode, r.layer)
                configs[config] = configs.get(config, 0) + 1
        kinds: dict[str, set[int]] = {}
        for (_, control, mode, _), k in configs.items():
            kinds.setdefault("control" if control else mode, set()).add(k)
        counts = {k for ks in kinds.values() for k in ks}
        k = max(counts)
        seeds = (f"{k} seed{'s' if k > 1 else ''} a probe" if len(counts) == 1 else
                 "seeds " + _kinds_text({k: sorted(v) for k, v in sorted(kinds.items())}))
        pooling = runs[0].encoder_settings.get("pooling")
        parts = [key[0] + (f" · step {key[1]}" if key[1] >= 0 else ""),
                 f"pooling={pooling}" if pooling else "", seeds]
        titles[key] = " · ".join(p for p in parts if p)
    return titles


def _some(runs: list) -> str:
    """The first three runs (records or folders) by folder, and how many more."""
    shown = ", ".join(str(getattr(run, "folder", run)) for run in runs[:3])
    return shown + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")


class Notes:
    """The notes of every table of one report."""

    def __init__(self, study: Study, tables: Tables) -> None:
        self.study, self.tables = study, tables
        self.resamples, self.seed = study.resamples, study.seed
        self.missing = study.without_predictions

    def bootstrap(self) -> str:
        seeds = _kinds_text(self.study.seeds("edge")) or "none"
        return (f"Intervals: {LEVEL:.0%} percentile cluster bootstrap, {self.resamples} "
                f"resamples (seed {self.seed}) of test sentences, paired across the runs on "
                f"the same test sentences (every layer and seed of a task, and tasks that share "
                f"a test file); each resample also draws each configuration's seeds with "
                f"replacement (seeds per edge-probe configuration, {seeds}; one seed: "
                f"sentences only).")

    def seed_only(self, what: str) -> str:
        return (f"{what}: mean ± t(0.975, k-1)·s/√k over the k seeds (a Student-t interval, "
                f"not the seeds' range); no interval from one seed.")

    def expected(self) -> str:
        return ("E_delta: Tenney et al.'s sum_l l·delta_l / sum_l delta_l; E_delta_clipped: "
                "negative delta_l set to 0. Both are 'undefined' where the interval of the "
                "total gain P(0..L) - P(0) includes 0; a resample whose gain (or sum of "
                "positive gains) is not positive has no value, and *_undefined_share counts "
                "those resamples (left out of the interval, not hidden). depth = (E_delta - 1) "
                "/ (L - 1), L the top layer: 0 the first contextual layer, 1 the top.")

    def missing_predictions(self) -> list[str]:
        notes = []
        if self.missing:
            notes.append(f"Missing intervals: {len(self.missing)} of "
                         f"{len(self.study.records)} runs saved no {PREDICTIONS_NAME} "
                         f"({_some(self.missing)}; column `predictions` of runs.csv), so the "
                         f"statistics that use them have no interval; rerun them to get one.")
        unusable = self.study.unusable
        if unusable:
            metrics = sorted({metric for names in unusable.values() for metric in names})
            notes.append(f"Missing intervals: the {PREDICTIONS_NAME} of {len(unusable)} runs "
                         f"({_some(list(unusable))}) hold no arrays for {', '.join(metrics)} "
                         f"(made by another version, or damaged), so those have no interval; "
                         f"rerun them to get one.")
        return notes

    def of(self, table: str) -> list[str]:
        weights = self.seed_only("Mixing weights and E_s")
        notes = {
            "overview": [self.bootstrap(), weights, self.expected(),
                         "best_layer: the single layer of highest mean dev score; best_single: "
                         "its test score. selectivity: mix - control mix (paired); "
                         "control_seen: the share of test targets whose control key occurs "
                         "in training ('–' where the control task does not record it)."],
            "layers": [self.bootstrap(), self.seed_only("Mixing weights"),
                       "delta_l = P(0..l) - P(0..l-1), paired; none for layer 0."],
            "expected_layers": [self.bootstrap(), self.seed_only("E_s"), self.expected()],
            "orders": [self.bootstrap(),
                       "p_a_below_b: the share of resamples where E(A) < E(B), over those "
                       "where both are defined (resamples_used); p_value: two-sided bootstrap, "
                       f"at least 2/(resamples + 1) = {2 / (self.resamples + 1):.4f}; p_holm: "
                       "Holm over the encoder's pairs of one measure; holds: p_holm < "
                       f"{1 - LEVEL:.2f}. paired: the two tasks share test sentences (else "
                       "independent draws). Pairs with an undefined E_delta are not tested."],
            "layer_profile": [self.bootstrap() + " The same for UUAS, DSpr, root accuracy and "
                              "NSpr (aggregated per sentence length for DSpr and NSpr).",
                              self.seed_only("Mixing weights and MDL compression (over "
                                             "shuffling seeds)")],
            "mdl": [self.seed_only("Codelength and compression (over shuffling seeds)"),
                    "codelength in kbits (online code, Voita & Titov 2020); compression = "
                    "uniform / online codelength; final_score: the test score of the probe "
                    "trained on all training targets, its interval from the bootstrap over "
                    "test sentences where it saved predictions.",
                    "What is coded: " + ("; ".join(coded(self.study)) or "–") + "."],
            "cka": [self.seed_only("Adjacent-layer CKA (over runs)"),
                    "adjacent_cka: mean linear CKA of layers l and l+1 over the task's test "
                    "words."],
            "cka_matrix": [self.seed_only("CKA (over runs)")],
            "summary": [self.bootstrap(), self.seed_only("MDL and CKA scores"),
                        "interval: what each row's interval resampled."],
        }[table]
        return notes + self.missing_predictions()

    def meta(self, table: str) -> dict:
        return {"level": LEVEL, "resamples": self.resamples, "bootstrap_seed": self.seed,
                "resampled": "test sentences (cluster bootstrap, paired by test file) and "
                             "seeds with replacement; seed-only statistics: Student-t over "
                             "seeds", "seeds": self.study.seeds("edge"),
                "runs_without_predictions": [str(r.folder) for r in self.missing]}

    def warnings(self) -> list[str]:
        return self.missing_predictions()
