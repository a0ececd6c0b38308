"""`python -m probing.data fetch` against a local HTTP server, never the internet."""

import functools
import http.server
import shutil
import subprocess
import sys
import threading

import pytest

from probing.data import corpora, fetch, sha256_of
from probing.errors import ProbingError


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
            assert file.url.startswith("https://") and len(file.sha256) == 64


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
