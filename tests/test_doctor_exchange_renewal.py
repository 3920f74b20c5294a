"""Where a mend gives the course a new inbound (the folder there moved aside, a link removed, or none there), the
class's own inbound, renamed in the course's folder, is moved back instead, and where it may be elsewhere the line
gives the `find` that lists it (r20m M1: a link or a folder of hers put in place of the renamed inbound, or the inbound
moved three levels down; the mend made a new empty inbound, the doctor then said ok, and collect missed the earlier
submissions; `remake.renewal`). Each mend is followed as written, as root, and the submissions counted after."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from support.doctor_exchange import GRADER, STUDENT, SUBMISSION, course_in, doctor, follow, hers, submit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.mark.parametrize("put", ["a link", "a folder of hers"])
def test_the_renamed_inbound_is_moved_back_in_place_of_what_she_put_there(open_tmp, monkeypatch, put):
    """The grader's inbound renamed to .i, a link (to /home) or a 3733 folder of hers named inbound: the grader's
    doctor's mend removes the link or moves hers aside and moves .i back; followed, the submission is collectable."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    os.rename(course / "inbound", course / ".i")
    if put == "a link":
        (course / "inbound").symlink_to("/home")
        os.lchown(course / "inbound", STUDENT, STUDENT)
    else:
        hers(course / "inbound", 0o3733)
    said = doctor(open_tmp)
    assert f"{course / '.i'}, yours with the inbound's mode, is moved back as the class's inbound" in said, said
    assert f"mv -T -- {course / '.i'} {course / 'inbound'}" in said and "mkdir -m 3733" not in said, said
    aside = follow(said)
    assert os.listdir(course / "inbound") == [SUBMISSION] and os.stat(course / "inbound").st_uid == GRADER
    assert (aside is None) == (put == "a link") and not os.path.lexists(course / ".i")
    if aside is not None:
        assert os.stat(aside / "inbound").st_uid == STUDENT


def test_an_inbound_moved_deeper_than_the_doctor_looks_is_listed_by_the_lines_find(open_tmp, monkeypatch):
    """The class's inbound moved three levels down in the course's folder: the line making inbound anew gives the
    `find` (the collector's folders with the inbound's mode on the exchange's file system), which lists it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    deep = hers(hers(hers(course / "d1") / "d2") / "d3") / "inbound"
    os.rename(course / "inbound", deep)
    said = doctor(open_tmp)
    assert f"{course / 'inbound'} is missing" in said and f"fix: `mkdir -m 3733 -- {course / 'inbound'}" in said, said
    find = re.search(r"`(find [^`]+)` as root lists the folders with the inbound's mode uid \d+'s", said)
    assert find and f" -uid {GRADER}" in find.group(1) and " -xdev " in find.group(1), said
    listed = subprocess.run(["bash", "-c", find.group(1)], capture_output=True, text=True).stdout.splitlines()
    assert str(deep) in listed, (find.group(1), listed)


@pytest.mark.parametrize("moved", ["deep in the course's folder", "into another course's inbound"])
def test_the_missing_inbounds_line_takes_as_the_class_s_what_put_back_moves(open_tmp, monkeypatch, moved):
    """r20aj M2: the class's inbound moved away, another course of the grader's (its inbound 3733, holding a folder
    named as this course's submission, which any student may write there) beside it: the line's find lists both, and
    the line said one holding the class's submissions is the class's. r20al 1: its fix ruled out every folder in a
    course folder, the class's own included (moved three levels down in hers, or into the other course's inbound,
    which any student may write in). The line's rule is --put-back's: the other course's inbound is refused, the
    class's moved back wherever it was moved."""
    from lrcourse.grading.doctor.put_back import PutBackRefused, put_back_found

    course = course_in(monkeypatch, open_tmp, 0o1777)
    other = course.parent / "other-course" / "inbound"
    other.parent.mkdir(), other.mkdir()
    for folder, mode in ((other.parent, 0o755), (other, 0o3733)):
        os.chown(folder, GRADER, 0)
        folder.chmod(mode)
    submit(course / "inbound")
    submit(other)  # the same name as the class's submission: what it holds cannot tell the two apart
    if moved == "into another course's inbound":
        found = other / "zz"
    else:
        found = hers(hers(hers(course / "d1") / "d2") / "d3") / "inbound"  # deeper than the doctor looks
    os.rename(course / "inbound", found)
    said = doctor(open_tmp)
    find = re.search(r"`(find [^`]+)` as root lists the folders with the inbound's mode uid \d+'s", said)
    assert find, said
    listed = subprocess.run(["bash", "-c", find.group(1)], capture_output=True, text=True).stdout.splitlines()
    assert str(found) in listed and str(other) in listed, (find.group(1), listed)
    assert (
        "(another course's live inbound is listed too: a folder named inbound in a folder of the collector's or "
        "root's outside this course's folder and not in an inbound, in this exchange or another root; it may be "
        "that course's" in said
    ), said
    assert (
        "one holding the class's submissions (`ls -la` it), unless it is another course's live inbound (above), is the "
        "class's inbound" in said
    ), said
    with pytest.raises(PutBackRefused):
        put_back_found(other, course / "inbound", GRADER)
    put_back_found(found, course / "inbound", GRADER)
    assert os.listdir(course / "inbound") == [SUBMISSION] and os.listdir(other) == [SUBMISSION]
