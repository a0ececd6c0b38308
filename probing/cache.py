"""What the activation cache holds, and removing from it.

    python -m probing.cache list [--cache-dir DIR]
    python -m probing.cache remove KEY_PREFIX... | --encoder NAME [--partial] [--cache-dir DIR]

The cache folder is PROBING_CACHE_DIR (default ~/.cache/probing), as for probe runs; probe runs
moved elsewhere with paths.cache_dir=... need --cache-dir. Each cache is one folder named by its
key (a sha256 of the encoder's weights, config and tokenizer, the alignment settings, the words
encoded and the format version), holding one corpus split under one encoder; `<key>.partial`
folders are extractions that were interrupted and resume on the next run that needs them.
"""

import argparse
import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from probing.errors import ProbingError, reported_without_traceback

PARTIAL = ".partial"


def default_cache_dir() -> Path:
    return Path(os.environ.get("PROBING_CACHE_DIR", "~/.cache/probing")).expanduser()


@dataclass
class Entry:
    """One cache folder, complete or partial, and what its metadata says about it."""

    folder: Path
    key: str
    complete: bool
    info: dict
    size: int

    @property
    def encoder(self) -> str:
        return str(self.info.get("encoder") or "?")

    @property
    def state(self) -> str:
        if self.complete:
            return "complete"
        done = self.folder / "done"
        n_done = len(list(done.iterdir())) if done.is_dir() else 0
        total = self.info.get("n_shards")
        return f"partial {n_done}/{total} shards" if total else "partial"


def disk_size(folder: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks, so a sparse file counts what it holds)."""
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            total += path.lstat().st_blocks * 512
    return total


def scan(root: Path) -> list[Entry]:
    """Every cache folder under `root`, sorted by encoder, corpus and key."""
    if not root.is_dir():
        raise ProbingError(f"no cache folder at {root}; give the folder of the caches with "
                           f"--cache-dir, or set PROBING_CACHE_DIR")
    entries = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        complete = not folder.name.endswith(PARTIAL)
        key = folder.name.removesuffix(PARTIAL)
        info_file = folder / ("meta.json" if complete else "plan.json")
        if complete and not info_file.is_file():
            continue  # not a cache (a folder being removed, or something else)
        try:
            info = json.loads(info_file.read_text())
        except (OSError, ValueError):
            info = {}
        entries.append(Entry(folder, key, complete, info if isinstance(info, dict) else {},
                             disk_size(folder)))
    return sorted(entries, key=lambda e: (e.encoder, str(e.info.get("corpus", "")), e.key))


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def list_caches(args: argparse.Namespace) -> None:
    root = args.cache_dir or default_cache_dir()
    entries = scan(root)
    if not entries:
        print(f"no caches in {root}")
        return
    rows = [[e.key[:12], e.encoder, e.info.get("corpus") or "?", e.info.get("n_sentences", "?"),
             e.info.get("n_words", e.info.get("shape", ["?"])[0]),
             "x".join(str(e.info[k]) for k in ("n_layers", "dim") if k in e.info)
             or "x".join(map(str, e.info.get("shape", [])[1:])) or "?",
             human(e.size), e.state, e.info.get("created", "")] for e in entries]
    print(tabulate(rows, headers=["key", "encoder", "corpus", "sentences", "words",
                                  "layers x dim", "on disk", "state", "created"]))
    print(f"\n{len(entries)} caches, {human(sum(e.size for e in entries))} in {root}")


def select(entries: list[Entry], prefixes: list[str], encoder: str | None,
           partial_only: bool) -> list[Entry]:
    chosen: dict[Path, Entry] = {}
    for prefix in prefixes:
        matches = [e for e in entries if e.key.startswith(prefix)]
        if not matches:
            raise ProbingError(f"no cache key starts with {prefix!r}; "
                               f"`python -m probing.cache list` shows the keys")
        if len({e.key for e in matches}) > 1:
            raise ProbingError(f"{prefix!r} starts {len(matches)} keys "
                               f"({', '.join(e.key[:12] for e in matches)}); give more of the key")
        chosen.update((e.folder, e) for e in matches)
    if encoder is not None:
        matches = [e for e in entries if e.encoder == encoder]
        if not matches:
            known = sorted({e.encoder for e in entries})
            raise ProbingError(f"no cache of encoder {encoder!r}; encoders with caches: "
                               f"{', '.join(known) or 'none'}")
        chosen.update((e.folder, e) for e in matches)
    if partial_only and not prefixes and encoder is None:
        chosen.update((e.folder, e) for e in entries)
    if partial_only:
        chosen = {f: e for f, e in chosen.items() if not e.complete}
    return list(chosen.values())


def remove(entry: Entry, root: Path) -> bool:
    """Remove one cache unless a run is extracting it right now (it holds the key's lock).

    The folder is first renamed away, so that no run ever opens a cache half deleted."""
    lock_path = root / f"{entry.key}.lock"
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        doomed = entry.folder.with_name(f".removing-{entry.folder.name}-{os.getpid()}")
        os.replace(entry.folder, doomed)
        shutil.rmtree(doomed)
        if not (root / entry.key).exists() and not (root / f"{entry.key}{PARTIAL}").exists():
            lock_path.unlink(missing_ok=True)
    return True


def remove_caches(args: argparse.Namespace) -> None:
    root = args.cache_dir or default_cache_dir()
    if not args.keys and args.encoder is None and not args.partial:
        raise ProbingError("say what to remove: key prefixes, --encoder NAME or --partial "
                           "(`python -m probing.cache list` shows what is there)")
    chosen = select(scan(root), args.keys, args.encoder, args.partial)
    freed = 0
    for entry in chosen:
        what = f"{entry.key[:12]} ({entry.encoder}, {entry.info.get('corpus') or '?'}, " \
               f"{entry.state})"
        try:
            removed = remove(entry, root)
        except OSError as e:
            raise ProbingError(f"could not remove {entry.folder}: {e}") from None
        if removed:
            freed += entry.size
            print(f"removed {what}")
        else:
            print(f"skipped {what}: a run is extracting it now")
    print(f"{human(freed)} freed in {root}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.cache", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", type=lambda p: Path(p).expanduser(), default=None,
                        help="the cache folder (default: PROBING_CACHE_DIR, else "
                             "~/.cache/probing)")
    commands = parser.add_subparsers(required=True)
    commands.add_parser("list", parents=[common],
                        help="every cache: key, encoder, corpus, size on disk").set_defaults(
        run=list_caches)
    remove_parser = commands.add_parser("remove", parents=[common],
                                        help="remove caches by key prefix or encoder name")
    remove_parser.add_argument("keys", nargs="*", metavar="KEY_PREFIX",
                               help="the start of a cache key, as `list` shows it")
    remove_parser.add_argument("--encoder", default=None,
                               help="remove every cache of the encoder of this name")
    remove_parser.add_argument("--partial", action="store_true",
                               help="only interrupted extractions (alone: all of them)")
    remove_parser.set_defaults(run=remove_caches)
    args = parser.parse_args(argv)
    with reported_without_traceback():
        args.run(args)


if __name__ == "__main__":
    main()
