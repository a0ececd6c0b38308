"""`python -m probing.report.readme_tables [--check] [--root DIR] [README ...]`: write every
generated table of the READMEs from the committed CSV files, so that no number is copied by
hand.

A generated table sits between two HTML comments (invisible on GitHub):

    <!-- table: results/layer_roles/minilm-l6/overview.csv columns=task,mix,E_delta digits=3 -->
    | task | mix | E_delta |
    ...
    <!-- end table -->

The first names the CSV (relative to the repository root) and, as key=value settings:
`columns` (comma-separated, in order; required), `digits` (decimals, default 3), `where` (a
pandas query choosing rows, quoted where it has spaces: where="encoder == 'minilm-l6'") and
`intervals` (yes | no: whether a column `x` with `x_lo`, `x_hi` in the CSV is shown as
"x [lo, hi]"; default yes). A benchmark's JSON may stand in for the CSV: `rows=KEY` names the
list of objects in it that are the rows, their nested keys as dotted columns
(`breakdown_share.forward`); `rows=.` makes the whole object one row. Every number is
rounded once, from the CSV's full precision, the way the report's own .md tables are
(E_delta printed "undefined" where the CSV says so).

Without --check the tables are rewritten in place. With --check nothing is written: it exits 1
naming each README and table that differs from what its CSV gives. By default the READMEs are
README.md, results/**/README.md and docs/*.md under --root (default: the current
folder).
"""

import argparse
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from probing.report.formatting import shown
from probing.utils.atomic import write_text_atomic
from probing.utils.errors import ProbingError, reported_without_traceback

# a marker starts its line, so an example indented in a code block is left alone
BLOCK = re.compile(r"^<!-- table: (?P<spec>[^\n]*?) -->\n(?P<body>.*?)^<!-- end table -->",
                   re.DOTALL | re.MULTILINE)
SETTINGS = {"columns", "digits", "where", "intervals", "rows"}


@dataclass(frozen=True)
class Table:
    source: str
    columns: list[str]
    digits: int
    where: str | None
    intervals: bool
    rows: str | None  # for a JSON source: the key of its list of rows


def parse(spec: str, where: str) -> Table:
    """The settings of one marker; `where` (README:line) names it in errors."""
    try:
        words = shlex.split(spec)
    except ValueError as e:
        raise ProbingError(f"{where}: cannot read the table marker ({e})") from None
    if not words or "=" in words[0]:
        raise ProbingError(f"{where}: the table marker names no CSV file; write "
                           "<!-- table: path/to/file.csv columns=a,b -->")
    settings = dict(word.split("=", 1) for word in words[1:] if "=" in word)
    unknown = sorted(set(settings) - SETTINGS) + [w for w in words[1:] if "=" not in w]
    if unknown:
        raise ProbingError(f"{where}: unknown table marker setting {', '.join(unknown)}; "
                           f"allowed: {', '.join(sorted(SETTINGS))} (as key=value)")
    if "columns" not in settings:
        raise ProbingError(f"{where}: the table marker needs columns=a,b,... (the CSV's "
                           "columns to show, in order)")
    try:
        digits = int(settings.get("digits", 3))
    except ValueError:
        raise ProbingError(f"{where}: digits={settings['digits']!r} is not a number") from None
    intervals = settings.get("intervals", "yes")
    if intervals not in ("yes", "no"):
        raise ProbingError(f"{where}: intervals={intervals!r}: write yes or no")
    if words[0].endswith(".json") != ("rows" in settings):
        raise ProbingError(f"{where}: rows=KEY goes with a JSON source (the key of its list of "
                           "rows), and only there")
    return Table(words[0], settings["columns"].split(","), digits, settings.get("where"),
                 intervals == "yes", settings.get("rows"))


def render(table: Table, root: Path, where: str) -> str:
    """The markdown of a table from its CSV."""
    path = root / table.source
    if not path.is_file():
        raise ProbingError(f"{where}: {table.source} not found under {root}; commit the CSV "
                           "or fix the marker's path (relative to the repository root)")
    frame = read_rows(path, table.rows, where)
    if table.where:
        try:
            frame = frame.query(table.where)
        except Exception as e:
            raise ProbingError(f"{where}: where={table.where!r} does not apply to "
                               f"{table.source} ({type(e).__name__}: {e})") from None
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise ProbingError(f"{where}: {table.source} has no column {', '.join(missing)}; it "
                           f"has {', '.join(frame.columns)}")
    if not table.intervals:
        frame = frame.drop(columns=[c for c in frame.columns if c.endswith(("_lo", "_hi"))])
    return shown(frame.reset_index(drop=True), table.digits, table.columns).to_markdown(
        index=False, disable_numparse=True)


def read_rows(path: Path, rows: str | None, where: str) -> pd.DataFrame:
    """A CSV's rows, or the objects of a JSON file's list `rows`, flattened."""
    if rows is None:
        return pd.read_csv(path)
    data = json.loads(path.read_text())
    found = [data] if rows == "." else data.get(rows)
    if not isinstance(found, list) or not all(isinstance(row, dict) for row in found):
        raise ProbingError(f"{where}: {path.name} has no list of objects under {rows!r}")
    return pd.json_normalize(found)


def rewritten(text: str, readme: Path, root: Path) -> tuple[str, list[str]]:
    """The README with every generated table written from its CSV, and the tables that
    changed (as README:line source)."""
    changed = []

    def replace(match: re.Match) -> str:
        line = text.count("\n", 0, match.start()) + 1
        where = f"{readme}:{line}"
        table = parse(match["spec"], where)
        body = render(table, root, where) + "\n"
        if body != match["body"]:
            changed.append(f"{where} (table from {table.source})")
        return f"<!-- table: {match['spec']} -->\n{body}<!-- end table -->"

    return BLOCK.sub(replace, text), changed


def readmes(root: Path) -> list[Path]:
    found = [root / "README.md", *sorted((root / "results").rglob("README.md")),
             *sorted((root / "docs").glob("*.md"))]
    return [path for path in found if path.is_file()]


def update(paths: list[Path], root: Path, check: bool) -> list[str]:
    """Rewrite (or, with `check`, compare) the generated tables; the tables that differed."""
    differing = []
    for readme in paths:
        text = readme.read_text()
        new, changed = rewritten(text, readme, root)
        differing += changed
        if changed and not check:
            write_text_atomic(readme, new)
    return differing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.report.readme_tables",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("readmes", nargs="*", type=Path,
                        help="README files (default: README.md, results/**/README.md, docs/*.md)")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the repository root, which the markers' paths start from")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 where a table differs from its CSV")
    args = parser.parse_args(argv)
    with reported_without_traceback():
        differing = update(args.readmes or readmes(args.root), args.root, args.check)
    for table in differing:
        print(f"{'differs' if args.check else 'rewrote'}: {table}",
              file=sys.stderr if args.check else sys.stdout)
    if args.check and differing:
        print("run `python -m probing.report.readme_tables` to write them from their CSV "
              "files", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
