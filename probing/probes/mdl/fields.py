"""What an MDL record adds to the run record (`probe` section of results.json): written by the
family (probing/probes/mdl/__init__.py), read by its report (report.py), one type for both."""

from dataclasses import asdict, dataclass, fields
from typing import Any

from probing.runs.record import RunRecord


@dataclass(frozen=True)
class CodeFields:
    codelength_bits: float  # the online codelength of the training labels
    uniform_bits: float  # their codelength under the uniform code
    compression: float  # uniform / online
    coded: str  # what is sent, in words (a label of K; each label's presence)
    targets: int | None = None
    blocks: list[dict] | None = None  # each block's end and bits
    final_probe: dict | None = None  # the fields of the probe trained on all targets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, record: RunRecord) -> "CodeFields":
        saved = record.family_fields
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})
