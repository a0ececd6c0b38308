"""Tenney et al.'s (2019) edge-probing classifier over a scalar mix of frozen layers, K probes
side by side (one per set of layers a run probes)."""

import torch
from torch import nn

from probing.probes import bank
from probing.probes.edge.spans import SpanBatch
from probing.probes.scalar_mix import ScalarMix


class SelfAttentivePooling(nn.Module):
    """A span's vector: its words' vectors averaged with learned, softmax-normalised scores,
    alpha = softmax_i(w . x_i) over the words of the span (Lee et al. 2017)."""

    def __init__(self, n_probes: int, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.score = bank.Linear(n_probes, dim, 1, generator)

    def forward(self, rows: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
                ) -> torch.Tensor:
        """rows: (K, n_rows, dim) word vectors; positions: (batch, width) each span's words
        among the rows, mask: (batch, width) true on words of the span -> (K, batch, dim).

        A word's score does not depend on the span, so it is computed once a row. Spans of one
        word are their word. Longer ones are a (batch, n_rows) matrix of attention weights
        times the rows: nested constituents share most of their words, and one matrix product
        costs far less than gathering (batch, width, dim) copies and scattering their gradients
        back."""
        if positions.shape[1] == 1:
            return rows[:, positions[:, 0]]
        scores = self.score(rows).squeeze(-1)[:, positions]  # (K, batch, width)
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        weights = alpha.new_zeros(*alpha.shape[:2], rows.shape[1])
        weights.scatter_add_(2, positions.expand_as(alpha), alpha)
        return weights @ rows


class EdgeProbes(nn.Module):
    """Per probe: ScalarMix over its layers -> per span: projection to `proj_dim` and
    self-attentive pooling -> concatenated spans -> MLP (hidden_dim, tanh, LayerNorm, dropout)
    -> label logits.

    Span 1 and span 2 (for relations between two spans) have their own projection and pooling,
    as in the original. Inputs are the frozen encoder's layers, never the encoder itself.
    """

    def __init__(self, layer_sets: list[tuple[int, ...]], n_layers: int, dim: int,
                 n_labels: int, n_spans: int, proj_dim: int, hidden_dim: int, dropout: float,
                 mix_layer_norm: bool, mix_lr_scale: float, seed: int) -> None:
        super().__init__()
        self.n_probes = k = len(layer_sets)
        generator = torch.Generator().manual_seed(seed)
        self.mix = ScalarMix(n_layers, layer_sets, mix_layer_norm, mix_lr_scale)
        self.projections = nn.ModuleList(bank.Linear(k, dim, proj_dim, generator)
                                         for _ in range(n_spans))
        self.poolings = nn.ModuleList(SelfAttentivePooling(k, proj_dim, generator)
                                      for _ in range(n_spans))
        self.hidden = bank.Linear(k, n_spans * proj_dim, hidden_dim, generator)
        self.norm = bank.LayerNorm(k, hidden_dim)
        self.output = bank.Linear(k, hidden_dim, n_labels, generator)
        self.dropout = bank.Dropout(dropout, seed)

    def forward(self, batch: SpanBatch) -> torch.Tensor:
        """-> logits (K, batch, n_labels). The mix and the projections act on each word alone,
        so each row is mixed and projected once (per span: each has its own projection) and
        then gathered into the spans that cover it."""
        pooled = [pool(self.mix(batch.layers, project.weight, project.bias), positions, mask)
                  for (positions, mask), project, pool
                  in zip(batch.spans, self.projections, self.poolings, strict=True)]
        hidden = self.norm(torch.tanh(self.hidden(torch.cat(pooled, dim=-1))))
        return self.output(self.dropout(hidden))
