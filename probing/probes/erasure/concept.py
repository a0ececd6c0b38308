"""The vectors an eraser is fitted on: each training target's span means at one layer."""

import numpy as np

from probing.probes.edge.spans import SpanTable

CHUNK = 8192  # spans gathered at once (their words' rows read from the memory-mapped cache)


def concept_vectors(table: SpanTable, layer: int, targets: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(samples, dim) float64 and their labels: the mean of each span's word vectors at
    `layer`, for the chosen targets, every span of a target (both of a two-span target) a
    sample with the target's label. An eraser is affine, so erasing the words erases the mean."""
    means = [span_means(table.vectors, spans[targets], layer) for spans in table.spans]
    labels = table.labels[targets]
    return np.concatenate(means), np.concatenate([labels] * len(means))


def span_means(vectors: np.ndarray, spans: np.ndarray, layer: int) -> np.ndarray:
    """The mean of rows start:end of `vectors` (n_words, n_layers, dim) at `layer`, per span."""
    means = []
    for chunk in range(0, len(spans), CHUNK):
        start, end = spans[chunk:chunk + CHUNK].T
        widths = end - start
        rows = np.repeat(start - np.r_[0, np.cumsum(widths)[:-1]], widths) + np.arange(
            widths.sum())
        summed = np.add.reduceat(np.asarray(vectors[rows, layer], dtype=np.float64),
                                 np.r_[0, np.cumsum(widths)[:-1]], axis=0)
        means.append(summed / widths[:, None])
    return np.concatenate(means) if means else np.zeros((0, vectors.shape[2]))
