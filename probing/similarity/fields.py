"""What a CKA record adds to the run record (`probe` section of results.json): written by the
family (family.py), read by its report (report.py), one type for both."""

from dataclasses import asdict, dataclass, fields
from typing import Any

from probing.runs.record import RunRecord


@dataclass(frozen=True)
class SimilarityFields:
    matrix: list[list[float]]  # CKA of every pair of the encoder's layers
    debiased: bool  # the unbiased HSIC estimator
    standardized: bool  # features standardised first
    words: int  # the test words compared
    against: str | None = None  # the other encoder, where one was compared
    matrix_against: list[list[float]] | None = None  # its layers against the other's

    def to_json(self) -> dict[str, Any]:
        saved = asdict(self)
        if self.matrix_against is None:
            del saved["matrix_against"]
        return saved

    @classmethod
    def of(cls, record: RunRecord) -> "SimilarityFields":
        saved = record.family_fields
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})
