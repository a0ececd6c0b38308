"""Writing in place: a file or folder appears under its name whole or not at all, a failed
write leaves neither a temporary nor a change, and deleting renames away first."""

import pytest

from probing.utils.atomic import delete, replace, write_text_atomic, written_in_place


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_file_is_renamed_into_place_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), written_in_place(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and leftovers(tmp_path) == ["out.txt"]
    with written_in_place(target) as tmp:
        assert tmp.parent == tmp_path and not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new" and leftovers(tmp_path) == ["out.txt"]


def test_a_folder_and_what_a_crash_left_at_the_temporary_name(tmp_path):
    target = tmp_path / "step-0000010"
    stale = tmp_path / "step-0000010.tmp"
    (stale / "sub").mkdir(parents=True)
    with written_in_place(target, ".tmp") as tmp:
        assert tmp == stale and not tmp.exists()
        tmp.mkdir()
        (tmp / "weights").write_text("w")
    assert (target / "weights").read_text() == "w" and leftovers(tmp_path) == [target.name]


def test_keep_existing_keeps_the_folder_another_process_finished_first(tmp_path):
    target = tmp_path / "cache"
    (target / "theirs").mkdir(parents=True)
    with written_in_place(target, keep_existing=True) as tmp:
        (tmp / "ours").mkdir(parents=True)
    assert leftovers(target) == ["theirs"] and leftovers(tmp_path) == ["cache"]
    with pytest.raises(OSError), written_in_place(target) as tmp:
        (tmp / "ours").mkdir(parents=True)
    assert leftovers(tmp_path) == ["cache"]


def test_write_text_and_replace(tmp_path):
    assert write_text_atomic(tmp_path / "a.txt", "text").read_text() == "text"
    assert replace(tmp_path / "a.txt", tmp_path / "b.txt").read_text() == "text"
    assert leftovers(tmp_path) == ["b.txt"]


@pytest.mark.parametrize("kind", ["folder", "file", "link", "gone"])
def test_delete_renames_away_then_removes(tmp_path, kind):
    path, aside = tmp_path / "cache", tmp_path / ".removing-cache"
    if kind == "folder":
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "f").write_text("x")
    elif kind == "file":
        path.write_text("x")
    elif kind == "link":
        (tmp_path / "kept").mkdir()
        path.symlink_to(tmp_path / "kept")
    delete(path, aside)
    assert leftovers(tmp_path) == (["kept"] if kind == "link" else [])
