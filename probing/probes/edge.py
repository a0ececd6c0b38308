"""Tenney et al.'s (2019) edge-probing classifier over a scalar mix of frozen layers."""

import torch
from torch import nn

from probing.probes.scalar_mix import LayerSelection, ScalarMix


class SelfAttentivePooling(nn.Module):
    """A span's vector: its words' vectors averaged with learned, softmax-normalised scores,
    alpha = softmax_i(w . x_i) over the words of the span (Lee et al. 2017)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, rows: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
                ) -> torch.Tensor:
        """rows: (n_rows, dim) word vectors; positions: (batch, width) each span's words among
        the rows, mask: (batch, width) true on words of the span -> (batch, dim).

        A word's score does not depend on the span, so it is computed once a row. Spans of one
        word are their word. Longer ones are a (batch, n_rows) matrix of attention weights
        times the rows: nested constituents share most of their words, and one matrix product
        costs far less than gathering (batch, width, dim) copies and scattering their gradients
        back."""
        if positions.shape[1] == 1:
            return rows[positions[:, 0]]
        scores = self.score(rows).squeeze(-1)[positions].masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        weights = alpha.new_zeros(len(positions), len(rows)).scatter_add(1, positions, alpha)
        return weights @ rows


class EdgeProbe(nn.Module):
    """ScalarMix -> per span: projection to `proj_dim` and self-attentive pooling ->
    concatenated spans -> MLP (hidden_dim, tanh, LayerNorm, dropout) -> label logits.

    Span 1 and span 2 (for relations between two spans) have their own projection and pooling,
    as in the original. Inputs are the frozen encoder's layers, never the encoder itself.
    """

    def __init__(self, n_layers: int, dim: int, n_labels: int, n_spans: int,
                 selection: LayerSelection, proj_dim: int, hidden_dim: int, dropout: float,
                 mix_layer_norm: bool) -> None:
        super().__init__()
        self.mix = ScalarMix(n_layers, selection.layers(n_layers), mix_layer_norm)
        self.projections = nn.ModuleList(nn.Linear(dim, proj_dim) for _ in range(n_spans))
        self.poolings = nn.ModuleList(SelfAttentivePooling(proj_dim) for _ in range(n_spans))
        self.classifier = nn.Sequential(
            nn.Linear(n_spans * proj_dim, hidden_dim), nn.Tanh(), nn.LayerNorm(hidden_dim),
            nn.Dropout(dropout), nn.Linear(hidden_dim, n_labels))

    def forward(self, layers: torch.Tensor, spans: list[tuple[torch.Tensor, torch.Tensor]]
                ) -> torch.Tensor:
        """layers: (rows, n_layers, dim) of the distinct words a batch reads; spans: per span,
        positions (batch, width) of its words among the rows and mask (batch, width).

        The mix and the projections act on each word alone, so each row is mixed and
        projected once and then gathered into the spans that cover it."""
        mixed = self.mix(layers)
        pooled = [pool(project(mixed), positions, mask)
                  for (positions, mask), project, pool
                  in zip(spans, self.projections, self.poolings, strict=True)]
        return self.classifier(torch.cat(pooled, dim=-1))
