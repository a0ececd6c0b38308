"""What the activation cache holds, whether it is whole, and removing from it.

    python -m probing.features list [--cache-dir DIR]          (also: probing-cache list)
    python -m probing.features check [--cache-dir DIR]
    python -m probing.features remove KEY_PREFIX... | --encoder NAME [--partial] [--damaged]
                                      [--cache-dir DIR]

The cache folder is the probe runs' `paths.cache_dir` (conf/paths/default.yaml:
PROBING_CACHE_DIR, else ~/.cache/probing); --cache-dir gives another. Each cache is one folder
named by its key (a sha256 of the encoder's weights, config and tokenizer, the alignment
settings, the words encoded and the format version), holding one corpus split under one
encoder; `<key>.partial` folders are extractions that were interrupted and resume on the next
run that needs them. `list` shows a folder that fails the quick check (metadata, file sizes) as
damaged; `check` also compares every shard's checksum. A damaged cache is extracted again by
the next run that needs it, or removed here.
"""

import argparse
import contextlib
import fcntl
import json
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from probing.config.composed import configured_cache_dir
from probing.features.cache import discard
from probing.features.check import DamagedCache, check_files, check_folder, read_meta
from probing.features.layout import (
    DONE,
    PARTIAL,
    PLAN,
    complete_folder,
    is_key,
    lock_file,
    partial_folder,
)
from probing.utils.errors import ProbingError, reported_without_traceback


@dataclass
class Entry:
    """One cache folder (complete, partial or damaged) and what its metadata says about it."""

    folder: Path
    key: str
    state: str
    info: dict
    size: int

    @property
    def encoder(self) -> str:
        return str(self.info.get("encoder") or "?")

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def disk_size(folder: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks, so a sparse file counts what it holds)."""
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            total += path.lstat().st_blocks * 512
    return total


def describe(folder: Path) -> Entry | None:
    """The entry of a cache folder (None for anything that is not one)."""
    name = folder.name
    if name.endswith(PARTIAL) and is_key(name.removesuffix(PARTIAL)) and folder.is_dir():
        try:
            info = json.loads((folder / PLAN).read_text())
        except (OSError, ValueError):
            info = {}
        info = info if isinstance(info, dict) else {}
        marks = folder / DONE
        n_done = len(list(marks.iterdir())) if marks.is_dir() else 0
        total = info.get("n_shards")
        return Entry(folder, name.removesuffix(PARTIAL),
                     f"partial {n_done}/{total} shards" if total else "partial", info,
                     disk_size(folder))
    if not is_key(name):
        return None
    try:
        meta = read_meta(folder)
        check_files(folder, meta)
        state, info = "complete", meta
    except DamagedCache as e:
        state, info = f"damaged: {e.reason}", e.meta
    return Entry(folder, name, state, info, disk_size(folder))


def scan(root: Path) -> list[Entry]:
    """Every cache folder under `root`, sorted by encoder, corpus and key."""
    if not root.is_dir():
        raise ProbingError(f"no cache folder at {root}; give the folder of the caches with "
                           f"--cache-dir, or set PROBING_CACHE_DIR")
    entries = [e for folder in root.iterdir() if (e := describe(folder)) is not None]
    return sorted(entries, key=lambda e: (e.encoder, str(e.info.get("corpus", "")), e.key))


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def list_caches(args: argparse.Namespace) -> None:
    entries = scan(args.cache_dir)
    if not entries:
        print(f"no caches in {args.cache_dir}")
        return
    rows = [[e.key[:12], e.encoder, e.info.get("corpus") or "?", e.info.get("n_sentences", "?"),
             e.info.get("n_words", e.info.get("shape", ["?"])[0]),
             "x".join(str(e.info[k]) for k in ("n_layers", "dim") if k in e.info)
             or "x".join(map(str, e.info.get("shape", [])[1:])) or "?",
             human(e.size), e.state, e.info.get("created", "")] for e in entries]
    print(tabulate(rows, headers=["key", "encoder", "corpus", "sentences", "words",
                                  "layers x dim", "on disk", "state", "created"]))
    print(f"\n{len(entries)} caches, {human(sum(e.size for e in entries))} in {args.cache_dir}")


def check_caches(args: argparse.Namespace) -> None:
    """Every complete cache's checksums; damaged ones are named with the command that removes
    them, and the exit status is 1."""
    damaged = []
    for entry in scan(args.cache_dir):
        if entry.state.startswith("partial"):
            continue
        try:
            check_folder(entry.folder)
            print(f"ok       {entry.key[:12]} {entry.encoder} {entry.info.get('corpus') or '?'}")
        except DamagedCache as e:
            damaged.append(entry.key[:12])
            print(f"damaged  {entry.key[:12]} {e.reason}")
    if damaged:
        raise ProbingError(f"{len(damaged)} damaged cache(s) in {args.cache_dir}; remove them "
                           f"with `probing-cache remove {' '.join(damaged)} --cache-dir "
                           f"{args.cache_dir}` (the next run that needs one extracts it again)")


def select(entries: list[Entry], args: argparse.Namespace) -> list[Entry]:
    chosen: dict[Path, Entry] = {}
    for prefix in args.keys:
        matches = [e for e in entries if e.key.startswith(prefix)]
        if not matches:
            raise ProbingError(f"no cache key starts with {prefix!r}; "
                               f"`probing-cache list` shows the keys")
        if len({e.key for e in matches}) > 1:
            raise ProbingError(f"{prefix!r} starts {len(matches)} keys "
                               f"({', '.join(e.key[:12] for e in matches)}); give more of the key")
        chosen.update((e.folder, e) for e in matches)
    if args.encoder is not None:
        matches = [e for e in entries if e.encoder == args.encoder]
        if not matches:
            known = sorted({e.encoder for e in entries})
            raise ProbingError(f"no cache of encoder {args.encoder!r}; encoders with caches: "
                               f"{', '.join(known) or 'none'}")
        chosen.update((e.folder, e) for e in matches)
    if args.damaged:
        chosen.update((e.folder, e) for e in entries if e.state.startswith("damaged"))
    if args.partial and not args.keys and args.encoder is None:
        chosen.update((e.folder, e) for e in entries)
    if args.partial:
        chosen = {f: e for f, e in chosen.items() if e.state.startswith("partial")}
    return list(chosen.values())


def remove(entry: Entry, root: Path) -> bool:
    """Remove one cache unless a run is extracting it right now (it holds the key's lock)."""
    lock_path = lock_file(root, entry.key)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        discard(entry.folder)
        if not any(p.exists() for p in (complete_folder(root, entry.key),
                                          partial_folder(root, entry.key))):
            lock_path.unlink(missing_ok=True)
    return True


def remove_caches(args: argparse.Namespace) -> None:
    if not args.keys and args.encoder is None and not args.partial and not args.damaged:
        raise ProbingError("say what to remove: key prefixes, --encoder NAME, --partial or "
                           "--damaged (`probing-cache list` shows what is there)")
    freed = 0
    for entry in select(scan(args.cache_dir), args):
        what = f"{entry.key[:12]} ({entry.encoder}, {entry.info.get('corpus') or '?'}, " \
               f"{entry.state})"
        try:
            removed = remove(entry, args.cache_dir)
        except OSError as e:
            raise ProbingError(f"could not remove {entry.folder}: {e}") from None
        if removed:
            freed += entry.size
            print(f"removed {what}")
        else:
            print(f"skipped {what}: a run is extracting it now")
    print(f"{human(freed)} freed in {args.cache_dir}")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="probing-cache", description=__doc__,
                                          formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", type=lambda p: Path(p).expanduser(), default=None,
                        help="the cache folder (default: paths.cache_dir of the config, "
                             "PROBING_CACHE_DIR, else ~/.cache/probing)")
    commands = main_parser.add_subparsers(required=True)
    for name, run, text in [("list", list_caches, "every cache: key, encoder, corpus, size, state"),
                            ("check", check_caches, "compare every cache with its checksums")]:
        commands.add_parser(name, parents=[common], help=text).set_defaults(run=run)
    removing = commands.add_parser("remove", parents=[common],
                                   help="remove caches by key prefix, encoder name or state")
    removing.add_argument("keys", nargs="*", metavar="KEY_PREFIX",
                          help="the start of a cache key, as `list` shows it")
    removing.add_argument("--encoder", default=None,
                          help="remove every cache of the encoder of this name")
    removing.add_argument("--partial", action="store_true",
                          help="only interrupted extractions (alone: all of them)")
    removing.add_argument("--damaged", action="store_true",
                          help="every cache that `list` shows as damaged")
    removing.set_defaults(run=remove_caches)
    return main_parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    with reported_without_traceback():
        args.cache_dir = args.cache_dir or configured_cache_dir()
        args.run(args)


if __name__ == "__main__":
    main()
