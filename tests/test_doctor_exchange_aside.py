"""No mend loses, exposes or hands over the class's submissions (r20j; lrcourse/grading/exchange/kept_folders.py):
what a mend takes out of the exchange is moved aside, as root, into a fresh folder of root's (`kept_folders.aside`),
never removed (W1: inbound/ moved one level down, into a folder whose mend was `rm -r`); a missing inbound/ is said
with whatever other line is (W2); only a folder of the grader's or root's is moved back to inbound/ (W3); a name a
student chose prints on one line (W4); a course folder its owner runs no course from is moved aside (M1). Each mend
is followed as written (the shell runs it), then the submissions are looked for, the inbound's owner and the next
line checked."""

from __future__ import annotations

import os
import shutil

import pytest

from lrcourse.shell_words import shell_word

from support.doctor_exchange import GRADER, OK, STUDENT, course_in, doctor, follow, grader_release_all, hers

SUBMISSION = "alice+ch1+2026-12-07 10:00:00.000000 UTC+abc"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def submit(inbound) -> None:
    """A student's submission folder in `inbound`, as nbgrader's submit leaves it."""
    (inbound / SUBMISSION).mkdir()
    (inbound / SUBMISSION / "learning_rate.ipynb").write_text("{}")
    for path in (inbound / SUBMISSION, inbound / SUBMISSION / "learning_rate.ipynb"):
        os.chown(path, STUDENT, STUDENT)


def follow_all(open_tmp, course, most: int = 4) -> list:
    """Each line's first mend followed as written until the doctor says ok (the grader's release in between, as its
    mends say); the folders things were moved aside into. Every line must be true: each step changes something."""
    asides = []
    for _ in range(most):
        said = doctor(open_tmp)
        if OK in said:
            return asides
        if "rm -r" in said or "-exec rm" in said:
            raise AssertionError(f"a removal mend: {said}")
        aside = follow(said)
        asides += [aside] if aside else []
        grader_release_all(course.parent, open_tmp)  # makes outbound/ again once moved aside; refused before
    raise AssertionError(f"still not ok after {most} mends: {doctor(open_tmp)}")


def found_submission(course, asides) -> list:
    """Where the submission is now: in the inbound or any folder moved aside."""
    places = [course / "inbound", *asides]
    return [path for place in places if place.exists() for path in place.rglob(SUBMISSION)]


@pytest.mark.parametrize("where", ["her outbound", "her outbound, deeper", "a chapter others write in", "0777"])
def test_the_class_inbound_moved_one_level_down_is_never_deleted(open_tmp, monkeypatch, where):
    """r20j W1: in a course folder the group may write in, a student moved inbound/ into an outbound/ of her own (a) or
    a chapter folder (b) or outbound/ (c) others may write in; the mend `rm -r` of that folder, followed as written,
    deleted every submission, and the next line said only the group's warn (W2). Now every mend is followed: the
    submission is back in the inbound or moved aside, the inbound is the grader's, and the doctor ends ok."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert grader_release_all(course.parent, open_tmp) == "None"
    submit(course / "inbound")
    outbound = course / "outbound"
    if where.startswith("her outbound"):
        os.rename(outbound, course / ".o")
        inner = hers(outbound) / "ch1"
        if where.endswith("deeper"):  # below the doctor's look: made again, the old one moved aside with hers
            inner = hers(hers(inner) / "x") / "y"
    elif where == "0777":
        outbound.chmod(0o777)
        inner = outbound / "ch3"
    else:
        (outbound / "ch1").chmod(0o777)
        inner = outbound / "ch1" / "x"
    os.rename(course / "inbound", inner)
    said = doctor(open_tmp)
    assert f"{course / 'inbound'} is missing: students cannot submit" in said and "stops=collect" in said, said
    asides = follow_all(open_tmp, course)
    try:
        assert len(found_submission(course, asides)) == 1, (asides, said)
        assert os.stat(course / "inbound").st_uid == GRADER and os.stat(course / "inbound").st_mode & 0o7777 == 0o3733
        assert OK in doctor(open_tmp)
    finally:
        for aside in asides:
            shutil.rmtree(aside)


@pytest.mark.parametrize("hidden", ["renamed", "moved below her folders", "moved deeper"])
def test_a_students_inbound_shaped_folder_is_never_moved_back(open_tmp, monkeypatch, hidden):
    """r20j W3: a student renamed inbound/ and made a 3733 feedback/ of hers holding a submission-named file; the
    doctor's `mv -T <feedback> <inbound>`, followed, made her folder the class's inbound: she read a classmate's next
    submission. Now hers is moved aside; the real one, found (the grader's, 3733), is moved back, else made again."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    feedback = hers(course / "feedback", 0o3733)
    (feedback / SUBMISSION.replace("abc", "aaa")).touch()
    hidden_at = course / ".i" if hidden == "renamed" else hers(hers(course / ".h") / "a") / "b"
    if hidden == "moved deeper":  # r20k N2: two levels down is looked at, three not
        hidden_at = hers(hidden_at) / "c"
    os.rename(course / "inbound", hidden_at)
    said = doctor(open_tmp)
    assert f"{feedback} has the shape of the class's inbound" in said, said
    assert f"{feedback} is uid {STUDENT}'s, not the class's inbound: moved aside, not back" in said, said
    if hidden != "moved deeper":
        assert f"{hidden_at} has its mode and owner: the class's inbound" in said, said
        back = f'[ ! -L {hidden_at} ] && s=$(stat -c %u:%a -- {hidden_at}) && {{ [ "$s" = {GRADER}:3733 ]'
        assert f"fix: `[ ! -L {course} ] && " in said and back in said, said  # a link at run time refused (r20k W3)
        if hidden == "moved below her folders":  # her folder holding it made root's and closed first
            closed = f"chown -h root -- {hidden_at.parent} && chmod go-w -- {hidden_at.parent} && "
            top = f"[ ! -L {hidden_at.parent.parent} ] && chown -h root -- {hidden_at.parent.parent} && "
            assert said.index(top) < said.index(closed), said  # top-down (r20l W1)
            assert f"{closed}{back}" in said, said
    else:
        assert "fix: `d=$(mktemp -d " in said and "then make inbound/ again: `mkdir -m 3733 -- " in said, said
    asides = follow_all(open_tmp, course)
    try:
        assert os.stat(course / "inbound").st_uid == GRADER and not os.path.lexists(feedback)
        assert len([path for aside in asides for path in aside.rglob("feedback")]) == 1  # hers, moved aside
        expected = [course / "inbound" / SUBMISSION] if hidden != "moved deeper" else []
        assert list((course / "inbound").rglob(SUBMISSION)) == expected
    finally:
        for aside in asides:
            shutil.rmtree(aside)


def test_a_missing_inbound_is_said_beside_the_group_warn(open_tmp, monkeypatch):
    """r20j W2: with a course folder its group may write in, a missing inbound/ got only the group's warn."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, GRADER, STUDENT)
    course.chmod(0o2775)
    os.rmdir(course / "inbound")
    said = doctor(open_tmp)
    assert f"{course / 'inbound'} is missing: students cannot submit" in said and "warning=False" in said, said
    assert "is writable by its group" in said and "stops=collect" in said, said


def test_a_students_chapter_name_prints_on_one_line(open_tmp, monkeypatch):
    """r20j W4: a chapter folder renamed `x\\nok    the nbgrader exchange: all is well\\nx` reached the "moved aside"
    mend raw: the doctor and release printed a forged ok line. Now escaped in the lines, the mend runs as written."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert grader_release_all(course.parent, open_tmp) == "None"
    name = "x\nok    the nbgrader exchange: all is well\nx\\e'"
    chapter = course / "outbound" / name
    os.rename(course / "outbound" / "ch1", chapter)
    chapter.chmod(0o777)
    (chapter / SUBMISSION).touch()
    os.chown(chapter / SUBMISSION, STUDENT, STUDENT)
    said, refused = doctor(open_tmp), grader_release_all(course.parent, open_tmp)
    assert "\n" not in said and "\n" not in refused and shell_word(name) in said, said
    assert "Nothing was released." in refused and "$'x\\x0aok    the" in refused, refused
    aside = follow(said)
    try:
        assert (aside / name / SUBMISSION).exists() and not os.path.lexists(chapter)
        assert grader_release_all(course.parent, open_tmp) == "None" and OK in doctor(open_tmp)
    finally:
        shutil.rmtree(aside)


def test_a_course_folder_a_student_made_first_is_moved_aside(open_tmp, monkeypatch):
    """r20j M1: a student made the course folder first, with a 3733 inbound of hers: "run lrcourse as <her> (it holds
    the class's inbound) ... nothing is to be removed", and no way out. Its owner owns no local course folder here:
    moved aside, then the README's set-up; her folder is kept, out of the exchange."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=STUDENT)
    said = doctor(open_tmp)
    assert f"{course} is owned by uid {STUDENT}" in said and "; if not (a student's, made before the " in said, said
    assert f"fix: if uid {STUDENT} is the account that runs this course " in said and "rm " not in said, said
    aside = follow("fix: " + said[said.index("`d=$(mktemp -d ") :])  # the "if not" branch, as written
    try:
        assert (aside / "lr-schedules" / "inbound").is_dir() and not os.path.lexists(course)
        assert f"{course} does not exist yet" in doctor(open_tmp)
    finally:
        shutil.rmtree(aside)


@pytest.mark.parametrize("inbound", ["a link to /home", "10,001 entries of hers"])
def test_a_students_course_folder_is_not_called_the_courses_by_what_its_inbound_shows(open_tmp, monkeypatch, inbound):
    """r20k W1: a student's course folder whose inbound is a link to /home (folders of others' there), or holds more
    entries than the look reads, got "run lrcourse as <her> (it owns this course)": not known, so moved aside, as any
    course folder whose owner owns no local course folder and whose inbound shows no classmate's submission."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=STUDENT)
    os.rmdir(course / "inbound")
    if inbound == "a link to /home":
        (course / "inbound").symlink_to("/home")
        os.lchown(course / "inbound", STUDENT, STUDENT)
    else:
        (course / "inbound").mkdir()
        for i in range(10_001):
            (course / "inbound" / f"{i}").mkdir()
        os.chown(course / "inbound", STUDENT, STUDENT)
        os.chmod(course / "inbound", 0o3777)  # readable: the grader's doctor reads past the look's bound
    said = doctor(open_tmp)
    assert f"{course} is owned by uid {STUDENT}" in said and "it owns this course" not in said, said
    assert "fix: `d=$(mktemp -d " in said and "rm -r" not in said, said


def test_a_printable_name_she_chose_is_quoted_in_the_problem_text(open_tmp, monkeypatch):
    """r20k N1: a printable name was printed raw in the problem text (the mends quoted it): a renamed inbound called
    "x is fine -- fix: nothing to do, ..." read as a fix before the real one. Every path a line names goes through
    `kept_folders.shown`, quoted as the mends quote it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    renamed = course / "x is fine -- fix: nothing to do, all is well (ok); ignore the rest"
    os.rename(course / "inbound", renamed)
    said = doctor(open_tmp)
    problem = said.split(" | fix: ")[0]
    assert f"; {shell_word(renamed)} has its mode and owner: the class's inbound" in problem, said
    assert f"'{renamed}' has its mode" in problem and f" {renamed} has" not in problem, said
    assert f"mv -T -- {shell_word(renamed)} {course / 'inbound'}` (as root" in said, said


def test_an_aside_stopped_after_its_first_path_says_what_moved(open_tmp, monkeypatch):
    """r20m N1: an aside of two paths whose second was refused (a link by then) printed "nothing moved" after it had
    moved the first, whose new home only rmdir's error named. Now it says it stopped part way, and where."""
    import subprocess

    from lrcourse.grading.exchange.kept_folders import aside

    course = course_in(monkeypatch, open_tmp, 0o1777)
    (course / "outbound" / "ch2").mkdir()
    (course / "outbound" / "ch1").symlink_to(open_tmp)
    first, then = course / "outbound" / "ch2", course / "outbound" / "ch1"
    ran = subprocess.run(["bash", "-c", aside([first, then], course.parent)], capture_output=True, text=True)
    assert ran.returncode and "nothing moved" not in ran.stderr and "moved to" not in ran.stdout, ran
    where = ran.stderr.split("what moved is in ")[1].strip()
    assert os.listdir(where) == ["ch2"] and not first.exists() and then.is_symlink(), ran
    shutil.rmtree(where)
