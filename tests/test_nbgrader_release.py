"""nbgrader's release_assignment and release_feedback, as the course's nbgrader_config.py sets them
(lrcourse/grading/exchange/nbgrader_release.py): the exchange's course folder and the folders in it are made or used
only as the releasing user's or root's folders, never through a link a student put in the 1777 exchange (R20b2 W1)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from nbgrader.exchange import ExchangeError

from support.exchange_apps import CHAPTER, COURSE_ID, FEEDBACK, RELEASE, course_with_a_release, exchange_app
from support.other_uid import as_user
from support.paths import ROOT
from support.posix_acl import acl_bytes, set_acl


def course_and_exchange(tmp_path: Path) -> tuple[Path, Path]:
    """An instructor's course with one released chapter and one student's feedback, and an empty 1777 exchange."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    return course_with_a_release(tmp_path), exchange


def release(course: Path, exchange: Path, which: str, groupshared: bool = False):
    """The course's release (`which`: "assignment" or "feedback") run in this process, as nbgrader's apps run it."""
    return exchange_app(which, exchange, course, groupshared=groupshared).start()


def victim_folder(tmp_path: Path) -> tuple[Path, dict]:
    """A folder only its owner may use (root's own, as in R20b2 W1), and what is in it."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "keep").write_text("mine")
    return victim, snapshot(victim)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (stat.S_IMODE(p.lstat().st_mode), p.lstat().st_uid) for p in folder.rglob("*")}


def test_the_courses_configuration_names_the_trusted_releases():
    text = (ROOT / "nbgrader_config.py").read_text()
    assert f'c.ExchangeFactory.release_assignment = "{RELEASE}"' in text
    assert f'c.ExchangeFactory.release_feedback = "{FEEDBACK}"' in text


def test_an_honest_release_makes_nbgraders_folders_with_nbgraders_modes(tmp_path):
    course, exchange = course_and_exchange(tmp_path)
    release(course, exchange, "assignment")
    folder = exchange / COURSE_ID
    modes = {name: stat.S_IMODE((folder / name).lstat().st_mode) for name in (".", "outbound", "inbound")}
    assert modes == {".": 0o755, "outbound": 0o755, "inbound": 0o2733}
    assert (folder / "outbound" / CHAPTER / "notebook.ipynb").read_text() == "{}"
    release(course, exchange, "feedback")  # into the folders the release made: alice's page, under her secret's hash
    (page,) = (folder / "feedback").iterdir()
    assert page.read_text() == "<p>alice</p>" and page.suffix == ".html"
    assert stat.S_IMODE((folder / "feedback").lstat().st_mode) == 0o711


def test_release_feedback_alone_makes_the_course_folder_without_a_link(tmp_path):
    course, exchange = course_and_exchange(tmp_path)
    release(course, exchange, "feedback")
    assert stat.S_IMODE((exchange / COURSE_ID).lstat().st_mode) == 0o755
    assert len(list((exchange / COURSE_ID / "feedback").iterdir())) == 1


@pytest.mark.parametrize(
    "which, where",
    [
        ("assignment", COURSE_ID),
        ("assignment", f"{COURSE_ID}/outbound"),
        ("assignment", f"{COURSE_ID}/inbound"),
        ("feedback", COURSE_ID),
        ("feedback", f"{COURSE_ID}/feedback"),
    ],
)
def test_a_students_link_in_the_exchange_is_refused_and_its_target_untouched(tmp_path, which, where):
    """R20b2 W1: a link at <exchange>/<course_id> to a folder of the instructor's own (nbgrader's release made
    inbound/ 2733 and outbound/ in it), or at a folder the release makes in the course folder: refused, with the
    reason, and nothing made or written in the folder it names."""
    course, exchange = course_and_exchange(tmp_path)
    victim, before = victim_folder(tmp_path)
    link = exchange / where
    link.parent.mkdir(mode=0o755, exist_ok=True)
    link.symlink_to(victim)
    with pytest.raises(ExchangeError, match="is a symbolic link"):
        release(course, exchange, which)
    assert snapshot(victim) == before
    assert link.is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_a_course_folder_of_another_users_is_refused(tmp_path, which):
    """A student who made <exchange>/<course_id> first owns it: the release refuses it, as collect does, and
    writes nothing in it (root, unlike nbgrader's own check, could)."""
    course, exchange = course_and_exchange(tmp_path)
    squat = exchange / COURSE_ID
    squat.mkdir(mode=0o777)
    os.chown(squat, 4242, 4242)
    with pytest.raises(ExchangeError):
        release(course, exchange, which)
    assert list(squat.iterdir()) == []


def test_nbgraders_release_command_with_the_courses_configuration_refuses_a_link(tmp_path):
    """`nbgrader release_assignment` run in a course with this repository's nbgrader_config.py: the link at
    <exchange>/<course_id> is refused with the reason, and the folder it names is untouched."""
    course, exchange = course_and_exchange(tmp_path)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    (course / "release").rename(course / "notebooks")  # the course's release_directory
    victim, before = victim_folder(tmp_path)
    (exchange / COURSE_ID).symlink_to(victim)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "release_assignment", CHAPTER, f"--Exchange.root={exchange}"],
        cwd=course, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert f"{exchange / COURSE_ID} is a symbolic link" in said, said
    assert snapshot(victim) == before


def test_nbgraders_release_commands_with_the_courses_configuration_release_as_before(tmp_path):
    """The same commands, no link: the chapter released and alice's feedback page sent, nbgrader's folders made."""
    course, exchange = course_and_exchange(tmp_path)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    (course / "release").rename(course / "notebooks")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for command in ("release_assignment", "release_feedback"):
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", command, CHAPTER, f"--Exchange.root={exchange}"],
            cwd=course, capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    folder = exchange / COURSE_ID
    assert (folder / "outbound" / CHAPTER / "notebook.ipynb").read_text() == "{}"
    assert [page.read_text() for page in (folder / "feedback").iterdir()] == ["<p>alice</p>"]
    assert stat.S_IMODE((folder / "inbound").lstat().st_mode) == 0o2733


@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_a_course_folder_others_may_write_in_is_refused(tmp_path, which):
    """The instructor's own course folder, but 0777: a student could swap outbound/ or feedback/ in it for a link
    after the release checked it (lrcourse doctor fails it too). The README's 3733 inbound folder is released to."""
    course, exchange = course_and_exchange(tmp_path)
    folder = exchange / COURSE_ID
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ExchangeError, match=r"\(mode 0777\) is writable by other users"):
        release(course, exchange, which)
    assert list(folder.iterdir()) == []
    folder.chmod(0o755)
    (folder / "inbound").mkdir()
    (folder / "inbound").chmod(0o3733)
    release(course, exchange, which)
    assert stat.S_IMODE((folder / "inbound").lstat().st_mode) == 0o3733


@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_an_exchange_root_everyone_may_write_in_is_made_sticky_first(tmp_path, which):
    """nbgrader makes (or leaves) the exchange's root 0777: any student may rename the course's folder in it, checked
    or not, and put a link in its place before the copy. The release makes its own root 1777 first."""
    course, exchange = course_and_exchange(tmp_path)
    exchange.chmod(0o777)
    release(course, exchange, which)
    assert stat.S_IMODE(exchange.lstat().st_mode) == 0o1777


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_an_exchange_root_another_user_owns_and_may_rename_in_is_refused(tmp_path):
    course, exchange = course_and_exchange(tmp_path)
    os.chown(exchange, 4242, 4242)
    exchange.chmod(0o777)
    with pytest.raises(ExchangeError, match=r"is not a folder of yours or root's \(owned by uid 4242\)"):
        release(course, exchange, "assignment")
    assert list(exchange.iterdir()) == []


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the rule is root's: a course root owns is trusted only if no one else may change it"
)
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_root_refuses_a_course_another_account_may_write_in(tmp_path, which):
    """R20c2 W1: root's course with a release/ (or feedback/) its group may write in: a TA swaps the chapter's folder
    for a link to a root-only folder, which root's release would copy to every student. Refused, as collect refuses
    such a course, and nothing is made in the exchange or read from the link's target."""
    course, exchange = course_and_exchange(tmp_path)
    victim, before = victim_folder(tmp_path)
    shared = course / ("release" if which == "assignment" else "feedback")
    shared.chmod(0o775)
    os.chown(shared, 0, 4242)
    chapter = shared / CHAPTER if which == "assignment" else shared / "alice" / CHAPTER
    chapter.rename(chapter.with_name("old"))
    chapter.symlink_to(victim)
    with pytest.raises(ExchangeError, match="lrcourse release: run as root in a course that is not root's"):
        release(course, exchange, which)
    assert list(exchange.iterdir()) == []
    assert snapshot(victim) == before


@pytest.fixture
def reachable():
    """A scratch folder another uid can reach (pytest's tmp_path is under root's 0700 folder), removed after."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-release-"))
    scratch.chmod(0o755)
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="setting another uid needs root")
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_a_groupshared_release_checks_the_exchanges_root_too(reachable, which):
    """R20c2 W2: with groupshared nbgrader never calls ensure_root; the grader account's release (root's is refused
    a groupshared course) refuses a root another user owns (0777, where she may rename the course's folder and put
    a link in its place) all the same, and makes nothing in it; in its own 0777 root it adds the sticky bit first."""
    course, exchange = course_and_exchange(reachable)
    for path in [course, *course.rglob("*")]:
        os.chown(path, 4242, 4242)
    os.chown(exchange, 4343, 4343)
    exchange.chmod(0o777)
    said = as_user(4242, lambda: release(course, exchange, which, groupshared=True))
    assert said.startswith("ExchangeError") and "is not a folder of yours or root's (owned by uid 4343)" in said, said
    assert list(exchange.iterdir()) == []
    os.chown(exchange, 4242, 4242)  # the grader's, 0777: made sticky first (nbgrader's groupshared root)
    said = as_user(4242, lambda: release(course, exchange, which, groupshared=True))
    assert not said.startswith("ExchangeError"), said
    assert stat.S_IMODE(exchange.lstat().st_mode) == 0o1777
    folder = exchange / COURSE_ID / ("outbound" if which == "assignment" else "feedback")
    assert (folder.lstat().st_uid, stat.S_IMODE(folder.lstat().st_mode)) == (
        4242,
        0o2775 if which == "assignment" else 0o2771,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="root's release is the one refused")
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_root_refuses_a_groupshared_release(tmp_path, which):
    """R20d2 W1: in a groupshared course nbgrader makes the course and outbound folders 2775 and feedback 2771; a TA
    in their group put a link at <feedback>/<checksum>-tmp.html and root's release_feedback wrote a student's page
    over the root-only file it named. Root's groupshared release and release_feedback are refused before anything
    is made or written: the link's target keeps its text and mode, the exchange stays as it was."""
    course, exchange = course_and_exchange(tmp_path)
    release(course, exchange, "feedback")  # root's earlier release, not groupshared: alice's page's name is known
    feedback = exchange / COURSE_ID / "feedback"
    (page,) = feedback.iterdir()
    os.chown(feedback, 0, 4242)
    feedback.chmod(0o2771)  # as a groupshared release leaves it
    vfile = tmp_path / "vfile"
    vfile.write_text("root only")
    vfile.chmod(0o600)
    page.unlink()
    page.with_name(page.stem + "-tmp.html").symlink_to(vfile)  # the TA's link
    before = snapshot(exchange)
    with pytest.raises(ExchangeError, match="in a groupshared course, release as the grader account that owns the "):
        release(course, exchange, which, groupshared=True)
    assert (vfile.read_text(), stat.S_IMODE(vfile.lstat().st_mode)) == ("root only", 0o600)
    assert snapshot(exchange) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="the group rule is root's")
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_root_refuses_an_exchange_folder_a_group_may_write_in(tmp_path, which):
    """R20d2 W1, without groupshared: root's release refuses a course folder a group other than root's may write in
    (a TA in it could swap the next folder for a link after the check); root's group, as root's own, is trusted."""
    course, exchange = course_and_exchange(tmp_path)
    folder = exchange / COURSE_ID
    folder.mkdir()
    os.chown(folder, 0, 4242)
    folder.chmod(0o2775)
    with pytest.raises(
        ExchangeError, match=r"\(mode 2775\) is writable by other users \(its group, gid 4242, as root\)"
    ):
        release(course, exchange, which)
    assert list(folder.iterdir()) == []
    os.chown(folder, 0, 0)
    folder.chmod(0o2775)  # chown cleared the setgid bit
    release(course, exchange, which)


@pytest.mark.skipif(os.geteuid() != 0, reason="the ACL rule is root's")
def test_root_refuses_a_feedback_folder_with_a_named_acl(tmp_path):
    """R20e2 W2: root:root feedback/ 0771 with an access ACL u:54321:rwx (the group bits are the mask): gid 0 is no
    guard, 54321's link at alice's page's -tmp name had root write the page over a root-only file, no race. Refused
    with the mend to remove it (r20h W1: `setfacl -b` kept what others put in it) before anything is written; the file
    keeps its mode and text."""
    course, exchange = course_and_exchange(tmp_path)
    release(course, exchange, "feedback")  # root's earlier release: alice's page's name is known
    feedback = exchange / COURSE_ID / "feedback"
    (page,) = feedback.iterdir()
    set_acl(feedback, "system.posix_acl_access", acl_bytes((0x02, 54321)))
    feedback.chmod(0o771)  # the mask rwx: 54321 may write in it
    vfile = tmp_path / "vfile"
    vfile.write_text("root only")
    vfile.chmod(0o600)
    page.unlink()
    page.with_name(page.stem + "-tmp.html").symlink_to(vfile)  # 54321's link
    before = snapshot(exchange)
    with pytest.raises(
        ExchangeError,
        match=r"\(mode 0771\) is writable by other users \(a POSIX ACL .*mktemp -d .*release_feedback makes it again",
    ):
        release(course, exchange, "feedback")
    assert (vfile.read_text(), stat.S_IMODE(vfile.lstat().st_mode)) == ("root only", 0o600)
    assert snapshot(exchange) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_a_students_link_at_an_exchange_root_not_made_yet_is_refused(tmp_path, which):
    """R20c2 W3: the root not made yet, in a folder everyone may write in (as /tmp): a student's link there had
    nbgrader's ensure_root chmod the root-only folder it names 0777, then ours made it sticky. Refused before
    nbgrader's ensure_root; the folder keeps its mode and nothing is made in it."""
    course, _ = course_and_exchange(tmp_path)
    victim, before = victim_folder(tmp_path)
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    link = public / "exchange"
    link.symlink_to(victim)
    os.chown(link, 4242, 4242, follow_symlinks=False)
    with pytest.raises(
        ExchangeError, match=f"{public} on its path is writable by others .* exchange in it is uid 4242"
    ):
        release(course, link, which)
    assert stat.S_IMODE(victim.lstat().st_mode) == 0o700
    assert snapshot(victim) == before


@pytest.mark.parametrize("which", ["assignment", "feedback"])
def test_an_exchange_root_not_made_yet_is_made_only_where_no_one_else_may_write(tmp_path, which):
    """R20c2 W3: a root not made yet in a sticky folder everyone may write in: any student could make it (or a link)
    first, so the release refuses it; in a folder of the releasing user's only, nbgrader makes it as before."""
    course, _ = course_and_exchange(tmp_path)
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    with pytest.raises(ExchangeError, match="exchange in it is not made yet"):
        release(course, public / "exchange", which)
    assert list(public.iterdir()) == []
    private = tmp_path / "private"
    private.mkdir(mode=0o755)
    if which == "feedback":  # nbgrader's release_feedback makes no root: it says so
        with pytest.raises(ExchangeError, match="Unwritable directory"):
            release(course, private / "exchange", which)
        return
    release(course, private / "exchange", which)
    assert stat.S_IMODE((private / "exchange").lstat().st_mode) == 0o1777
    assert (private / "exchange" / COURSE_ID).is_dir()


def test_release_feedback_skips_a_student_without_a_timestamp_and_goes_on(tmp_path, caplog):
    """R20c2 N3: a hand copy in submitted/ without timestamp.txt left its feedback folder without one: nbgrader's
    release_feedback stopped there (FileNotFoundError) for the rest of the class. Now that student is skipped with a
    warning, and everyone else's feedback is released."""
    course, exchange = course_and_exchange(tmp_path)
    for student in ("aaron", "zoe"):  # before and after alice in glob order
        folder = course / "feedback" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / "notebook.html").write_text(f"<p>{student}</p>")
        (folder / "submission_secret.txt").write_text(student[0] * 32)
    release(course, exchange, "feedback")
    pages = sorted(page.read_text() for page in (exchange / COURSE_ID / "feedback").iterdir())
    assert pages == ["<p>alice</p>"]
    assert "Skipping student 'aaron': no timestamp.txt" in caplog.text
    assert "Skipping student 'zoe': no timestamp.txt" in caplog.text
    assert "so nbgrader's release of it would stop for the class" in caplog.text  # not misfiled (R20d2 N2)
