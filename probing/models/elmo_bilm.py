"""ELMo (Peters et al. 2018): a character-CNN, two-layer biLSTM language model, as in bilm-tf.

    token x_k = Proj(Highway^n(max-pool_t act(Conv(CharEmbed(bytes of word k)))))
    forward LM:  h_k^{→,1..L} = LSTMP^→(x_1..x_k),  predicts word k+1
    backward LM: h_k^{←,1..L} = LSTMP^←(x_k..x_N),  predicts word k-1
    ELMo layers: [x_k; x_k], [h_k^{→,1}; h_k^{←,1}], ..., [h_k^{→,L}; h_k^{←,L}]

A word is read as its UTF-8 bytes between begin- and end-of-word markers; the model wraps each
sentence in <S> ... </S> and the encoder removes those positions again. Weights load from and
save to the published format (`elmo_weights.py`), so outputs match the TensorFlow original.

LSTM state: `stateful=False` (the default, and what probing wants) runs every sentence from zero
state, so a sentence's vectors depend on nothing but the sentence. `stateful=True` carries each
batch row's final state into the same row of the next batch, as bilm-tf and AllenNLP do; vectors
then depend on what was encoded before.
"""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from probing.models.elmo_chars import (
    N_CHAR_IDS,
    add_sentence_boundaries,
)
from probing.models.elmo_weights import read_options, read_weights, write_checkpoint

FORGET_BIAS = 1.0  # TensorFlow's LSTMCell adds it to the forget gate; the stored bias lacks it



class CharActivation(StrEnum):
    """The char-CNN's activation after max-pooling (options.json `char_cnn.activation`)."""

    relu = "relu"
    tanh = "tanh"


ACTIVATIONS = {CharActivation.relu: torch.relu, CharActivation.tanh: torch.tanh}


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first `lengths[b]` steps (B, T, ...), leaving the padding in place."""
    positions = torch.arange(x.shape[1], device=x.device)[None]
    source = torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions,
                         positions)
    return x.gather(1, source.view(*source.shape, *[1] * (x.dim() - 2)).expand_as(x))


class Highway(nn.Module):
    """y = g * relu(x W_T + b_T) + (1 - g) * x,  g = sigmoid(x W_C + b_C).

    bilm-tf names g the carry gate (Srivastava et al. call it the transform gate); the names
    here follow the weight file."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.carry = nn.Linear(dim, dim)
        self.transform = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.carry(x))
        return gate * torch.relu(self.transform(x)) + (1 - gate) * x


class CharCNN(nn.Module):
    """Token embedding from a word's character ids: embed, convolve with filters of several
    widths, max-pool over character positions, activation, highway layers, projection to the
    LSTM input size (absent where the filters already add up to it)."""

    def __init__(self, options: dict) -> None:
        super().__init__()
        cnn, proj = options["char_cnn"], options["lstm"]["projection_dim"]
        char_dim = cnn["embedding"]["dim"]
        n_filters = sum(n for _, n in cnn["filters"])
        self.char_embed = nn.Embedding(N_CHAR_IDS, char_dim, padding_idx=0)
        self.convolutions = nn.ModuleList(nn.Conv1d(char_dim, n, width)
                                          for width, n in cnn["filters"])
        self.activation = ACTIVATIONS[cnn["activation"]]
        self.highways = nn.ModuleList(Highway(n_filters) for _ in range(cnn["n_highway"]))
        self.projection = nn.Linear(n_filters, proj) if n_filters != proj else nn.Identity()

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, max_chars) ids -> (B, T, projection_dim).

        Each distinct word of the batch is embedded once: text repeats its words (and every
        sentence its <S>, </S> and padding), and the convolutions dominate the cost."""
        batch, n_tokens, max_chars = char_ids.shape
        words, where = torch.unique(char_ids.view(-1, max_chars), dim=0, return_inverse=True)
        chars = self.char_embed(words).transpose(1, 2)
        x = torch.cat([self.activation(conv(chars).amax(dim=2)) for conv in self.convolutions],
                      dim=1)
        for highway in self.highways:
            x = highway(x)
        return self.projection(x)[where].view(batch, n_tokens, -1)


class LSTMP(nn.Module):
    """One LSTM layer with a projection after the cell (TensorFlow's LSTMCell with num_proj):

        i, j, f, o = split([x_t; h_{t-1}] W + b)                    (TensorFlow's gate order)
        c_t = clip(sigmoid(f + 1) * c_{t-1} + sigmoid(i) * tanh(j), cell_clip)
        h_t = clip((sigmoid(o) * tanh(c_t)) W_P, proj_clip)

    W is kept as input and recurrent halves so that the input half runs over all steps at once.
    Steps past a row's length leave its state unchanged and output zeros.
    """

    def __init__(self, input_dim: int, cell_dim: int, proj_dim: int,
                 cell_clip: float | None = None, proj_clip: float | None = None) -> None:
        super().__init__()
        self.input_gates = nn.Linear(input_dim, 4 * cell_dim)
        self.recurrent_gates = nn.Linear(proj_dim, 4 * cell_dim, bias=False)
        self.projection = nn.Linear(cell_dim, proj_dim, bias=False)
        self.cell_clip, self.proj_clip = cell_clip, proj_clip

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x (B, T, input_dim), mask (B, T), state (h, c) -> outputs (B, T, P), final state."""
        h, c = state
        input_gates = self.input_gates(x)
        outputs = []
        for t in range(x.shape[1]):
            i, j, f, o = (input_gates[:, t] + self.recurrent_gates(h)).chunk(4, dim=1)
            c_t = torch.sigmoid(f + FORGET_BIAS) * c + torch.sigmoid(i) * torch.tanh(j)
            if self.cell_clip:
                c_t = c_t.clamp(-self.cell_clip, self.cell_clip)
            h_t = self.projection(torch.sigmoid(o) * torch.tanh(c_t))
            if self.proj_clip:
                h_t = h_t.clamp(-self.proj_clip, self.proj_clip)
            valid = mask[:, t, None]
            h, c = torch.where(valid, h_t, h), torch.where(valid, c_t, c)
            outputs.append(h_t * valid)
        return torch.stack(outputs, dim=1), (h, c)


@dataclass
class BiLMOutput:
    """Per position of [<S>, words, </S>] (or of the ids as given): the char-CNN token
    embedding and each LSTM layer's output per direction, all (B, T, P); `mask` (B, T)."""

    token_embedding: torch.Tensor
    forward: list[torch.Tensor]
    backward: list[torch.Tensor]
    mask: torch.Tensor

    def layers(self) -> torch.Tensor:
        """ELMo's layers (n_layers + 1, B, T, 2P): [x; x], then [forward; backward] per layer."""
        x = self.token_embedding
        return torch.stack([torch.cat([x, x], -1)] + [torch.cat(pair, -1) for pair in
                                                      zip(self.forward, self.backward,
                                                          strict=True)])


class ELMoBiLM(nn.Module):
    """The biLM: one char-CNN shared by a forward and a backward stack of LSTMP layers, with a
    residual connection around every layer but the first where `use_skip_connections`.

    `forward_lstm` / `backward_lstm` are bilm-tf's RNN_0 / RNN_1. `dropout` (training only) drops
    each LSTM layer's input, as bilm-tf's DropoutWrapper does; a language-model loss goes on
    `BiLMOutput.forward[-1]` (predicting the next token) and `.backward[-1]` (the previous one).
    Weights come from `seed` (bilm-tf's initialisers) until loaded.
    """

    def __init__(self, options: dict, stateful: bool = False, dropout: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        self.options = options
        lstm = options["lstm"]
        self.char_cnn = CharCNN(options)
        self.forward_lstm, self.backward_lstm = (
            nn.ModuleList(LSTMP(lstm["projection_dim"], lstm["dim"], lstm["projection_dim"],
                                lstm.get("cell_clip"), lstm.get("proj_clip"))
                          for _ in range(lstm["n_layers"]))
            for _ in range(2))
        self.use_skip_connections = bool(lstm.get("use_skip_connections", False))
        self.max_chars = options["char_cnn"]["max_characters_per_token"]
        self.stateful = stateful
        self.dropout = dropout
        self.reset_parameters(seed)
        self.reset_states()

    def reset_states(self) -> None:
        """Forget the state carried between batches (stateful mode)."""
        self._carried: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    @torch.no_grad()
    def reset_parameters(self, seed: int) -> None:
        """bilm-tf's initialisers: uniform(-1, 1) characters; filters N(0, 1/(width*char_dim))
        for relu, U(-0.05, 0.05) for tanh; highway and projection N(0, 1/dim) with the highway
        gate bias at -2 (carry the input through at first); Glorot-uniform LSTM matrices (over
        the full [x; h] matrix) with zero biases."""
        g = torch.Generator().manual_seed(seed)
        cnn = self.char_cnn
        nn.init.uniform_(cnn.char_embed.weight, -1.0, 1.0, generator=g)
        cnn.char_embed.weight[0] = 0.0
        for conv in cnn.convolutions:
            char_dim, width = conv.weight.shape[1:]
            if cnn.activation is torch.relu:
                nn.init.normal_(conv.weight, 0.0, (1.0 / (width * char_dim)) ** 0.5, generator=g)
            else:
                nn.init.uniform_(conv.weight, -0.05, 0.05, generator=g)
            nn.init.zeros_(conv.bias)
        linears = [(h.carry, -2.0) for h in cnn.highways] + [(h.transform, 0.0)
                                                            for h in cnn.highways]
        if isinstance(cnn.projection, nn.Linear):
            linears.append((cnn.projection, 0.0))
        for linear, bias in linears:
            nn.init.normal_(linear.weight, 0.0, (1.0 / linear.in_features) ** 0.5, generator=g)
            nn.init.constant_(linear.bias, bias)
        for layer in [*self.forward_lstm, *self.backward_lstm]:
            four_cells, input_dim = layer.input_gates.weight.shape
            fan = input_dim + layer.recurrent_gates.in_features + four_cells
            for w in (layer.input_gates.weight, layer.recurrent_gates.weight):
                nn.init.uniform_(w, -(6 / fan) ** 0.5, (6 / fan) ** 0.5, generator=g)
            nn.init.zeros_(layer.input_gates.bias)
            bound = (6 / sum(layer.projection.weight.shape)) ** 0.5
            nn.init.uniform_(layer.projection.weight, -bound, bound, generator=g)

    def forward(self, char_ids: torch.Tensor, add_boundaries: bool = True) -> BiLMOutput:
        """char_ids (B, T, max_chars) from `batch_to_char_ids`, all-zero rows for padding.

        With `add_boundaries` each sentence is wrapped in <S> ... </S> first and the outputs
        cover T + 2 positions; without, the ids are taken as they are (a stream cut into
        windows for truncated backpropagation through time)."""
        mask = (char_ids > 0).any(dim=-1)
        if add_boundaries:
            char_ids, mask = add_sentence_boundaries(char_ids, mask)
        x = self.char_cnn(char_ids)
        lengths = mask.sum(1)
        forward = self._run_stack("forward", self.forward_lstm, x, mask)
        backward = self._run_stack("backward", self.backward_lstm, reverse_padded(x, lengths),
                                   mask)
        return BiLMOutput(x, forward, [reverse_padded(h, lengths) for h in backward], mask)

    def _run_stack(self, direction: str, stack: nn.ModuleList, x: torch.Tensor,
                   mask: torch.Tensor) -> list[torch.Tensor]:
        states = self._initial_states(direction, stack, x)
        outputs, finals = [], []
        for layer, (lstmp, state) in enumerate(zip(stack, states, strict=True)):
            x = F.dropout(x, self.dropout, self.training)
            h, final = lstmp(x, mask, state)
            if self.use_skip_connections and layer > 0:
                h = h + x * mask[..., None]
            outputs.append(h)
            finals.append(final)
            x = h
        if self.stateful:
            self._carry(direction, finals)
        return outputs

    def _initial_states(self, direction: str, stack: nn.ModuleList, x: torch.Tensor
                        ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Zeros, or in stateful mode the carried state of rows 0..B-1 (zeros where new)."""
        batch = x.shape[0]
        states = []
        for layer, lstmp in enumerate(stack):
            h = x.new_zeros(batch, lstmp.projection.out_features)
            c = x.new_zeros(batch, lstmp.projection.in_features)
            if self.stateful and direction in self._carried:
                carried_h, carried_c = self._carried[direction][layer]
                rows = min(batch, carried_h.shape[0])
                h[:rows], c[:rows] = carried_h[:rows], carried_c[:rows]
            states.append((h, c))
        return states

    def _carry(self, direction: str, finals: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Keep the final states (detached) for the next batch; rows beyond this batch keep
        what they had, as in bilm-tf."""
        carried = self._carried.get(direction, [])
        updated = []
        for layer, (h, c) in enumerate(finals):
            if carried and carried[layer][0].shape[0] > h.shape[0]:
                old_h, old_c = carried[layer]
                h, c = torch.cat([h, old_h[h.shape[0]:]]), torch.cat([c, old_c[c.shape[0]:]])
            updated.append((h.detach(), c.detach()))
        self._carried[direction] = updated


def load_elmo(options_file: str | Path, weight_file: str | Path,
              stateful: bool = False) -> ELMoBiLM:
    """A biLM from the published format: options.json + HDF5 weights (bilm-tf layout)."""
    options = read_options(options_file)
    model = ELMoBiLM(options, stateful=stateful)
    model.load_state_dict(read_weights(weight_file, options))
    return model


def save_elmo(model: ELMoBiLM, folder: str | Path) -> tuple[Path, Path]:
    """Write `folder/options.json` and `folder/weights.hdf5` in the layout `load_elmo` reads;
    returns both paths."""
    return write_checkpoint(folder, model.state_dict(), model.options)
