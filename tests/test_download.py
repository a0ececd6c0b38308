"""The verified copy that the corpora fetch and the model assembly share: a file lands under
its name only with its pinned size and checksum, and a refused, failed or broken copy leaves
nothing behind."""

import errno
import hashlib

import pytest

from probing.utils.download import Found, Pin, mismatch_cause, save_verified
from probing.utils.errors import ProbingError

DATA = b"0123456789" * 300


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refuse(found: Found, copy) -> str:
    return f"got {found.size} bytes, {found.checksum}; {copy.name} is {copy.read_bytes()[:4]!r}"


def save(target, pin, chunks=(DATA[:1000], DATA[1000:]), **kwargs):
    return save_verified(chunks, target, pin, refusal=refuse, elsewhere="go elsewhere", **kwargs)


def test_a_copy_with_its_pinned_size_and_sum_lands_under_its_name(tmp_path):
    target = save(tmp_path / "f.bin", Pin(sha(DATA), len(DATA)))
    assert target.read_bytes() == DATA and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    assert Pin(sha(DATA), len(DATA)).holds_for(target)
    assert not Pin(sha(DATA), len(DATA) + 1).holds_for(target)
    assert not Pin(sha(DATA)).holds_for(tmp_path / "absent") and not Pin(sha(DATA)).holds_for()


@pytest.mark.parametrize("pin", [Pin("0" * 64), Pin(sha(DATA), 7)])
def test_a_mismatch_is_refused_with_what_was_found(tmp_path, pin):
    with pytest.raises(ProbingError, match=rf"got 3000 bytes, {sha(DATA)}; f\.bin\.part is "
                                           r"b'0123'"):
        save(tmp_path / "f.bin", pin)
    assert not list(tmp_path.iterdir())


def test_a_write_that_fails_names_the_file_and_where_else_to_write(tmp_path):
    class FullDisk:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, chunk):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ProbingError, match=r"cannot write .*f\.bin \(No space left on device\): "
                                           r"free space there, or go elsewhere"):
        save(tmp_path / "f.bin", Pin(None), opener=lambda path, mode: FullDisk())


def test_an_error_of_the_source_passes_and_leaves_nothing(tmp_path):
    def broken():
        yield DATA
        raise ConnectionResetError("cut")

    with pytest.raises(ConnectionResetError):
        save(tmp_path / "f.bin", Pin(None), chunks=broken())
    assert not list(tmp_path.iterdir())


def test_a_web_page_in_place_of_the_file_is_named(tmp_path):
    (tmp_path / "page").write_text("\n  <!DOCTYPE html><html>Log in</html>")
    (tmp_path / "noise").write_bytes(DATA)
    assert "answered with a web page" in mismatch_cause(tmp_path / "page")
    assert "changed or the download was corrupted" in mismatch_cause(tmp_path / "noise")
