"""Refuse settings that a config's objects do not take, before any work is done.

Every config node with a `_target_` (task, encoder, trainer, mix, probe; the pretraining model,
corpus and optimizer) becomes `target(**settings)` through `hydra.utils.instantiate`. A key the
target does not take (a typo added with `+task.colum=...`, say; the typed schemas of
`probing/config/schemas.py` catch the others at composition) would fail there, as a TypeError that
Hydra wraps into a traceback, and only once the objects before it are built. `check_settings`
compares each node's keys with the parameters of its target at start-up and raises a
ProbingError that names the setting, the class and the settings it takes.

The parameters of a target are those of its signature (a task is a dataclass whose fields are
its settings, so its signature lists them all). A target that takes `**kwargs` takes any key
and is not checked.

A group's `_target_` must also name the kind of object the group is for (`kinds`: the task a
subclass of Task, the probe of ProbeFamily, ...): `task._target_=os.system` would otherwise be
called with the task's settings. A class of one's own is welcome, if it derives from the base.
"""

import inspect
from collections.abc import Mapping
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from probing.utils.errors import ProbingError

# Keys of a node that instantiate reads itself rather than passing them to the target.
INSTANTIATE_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


Kind = type | tuple[type, ...]


def check_settings(node: DictConfig | Mapping | Any, path: str = "",
                   kinds: Mapping[str, Kind] | None = None) -> None:
    """Raise ProbingError on the first `_target_` node under `node` (the node itself included)
    with a key its target does not take, or without one it requires; and first, where `kinds`
    maps a dotted key of `node` to the base class (or classes) its target must derive from, on
    one that does not. `path` is the node's dotted name in the whole config ("" for the root),
    for the message."""
    for key, kind in (kinds or {}).items():
        _check_kind(OmegaConf.select(node, key) if isinstance(node, DictConfig) else None,
                    key, kind)
    if isinstance(node, DictConfig | ListConfig):
        node = OmegaConf.to_container(node, resolve=False)  # values unresolved: keys only
    if isinstance(node, list):
        for i, item in enumerate(node):
            check_settings(item, f"{path}[{i}]")
        return
    if not isinstance(node, Mapping):
        return
    if "_target_" in node:
        _check_node(node, path)
    for key, value in node.items():
        if not str(key).startswith("_"):
            check_settings(value, f"{path}.{key}" if path else str(key))


def _check_kind(node: DictConfig | None, path: str, kind: Kind) -> None:
    if node is None or "_target_" not in node:
        return
    target = _target(node, path)
    if isinstance(target, type) and issubclass(target, kind):
        return
    bases = " or ".join(f"{k.__module__}.{k.__qualname__}"
                        for k in (kind if isinstance(kind, tuple) else (kind,)))
    group = path.split(".")[0]
    raise ProbingError(
        f"{path}._target_={node['_target_']!r} cannot serve as {path}: it must name a class "
        f"derived from {bases}, as the files in the {group} config group do. Name one of "
        f"those (or a subclass of your own) on the command line or in the config file")


def _target(node: Mapping, path: str) -> Any:
    prefix = f"{path}." if path else ""
    target_name = node["_target_"]
    try:
        return get_object(str(target_name))
    except Exception as e:  # any import failure is the same user mistake
        raise ProbingError(f"{prefix}_target_={target_name!r} cannot be imported ({e}); give "
                           f"the full dotted name of a class or function") from None


def _check_node(node: Mapping, path: str) -> None:
    prefix = f"{path}." if path else ""
    target_name = node["_target_"]
    target = _target(node, path)
    accepted = parameters(target)
    if accepted is None:  # **kwargs that go who knows where: anything may be right
        return
    keys = [str(k) for k in node if str(k) not in INSTANTIATE_KEYS]
    names = ", ".join(accepted) or "none"
    for key in keys:
        if key not in accepted:
            raise ProbingError(
                f"unknown setting {prefix}{key} for {target_name}; its settings are: {names}. "
                f"Remove it (or correct its name) on the command line or in the config file")
    if node.get("_partial_") is True or "_args_" in node:
        return  # the caller (or the positional arguments) supply the rest
    for name, required in accepted.items():
        if required and name not in keys:
            raise ProbingError(
                f"missing setting {prefix}{name} for {target_name}; its settings are: {names}. "
                f"Add it with +{prefix}{name}=VALUE or in the config file")


def parameters(target: Any) -> dict[str, bool] | None:
    """The keyword parameters `target(...)` takes, each with whether it is required, in order;
    None where it takes `**kwargs` (anything may be right) or has no signature."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params: dict[str, bool] = {}
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            params[p.name] = p.default is p.empty
    return params
