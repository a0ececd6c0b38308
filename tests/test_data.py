"""`python -m probing.data fetch` against a local HTTP server, never the internet."""

import errno
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading

import pytest

from probing import data
from probing.config.composed import composed_paths
from probing.data import CHECKSUM, corpora, fetch, git_blob_id, sha256_of
from probing.utils.errors import ProbingError


@pytest.fixture
def serve():
    """Serve a folder on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def start(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_every_source_has_a_url_and_a_sum():
    for files in corpora().values():
        for file in files:
            assert file.url.startswith("https://") and CHECKSUM.fullmatch(file.checksum)


def test_fetch_downloads_and_verifies(data_dir, serve, tmp_path):
    mirror = serve(data_dir)
    paths = fetch(["ud-english-ewt"], tmp_path, mirror)
    assert len(paths) == 3
    for path in paths:
        relative = path.relative_to(tmp_path)
        assert sha256_of(path) == sha256_of(data_dir / relative)
    assert not list(tmp_path.rglob("*.part"))


def test_fetch_keeps_good_files_and_needs_no_server_for_them(data_dir, tmp_path):
    shutil.copytree(data_dir / "elmo-fixture", tmp_path / "elmo-fixture")
    expected = {tmp_path / file.path for file in corpora()["elmo-fixture"]}
    before = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in expected}
    paths = fetch(["elmo-fixture"], tmp_path, mirror="http://127.0.0.1:9")  # nothing listens
    assert set(paths) == expected and len(paths) == len(expected)
    after = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in expected}
    assert after == before, "files with the right sum are kept as they are, not downloaded again"
    assert not list(tmp_path.rglob("*.part"))


def test_corrupt_download_is_refused_and_leaves_nothing(data_dir, serve, tmp_path):
    bad = tmp_path / "mirror" / "elmo-fixture"
    shutil.copytree(data_dir / "elmo-fixture", bad)
    (bad / "options.json").write_text("{}")
    dest = tmp_path / "dest"
    with pytest.raises(ProbingError, match="does not match the expected"):
        fetch(["elmo-fixture"], dest, serve(tmp_path / "mirror"))
    assert not (dest / "elmo-fixture" / "options.json").exists()
    assert not list(dest.rglob("*.part"))


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(ProbingError, match="could not download"):
        fetch(["elmo-fixture"], tmp_path, mirror="http://127.0.0.1:9")


def test_command_line(data_dir, serve, tmp_path):
    mirror = serve(data_dir)
    ok = subprocess.run([sys.executable, "-m", "probing.data", "fetch", "elmo-fixture",
                         "--dest", str(tmp_path), "--mirror", mirror],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "elmo-fixture" / "lm_weights.hdf5").is_file()
    unknown = subprocess.run([sys.executable, "-m", "probing.data", "fetch", "no-such-corpus"],
                             capture_output=True, text=True)
    assert unknown.returncode == 1
    assert "unknown corpus no-such-corpus" in unknown.stderr
    assert "Traceback" not in unknown.stderr


CONFIG_CORPORA = {"ud-english-ewt", "uner-english-ewt", "semeval2010-task8", "ptb-sample",
                  "elmo-fixture", "gutenberg"}


def test_every_corpus_and_file_of_the_data_folder_is_fetchable(data_dir):
    table = corpora()
    assert set(table) == CONFIG_CORPORA
    covered = {f.path: f.checksum for files in table.values() for f in files}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        sha256, path = line.split(maxsplit=1)
        if path.endswith("LICENSE.txt"):
            continue
        path = path.split(" (")[0]  # "ptb-sample/*.mrg (concatenated in name order)"
        assert covered.get(path) == sha256, path
    manifest = (data_dir / "gutenberg" / "MANIFEST.tsv").read_text().splitlines()[1:]
    for row in manifest:
        pg_id, _, _, repo, commit, source, _, sha256 = row.split("\t")
        book = next(f for f in table["gutenberg"] if f.path == f"gutenberg/pg{pg_id}.txt")
        assert book.checksum == sha256
        assert book.url == f"https://raw.githubusercontent.com/{repo}/{commit}/{source}"
    # The data folder lacks UNER's training file (its README says so); every other file is there
    absent = [f.path for files in table.values() for f in files if not f.targets(data_dir)
              or not all(path.exists() for path in f.targets(data_dir))]
    assert set(absent) <= {"uner-english-ewt/en_ewt-ud-train.iob2"}
    for files in table.values():
        for file in files:
            assert file.path in absent or file.is_ok(data_dir), file.path


def test_uner_is_pinned_to_a_full_commit():
    import re

    for file in corpora()["uner-english-ewt"]:
        assert re.search(r"/UNER_English-EWT/[0-9a-f]{40}/", file.url), file.url


def zip_folder(archive, files):
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        for name, path in files.items():
            zf.write(path, name)
    return archive


@pytest.fixture
def archives(data_dir, tmp_path):
    """The upstream archives of SemEval-2010 Task 8 and the PTB sample, rebuilt from the data
    folder with the upstream layout, in a folder served as a file:// mirror."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    semeval = data_dir / "semeval2010-task8"
    top = "SemEval2010_task8_all_data"
    zip_folder(mirror / "SemEval2010_task8_all_data.zip", {
        f"{top}/SemEval2010_task8_training/TRAIN_FILE.TXT": semeval / "TRAIN_FILE.TXT",
        f"{top}/SemEval2010_task8_training/README.TXT": semeval / "TRAIN_FILE.TXT",
        f"{top}/SemEval2010_task8_testing_keys/TEST_FILE_FULL.TXT": semeval / "TEST_FILE_FULL.TXT",
        f"{top}/SEMEVAL_TASK8_FULL_RELEASE_README.txt":
            semeval / "SEMEVAL_TASK8_FULL_RELEASE_README.txt"})
    ptb = {f"treebank/combined/{p.name}": p
           for p in sorted((data_dir / "ptb-sample").glob("*.mrg"))}
    ptb["treebank/README"] = data_dir / "ptb-sample" / "README.txt"
    ptb["treebank/tagged/wsj_0001.pos"] = data_dir / "ptb-sample" / "README.txt"
    zip_folder(mirror / "treebank.zip", ptb)
    return mirror


def test_files_taken_out_of_archives_are_checked(data_dir, archives, tmp_path):
    dest = tmp_path / "dest"
    paths = fetch(["semeval2010-task8", "ptb-sample"], dest, archives.as_uri())
    assert len(paths) == 3 + 199
    for path in paths:
        assert sha256_of(path) == sha256_of(data_dir / path.relative_to(dest))
    assert sorted(p.name for p in (dest / "ptb-sample").iterdir())[0] == "wsj_0001.mrg"
    assert not [p for p in dest.rglob("*") if p.name.startswith(".fetch") or
                p.suffix in (".part", ".zip")]
    fetch(["semeval2010-task8", "ptb-sample"], dest, "http://127.0.0.1:9")  # all there: no server


def test_changed_archive_member_is_refused(data_dir, archives, tmp_path):
    mrg = sorted((data_dir / "ptb-sample").glob("*.mrg"))
    bad = tmp_path / "wsj_0002.mrg"
    bad.write_text("(changed)")
    zip_folder(archives / "treebank.zip",
               {f"treebank/combined/{p.name}": (bad if p.name == bad.name else p) for p in mrg})
    dest = tmp_path / "dest"
    with pytest.raises(ProbingError, match=r"combined/wsj_\*.mrg has sha256 .* not the expected"):
        fetch(["ptb-sample"], dest, archives.as_uri())
    assert not list(dest.rglob("*.mrg"))
    assert not list(dest.glob(".fetch-*"))
    (archives / "treebank.zip").write_text("not a zip")
    with pytest.raises(ProbingError, match="is not a readable zip archive"):
        fetch(["ptb-sample"], dest, archives.as_uri())


def test_file_url_mirror_for_plain_files(data_dir, tmp_path, monkeypatch):
    """A mirror as a file:// URL, or as a folder relative to the working folder (as the README's
    PROBING_DATA_DIR=../shared/data is)."""
    expected = [f.checksum for f in corpora()["elmo-fixture"]]
    paths = fetch(["elmo-fixture"], tmp_path / "a", data_dir.as_uri())
    assert [sha256_of(p) for p in paths] == expected
    monkeypatch.chdir(data_dir.parent)
    paths = fetch(["elmo-fixture"], tmp_path / "b", f"../{data_dir.parent.name}/{data_dir.name}")
    assert [sha256_of(p) for p in paths] == expected


def test_uner_training_file_is_pinned_by_its_git_blob_id():
    [train] = [f for f in corpora()["uner-english-ewt"] if f.path.endswith("train.iob2")]
    assert train.url == ("https://raw.githubusercontent.com/UniversalNER/UNER_English-EWT/"
                         "8ed072de2fd24022cc62458997fe96a8fe191ea4/en_ewt-ud-train.iob2")
    assert train.checksum == "git-blob:b2423d72f37f2226e56cbe750da76f820e6c36a9"


def test_git_blob_id_is_what_git_prints(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_text("hello\n")
    assert git_blob_id(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    (tmp_path / "empty").write_bytes(b"")
    assert git_blob_id(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


@pytest.fixture
def blob_source(tmp_path, monkeypatch):
    """A corpus of one file pinned by its git blob id, in a mirror folder; the sources table
    points at it. Returns (mirror folder, the file's content)."""
    content = b"1\tAnn\tB-PER\n2\tran\tO\n\n"
    mirror = tmp_path / "mirror" / "toy"
    mirror.mkdir(parents=True)
    (mirror / "train.iob2").write_bytes(content)
    table = tmp_path / "sources.tsv"
    table.write_text(f"toy\ttoy/train.iob2\thttps://example.invalid/train.iob2\t"
                     f"git-blob:{git_blob_id(mirror / 'train.iob2')}\n")
    monkeypatch.setattr(data, "SOURCES", table)
    return mirror.parent, content


def test_file_pinned_by_git_blob_id_is_fetched_and_checked(blob_source, tmp_path):
    mirror, content = blob_source
    [path] = fetch(["toy"], tmp_path / "dest", mirror.as_uri())
    assert path.read_bytes() == content
    fetch(["toy"], tmp_path / "dest", "http://127.0.0.1:9")  # right id already there: no server
    (mirror / "toy" / "train.iob2").write_bytes(content.replace(b"PER", b"ORG"))
    with pytest.raises(ProbingError, match=r"git blob id git-blob:[0-9a-f]{40} does not match "
                                           r"the expected git-blob:"):
        fetch(["toy"], tmp_path / "other", mirror.as_uri())
    assert not (tmp_path / "other" / "toy" / "train.iob2").exists()
    assert not list((tmp_path / "other").rglob("*.part"))


def test_default_destination_is_the_configs_data_dir(data_dir, tmp_path):
    dest = tmp_path / "data"
    env = {**os.environ, "PROBING_DATA_DIR": str(dest)}
    result = subprocess.run([sys.executable, "-m", "probing.data", "fetch", "elmo-fixture",
                             "--mirror", str(data_dir)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (dest / "elmo-fixture" / "options.json").is_file()


def test_paths_come_from_the_composed_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROBING_DATA_DIR", "corpora")
    assert data.data_dir() == tmp_path / "corpora"
    assert composed_paths().data_dir == "corpora"
    monkeypatch.delenv("PROBING_DATA_DIR")
    assert data.data_dir() == tmp_path / "data"  # the YAML's default
    assert composed_paths(["paths.cache_dir=/scratch/cache"]).cache_dir == "/scratch/cache"


# --- fetches that fail half-way -------------------------------------------------------------

class FailingFile:
    """A file whose writes fail as a full disk (or another error) does."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, chunk):
        raise self.error


def opened_as(monkeypatch, make):
    """Make probing.data's open(path, "wb") give `make(path)`; reading is left as it is."""
    real = open

    def fake(path, mode="r", *args, **kwargs):
        return make(path) if "w" in mode else real(path, mode, *args, **kwargs)

    monkeypatch.setattr(data, "open", fake, raising=False)


def test_a_full_disk_is_named_as_such_and_leaves_nothing(data_dir, serve, tmp_path, monkeypatch):
    mirror = serve(data_dir)
    opened_as(monkeypatch, lambda path: FailingFile(OSError(errno.ENOSPC,
                                                            "No space left on device")))
    with pytest.raises(ProbingError, match=r"cannot write .*options\.json \(No space left on "
                                           r"device\): free space there, or fetch into a folder "
                                           r"you can write with --dest") as caught:
        fetch(["elmo-fixture"], tmp_path, mirror)
    assert "connection" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_read_only_destination_is_named(data_dir, serve, tmp_path, monkeypatch):
    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    opened_as(monkeypatch, read_only)
    with pytest.raises(ProbingError, match=r"cannot write .* \(Read-only file system\)"):
        fetch(["elmo-fixture"], tmp_path, serve(data_dir))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(ProbingError, match=r"cannot write .*a-file/elmo-fixture"):
        fetch(["elmo-fixture"], blocked, serve(data_dir))


def test_an_interrupted_fetch_leaves_no_partial_file(data_dir, serve, tmp_path, monkeypatch):
    opened_as(monkeypatch, lambda path: FailingFile(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        fetch(["elmo-fixture"], tmp_path, serve(data_dir))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


class CutShortHandler(QuietHandler):
    """Announces the whole file, sends half of it and hangs up."""

    def do_GET(self):
        body = b"x" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:500])
        self.wfile.flush()
        self.close_connection = True


def test_a_download_cut_short_is_refused(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShortHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProbingError, match=r"stopped after 500 of 1000 bytes; run the "
                                               r"fetch again"):
            fetch(["elmo-fixture"], tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_web_page_in_place_of_the_file_is_named(data_dir, serve, tmp_path):
    mirror = tmp_path / "mirror" / "elmo-fixture"
    shutil.copytree(data_dir / "elmo-fixture", mirror)
    (mirror / "options.json").write_text("<!DOCTYPE html>\n<html><body>Proxy authentication "
                                         "required</body></html>\n")
    with pytest.raises(ProbingError, match=r"answered with a web page, not the file \(a "
                                           r"proxy's or a login page\?\)"):
        fetch(["elmo-fixture"], tmp_path / "dest", serve(tmp_path / "mirror"))
    assert not (tmp_path / "dest" / "elmo-fixture" / "options.json").exists()


def test_a_fetch_into_an_unwritable_folder_prints_no_traceback(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = subprocess.run([sys.executable, "-m", "probing.data", "fetch", "elmo-fixture",
                             "--dest", str(blocked), "--mirror", "http://127.0.0.1:9"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
