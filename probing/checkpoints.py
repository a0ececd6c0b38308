"""Where a pretraining run keeps its checkpoints, and how later stages find them.

A run folder holds `checkpoints/step-0001000/`, one folder per saved step. Each is the model in
its own format (for BERT an ordinary Hugging Face folder: `encoder=hf
encoder.name_or_path=<folder>` probes it), `checkpoint.json` (the step, tokens seen, held-out
metrics, ...) and, in the latest one, `trainer_state.pt` for resuming. A folder appears under
its final name only once complete.
"""

import json
from pathlib import Path

from omegaconf import OmegaConf

from probing.errors import ProbingError

CHECKPOINTS = "checkpoints"
INFO = "checkpoint.json"
TRAINER_STATE = "trainer_state.pt"


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}"


def run_of_checkpoint(folder: str | Path) -> Path | None:
    """The pretraining run that `folder` is (or would be) a checkpoint of; None otherwise."""
    folder = Path(folder)
    if folder.name.startswith("step-") and folder.parent.name == CHECKPOINTS:
        return folder.parent.parent
    return None


def read_info(folder: Path) -> dict:
    return json.loads((folder / INFO).read_text())


def checkpoint_provenance(folder: str | Path) -> dict:
    """Step, tokens seen and run of a checkpoint folder written by pretraining; {} for any
    other folder (a published model, a hub name)."""
    folder = Path(folder).expanduser()
    if not (folder / INFO).is_file():
        return {}
    info = read_info(folder)
    return {"step": info["step"], "tokens": info["tokens"], "pretraining_run": info["run"]}


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The complete checkpoints of a run (its folder or its `checkpoints/`), by step."""
    run_dir = Path(run_dir).expanduser()
    root = run_dir / CHECKPOINTS if (run_dir / CHECKPOINTS).is_dir() else run_dir
    folders = [p for p in root.glob("step-*") if (p / INFO).is_file()]
    return sorted(folders, key=lambda p: read_info(p)["step"])


def checkpoint_sweep(run_dir: str) -> str:
    """A Hydra sweep over every checkpoint of a run: `'<folder>','<folder>',...`, for
    `hydra.sweeper.params` (resolver `${checkpoints:<run folder>}`)."""
    folders = list_checkpoints(run_dir)
    if not folders:
        raise ProbingError(f"no checkpoints found in {run_dir}: give the folder of a pretraining "
                           "run (outputs/pretrain/<name>) or its checkpoints/ folder")
    return ",".join(f"'{folder.resolve()}'" for folder in folders)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("checkpoints"):
        OmegaConf.register_new_resolver("checkpoints", checkpoint_sweep)
