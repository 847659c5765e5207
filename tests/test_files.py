"""Replacing a folder (subliminal.files.replace_folder): the old one or the new one, never neither."""

from pathlib import Path

import pytest

from subliminal import files


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "README.md").write_text(text)
    return path


def _aside(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.glob(".out.old-*"))


def test_a_new_folder_replaces_the_old_and_nothing_is_left_aside(tmp_path):
    out = _folder(tmp_path / "out", "old")
    files.replace_folder(_folder(tmp_path / "new", "new"), out)
    assert (out / "README.md").read_text() == "new" and not (tmp_path / "new").exists()
    assert _aside(tmp_path) == []
    files.replace_folder(_folder(tmp_path / "newer", "newer"), out)  # and again, over an existing one
    assert (out / "README.md").read_text() == "newer" and _aside(tmp_path) == []


@pytest.mark.parametrize("failure", [OSError("disk gone"), KeyboardInterrupt()])
def test_the_old_folder_comes_back_when_the_new_one_cannot_move_in(tmp_path, monkeypatch, failure):
    out = _folder(tmp_path / "out", "old")
    new = _folder(tmp_path / "new", "new")
    real_rename = Path.rename

    def rename(self, target):
        if self == new:
            raise failure
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(type(failure)):
        files.replace_folder(new, out)
    assert (out / "README.md").read_text() == "old" and _aside(tmp_path) == []


def test_a_folder_left_aside_by_a_killed_process_is_put_back_or_removed(tmp_path):
    _folder(tmp_path / ".out.old-0000abcd-4242", "old")  # killed between its two renames
    with pytest.raises(FileNotFoundError):
        files.replace_folder(tmp_path / "missing", tmp_path / "out")  # nothing to move in ...
    assert ((tmp_path / "out") / "README.md").read_text() == "old"  # ... but the old one is back
    assert _aside(tmp_path) == []
    _folder(tmp_path / ".out.old-0000abcd-4243", "stale")  # killed after the new one moved in
    files.replace_folder(_folder(tmp_path / "new", "new"), tmp_path / "out")
    assert ((tmp_path / "out") / "README.md").read_text() == "new" and _aside(tmp_path) == []
