"""Dependencies point one way: encoders and models never reach into pretraining."""

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


@pytest.mark.parametrize("folder", ["encoders", "models"])
def test_no_import_of_pretraining(folder):
    for path in sorted((PACKAGE / folder).glob("*.py")):
        back = {m for m in imported_modules(path) if m.split(".")[:2] == ["probing", "pretrain"]}
        assert not back, f"{path.relative_to(PACKAGE.parent)} imports {sorted(back)}"
