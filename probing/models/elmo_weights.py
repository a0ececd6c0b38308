"""ELMo's published file format: `options.json` and an HDF5 weight file laid out as bilm-tf
writes it (TensorFlow variable names and shapes), read and written with h5py.

This module knows the files; `elmo.py` knows the model. They meet in a PyTorch state dict:
`read_weights` turns the HDF5 datasets into the model's parameters and `write_weights` does the
reverse, so a published ELMo and a self-pretrained one go through one code path.

Layout (C = LSTM cell size `lstm.dim`, P = `lstm.projection_dim`, F = total char-CNN filters):

    char_embed                      (261, char_dim)     ids 1..261; id 0 (padding) is not stored
    CNN/W_cnn_k, CNN/b_cnn_k        (1, width, char_dim, n), (n,)
    CNN_high_k/W_carry, W_transform (F, F), with b_carry, b_transform (F,)
    CNN_proj/W_proj, b_proj         (F, P), (P,)        only where F != P
    RNN_d/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0   (input + P, 4C): [x; h_prev] -> gates i, j, f, o
                                           /B     (4C,)  without TF's forget bias of 1.0
                                           /W_P_0 (C, P)
    d = 0 is the forward LM, d = 1 the backward one.

Matrices are stored for `x @ W` (TensorFlow), the transpose of `nn.Linear.weight`.
"""

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from probing.models.checkpoints import run_of_checkpoint
from probing.utils.atomic import write_json_atomic, written_in_place
from probing.utils.errors import ProbingError

OPTIONS_NAME = "options.json"
WEIGHTS_NAME = "weights.hdf5"

# Keys every options.json must give (nested as "section.key"); the clips and skip connections
# are optional, as in bilm-tf.
_REQUIRED_OPTIONS = ("lstm.dim", "lstm.projection_dim", "lstm.n_layers", "char_cnn.filters",
                     "char_cnn.n_highway", "char_cnn.embedding.dim",
                     "char_cnn.max_characters_per_token", "char_cnn.activation",
                     "char_cnn.n_characters")


def read_options(path: str | Path) -> dict:
    """Parse and check an ELMo options.json; raises ProbingError naming the file and key."""
    path = Path(path)
    try:
        options = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProbingError(f"{path}: ELMo options file not found; "
                           + _how_to_make(path)) from None
    except json.JSONDecodeError as e:
        raise ProbingError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); an ELMo options file "
                           "is a JSON object with 'lstm' and 'char_cnn' sections") from None
    check_options(options, str(path))
    return options


def _how_to_make(path: Path) -> str:
    """What to do about a missing options file: a checkpoint of `probing.pretrain` (which
    are not committed) is made by running that pretraining; anything else is a wrong path."""
    run = run_of_checkpoint(path.parent)
    if run is not None:
        return (f"it is a checkpoint of the pretraining run {run}, which has not been run here: "
                "pretrain it first (`python -m probing.pretrain objective=elmo ... "
                f"name={run.name}`; for encoder=elmo_gutenberg the command is in "
                "results/elmo-gutenberg/README.md)")
    return "give encoder.options_file the options.json that came with the weights"


def check_options(options: dict, source: str) -> None:
    """Raise ProbingError (naming `source` and the key) unless `options` describe a char-CNN
    biLM this implementation can build."""
    for dotted in _REQUIRED_OPTIONS:
        node = options
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                raise ProbingError(f"{source}: the ELMo options lack '{dotted}'; a char-CNN biLM "
                                   "needs " + ", ".join(_REQUIRED_OPTIONS))
            node = node[key]
    cnn = options["char_cnn"]
    if cnn["n_characters"] not in (261, 262):
        raise ProbingError(f"{source}: char_cnn.n_characters is {cnn['n_characters']}; ELMo's "
                           "byte vocabulary has 261 characters (262 with padding)")
    if not all(isinstance(f, list) and len(f) == 2 for f in cnn["filters"]):
        raise ProbingError(f"{source}: char_cnn.filters must be a list of [width, count] pairs")


def tf_shapes(options: dict) -> dict[str, tuple[int, ...]]:
    """Every dataset of the HDF5 file with its shape, as the options imply."""
    cnn, lstm = options["char_cnn"], options["lstm"]
    char_dim, n_filters = cnn["embedding"]["dim"], sum(n for _, n in cnn["filters"])
    cell, proj = lstm["dim"], lstm["projection_dim"]
    shapes: dict[str, tuple[int, ...]] = {"char_embed": (261, char_dim)}
    for k, (width, n) in enumerate(cnn["filters"]):
        shapes[f"CNN/W_cnn_{k}"] = (1, width, char_dim, n)
        shapes[f"CNN/b_cnn_{k}"] = (n,)
    for k in range(cnn["n_highway"]):
        for gate in ("carry", "transform"):
            shapes[f"CNN_high_{k}/W_{gate}"] = (n_filters, n_filters)
            shapes[f"CNN_high_{k}/b_{gate}"] = (n_filters,)
    if n_filters != proj:
        shapes["CNN_proj/W_proj"] = (n_filters, proj)
        shapes["CNN_proj/b_proj"] = (proj,)
    for d in range(2):
        for layer in range(lstm["n_layers"]):
            cell_name = _lstm_cell(d, layer)
            shapes[f"{cell_name}/W_0"] = (2 * proj, 4 * cell)
            shapes[f"{cell_name}/B"] = (4 * cell,)
            shapes[f"{cell_name}/W_P_0"] = (cell, proj)
    return shapes


def read_weights(path: str | Path, options: dict) -> dict[str, torch.Tensor]:
    """The HDF5 weights as a state dict of `ELMoBiLM`, checked against the options' shapes."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            datasets = {name: _read_dataset(f, name, shape, path)
                        for name, shape in tf_shapes(options).items()}
    except (FileNotFoundError, OSError) as e:
        raise ProbingError(f"{path}: cannot read the ELMo weights as HDF5 ({e}); give "
                           "encoder.weight_file the .hdf5 file that goes with the options"
                           ) from None
    return _tf_to_torch(datasets, options)


def write_weights(path: Path, state: dict[str, torch.Tensor], options: dict) -> None:
    """Write a state dict of `ELMoBiLM` in the bilm-tf layout (float32)."""
    with h5py.File(path, "w") as f:
        for name, array in _torch_to_tf(state, options).items():
            f.create_dataset(name, data=array.astype(np.float32))


def write_checkpoint(folder: str | Path, state: dict[str, torch.Tensor],
                     options: dict) -> tuple[Path, Path]:
    """`options.json` and `weights.hdf5` into `folder`, each written to a temporary name and
    renamed into place (weights first), so that no half-written file is ever read."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    options_path, weights_path = folder / OPTIONS_NAME, folder / WEIGHTS_NAME
    with written_in_place(weights_path) as tmp_weights:
        write_weights(tmp_weights, state, options)
    write_json_atomic(options_path, options)
    return options_path, weights_path


def _lstm_cell(direction: int, layer: int) -> str:
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def _read_dataset(f: h5py.File, name: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    if not isinstance(f.get(name), h5py.Dataset):
        raise ProbingError(f"{path}: dataset '{name}' is missing; this file does not match the "
                           "options (or is not an ELMo weight file)")
    array = f[name][...]
    if array.shape != shape:
        raise ProbingError(f"{path}: dataset '{name}' has shape {array.shape}, the options imply "
                           f"{shape}; use the options.json that came with these weights")
    return array.astype(np.float32)


def _tf_to_torch(tf: dict[str, np.ndarray], options: dict) -> dict[str, torch.Tensor]:
    cnn, lstm = options["char_cnn"], options["lstm"]
    proj = lstm["projection_dim"]
    state = {"char_cnn.char_embed.weight":
             np.concatenate([np.zeros_like(tf["char_embed"][:1]), tf["char_embed"]])}
    for k in range(len(cnn["filters"])):
        state[f"char_cnn.convolutions.{k}.weight"] = tf[f"CNN/W_cnn_{k}"][0].transpose(2, 1, 0)
        state[f"char_cnn.convolutions.{k}.bias"] = tf[f"CNN/b_cnn_{k}"]
    for k in range(cnn["n_highway"]):
        for gate in ("carry", "transform"):
            state[f"char_cnn.highways.{k}.{gate}.weight"] = tf[f"CNN_high_{k}/W_{gate}"].T
            state[f"char_cnn.highways.{k}.{gate}.bias"] = tf[f"CNN_high_{k}/b_{gate}"]
    if "CNN_proj/W_proj" in tf:
        state["char_cnn.projection.weight"] = tf["CNN_proj/W_proj"].T
        state["char_cnn.projection.bias"] = tf["CNN_proj/b_proj"]
    for d, direction in enumerate(("forward", "backward")):
        for layer in range(lstm["n_layers"]):
            cell, prefix = _lstm_cell(d, layer), f"{direction}_lstm.{layer}"
            state[f"{prefix}.input_gates.weight"] = tf[f"{cell}/W_0"][:proj].T
            state[f"{prefix}.input_gates.bias"] = tf[f"{cell}/B"]
            state[f"{prefix}.recurrent_gates.weight"] = tf[f"{cell}/W_0"][proj:].T
            state[f"{prefix}.projection.weight"] = tf[f"{cell}/W_P_0"].T
    return {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in state.items()}


def _torch_to_tf(state: dict[str, torch.Tensor], options: dict) -> dict[str, np.ndarray]:
    cnn, lstm = options["char_cnn"], options["lstm"]
    s = {name: t.detach().cpu().float().numpy() for name, t in state.items()}
    tf = {"char_embed": s["char_cnn.char_embed.weight"][1:]}
    for k in range(len(cnn["filters"])):
        tf[f"CNN/W_cnn_{k}"] = s[f"char_cnn.convolutions.{k}.weight"].transpose(2, 1, 0)[None]
        tf[f"CNN/b_cnn_{k}"] = s[f"char_cnn.convolutions.{k}.bias"]
    for k in range(cnn["n_highway"]):
        for gate in ("carry", "transform"):
            tf[f"CNN_high_{k}/W_{gate}"] = s[f"char_cnn.highways.{k}.{gate}.weight"].T
            tf[f"CNN_high_{k}/b_{gate}"] = s[f"char_cnn.highways.{k}.{gate}.bias"]
    if "char_cnn.projection.weight" in s:
        tf["CNN_proj/W_proj"] = s["char_cnn.projection.weight"].T
        tf["CNN_proj/b_proj"] = s["char_cnn.projection.bias"]
    for d, direction in enumerate(("forward", "backward")):
        for layer in range(lstm["n_layers"]):
            cell, prefix = _lstm_cell(d, layer), f"{direction}_lstm.{layer}"
            tf[f"{cell}/W_0"] = np.concatenate([s[f"{prefix}.input_gates.weight"].T,
                                                s[f"{prefix}.recurrent_gates.weight"].T])
            tf[f"{cell}/B"] = s[f"{prefix}.input_gates.bias"]
            tf[f"{cell}/W_P_0"] = s[f"{prefix}.projection.weight"].T
    return tf
