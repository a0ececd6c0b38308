"""Every corpus format is read through one place (utils/text_files.py): a byte-order mark is
accepted, and a byte that is not UTF-8, an empty file, a folder, a file that cannot be read and
a symbolic link that leads nowhere each end in one message that names the file."""

import os

import pytest
from conftest import task_files

from probing.tasks.base import SPLITS
from probing.tasks.conllu import POSTask
from probing.tasks.edge_json import EdgeJSONTask
from probing.tasks.iob2 import EntityTask
from probing.tasks.ptb import ConstituentTask
from probing.tasks.semeval import RelationTask
from probing.utils.errors import ProbingError
from probing.utils.text_files import unreadable

# One small good file a format, with a word "Hello" that a test can spoil.
FORMATS = {
    "conllu": ("x.conllu", "1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_\n"),
    "mrg": ("wsj_0001.mrg", "( (INTJ (UH Hello) ) )\n"),
    "iob2": ("x.iob2", "# sent_id = s1\n1\tHello\tB-PER\n"),
    "semeval": ("TRAIN_FILE.TXT", '1\t"<e1>Hello</e1> <e2>there</e2>"\r\nOther\r\nComment:\r\n'),
    "json": ("x.json", '{"text": "Hello there", "targets": [{"span1": [0, 1], "label": "X"}]}\n'),
}


def task(fmt: str, path):
    files = task_files("t", "test-corpus", path)
    return {"conllu": lambda: POSTask(column="upos", **files),
            "mrg": lambda: ConstituentTask(file_numbers={s: [1, 1] for s in SPLITS}, **files),
            "iob2": lambda: EntityTask(train_source="file", heldout_every=2,
                                       **{**files, "dev": path.parent / "dev.iob2"}),
            "semeval": lambda: RelationTask(heldout_every=2, **files),
            "json": lambda: EdgeJSONTask(n_spans=1, multilabel=False, **files)}[fmt]()


def write(tmp_path, fmt: str, content: bytes):
    name, _ = FORMATS[fmt]
    path = tmp_path / name
    path.write_bytes(content)
    return path


def words(fmt, path):
    return [example.words for example in task(fmt, path).read_file(path)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_order_mark_is_accepted(tmp_path, fmt):
    text = FORMATS[fmt][1].encode()
    plain = words(fmt, write(tmp_path, fmt, text))
    assert plain and words(fmt, write(tmp_path, fmt, b"\xef\xbb\xbf" + text)) == plain


@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_that_is_not_utf8_names_line_column_and_iconv(tmp_path, fmt):
    spoilt = ("\n\n" + FORMATS[fmt][1]).replace("Hello", "Héllo").encode("latin-1")
    path = write(tmp_path, fmt, spoilt)
    with pytest.raises(ProbingError) as caught:
        task(fmt, path).read_file(path)
    message = str(caught.value)
    line = next(k for k, raw in enumerate(spoilt.split(b"\n"), 1) if b"\xe9" in raw)
    assert message.startswith(f"{path}:{line}: byte e9 at column ")
    assert f"iconv -f latin1 -t utf-8 {path} > " in message and "Traceback" not in message


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"), (b"\xef\xbb\xbf", "the file is empty"),
    (b"\n  \n\r\n", "no \\w+ in the file")])
def test_empty_file_is_named(tmp_path, fmt, content, message):
    path = write(tmp_path, fmt, content)
    with pytest.raises(ProbingError, match=rf"^{path}: {message}"):
        task(fmt, path).read_file(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_folder_in_place_of_a_file_is_named(tmp_path, fmt):
    with pytest.raises(ProbingError, match=rf"^{tmp_path} is a folder; give the path of "):
        task(fmt, tmp_path).read_file(tmp_path)


@pytest.mark.parametrize("fmt", ["conllu", "iob2", "semeval", "json"])
@pytest.mark.parametrize("folder", ["mine", "test-corpus"])  # a path of the user's, the corpus's
def test_symbolic_link_loop_is_no_missing_corpus(tmp_path, fmt, folder):
    (tmp_path / folder).mkdir()
    loop = tmp_path / folder / FORMATS[fmt][0]
    loop.symlink_to(loop)
    with pytest.raises(ProbingError) as caught:
        task(fmt, loop).read("test")
    assert str(caught.value) == (f"task.test: {loop} is a symbolic link that leads back to "
                                 f"itself (a loop); point it at a test-corpus file, or put the "
                                 f"file itself in its place")
    with pytest.raises(ProbingError, match="leads back to itself"):
        task(fmt, loop).read_file(loop)


def test_link_to_nothing_names_the_link_and_its_target(tmp_path):
    link = tmp_path / "test-corpus" / "x.conllu"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "gone.conllu")
    with pytest.raises(ProbingError, match=rf"task\.dev: {link} is a symbolic link to "
                                           rf"{tmp_path / 'gone.conllu'}, which does not exist"):
        task("conllu", link).read("dev")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_says_permission_denied(tmp_path):
    path = write(tmp_path, "iob2", FORMATS["iob2"][1].encode())
    path.chmod(0)
    with pytest.raises(ProbingError, match=rf"cannot read {path}: permission denied"):
        task("iob2", path).read_file(path)


def test_message_for_a_file_that_cannot_be_read(tmp_path):
    """The message the test above checks where it can run (not as root)."""
    path = tmp_path / "x.iob2"
    error = unreadable(path, "an IOB2 file", PermissionError(13, "Permission denied"))
    assert str(error) == (f"cannot read {path}: permission denied; make it readable "
                          f"(chmod u+r {path}) or copy it somewhere readable")
