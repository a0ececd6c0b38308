"""Data helpers every objective shares: a split of the corpus as flat id arrays, the on-disk
cache that holds them, and the deterministic random streams and batch rows of an epoch."""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.pretrain.corpus import Document
from probing.utils.atomic import delete, removal_name, write_json_atomic, written_in_place
from probing.utils.checksums import file_checksum

log = logging.getLogger(__name__)

# (ids, lengths) of word-split sentences: flat ids, and how many belong to each sentence.
Encode = Callable[[list[list[str]]], tuple[np.ndarray, np.ndarray]]


@dataclass
class TokenizedText:
    """One split of the corpus as ids: sentence i is ids[sentences[i]:sentences[i + 1]] and
    document j is sentences documents[j]:documents[j + 1]."""

    ids: np.ndarray
    sentences: np.ndarray
    documents: np.ndarray

    FILES = ("ids", "sentences", "documents")

    @classmethod
    def from_documents(cls, encode: Encode, documents: list[Document]) -> "TokenizedText":
        ids, lengths, per_document = [], [], []
        for doc in documents:
            doc_ids, doc_lengths = encode(doc.sentences)
            doc_lengths = doc_lengths[doc_lengths > 0]  # sentences of stray characters only
            if len(doc_lengths):
                ids.append(doc_ids)
                lengths.append(doc_lengths)
                per_document.append(len(doc_lengths))
        return cls(np.concatenate(ids), offsets(np.concatenate(lengths)),
                   offsets(np.array(per_document)))

    @classmethod
    def open(cls, folder: Path) -> "TokenizedText":
        return cls(*(np.load(folder / f"{name}.npy", mmap_mode="r") for name in cls.FILES))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        for name in self.FILES:
            np.save(folder / f"{name}.npy", getattr(self, name))

    @property
    def n_documents(self) -> int:
        return len(self.documents) - 1

    @property
    def n_sentences(self) -> int:
        return len(self.sentences) - 1


def offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def cached_folder(cache_dir: Path, prefix: str, settings: dict,
                  build: Callable[[Path], dict]) -> Path:
    """The cache folder `<prefix>-<hash of settings>`, made by `build(folder)` (which returns
    what `meta.json` records besides the settings) unless a whole one exists. Built under a
    temporary name and renamed into place; `meta.json` records every file's size and checksum,
    and a folder whose files do not match them (a bit flipped, a file cut short or missing) is
    rebuilt with a warning that names it, never used."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
    folder = cache_dir / f"{prefix}-{key}"
    if folder.exists():
        damage = _damage(folder)
        if damage is None:
            log.info("%s: reusing %s", prefix, folder)
            return folder
        log.warning("%s: the cache %s is damaged (%s); building it again", prefix, folder,
                    damage)
        delete(folder, removal_name(folder))  # gone already where another torchrun rank was first
    # keep_existing: where another process finished the same cache first, its folder is kept
    with written_in_place(folder, keep_existing=True) as tmp:
        meta = build(tmp)
        files = {str(path.relative_to(tmp)): {"size": path.stat().st_size,
                                              "xxh3": file_checksum(path)}
                 for path in sorted(tmp.rglob("*")) if path.is_file()}
        write_json_atomic(tmp / "meta.json", {**settings, **meta, "files": files})
    return folder


def _damage(folder: Path) -> str | None:
    """What is wrong with a cache folder, or None where every file matches meta.json."""
    try:
        files = json.loads((folder / "meta.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "meta.json is missing, cut short or of an older version"
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} has {path.stat().st_size} bytes, not {expected['size']}"
        if file_checksum(path) != expected["xxh3"]:
            return f"{name} does not match its checksum"
    return None


def random_stream(*key: int) -> np.random.Generator:
    """The random stream of one purpose: key = (seed, split, epoch, tag, ...)."""
    return np.random.default_rng(list(key))


def step_rows(order: np.ndarray, batch_size: int, rank: int, world_size: int
              ) -> list[np.ndarray]:
    """This process's batches: `order` cut into steps of batch_size x world_size examples (the
    incomplete last step dropped, so that every process has as many), step i giving process r
    its r-th slice."""
    per_step = batch_size * world_size
    n_steps = len(order) // per_step
    return list(order[:n_steps * per_step].reshape(n_steps, world_size, batch_size)[:, rank])
