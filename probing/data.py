"""Where the corpora live, and how to get them.

    python -m probing.data list
    python -m probing.data fetch ud-english-ewt [--dest DIR] [--mirror URL]

Corpora are read from PROBING_DATA_DIR (default ./data). `fetch` downloads each file of a
corpus from its upstream address (sources.tsv, beside this module), checks its sha256 and only
then moves it into place; files already there with the right sum are left alone. Files that
upstream ships only inside an archive (a .zip) are taken out of it, and their own sums checked;
a path with `*` is a set of files (the PTB sample) whose sum is that of their contents
concatenated in name order. `--mirror` replaces the upstream addresses by <mirror>/<path>, for a
local copy laid out like the data dir, or by <mirror>/<archive file name> for archived files.
"""

import argparse
import fnmatch
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from probing.errors import ProbingError, reported_without_traceback

SOURCES = Path(__file__).with_name("sources.tsv")
CHUNK = 1 << 20


@dataclass(frozen=True)
class CorpusFile:
    """One row of sources.tsv. `member`, when given, is the file's path inside the archive at
    `url` (matched at the end of the member's path; `*` as in the shell); a `path` with `*` in
    its name stands for every file of the archive that `member` matches."""

    path: str
    url: str
    sha256: str
    member: str = ""

    @property
    def is_set(self) -> bool:
        return "*" in self.path

    def targets(self, dest: Path) -> list[Path]:
        """The files there now: one path, or every file matching a set's pattern."""
        if self.is_set:
            return sorted((dest / self.path).parent.glob(PurePosixPath(self.path).name))
        return [dest / self.path]

    def is_ok(self, dest: Path) -> bool:
        files = self.targets(dest)
        return bool(files) and all(f.is_file() for f in files) and sha256_of(*files) == self.sha256


def data_dir() -> Path:
    return Path(os.environ.get("PROBING_DATA_DIR", "data")).expanduser().resolve()


def corpora() -> dict[str, list[CorpusFile]]:
    """Every fetchable corpus and its files, from sources.tsv."""
    table: dict[str, list[CorpusFile]] = defaultdict(list)
    for line in SOURCES.read_text().splitlines():
        if line and not line.startswith("#"):
            corpus, path, url, sha256, *member = line.split("\t")
            table[corpus].append(CorpusFile(path, url, sha256, *member))
    return dict(table)


def sha256_of(*paths: Path) -> str:
    """The sha256 of a file, or of several files' contents one after the other."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def fetch(names: list[str], dest: Path, mirror: str | None = None) -> list[Path]:
    """Make sure every file of the named corpora is in `dest` with the right sha256."""
    table = corpora()
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ProbingError(f"unknown corpus {', '.join(unknown)}; known: {', '.join(table)}")
    paths = []
    for name in names:
        archives: dict[str, list[CorpusFile]] = defaultdict(list)
        for file in table[name]:
            if file.is_ok(dest):
                continue
            if file.member:
                archives[file.url].append(file)
            else:
                url = f"{mirror.rstrip('/')}/{file.path}" if mirror else file.url
                download(url, dest / file.path, file.sha256)
        for url, files in archives.items():
            if mirror:
                url = f"{mirror.rstrip('/')}/{PurePosixPath(url).name}"
            unpack(url, files, dest)
        found = [path for file in table[name] for path in file.targets(dest)]
        paths.extend(found)
        print(f"{name}: {len(found)} files ok in {dest / name}")
    return paths


def download(url: str, target: Path, sha256: str | None) -> None:
    """Stream `url` to a temporary file beside `target`; move it into place only if the sum
    matches (None: an archive, whose members are checked), so a failed or corrupt download
    never leaves a file that would be read."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as progress:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    progress.update(len(chunk))
    except (urllib.error.URLError, OSError) as e:
        partial.unlink(missing_ok=True)
        raise ProbingError(f"could not download {url} to {target}: {e}. Check the connection, "
                           "or give --mirror a copy laid out like the data folder") from None
    if sha256 is not None and digest.hexdigest() != sha256:
        partial.unlink()
        raise ProbingError(f"{url}: sha256 {digest.hexdigest()} does not match the expected "
                           f"{sha256}; the upstream file changed or the download was corrupted. "
                           f"Nothing was written to {target}")
    os.replace(partial, target)


def unpack(url: str, files: list[CorpusFile], dest: Path) -> None:
    """Download the archive at `url` and take `files` out of it, each checked against its sum
    before it is moved into place; the archive itself is not kept."""
    scratch = Path(tempfile.mkdtemp(prefix=".fetch-", dir=_existing_parent(dest)))
    try:
        archive = scratch / PurePosixPath(url).name
        download(url, archive, None)
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")]
                for file in files:
                    matched = sorted((m for m in members if _matches(m, file.member)),
                                     key=lambda m: PurePosixPath(m).name)
                    if not matched or (len(matched) > 1 and not file.is_set):
                        raise ProbingError(
                            f"{url}: the archive holds {len(matched)} files matching "
                            f"{file.member!r}, expected {'some' if file.is_set else 'one'}; the "
                            f"upstream archive changed. Nothing was written to {dest / file.path}")
                    staged = []
                    for member in matched:
                        name = (PurePosixPath(member).name if file.is_set
                                else PurePosixPath(file.path).name)
                        out = scratch / "out" / file.path.replace("*", "_") / name
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with zf.open(member) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst, CHUNK)
                        staged.append(out)
                    found = sha256_of(*staged)
                    if found != file.sha256:
                        raise ProbingError(
                            f"{url}: {file.member} has sha256 {found}, not the expected "
                            f"{file.sha256}; the upstream archive changed or the download was "
                            f"corrupted. Nothing was written to {dest / file.path}")
                    target = dest / file.path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    for out in staged:
                        os.replace(out, target.parent / out.name)
        except zipfile.BadZipFile as e:
            raise ProbingError(f"{url} is not a readable zip archive ({e}); the download was "
                               f"corrupted or the address is wrong") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _matches(member: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(member, pattern) or fnmatch.fnmatchcase(member, f"*/{pattern}")


def _existing_parent(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_corpora(args: argparse.Namespace) -> None:
    for name, files in corpora().items():
        print(f"{name}\t{len(files)} files")


def fetch_corpora(args: argparse.Namespace) -> None:
    fetch(args.corpus, args.dest or data_dir(), args.mirror)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(required=True)
    commands.add_parser("list", help="the corpora that can be fetched").set_defaults(
        run=list_corpora)
    fetch_parser = commands.add_parser("fetch", help="download corpora and check their sums")
    fetch_parser.add_argument("corpus", nargs="+")
    fetch_parser.add_argument("--dest", type=Path, default=None,
                              help="target folder (default: PROBING_DATA_DIR, else ./data)")
    fetch_parser.add_argument("--mirror", default=None,
                              help="base URL of a copy laid out like the data folder")
    fetch_parser.set_defaults(run=fetch_corpora)
    args = parser.parse_args(argv)
    with reported_without_traceback():
        args.run(args)


if __name__ == "__main__":
    main()
