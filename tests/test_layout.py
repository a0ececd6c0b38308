"""Dependencies point one way: stages import downward (tasks, encoders and models at the bottom,
the run room above them, report and run.py on top); pretraining imports models, never the probe
side; the report knows no family and no task (each family brings its report)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "probing"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def imports_into(folder: str, rooms: set[str]) -> dict[str, list[str]]:
    """Each module under probing/<folder> that imports from probing.<room> for a room given."""
    found = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path)
                     if m.split(".")[0] == "probing" and m.split(".")[1:2]
                     and m.split(".")[1] in rooms)
        if bad:
            found[str(path.relative_to(PACKAGE.parent))] = bad
    return found


@pytest.mark.parametrize(("folder", "below"), [
    ("encoders", {"pretrain", "tasks", "features", "runs", "probes", "similarity", "report"}),
    ("models", {"pretrain", "tasks", "features", "runs", "probes", "similarity", "report"}),
    ("tasks", {"pretrain", "encoders", "features", "runs", "probes", "similarity", "report"}),
    ("features", {"pretrain", "tasks", "runs", "probes", "similarity", "report"}),
    ("runs", {"pretrain", "probes", "similarity", "report"}),
    ("report", {"pretrain", "probes", "tasks", "similarity", "encoders", "features"}),
    ("pretrain", {"tasks", "features", "runs", "probes", "similarity", "report"}),
])
def test_imports_point_down(folder, below):
    assert imports_into(folder, below) == {}
