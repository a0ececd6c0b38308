"""ELMo as an Encoder for probing: the biLM of `probing.models.elmo_bilm` (published or
self-pretrained weights), its three layers per word.

LSTM state: `stateful=False` (conf/encoder/elmo.yaml's, and what probing wants) runs every
sentence from zero state, so a sentence's vectors depend on nothing but the sentence.
`stateful=True` carries each batch row's final state into the same row of the next batch, as
bilm-tf and AllenNLP do; vectors then depend on what was encoded before.
"""

import hashlib
import json
from pathlib import Path

import torch

from probing.encoders.base import Encoder, hash_module
from probing.models.checkpoints import checkpoint_provenance
from probing.models.elmo_bilm import ELMoBiLM, load_elmo
from probing.models.elmo_chars import batch_to_char_ids
from probing.models.elmo_weights import read_options
from probing.utils.devices import resolve_device
from probing.utils.errors import ProbingError


class ELMoEncoder(Encoder):
    """ELMo's three layers per word for probing: [x; x] (char-CNN token layer), then
    [forward; backward] of LSTM layers 1 and 2. Reads whole words: no subword alignment.

    `stateful=False` (what probing wants) encodes every sentence from zero LSTM state, so its
    vectors do not depend on its batch or on batch order; `stateful=True` carries state from
    batch to batch like the original. `random_init` builds the same shape (from `options_file`) with
    fresh weights from `seed` — Tenney et al.'s random-encoder baseline; `weight_file` is then
    not read.
    """

    def __init__(self, options_file: str, weight_file: str | None, name: str, stateful: bool,
                 device: str, random_init: bool, seed: int) -> None:
        self.name = name
        self.options_file = options_file
        self.device = resolve_device(device)
        self.stateful = stateful
        self.random_init = random_init
        if random_init:
            model = ELMoBiLM(read_options(options_file), stateful=stateful, seed=seed)
        elif weight_file is None:
            raise ProbingError(f"encoder {name}: no weight_file given for {options_file}; set "
                               "encoder.weight_file, or encoder.random_init=true for the "
                               "random baseline")
        else:
            model = load_elmo(options_file, weight_file, stateful=stateful)
        self.model = model.to(self.device).eval()
        self.n_layers = len(model.forward_lstm) + 1
        self.dim = 2 * model.options["lstm"]["projection_dim"]
        self._fingerprint: str | None = None

    @property
    def settings(self) -> dict:
        return {"stateful": self.stateful}

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(type(self.model).__name__.encode())
            digest.update(json.dumps(self.model.options, sort_keys=True).encode())
            hash_module(self.model, digest)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def provenance(self) -> dict:
        return {} if self.random_init else checkpoint_provenance(Path(self.options_file).parent)

    def sizes(self, sentences: list[list[str]]) -> list[int]:
        return [len(words) + 2 for words in sentences]  # with <S> and </S>

    def prepare(self, sentences: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Character ids (rows, words, max_chars) and the mask (rows, words + 2) of the
        positions that are words once the model has put <S> and </S> around each sentence."""
        lengths = torch.tensor([len(words) for words in sentences])
        positions = torch.arange(int(lengths.max()) + 2)
        words = (positions[None] >= 1) & (positions[None] <= lengths[:, None])
        return batch_to_char_ids(sentences, self.model.max_chars), words

    def forward(self, prepared: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(prepared[0].to(self.device)).layers()

    def words(self, prepared: tuple[torch.Tensor, torch.Tensor], output: torch.Tensor,
              dtype: torch.dtype) -> torch.Tensor:
        """(layers, rows, positions, dim) -> the word positions' vectors (n_words, layers, dim)."""
        with torch.inference_mode():
            return output.permute(1, 2, 0, 3)[prepared[1].to(output.device)].to(dtype).cpu()
