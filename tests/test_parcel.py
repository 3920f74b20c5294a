"""A submitted folder as the grading queue carries it (`parcel`): plain files only, by intake's rules, both ways."""

import base64
import os

import pytest

from lrcourse.grading.fleet.parcel import ParcelRefused, pack, unpack


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_folder_of_plain_files_round_trips(tmp_path):
    source = tmp_path / "in"
    (source / "data").mkdir(parents=True)
    (source / "answer.ipynb").write_text("{}")
    (source / "data" / "notes.txt").write_bytes(b"\x00\xff bytes")
    unpack(pack(source), tmp_path / "out")
    assert (tmp_path / "out" / "answer.ipynb").read_text() == "{}"
    assert (tmp_path / "out" / "data" / "notes.txt").read_bytes() == b"\x00\xff bytes"


def test_packing_refuses_a_link_by_intakes_rule(tmp_path):
    (tmp_path / "in").mkdir()
    os.symlink("/etc/passwd", tmp_path / "in" / "data.txt")
    with pytest.raises(ParcelRefused, match="data.txt is a symbolic link"):
        pack(tmp_path / "in")


@pytest.mark.parametrize(
    "files, why",
    [
        ({"../escape.txt": encoded("x")}, "not a plain relative path"),
        ({"/etc/cron.d/x": encoded("x")}, "not a plain relative path"),
        ({"a/./b": encoded("x")}, None),  # PurePosixPath folds "."; the name is then a/b
        ({"ok.txt": "not base64!"}, "not base64"),
        ({"ok.txt": 12}, "not base64 text"),
        (["ok.txt"], "a mapping"),
        ({"setup.py": encoded("import os")}, "is Python code"),
        ({"nbgrader_config.py": encoded("c = 1")}, "configuration"),
    ],
)
def test_unpacking_trusts_nothing_it_reads(tmp_path, files, why):
    target = tmp_path / "out"
    if why is None:
        unpack(files, target)
        assert (target / "a" / "b").read_text() == "x"
        return
    with pytest.raises(ParcelRefused, match=why):
        unpack(files, target)
    assert not (tmp_path / "escape.txt").exists()
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_a_refused_parcel_leaves_none_of_its_files(tmp_path):
    """A parcel whose names pass but whose files intake refuses (a configuration file among plain ones) leaves
    no file behind: it is checked before it is renamed into place."""
    target = tmp_path / "autograded" / "mallory" / "ch"
    files = {"answer.ipynb": encoded("{}"), "nbgrader_config.py": encoded("c.Exchange.root = '/'")}
    with pytest.raises(ParcelRefused, match="configuration"):
        unpack(files, target)
    assert list((tmp_path / "autograded" / "mallory").iterdir()) == []


def test_unpacking_refuses_an_existing_folder(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        unpack({"a.txt": encoded("x")}, tmp_path / "out")


def test_unpacking_refuses_more_than_the_size_limit(tmp_path, monkeypatch):
    from lrcourse.grading.fleet import parcel

    monkeypatch.setattr(parcel, "MAX_SUBMISSION_MB", 1)
    with pytest.raises(ParcelRefused, match="larger than 1 MB"):
        unpack({"big.bin": base64.b64encode(b"x" * (1 << 20) + b"y").decode()}, tmp_path / "out")
