"""Writing files so that a reader never sees half of one."""

import json
import os
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write to a temporary name beside `path`, then rename over it (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
        raise
    return path


def write_json_atomic(path: str | Path, value: dict) -> Path:
    return write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")
