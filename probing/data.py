"""Where the corpora live, and how to get them.

    python -m probing.data list
    python -m probing.data fetch ud-english-ewt [--dest DIR] [--mirror URL]

Corpora are read from PROBING_DATA_DIR (default ./data). `fetch` downloads each file of a
corpus from its upstream address (sources.tsv, beside this module), checks its sha256 and only
then moves it into place; files already there with the right sum are left alone. `--mirror`
replaces the upstream addresses by <mirror>/<path>, for a local copy laid out like the data dir.
"""

import argparse
import hashlib
import os
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from probing.errors import ProbingError, reported_without_traceback

SOURCES = Path(__file__).with_name("sources.tsv")
CHUNK = 1 << 20


@dataclass(frozen=True)
class CorpusFile:
    path: str
    url: str
    sha256: str


def data_dir() -> Path:
    return Path(os.environ.get("PROBING_DATA_DIR", "data")).expanduser().resolve()


def corpora() -> dict[str, list[CorpusFile]]:
    """Every fetchable corpus and its files, from sources.tsv."""
    table: dict[str, list[CorpusFile]] = defaultdict(list)
    for line in SOURCES.read_text().splitlines():
        if line and not line.startswith("#"):
            corpus, path, url, sha256 = line.split("\t")
            table[corpus].append(CorpusFile(path, url, sha256))
    return dict(table)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
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
        for file in table[name]:
            target = dest / file.path
            if not (target.is_file() and sha256_of(target) == file.sha256):
                url = f"{mirror.rstrip('/')}/{file.path}" if mirror else file.url
                download(url, target, file.sha256)
            paths.append(target)
        print(f"{name}: {len(table[name])} files ok in {dest / name}")
    return paths


def download(url: str, target: Path, sha256: str) -> None:
    """Stream `url` to a temporary file beside `target`; move it into place only if the sum
    matches, so a failed or corrupt download never leaves a file that would be read."""
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
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise ProbingError(f"{url}: sha256 {digest.hexdigest()} does not match the expected "
                           f"{sha256}; the upstream file changed or the download was corrupted. "
                           f"Nothing was written to {target}")
    os.replace(partial, target)


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
