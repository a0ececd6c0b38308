"""Run an encoder over a corpus once and keep every layer's word vectors in the cache."""

import errno
import gc
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from probing.encoders.base import Encoder
from probing.features.cache import Activations, PartialCache, discard, exclusive
from probing.features.check import DamagedCache
from probing.features.layout import (
    cache_key,
    complete_folder,
    lock_file,
    partial_folder,
    shard_bounds,
)
from probing.utils.errors import ProbingError
from probing.utils.timer import Laps

log = logging.getLogger(__name__)


def extract(encoder: Encoder, sentences: list[list[str]], cache_dir: str | Path, *,
            batch_size: int, shard_size: int, desc: str = "") -> Activations:
    """Every layer of `encoder` for every word of `sentences`, from the cache or computed now.

    The corpus is cut into shards of `shard_size` consecutive sentences, each written and
    checksummed as a unit, so that an interrupted extraction resumes at its first unfinished
    shard. Within a shard, sentences are encoded longest first (in the encoder's own unit of
    size, pieces for a Transformer) in batches whose padded size stays within `batch_size`, so
    that a batch pads little. A cache that fails its check is extracted again, with a warning
    that names it. (`batch_size` and `shard_size` are the `features:` block of
    conf/config.yaml.)
    """
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if type(value) is not int or value < 1:
            raise ProbingError(f"features.{name}={value!r}: it must be a whole number of at least "
                               f"1 (conf/config.yaml, features:); fix the override or config")
    if not sentences or not all(sentences):
        raise ProbingError(f"{desc or 'corpus'}: nothing to encode, or an empty sentence; "
                           "every sentence needs at least one word")
    root = Path(cache_dir).expanduser()
    key = cache_key(encoder, sentences)
    final = complete_folder(root, key)
    activations = _reusable(final, desc, warn=False)
    if activations is None:
        with ExitStack() as locked:
            with cache_io(root):
                root.mkdir(parents=True, exist_ok=True)
                locked.enter_context(exclusive(lock_file(root, key)))
            activations = _reusable(final, desc, warn=True)
            if activations is None:
                with without_cyclic_gc():
                    _build(encoder, sentences, root, key, batch_size, shard_size, desc)
                activations = Activations.open(final, reused=False, checksums=False)
    log.info("%s: %s activations %s", desc or "corpus",
             "reused" if activations.reused else "extracted", final)
    return activations


def _reusable(final: Path, desc: str, warn: bool) -> Activations | None:
    """The complete cache when it passes its check. Under the key's lock (`warn`), a damaged
    one is deleted, with a warning, so that it is built again."""
    if not (final.exists() or final.is_symlink()):
        return None
    try:
        return Activations.open(final)
    except DamagedCache as e:
        if warn:
            log.warning("%s: %s; deleting it and extracting again", desc or "corpus", e)
            with cache_io(final.parent):
                discard(final)
        return None


def _build(encoder: Encoder, sentences: list[list[str]], root: Path, key: str,
           batch_size: int, shard_size: int, desc: str) -> None:
    lengths = np.array([len(words) for words in sentences])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    with cache_io(root):
        partial = PartialCache(partial_folder(root, key), key, offsets, encoder.n_layers,
                               encoder.dim, shard_size, {"encoder": encoder.name, "corpus": desc})
    try:
        clock = Laps()
        with clock.timing("tokenise"):
            encoder.check_words(sentences, desc)
            sizes = np.array(encoder.sizes(sentences))
        bounds = shard_bounds(len(sentences), partial.shard_size)
        pending = [s for s in range(len(bounds)) if not partial.is_done(s)]
        done = int(lengths.sum() - sum(lengths[slice(*bounds[s])].sum() for s in pending))
        with tqdm(total=int(offsets[-1]), initial=done, unit="word",
                  desc=f"extract {desc}".strip()) as progress:
            for shard in pending:
                for batch in shard_batches(sizes, *bounds[shard], batch_size):
                    _encode_batch(encoder, sentences, batch, partial, clock, desc)
                    progress.update(int(lengths[batch].sum()))
                with clock.timing("write"), cache_io(root):
                    partial.mark_done(shard)
        meta = {"key": key, "encoder": encoder.name, "fingerprint": encoder.fingerprint(),
                "settings": encoder.settings, "n_sentences": len(sentences),
                "n_words": int(offsets[-1]), "n_layers": encoder.n_layers, "dim": encoder.dim,
                "corpus": desc, "batch_size": batch_size, "seconds": clock.total(),
                "timings": {k: round(v, 3) for k, v in clock.seconds.items()},
                "created": datetime.now(UTC).isoformat(timespec="seconds")}
        with cache_io(root):
            partial.finish(complete_folder(root, key), meta)
    finally:
        partial.close()


def _encode_batch(encoder: Encoder, sentences: list[list[str]], batch: np.ndarray,
                  partial: PartialCache, clock: Laps, desc: str) -> None:
    words = [sentences[i] for i in batch]
    with clock.timing("tokenise"):
        prepared = encoder.prepare(words)
    with clock.timing("forward"):
        output = encoder.forward(prepared)
    with clock.timing("pool"):
        vectors = _finite(encoder.words(prepared, output, torch.float16), words, desc)
    with clock.timing("write"), cache_io(partial.folder.parent):
        for i, rows in zip(batch, np.split(vectors, np.cumsum([len(w) for w in words])[:-1]),
                           strict=True):
            partial.write(int(i), rows)


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Python's cycle collector off while extracting: tokenising makes many small lists, which
    set off full collections that each walk every object of the process (300,000 with torch and
    transformers loaded; 0.1-0.2 s each, most of the tokenising time on EWT dev). Extraction
    makes no reference cycles, and reference counting still frees everything it drops."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


def shard_batches(sizes: np.ndarray, start: int, end: int, budget: int
                  ) -> Iterator[np.ndarray]:
    """The batches that encode sentences [start, end): longest first, each a run of sentences
    whose padded size (count x largest) stays within `budget`."""
    indices = start + np.argsort(-sizes[start:end], kind="stable")
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


def _finite(array: torch.Tensor, words: list[list[str]], desc: str) -> np.ndarray:
    """(n_words, n_layers, dim) float16 as numpy, refused when anything is not finite (in
    float16: a value beyond its range is infinite). A float16 is infinite or NaN exactly
    when its five exponent bits are all set: one integer maximum over the bits tests them all,
    seven times faster than torch.isfinite."""
    if (array.view(torch.int16) & 0x7FFF).amax() >= 0x7C00:
        finite = torch.isfinite(array).flatten(1).all(1)
        bad = int(np.searchsorted(np.cumsum([len(w) for w in words]),
                                  int((~finite).nonzero()[0, 0]), side="right"))
        raise ProbingError(
            f"{desc}: the encoder gave non-finite values (or values beyond float16's range) for "
            f"the sentence {' '.join(words[bad])[:100]!r}; check the model's weights and dtype")
    return array.numpy()
