"""Run an encoder over a corpus once and keep every layer's word vectors in the cache."""

import errno
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from probing.encoders.base import Encoder
from probing.errors import ProbingError
from probing.features.cache import (
    FORMAT_VERSION,
    Activations,
    PartialCache,
    cache_key,
    exclusive,
    is_complete,
)

log = logging.getLogger(__name__)


def extract(encoder: Encoder, sentences: list[list[str]], cache_dir: str | Path,
            batch_size: int = 4096, shard_size: int = 1024, desc: str = "") -> Activations:
    """Every layer of `encoder` for every word of `sentences`, from the cache or computed now.

    Sentences are encoded longest first (in the encoder's own unit of size, pieces for a
    Transformer) in batches whose padded size stays within `batch_size`, so that a batch pads
    little; the order is fixed, so an interrupted extraction resumes at its first unfinished
    shard of `shard_size` sentences.
    """
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if type(value) is not int or value < 1:
            raise ProbingError(f"features.{name}={value!r}: it must be a whole number of at least "
                               f"1 (the default is {DEFAULTS[name]}); fix the override or config")
    if not sentences or not all(sentences):
        raise ProbingError(f"{desc or 'corpus'}: nothing to encode, or an empty sentence; "
                           "every sentence needs at least one word")
    root = Path(cache_dir).expanduser()
    key = cache_key(encoder, sentences)
    final = root / key
    reused = is_complete(final)
    if not reused:
        with ExitStack() as locked:
            with cache_io(root):
                root.mkdir(parents=True, exist_ok=True)
                locked.enter_context(exclusive(root / f"{key}.lock"))
            reused = is_complete(final)
            if not reused:
                _build(encoder, sentences, root, key, batch_size, shard_size, desc)
    log.info("%s: %s activations %s", desc or "corpus", "reused" if reused else "extracted",
             final)
    return Activations.open(final, reused)


def _build(encoder: Encoder, sentences: list[list[str]], root: Path, key: str,
           batch_size: int, shard_size: int, desc: str) -> None:
    lengths = np.array([len(words) for words in sentences])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    with cache_io(root):
        partial = PartialCache(root / f"{key}.partial", key, offsets, encoder.n_layers,
                               encoder.dim, shard_size, {"encoder": encoder.name, "corpus": desc})
    encoder.check_words(sentences, desc)
    sizes = np.array(encoder.sizes(sentences))
    order = np.argsort(-sizes, kind="stable")
    shards = [order[i:i + partial.shard_size] for i in range(0, len(order), partial.shard_size)]
    pending = [s for s in range(len(shards)) if not partial.is_done(s)]
    done_words = int(sum(lengths[shards[s]].sum() for s in range(len(shards)) if s not in pending))
    start = time.perf_counter()
    with tqdm(total=int(offsets[-1]), initial=done_words, unit="word",
              desc=f"extract {desc}".strip()) as progress:
        for shard in pending:
            for batch in _batches(shards[shard], sizes, batch_size):
                outputs = encoder.encode([sentences[i] for i in batch])
                arrays = [_to_float16(v, sentences[i], desc)
                          for i, v in zip(batch, outputs, strict=True)]
                with cache_io(root):
                    for i, array in zip(batch, arrays, strict=True):
                        partial.write(i, array)
                progress.update(int(lengths[batch].sum()))
            with cache_io(root):
                partial.mark_done(shard)
    meta = {"key": key, "format": FORMAT_VERSION, "encoder": encoder.name,
            "fingerprint": encoder.fingerprint(), "settings": encoder.settings,
            "n_sentences": len(sentences), "n_words": int(offsets[-1]),
            "n_layers": encoder.n_layers, "dim": encoder.dim, "corpus": desc,
            "seconds": round(time.perf_counter() - start, 2),
            "created": datetime.now(UTC).isoformat(timespec="seconds")}
    with cache_io(root):
        partial.finish(root / key, meta)


DEFAULTS = {"batch_size": 4096, "shard_size": 1024}
MOVE = ("move the cache with the environment variable PROBING_CACHE_DIR=/path or the override "
        "paths.cache_dir=/path")


@contextmanager
def cache_io(root: Path) -> Iterator[None]:
    """Turn a failure to write the cache folder into an error that names it and says how to move
    it; a ProbingError raised inside passes unchanged."""
    try:
        yield
    except ProbingError:
        raise
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what = f"the disk holding the activation cache {root} is full ({e.strerror})"
            todo = "free some space there, or " + MOVE
        elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
            what = f"cannot write the activation cache folder {root}: {e}"
            todo = "make it a writable folder, or " + MOVE
        else:
            what = f"writing the activation cache in {root} failed: {e}"
            todo = MOVE + " if this disk is the problem"
        raise ProbingError(f"{what}. To go on, {todo}.") from e


def _batches(indices: np.ndarray, sizes: np.ndarray, budget: int) -> Iterator[np.ndarray]:
    """Consecutive runs of sentences whose padded size (count x largest) stays in budget."""
    start = 0
    while start < len(indices):
        end = start + 1
        longest = sizes[indices[start]]
        while end < len(indices):
            longest = max(longest, sizes[indices[end]])
            if (end - start + 1) * longest > budget:
                break
            end += 1
        yield indices[start:end]
        start = end


def _to_float16(vectors: torch.Tensor, words: list[str], desc: str) -> np.ndarray:
    array = vectors.numpy().astype(np.float16)
    if not np.isfinite(array).all():
        raise ProbingError(
            f"{desc}: the encoder gave non-finite values (or values beyond float16's range) for "
            f"the sentence {' '.join(words)[:100]!r}; check the model's weights and dtype")
    return array
