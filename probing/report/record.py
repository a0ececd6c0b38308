"""The run record, results.json: everything `report` needs to know about one probe run."""

import json
from pathlib import Path

from probing.files import write_json_atomic

RECORD_NAME = "results.json"


def write_record(folder: str | Path, record: dict) -> Path:
    """Write results.json atomically: a reader never sees half a record."""
    return write_json_atomic(Path(folder) / RECORD_NAME, record)


def read_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
