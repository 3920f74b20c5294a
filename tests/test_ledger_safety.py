"""The secret ledger's folder and collect's lock in a course folder others can write (F20, finding 4): a student
could pre-create `.secret_owners/` (a ledger of owners of her choosing) or `.secret_owners/<assignment>.lock` (held
by her own process, every collect waited for ever, silently). Collect and grade now refuse a ledger folder or lock
that is a symbolic link, another user's, or writable by group or others (`LedgerUnsafe`, an ExchangeUnusable), and a
collect that waits for another's lock says so once."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from lrcourse.cli import main as lrcourse_main
from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable
from lrcourse.grading.exchange.ledger_folder import LEDGER, LedgerUnsafe, one_collect_at_a_time
from lrcourse.grading.exchange.submission_secrets import ledger_path, read_ledger, write_ledger

from support.course import make_course
from support.inbound_folders import CHAPTER as INBOUND_CHAPTER, exchange_course, inbound_folder
from support.other_uid import as_user
from support.paths import ROOT

CHAPTER = "01_learning_rate"
STUDENT_UID = 4242  # a uid not the collecting user's (chown as root; no account is needed for ownership)
GRADER_UID = 4343  # the course folder's owner (the grader account), not the user running the test (root)


@one_collect_at_a_time
def ran(course: Path, assignment: str) -> str:
    return "collected"


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def planted_folder(course: Path) -> Path:
    folder = course / LEDGER
    folder.mkdir(mode=0o700)
    return folder


@needs_root
def test_a_ledger_folder_another_user_owns_is_refused_by_collect_grade_and_the_ledger(tmp_path):
    folder = planted_folder(tmp_path)
    (folder / f"{CHAPTER}.json").write_text('{"' + "ab" * 32 + '": "mallory"}')  # owners of her choosing
    os.chown(folder, STUDENT_UID, STUDENT_UID)
    for step in (lambda: ran(tmp_path, CHAPTER), lambda: read_ledger(tmp_path, CHAPTER)):
        with pytest.raises(LedgerUnsafe, match=f"owned by uid {STUDENT_UID}"):
            step()
    with pytest.raises(LedgerUnsafe):
        write_ledger(tmp_path, CHAPTER, {})
    assert issubclass(LedgerUnsafe, ExchangeUnusable)  # collect's callers stop with the reason


def test_a_ledger_folder_writable_by_others_or_a_link_is_refused(tmp_path):
    folder = planted_folder(tmp_path)
    folder.chmod(0o777)
    with pytest.raises(LedgerUnsafe, match="writable by group or others"):
        ran(tmp_path, CHAPTER)
    folder.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / LEDGER).symlink_to(elsewhere)
    with pytest.raises(LedgerUnsafe, match="symbolic link"):
        ran(tmp_path, CHAPTER)
    with pytest.raises(LedgerUnsafe, match="symbolic link"):
        read_ledger(tmp_path, CHAPTER)
    assert list(elsewhere.iterdir()) == []  # nothing made through the link


@needs_root
def test_a_lock_file_planted_by_another_user_a_link_or_writable_by_others_is_refused(tmp_path):
    folder = planted_folder(tmp_path)
    lock = folder / f"{CHAPTER}.lock"
    lock.touch(mode=0o600)
    os.chown(lock, STUDENT_UID, STUDENT_UID)
    with pytest.raises(LedgerUnsafe, match=f"{CHAPTER}.lock is owned by uid {STUDENT_UID}"):
        ran(tmp_path, CHAPTER)
    os.chown(lock, 0, 0)
    lock.chmod(0o666)
    with pytest.raises(LedgerUnsafe, match="writable by group or others"):
        ran(tmp_path, CHAPTER)
    lock.unlink()
    lock.symlink_to(tmp_path / "target")
    with pytest.raises(LedgerUnsafe, match="not a file collect can open"):
        ran(tmp_path, CHAPTER)
    assert not (tmp_path / "target").exists()
    lock.unlink()
    assert ran(tmp_path, CHAPTER) == "collected"  # its own lock, made 0600: no refusal


def test_an_own_ledger_is_made_private_and_accepted(tmp_path):
    write_ledger(tmp_path, CHAPTER, {"cd" * 32: "alice"})
    assert (tmp_path / LEDGER).stat().st_mode & 0o777 == 0o700
    assert read_ledger(tmp_path, CHAPTER) == {"cd" * 32: "alice"}
    assert ran(tmp_path, CHAPTER) == "collected"


def test_a_collect_waiting_for_another_says_so_once(tmp_path, capsys):
    """Another collect holds the lock (a flock on its own open of the file): this one says it waits, once, and runs
    when the other ends."""
    (tmp_path / LEDGER).mkdir(mode=0o700)
    holder = os.open(tmp_path / LEDGER / f"{CHAPTER}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    done = []
    waiting = threading.Thread(target=lambda: done.append(ran(tmp_path, CHAPTER)))
    waiting.start()
    waiting.join(2)
    assert waiting.is_alive() and done == []
    os.close(holder)  # the other collect ends
    waiting.join(30)
    assert done == ["collected"]
    said = capsys.readouterr().err
    assert said.count(f"waiting for another collect of {CHAPTER}") == 1, said


def test_formgraders_collect_waiting_for_another_says_so_in_the_log_its_dialog_shows(tmp_path):
    """G16 (2): the note went to stderr only, the server's log: formgrader's Collect dialog showed nothing of it. Now
    nbgrader's collect says it through its own log, which the dialog shows as "Log Output" (and the server's log
    keeps), with how long it waited; the collect then runs."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    config_text = (ROOT / "nbgrader_config.py").read_text()
    config_text += f'\nc.Exchange.root = "{exchange.root}"\nc.CourseDirectory.course_id = "lr-schedules"\n'
    (course / "nbgrader_config.py").write_text(config_text)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    (course / LEDGER).mkdir(mode=0o700)
    holder = os.open(course / LEDGER / f"{INBOUND_CHAPTER}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another collect (a terminal's) holds it
    done = []
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    waiting = threading.Thread(target=lambda: done.append(api.collect(INBOUND_CHAPTER)))
    waiting.start()
    waiting.join(2)
    assert waiting.is_alive() and done == []
    os.close(holder)
    waiting.join(60)
    assert done and done[0]["success"], done
    log = done[0]["log"]
    assert log.count(f"waiting for another collect of {INBOUND_CHAPTER}") == 1, log
    assert f"the other collect of {INBOUND_CHAPTER} ended after" in log and "1 collected" in log, log


@needs_root
def test_lrcourse_grade_stops_at_a_planted_ledger(tmp_path, capsys):
    course = make_course(tmp_path / "course", [CHAPTER])
    folder = planted_folder(course)
    os.chown(folder, STUDENT_UID, STUDENT_UID)
    status = lrcourse_main(["grade", CHAPTER, "--course", str(course), "--no-sandbox"])
    error = capsys.readouterr().err
    ledger_refusal = "lrcourse grade: the secret ledger's" in error and "remove it if it is not" in error
    roots_refusal = f"{folder} in it is uid {STUDENT_UID}'s" in error  # root's course not root's throughout (R20w W1)
    assert status == 2 and (ledger_refusal or roots_refusal), error
    assert ledger_path(course, CHAPTER).exists() is False


@needs_root
def test_root_grading_a_course_another_account_owns_reads_its_ledger(tmp_path):
    """F21: the README grades as root, while the grader account owns the course and collects through formgrader: a
    ledger owned by the course folder's owner (or by root, in a course another account owns) is that course's own, not
    a planted one, and is read; a third user's is still refused."""
    course = tmp_path / "course"
    course.mkdir(mode=0o700)
    write_ledger(course, CHAPTER, {"ab" * 32: "alice"})
    os.chown(course, GRADER_UID, GRADER_UID)
    assert read_ledger(course, CHAPTER) == {"ab" * 32: "alice"}  # root's, in the grader's course
    os.chown(course / LEDGER, GRADER_UID, GRADER_UID)
    assert read_ledger(course, CHAPTER) == {"ab" * 32: "alice"}  # the grader's own
    assert ran(course, CHAPTER) == "collected"
    os.chown(course / LEDGER, STUDENT_UID, STUDENT_UID)
    with pytest.raises(LedgerUnsafe, match=f"owned by uid {STUDENT_UID}"):
        read_ledger(course, CHAPTER)


@pytest.fixture
def reachable():
    """A scratch folder another uid can reach (pytest's tmp_path is under root's 0700 folder), removed after."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-ledger-"))
    scratch.chmod(0o755)
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


@needs_root
def test_roots_collect_leaves_the_ledger_to_the_course_folders_owner(reachable):
    """F23 M2: root's collect made `.secret_owners/` (0700), its lock and ledger root's, in a course the grader
    account owns: the grader's collect was refused (the lock cannot be opened) and its grade could not read the
    ledger, whatever was chowned but the folder. Now root gives what it makes there to the course folder's owner, so
    both share one ledger as the README says."""
    course = reachable / "course"
    course.mkdir(mode=0o700)
    os.chown(course, GRADER_UID, GRADER_UID)
    assert ran(course, CHAPTER) == "collected"  # root's collect: folder and lock
    write_ledger(course, CHAPTER, {"ab" * 32: "alice"})
    for path in (course / LEDGER, course / LEDGER / f"{CHAPTER}.lock", ledger_path(course, CHAPTER)):
        assert (path.stat().st_uid, path.stat().st_gid) == (GRADER_UID, GRADER_UID), path
    assert as_user(GRADER_UID, lambda: read_ledger(course, CHAPTER)) == repr({"ab" * 32: "alice"})
    assert as_user(GRADER_UID, lambda: ran(course, CHAPTER)) == repr("collected")
    assert read_ledger(course, CHAPTER) == {"ab" * 32: "alice"}  # root's grade reads the grader's


@needs_root
def test_a_ledger_folder_another_account_made_is_named_with_its_chown(reachable):
    """F23 M2: where the folder is what cannot be opened (root's, made before the fix), collect's refusal and
    grade's LedgerUnreadable said to chown the lock or the .json, which does not help: they name the folder and
    `chown -R <owner> <course>/.secret_owners`."""
    course = reachable / "course"
    course.mkdir(mode=0o700)
    folder = planted_folder(course)
    (folder / f"{CHAPTER}.json").write_text("{}")
    os.chown(course, GRADER_UID, GRADER_UID)
    mend = f"chown -R {GRADER_UID} {folder}"
    for step in (lambda: ran(course, CHAPTER), lambda: read_ledger(course, CHAPTER)):
        said = as_user(GRADER_UID, step)
        assert said.startswith(("LedgerUnsafe", "LedgerUnreadable")) and mend in said, said
