"""Where a pretraining run keeps its checkpoints, and how later stages find them.

A run folder holds `checkpoints/step-0001000/`, one folder per saved step. Each is the model in
its own format (for BERT an ordinary Hugging Face folder: `encoder=hf
encoder.name_or_path=<folder>` probes it), `checkpoint.json` (the step, tokens seen, held-out
metrics, ...) and, in the latest one, `trainer_state.pt` for resuming. A folder appears under
its final name only once complete. The two newest checkpoints keep their trainer state, so that
a resume whose newest checkpoint turns out damaged can fall back to the one before it; a
damaged checkpoint is then set aside as `step-...damaged`, never deleted.
"""

import json
import logging
import re
from pathlib import Path

from omegaconf import OmegaConf

from probing.utils.atomic import replace
from probing.utils.errors import ProbingError

CHECKPOINTS = "checkpoints"
INFO = "checkpoint.json"
TRAINER_STATE = "trainer_state.pt"
KEPT_TRAINER_STATES = 2
DAMAGED = ".damaged"
STEP_FOLDER = re.compile(r"step-(\d{7})")

log = logging.getLogger(__name__)


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}"


def run_of_checkpoint(folder: str | Path) -> Path | None:
    """The pretraining run that `folder` is (or would be) a checkpoint of; None otherwise."""
    folder = Path(folder)
    if folder.name.startswith("step-") and folder.parent.name == CHECKPOINTS:
        return folder.parent.parent
    return None


def read_info(folder: Path) -> dict:
    """A checkpoint's checkpoint.json; an error naming the file where it is damaged."""
    path = folder / INFO
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProbingError(f"{path} cannot be read ({e}): the checkpoint is damaged; give "
                           f"another checkpoint of the run (see its checkpoints/)") from None
    if not isinstance(info, dict) or not {"step", "tokens", "run"} <= info.keys():
        raise ProbingError(f"{path} is not a checkpoint record (it lacks step, tokens or run): "
                           f"the checkpoint is damaged; give another checkpoint of the run")
    return info


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
    folders = [p for p in root.glob("step-*") if STEP_FOLDER.fullmatch(p.name)
               and (p / INFO).is_file()]
    return sorted(folders, key=step_of)


def step_of(folder: Path) -> int:
    """The step a checkpoint folder holds, from its name (step-0001000)."""
    return int(STEP_FOLDER.fullmatch(folder.name).group(1))


def set_aside(folder: Path, why: str) -> Path:
    """Rename a damaged checkpoint to `<name>.damaged` (a number added where that is taken), so
    that no later step is saved over it and nothing reads it; its files are kept."""
    target, n = folder.with_name(folder.name + DAMAGED), 1
    while target.exists():
        target, n = folder.with_name(f"{folder.name}{DAMAGED}-{n}"), n + 1
    replace(folder, target)
    log.warning("set aside %s as %s: %s", folder, target.name, why)
    return target


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
