"""README tables are written from the committed CSV files by a command, rounded once, and a
check fails where a README's table differs from what its CSV gives (a number edited by hand)."""

import pandas as pd
import pytest
from helpers import REPO

from probing.report.readme_tables import main, readmes, update

MARKER = ("<!-- table: results/study/overview.csv columns=task,mix,E_delta digits=2 "
          "where=\"encoder == 'minilm'\" -->")


def test_the_repository_readmes_match_their_csv_files():
    assert update(readmes(REPO), REPO, check=True) == []


@pytest.fixture
def repo(tmp_path):
    """A repository with a study's CSV and a README whose marked table is stale."""
    (tmp_path / "results" / "study").mkdir(parents=True)
    pd.DataFrame({
        "encoder": ["minilm", "minilm", "bert"], "task": ["upos", "deps", "upos"],
        "mix": [0.91234567, 0.8, 0.95], "mix_lo": [0.9, 0.79, 0.94],
        "mix_hi": [0.92, 0.81, 0.96],
        # 1.3645 is 1.36 rounded once, 1.37 rounded twice (1.365, then 1.37)
        "E_delta": [1.3645, 2.5, 1.2], "E_delta_lo": [1.27, 1.9, 1.1],
        "E_delta_hi": [1.46, 3.1, 1.3], "E_delta_defined": [True, False, True],
    }).to_csv(tmp_path / "results" / "study" / "overview.csv", index=False)
    readme = tmp_path / "results" / "study" / "README.md"
    readme.write_text(f"# Study\n\nBefore.\n\n{MARKER}\n| stale |\n<!-- end table -->\n\nAfter.\n")
    return tmp_path


def check(root, capsys) -> tuple[int, str]:
    try:
        main(["--check", "--root", str(root)])
    except SystemExit as e:
        return int(e.code), capsys.readouterr().err
    return 0, capsys.readouterr().err


def test_check_fails_on_a_hand_edit_and_passes_after_the_rewrite(repo, capsys):
    readme = repo / "results" / "study" / "README.md"
    status, said = check(repo, capsys)
    assert status == 1
    assert f"{readme}:5" in said and "results/study/overview.csv" in said
    assert "| stale |" in readme.read_text(), "--check writes nothing"
    main(["--root", str(repo)])
    text = readme.read_text()
    assert text.startswith("# Study\n\nBefore.\n\n") and text.endswith("\n\nAfter.\n")
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| ") and "--" not in line]
    assert rows == [["task", "mix", "E_delta"], ["upos", "0.91 [0.90, 0.92]", "1.36 [1.27, 1.46]"],
                    ["deps", "0.80 [0.79, 0.81]", "undefined"]]
    assert check(repo, capsys)[0] == 0
    readme.write_text(text.replace("1.36 [1.27", "1.37 [1.27"))  # rounded by hand
    status, said = check(repo, capsys)
    assert status == 1 and f"{readme}:5" in said


def test_bare_numbers_and_clear_errors(repo, capsys, caplog):
    readme = repo / "results" / "study" / "README.md"
    readme.write_text("<!-- table: results/study/overview.csv columns=task,mix intervals=no "
                      "digits=1 -->\n<!-- end table -->\n")
    main(["--root", str(repo)])
    cells = [line.split("|")[2].strip() for line in readme.read_text().splitlines()
             if line.startswith("| ")]
    assert cells == ["mix", "0.9", "0.8", "0.9"]
    assert "[" not in readme.read_text()
    for marker, message in (("columns=task,nope", "has no column nope"),
                            ("", "needs columns="),
                            ("columns=task colour=red", "unknown table marker setting colour"),
                            ("columns=task where=\"mix >\"", "does not apply")):
        readme.write_text(f"<!-- table: results/study/overview.csv {marker} -->\n"
                          "<!-- end table -->\n")
        with pytest.raises(SystemExit) as e:
            main(["--check", "--root", str(repo)])
        assert e.value.code == 1
        said = capsys.readouterr().err + caplog.text  # printed, or logged where logging is set
        caplog.clear()
        assert f"{readme}:1" in said and message in said and "Traceback" not in said
    readme.write_text("<!-- table: results/other.csv columns=task -->\n<!-- end table -->\n")
    with pytest.raises(SystemExit):
        main(["--root", str(repo)])
    assert "results/other.csv not found" in capsys.readouterr().err + caplog.text


def test_a_benchmark_json_as_the_source(tmp_path, capsys, caplog):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bench.json").write_text(
        '{"command": "x", "encoders": [{"model": "a", "speedup": 2.567, "share": {"write": 0.031}},'
        ' {"model": "b", "speedup": 1.0, "share": {"write": 0.5}}]}')
    readme = tmp_path / "README.md"
    readme.write_text("<!-- table: results/bench.json rows=encoders "
                      "columns=model,speedup,share.write digits=2 -->\n<!-- end table -->\n")
    main(["--root", str(tmp_path)])
    rows = [[cell.strip() for cell in line.split("|")[1:-1]]
            for line in readme.read_text().splitlines() if line.startswith("| ")]
    assert rows[1:] == [["a", "2.57", "0.03"], ["b", "1.00", "0.50"]]
    readme.write_text("<!-- table: results/bench.json rows=. columns=command -->\n"
                      "<!-- end table -->\n")
    main(["--root", str(tmp_path)])
    assert "| x " in readme.read_text()
    readme.write_text("<!-- table: results/bench.json columns=model -->\n<!-- end table -->\n")
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path)])
    assert "rows=KEY goes with a JSON source" in capsys.readouterr().err + caplog.text
