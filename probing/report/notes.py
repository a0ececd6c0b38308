"""What the tables say of themselves: how intervals were made (what was resampled, how many
seeds, how many resamples), and what is missing and why, in sentences each table's notes
(`Table.notes`, probing/report/family.py) are made of; and the titles of the figures
(encoder, pooling, seeds)."""

from probing.report.bootstrap import LEVEL
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
        family = next(f for f in study.reports if any(r.family == f for r in runs))
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


def _listed(words: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _some(runs: list) -> str:
    """The first three runs (records or folders) by folder, and how many more."""
    shown = ", ".join(str(getattr(run, "folder", run)) for run in runs[:3])
    return shown + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")


class Notes:
    """The sentences the notes of one report's tables are made of."""

    level = LEVEL

    def __init__(self, study: Study) -> None:
        self.study = study
        self.resamples, self.seed = study.resamples, study.seed
        self.missing = study.without_predictions

    def bootstrap(self) -> str:
        family = self.study.main_family
        seeds = _kinds_text(self.study.seeds(family)) or "none"
        return (f"Intervals: {LEVEL:.0%} percentile cluster bootstrap, {self.resamples} "
                f"resamples (seed {self.seed}) of test sentences, paired across the runs on "
                f"the same test sentences (every layer and seed of a task, and tasks that share "
                f"a test file); each resample also draws k of a configuration's k seeds with "
                f"replacement, the same seed numbers for every configuration (so differences "
                f"are paired over seeds too), its deviation from the all-seed mean scaled by "
                f"√(k/(k-1)) so that the seed part does not shrink (seeds per {family}-probe "
                f"configuration, {seeds}; one seed: sentences only).")

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

    def meta(self, table: str) -> dict:
        return {"level": LEVEL, "resamples": self.resamples, "bootstrap_seed": self.seed,
                "requested_resamples": self.study.requested,
                "resampled": "test sentences (cluster bootstrap, paired by test file) and "
                             "seeds (shared draws, scaled by sqrt(k/(k-1))); seed-only "
                             "statistics: Student-t over seeds",
                "seeds": self.study.seeds(self.study.main_family),
                "runs_without_predictions": [str(r.folder) for r in self.missing]}

    def warnings(self) -> list[str]:
        return self.missing_predictions()

    def layer_profile(self) -> list[str]:
        """The profile's notes: the bootstrap, and what the families say of their columns."""
        reports = [report for report in self.study.reports.values() if report.panels]
        resampled = [m for report in reports for m in report.profile_resampled]
        per_length = [m for report in reports for m in report.per_length]
        seed_only = [m for report in reports for m in report.profile_seed_only]
        bootstrap = self.bootstrap()
        if resampled:
            bootstrap += f" The same for {_listed(resampled)}" + (
                f" (aggregated per sentence length for {_listed(per_length)})." if per_length
                else ".")
        return [bootstrap, *([self.seed_only(_listed(seed_only))] if seed_only else [])]

    def summary(self) -> list[str]:
        seed_only = [report.family.upper() for report in self.study.reports.values()
                     if not report.score_resampled]
        return [self.bootstrap(),
                *([self.seed_only(" and ".join(seed_only) + " scores")] if seed_only else []),
                "interval: what each row's interval resampled."]
