"""The report of a set of probe runs: tables and figures (`python -m probing.report`).

Reads every results.json (and the predictions.npz beside it) under the given folders, the
failure records and job folders of every sweep among them, and any run folder without a
record, and writes into --out (default <first path>/report):

tables, each as .csv (full precision: `x`, `x_lo`, `x_hi`), .md and .tex ("x [lo, hi]", with
notes saying what was resampled and how often) and .json (those notes). Each family's report
(probing/report/family.py; the family names it in its records) brings its tables and figures;
the ones of the families in this package are:
  overview         edge probe, per encoder and task: majority baseline, P0, mix, best single
                   layer (chosen on dev), control, selectivity with the share of control keys
                   seen in training, E_s, E_delta (Tenney's and clipped), normalised depth
  layers           edge probe, per layer: mixing weight, single-layer and cumulative score,
                   delta_l
  expected_layers  edge probe, per task: mix score, E_s, total gain, E_delta and the clipped
                   variant with normalised depths and the share of undefined resamples
  orders           edge probe, per encoder and pair of tasks: P(E_delta(A) < E_delta(B)),
                   bootstrap p-value, Holm-adjusted, whether the order holds at 95%
  mdl              MDL probes: codelength, uniform codelength, compression, final score
  cka, cka_matrix  layer similarity: adjacent-layer CKA; every cell of every matrix
and the report's own:
  layer_profile    per encoder, task and layer: every family's columns (weight, single-layer
                   score, MDL compression, UUAS, DSpr, root accuracy, NSpr where those ran)
  summary          every configuration of every family: mean over seeds, spread, interval
  runs             one row per run (.csv only)
  failures         runs and sweep jobs that failed or never finished (where any)
figures (.png and .pdf): each family's, and the layer profile (probing/report/figures.py);
and what it takes to write it all again without the run folders (probing/report/archive.py):
  records.jsonl.gz          every record read
  sentence_statistics.npz   per run and resampled metric, the per-sentence statistics resampled
A folder holding those is read as a report's: `python -m probing.report <that folder>`
recomputes its tables and intervals from them.

Intervals: a cluster bootstrap over test sentences and seeds (probing/report/bootstrap.py),
Student-t intervals over seeds for what does not depend on the test sentences.
"""

import logging
from pathlib import Path

import pandas as pd

from probing.report.archive import is_archive, load_archive, write_archive
from probing.report.collect import (
    NoRecords,
    check_one_encoder_per_name,
    load_records,
    unfinished_runs,
)
from probing.report.failures import sweep_jobs, sweeps_under
from probing.report.family import Table
from probing.report.figures import FIGURES, Tables
from probing.report.formatting import write_table
from probing.report.layer_profile import layer_profile
from probing.report.notes import Notes, encoder_titles
from probing.report.run_tables import runs_table, summary
from probing.report.study import Study
from probing.runs.record import RunRecord
from probing.utils.errors import ProbingError

log = logging.getLogger("probing")


def check_resamples(resamples: int) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ProbingError(f"resamples={resamples!r}: the bootstrap needs a positive number of "
                           "resamples (1000 is usual; set --resamples N, or `resamples` in "
                           "conf/hydra/callbacks/report.yaml)")


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ProbingError(f"seed={seed!r}: the bootstrap seed must be a whole number >= 0 (set "
                           "--seed S, or `seed` in conf/hydra/callbacks/report.yaml)")


def _unwritable(out: Path, error: OSError) -> ProbingError:
    return ProbingError(f"cannot write the report into {out} ({error.strerror or error}); give "
                        "--out a folder that can be written and has room")


def tables_of(study: Study) -> list[Table]:
    """Every family's tables in rank order, then the layer profile and the summary."""
    return [*(table for report in study.reports.values() for table in report.tables),
            Table("layer_profile", layer_profile, Notes.layer_profile),
            Table("summary", summary, Notes.summary)]


def build_tables(study: Study) -> Tables:
    frames = {"runs": runs_table(study)} | {t.name: t.build(study) for t in tables_of(study)}
    panels = tuple(panel for report in study.reports.values() for panel in report.panels)
    return Tables(frames, encoder_titles(study), panels)


def failures(paths: list[Path]) -> pd.DataFrame:
    """Sweep jobs and run folders that failed or never finished."""
    rows = []
    listed = set()
    for status in (sweep_jobs(sweep) for sweep in sweeps_under(paths)):
        for row in status.table():
            rows.append(row | {"sweep": status.sweep_dir, "overrides": " ".join(row["overrides"])})
        listed |= {job.folder for job in status.jobs if job.folder}
    rows += unfinished_runs(paths, listed)
    columns = ["sweep", "job", "status", "overrides", "error_type", "first_line", "folder"]
    return pd.DataFrame(rows, columns=columns)


def write_tables(study: Study, tables: Tables, notes: Notes, out: Path) -> None:
    for table in tables_of(study):
        frame = tables[table.name]
        if not frame.empty or table.name == "summary":
            write_table(frame, out, table.name,
                        table.notes(notes) + notes.missing_predictions(), notes.meta(table.name),
                        echo=table.echo)


def _from(records: list[RunRecord], source: str, sources: dict[Path, str]
          ) -> list[RunRecord]:
    """The records, refused where one was read already (a report and its own run folders, or
    two copies of one report): counted twice, its seeds would narrow every interval."""
    for record in records:
        if record.folder in sources:
            raise ProbingError(
                f"the run {record.folder} is read twice, from {sources[record.folder]} and "
                f"{source}; give a report's folder or the run folders it was made from, not "
                f"both")
        sources[record.folder] = source
    return records


def report(paths: list[Path], out: Path, resamples: int, seed: int,
           left_out: frozenset[str] = frozenset()) -> Tables | None:
    """Write the report of the runs under `paths` into `out`; None where no run finished
    (the failures are written then). The records of the tasks in `left_out` are dropped from
    the committed reports among `paths`, so that a rerun of those tasks replaces them."""
    check_resamples(resamples)
    check_seed(seed)
    paths = [Path(p) for p in paths]
    archives = [p for p in paths if is_archive(p)]
    runs = [p for p in paths if p not in archives]
    failed = failures(runs)
    records, statistics, sources = [], {}, {}
    archived_tasks: set[str] = set()
    for archive in archives:
        stored, stats = load_archive(archive)
        archived_tasks |= {r.task for r in stored}
        kept = [r for r in stored if r.task not in left_out]
        records += _from(kept, f"the report {archive}", sources)
        statistics |= stats
    if left_out - archived_tasks:
        raise ProbingError(f"--leave-out {', '.join(sorted(left_out - archived_tasks))}: no "
                           f"committed report among the folders holds that task (they hold: "
                           f"{', '.join(sorted(archived_tasks)) or 'none'}); leave out only "
                           f"a task of a committed report")
    archived = frozenset(r.folder for r in records)
    try:
        records += (_from(load_records(runs), ", ".join(map(str, runs)), sources) if runs
                    else [])
    except NoRecords:
        if failed.empty and not records:
            raise  # nothing to write: no --out folder is made
    if records:
        check_one_encoder_per_name(records)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not failed.empty:
            write_table(failed, out, "failures", [f"{len(failed)} runs or jobs failed or "
                                                  "never finished; they are not in the other "
                                                  "tables."])
    except OSError as e:
        raise _unwritable(out, e) from None
    if not records:
        return None
    study = Study(records, resamples, seed, statistics, archived)
    tables = build_tables(study)
    notes = Notes(study)
    try:
        tables["runs"].to_csv(out / "runs.csv", index=False)
        write_tables(study, tables, notes, out)
        write_archive(study.records, study.used, out)
        drawn = [figure for report in study.reports.values() for figure in report.figures]
        figures = [path for figure in [*drawn, *FIGURES] for path in figure(tables, out)]
    except OSError as e:
        raise _unwritable(out, e) from None
    for note in notes.warnings():
        log.warning("%s", note)
        print(f"note: {note}")
    print(f"\nwrote {len(figures)} figure files and the tables into {out}")
    return tables
