"""`lrcourse doctor --put-back PATH` (lrcourse/grading/doctor/put_back.py) on the way to the course's folder: every
folder and link from / to it no account but root and the collector can change, as collect walks it, else refused with
nothing moved (r20z W1, r20aa W1 and W2, r20ab W1, r20ac W1 and M3). Run in-process as root, as the command does."""

from __future__ import annotations

import os

import pytest

from support.doctor_exchange import GRADER, STUDENT, SUBMISSION
from support.put_back import moved_three_down, put_back

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.mark.parametrize("above", ["hers", "open without its sticky bit"])
def test_a_folder_above_the_course_folder_that_others_may_change_is_refused(open_tmp, monkeypatch, capsys, above):
    """r20z W1: the check stopped at the course's folder. Its parent hers (the course's folder a link of hers into her
    folder) or an exchange root of mode 0777: after "moved back", she moved the course's folder, the class's inbound in
    it, away and put her own in its place. Refused, nothing moved."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    if above == "hers":
        os.chown(course.parent, STUDENT, STUDENT)
        reason = f"on the way to {course}, the folder {course.parent} on its path is uid {STUDENT}'s: its owner"
    else:
        course.parent.chmod(0o777)
        reason = f"on the way to {course}, the folder {course.parent} on its path is writable by others (mode 777)"
    assert put_back(local, found) == 1
    said = capsys.readouterr().err
    assert reason in said, said
    assert os.listdir(found) == [SUBMISSION] and not os.path.lexists(course / "inbound")


def test_a_root_named_like_the_course_is_checked_and_a_linked_course_folder_refused(open_tmp, monkeypatch, capsys):
    """r20aa W1: the folders above were told from the last by name, so a 0777 folder named like the course above it
    went unchecked. r20aa W2: the course's name in an open root a link of hers to a folder of the grader's: the checks
    ran on the target and said "moved back" outside the exchange. Both refused, nothing moved."""
    from lrcourse.grading.doctor.put_back import PutBackRefused, held

    above = open_tmp / "lr-schedules"
    (above / "lr-schedules").mkdir(parents=True)
    above.chmod(0o777)
    with pytest.raises(PutBackRefused, match="others may write in .*/lr-schedules, a folder above .* no sticky bit"):
        held(above / "lr-schedules", GRADER)
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    real = open_tmp / "graders"
    os.rename(course, real)
    course.symlink_to(real)
    os.chown(course, STUDENT, STUDENT, follow_symlinks=False)
    assert put_back(local, real / found.relative_to(course)) == 1
    assert f"1777) and lr-schedules in it is uid {STUDENT}'s" in capsys.readouterr().err  # a link of hers
    os.chown(course, 0, 0, follow_symlinks=False)  # root's: still not the course's folder
    assert put_back(local, real / found.relative_to(course)) == 1
    assert f"{course} is a link (to {real}), not the course's folder" in capsys.readouterr().err
    assert not os.path.lexists(real / "inbound")


def test_a_link_in_place_of_the_exchanges_root_is_refused_unless_roots_and_kept(open_tmp, monkeypatch, capsys):
    """r20ab W1: above a 0777 folder she moved the exchange's root away and left a link at its name: the checks ran on
    where it led and "moved back" landed outside the exchange; she then led the link to a folder of hers. A link on
    the configured path must be root's, in a folder no one else may change."""
    from lrcourse.grading.exchange import inbound_folder

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    above = open_tmp / "above"
    above.mkdir(mode=0o777)
    above.chmod(0o777)
    (above / "exchange").symlink_to(course.parent)
    exchange = inbound_folder.Exchange(above / "exchange", "lr-schedules")
    monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: exchange)
    assert put_back(local, found) == 1
    assert f"the folder {above} on its path is writable by others (mode 777)" in capsys.readouterr().err
    above.chmod(0o755)
    os.chown(above / "exchange", STUDENT, STUDENT, follow_symlinks=False)
    assert put_back(local, found) == 1
    assert f"{above}/exchange is a link of uid {STUDENT}'s" in capsys.readouterr().err
    assert not os.path.lexists(course / "inbound")
    os.chown(above / "exchange", 0, 0, follow_symlinks=False)  # the set-up's own link, in a folder only root changes
    assert put_back(local, found) == 0, capsys.readouterr().err
    assert os.listdir(course / "inbound") == [SUBMISSION]


@pytest.mark.parametrize("way", ["her-link-behind-roots-link", "open-folder-above-roots-link", "the-collectors-link"])
def test_the_way_to_the_course_is_walked_as_collect_walks_it(open_tmp, monkeypatch, capsys, way):
    """r20ac W1: only the configured path's own names were looked at. (B) Root's link led into a 0777 folder where she
    had put a link of hers, to the collector's local course folder: "moved back" landed there, and she then led her
    link to an exchange of hers, where the next submissions reached her. (A) A 0777 folder above a folder holding
    root's link: she swapped that folder for one of hers, with the same outcome. Both refused now, nothing moved, as
    collect, release and the doctor refuse them (path_walk). r20ac M3: a link of the collector's, which the doctor
    accepts, was refused with a line the doctor never gave; it is taken."""
    from lrcourse.grading.exchange import inbound_folder

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    opened = open_tmp / "open"
    opened.mkdir()
    opened.chmod(0o777)
    if way == "her-link-behind-roots-link":
        decoy = open_tmp / "decoy" / "lr-schedules"  # the collector's local course, say
        decoy.mkdir(parents=True)
        os.chown(decoy, GRADER, GRADER)
        (opened / "exchange").symlink_to(decoy.parent)  # hers
        os.chown(opened / "exchange", STUDENT, STUDENT, follow_symlinks=False)
        (open_tmp / "srv").mkdir(mode=0o755)
        (open_tmp / "srv" / "exchange").symlink_to(opened / "exchange")
        root, said = open_tmp / "srv" / "exchange", f"the folder {opened} on its path is writable by others (mode 777)"
    elif way == "open-folder-above-roots-link":
        (opened / "sub").mkdir(mode=0o755)
        (opened / "sub" / "exchange").symlink_to(course.parent)
        root, said = opened / "sub" / "exchange", f"the folder {opened} on its path is writable by others (mode 777)"
    else:
        (open_tmp / "grader").mkdir(mode=0o755)
        (open_tmp / "grader" / "exchange").symlink_to(course.parent)
        for path in (open_tmp / "grader", open_tmp / "grader" / "exchange"):
            os.chown(path, GRADER, GRADER, follow_symlinks=False)
        root, said = open_tmp / "grader" / "exchange", None
    exchange = inbound_folder.Exchange(root, "lr-schedules")
    monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: exchange)
    if said is None:
        assert put_back(local, found) == 0, capsys.readouterr().err
        assert os.listdir(course / "inbound") == [SUBMISSION] and not os.path.lexists(found)
        return
    assert put_back(local, found) == 1
    assert f"on the way to {root}/lr-schedules, {said}" in capsys.readouterr().err
    assert os.listdir(found) == [SUBMISSION] and not os.path.lexists(open_tmp / "decoy" / "lr-schedules" / "inbound")


def test_another_courses_inbound_is_never_moved_here(open_tmp, monkeypatch, capsys):
    """r20ak 1: the doctor's line called a folder holding this course's submission names the class's inbound; another
    course's inbound held one (any student may write such a folder there), and --put-back moved it here: that course
    lost its inbound, this one took its submissions. Refused, nothing moved."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    other = course.parent / "other-course" / "inbound"
    other.mkdir(parents=True)
    for path in (other.parent, other):
        os.chown(path, GRADER, GRADER)
    other.chmod(0o3733)
    assert put_back(local, other) == 1
    said = capsys.readouterr().err
    assert f"{other} is named inbound in a folder of " in said and "where a course keeps its inbound" in said, said
    assert other.is_dir() and not os.path.lexists(course / "inbound")


@pytest.mark.parametrize(
    "where",
    [
        "another exchange root",
        "this exchange's root",
        "a student's folder",
        "another course's inbound",  # r20an 4: no course keeps its live inbound in an inbound
        "this course's outbound",  # r20an 5: this course's own folder is no other course's
    ],
)
def test_a_folder_named_inbound_elsewhere_is_refused_only_where_a_course_may_keep_it(
    open_tmp, monkeypatch, capsys, where
):
    """r20al 2: the refusal looked only at this exchange's root: another section's inbound in a second exchange root
    on the same file system (the collector's) was moved here, with its student's submission. A folder named inbound
    in a folder of the collector's or root's (a course's, or an exchange root) is refused, with the rename that lets
    the instructor move it if it is the class's; in a folder of a student's (she moved it there) it is moved back."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    moved_back = where in ("a student's folder", "another course's inbound", "this course's outbound")
    if where == "a student's folder":
        os.rename(found, found.parent / "inbound")
        found = found.parent / "inbound"
    elif where == "another course's inbound":
        other = course.parent / "other-course" / "inbound"
        other.mkdir(parents=True)
        for path in (other.parent, other):
            os.chown(path, GRADER, GRADER)
        other.chmod(0o3733)
        os.rename(found, other / "inbound")
        found = other / "inbound"
    elif where == "this course's outbound":
        os.rename(found, course / "outbound" / "inbound")
        found = course / "outbound" / "inbound"
    else:
        parent = open_tmp / "ex2" / "lr-schedules-b" if where == "another exchange root" else course.parent
        parent.mkdir(parents=True, exist_ok=True)
        os.chown(parent, GRADER if where == "another exchange root" else 0, GRADER)
        os.rename(found, parent / "inbound")
        found = parent / "inbound"
    code = put_back(local, found)
    said = capsys.readouterr().err
    if moved_back:
        assert code == 0, said
        assert os.listdir(course / "inbound") == [SUBMISSION]
        return
    assert code == 1 and "is named inbound in a folder of" in said and os.listdir(found) == [SUBMISSION], said
    renamed = found.parent / "inbound-of-lr-schedules"
    assert f"rename it where it is as root, `mv -T -- {found} {renamed}` (or any name not taken there)" in said, said
    os.rename(found, renamed)  # the instructor decides it is the class's, and follows the line
    assert put_back(local, renamed) == 0, capsys.readouterr().err
    assert os.listdir(course / "inbound") == [SUBMISSION] and not os.path.lexists(renamed)
