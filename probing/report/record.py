"""The run record, results.json: everything `report` needs to know about one probe run."""

import json
import os
from pathlib import Path

RECORD_NAME = "results.json"


def write_record(folder: str | Path, record: dict) -> Path:
    """Write results.json atomically: a reader never sees half a record."""
    path = Path(folder) / RECORD_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)
    return path


def read_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
