"""Tables for reading: numbers rounded once from their full precision, each `x` with its
interval as "x [lo, hi]", E_delta printed "undefined" where it is, and each table written as
.csv (full precision), .md and .tex (with its notes: what was resampled, how often) and a .json
sidecar holding the same notes."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from probing.utils.atomic import write_text_atomic

DIGITS = 3
# columns printed "undefined" where the row's flag says so (the CSV keeps the numbers)
GATED = {"E_delta": "E_delta_defined", "E_delta_clipped": "E_delta_defined",
         "depth": "E_delta_defined", "depth_clipped": "E_delta_defined"}
HIDDEN = {"E_delta_defined"}  # said by the cells themselves
UNDEFINED = "undefined"
MISSING = "–"


def shown(frame: pd.DataFrame, digits: int = DIGITS, columns: list[str] | None = None
          ) -> pd.DataFrame:
    """The table for reading: `columns` (default: all but bounds and flags), each `x` with
    `x_lo`, `x_hi` as one column "x [lo, hi]"."""
    if columns is None:
        columns = [c for c in frame.columns if c not in HIDDEN
                   and not (c.endswith(("_lo", "_hi")) and c[:-3] in frame.columns)]
    table = pd.DataFrame(index=frame.index)
    for column in columns:
        table[column] = [_cell(frame, column, index, digits) for index in frame.index]
    return table


def _cell(frame: pd.DataFrame, column: str, index, digits: int) -> str:
    value = frame.at[index, column]
    flag = GATED.get(column)
    if flag in frame.columns and not _missing(frame.at[index, flag]) and not _true(
            frame.at[index, flag]):
        return UNDEFINED
    if column.endswith("_share"):
        return MISSING if _missing(value) else f"{100 * float(value):.1f}%"
    if column == "layer" and not _missing(value) and int(value) < 0:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if _missing(value):
        return MISSING
    if isinstance(value, float | np.floating):
        text = f"{value:.{digits}f}"
        if f"{column}_lo" in frame.columns:
            lo, hi = frame.at[index, f"{column}_lo"], frame.at[index, f"{column}_hi"]
            # no interval where there is nothing to resample (one seed of a seed statistic)
            if not _missing(lo) and not _missing(hi) and f"{lo:.{digits}f}" != f"{hi:.{digits}f}":
                text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
        return text
    return str(value)


def _true(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating)
                                               and np.isnan(value))


def _latex_text(text: str) -> str:
    for raw, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
                         ("_", r"\_"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"),
                         ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        text = text.replace(raw, escaped)
    return text


def write_table(frame: pd.DataFrame, out: Path, name: str, notes: list[str],
                meta: dict | None = None, echo: bool = True) -> list[Path]:
    """<name>.csv (full precision), .md and .tex (the notes below the table, as its
    caption), and <name>.json (the notes and `meta`: resamples, seed, what was resampled)."""
    frame.to_csv(out / f"{name}.csv", index=False)
    if "step" in frame and len(frame) and (frame["step"] < 0).all():
        frame = frame.drop(columns="step")  # no checkpoint steps: no column to read
    table = shown(frame)
    markdown = table.to_markdown(index=False, disable_numparse=True) if len(table) \
        else "(no rows)"
    text = markdown + "\n" + "".join(f"\n{note}\n" for note in notes)
    write_text_atomic(out / f"{name}.md", text)
    caption = _latex_text(" ".join(notes)) or None
    write_text_atomic(out / f"{name}.tex", table.to_latex(index=False, escape=True,
                                                          caption=caption))
    sidecar = {"table": name, "notes": notes, **(meta or {}),
               "columns": list(frame.columns)}
    write_text_atomic(out / f"{name}.json", json.dumps(sidecar, indent=2, default=str) + "\n")
    if echo:
        print(f"\n## {name}\n\n{text}")
    return [out / f"{name}.{suffix}" for suffix in ("csv", "md", "tex", "json")]
