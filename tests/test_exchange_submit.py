"""A submission in nbgrader's exchange stays as its student left it (issue 20): the course's submit
(`lrcourse.exchange_submit.OwnerOnlySubmit`) leaves each submission folder writable by its student alone, and the
inbound folder's sticky bit (3733) keeps the folder itself in place. Real OS users (support/students.py): a
classmate who knows the folder's name can no longer rename, remove or replace it or its notebook, nor move its
change time; the same classmate can do it to a folder nbgrader's own submit made (0777), which `lrcourse collect`
then notes, and, without the sticky bit, rename even the course's folder. The honest submission is collected
byte for byte with its time. nbgrader's Assignments tab (its assignment_list server extension) builds its submit
from the same configuration, and nbgrader's release leaves a 3733 inbound folder as it is.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange

from support.course_submit import course_submit, exchange_for, notebook
from support.inbound_folders import CHAPTER, FILE
from support.paths import ROOT
from support.students import Students, needs_root

STOCK = "nbgrader.exchange.default.submit.ExchangeSubmit"  # nbgrader's own submit: the folder 0777
COURSE_SUBMIT = "lrcourse.exchange_submit.OwnerOnlySubmit"
# what a classmate who learned the folder's name ($1) tries on it: each would take the submission out of collect,
# make an older one count, put their own file in it, or give it a later change time (look late)
ATTACKS = {
    "rename the folder": 'mv "$1" "$1.gone"',
    "remove the folder": 'rm -rf "$1"',
    "rename the notebook": f'mv "$1/{FILE}" "$1/{FILE}.gone"',
    "remove the notebook": f'rm -f "$1/{FILE}"',
    "replace the notebook": f'printf "{{}}" > "$HOME/mine" && mv -f "$HOME/mine" "$1/{FILE}"',
    "overwrite the notebook": f'printf "{{}}" > "$1/{FILE}"',
    "touch the notebook": f'touch "$1/{FILE}"',
    "add a file": 'touch "$1/extra"',
    "open the folder": 'chmod 777 "$1"',
    # a second name moves the notebook's change time and makes collect refuse it (a file with two names): the
    # kernel refuses it with fs.protected_hardlinks = 1 (lrcourse doctor checks it), whatever the folder's mode
    "hard-link the notebook": f'ln "$1/{FILE}" "$(dirname "$1")/linked"',
}


def submit(students: Students, role: str, exchange: Exchange, *options: str) -> Path:
    """`nbgrader submit` as the student, with the environment's nbgrader configuration (and `options`)."""
    students.write_notebook(role, notebook())
    run = students.python(
        role, "-m", "nbgrader", "submit", CHAPTER, "--course", "lr-schedules", f"--Exchange.root={exchange.root}",
        *options,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return next(p for p in exchange.inbound.iterdir() if p.name.startswith(students.name[role] + "+"))


def state(folder: Path) -> tuple:
    """What a classmate must not change: the folder's and the notebook's identity, mode, change time, bytes."""
    seen, nb = folder.lstat(), (folder / FILE).lstat()
    return (seen.st_ino, seen.st_mode, seen.st_ctime_ns, nb.st_ino, nb.st_ctime_ns, (folder / FILE).read_bytes())


@pytest.fixture(scope="module")
def exchange_class():
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-submit-"))
    scratch.chmod(0o755)  # the students' homes and the exchange are inside
    students = Students(scratch, ("alice", "bob", "mallory"))
    try:
        course, exchange = exchange_for(scratch)
        alice = submit(students, "alice", exchange)  # the course's submit, as the environment's config names it
        bob = submit(students, "bob", exchange, f"--ExchangeFactory.submit={STOCK}")  # nbgrader's own
        yield dict(students=students, course=course, exchange=exchange, alice=alice, bob=bob)
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)


@needs_root
def test_the_course_submit_leaves_the_folder_to_its_student(exchange_class):
    run = exchange_class
    for role, mode in (("alice", 0o755), ("bob", 0o777)):
        seen = run[role].lstat()
        assert stat.S_IMODE(seen.st_mode) == mode and seen.st_uid == pwd.getpwnam(run["students"].name[role]).pw_uid
    assert stat.S_IMODE((run["alice"] / FILE).lstat().st_mode) == 0o644  # nbgrader's own file mode, unchanged


@needs_root
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_classmate_cannot_change_a_submission(exchange_class, attack):
    """Each attack fails on the course's submission folder and leaves it exactly as it was (no later ctime)."""
    run, students = exchange_class, exchange_class["students"]
    before = state(run["alice"])
    with pytest.raises(subprocess.CalledProcessError):
        students.shell("mallory", ATTACKS[attack], str(run["alice"]))
    assert state(run["alice"]) == before


@needs_root
def test_the_same_classmate_can_change_a_folder_nbgraders_submit_made_and_collect_notes_it(exchange_class):
    """The attacks are real: on bob's 0777 folder (nbgrader's own submit) mallory renames the notebook away and
    back (a later change time); collect still takes bob's own notebook, with a note, and alice's without one."""
    run, students = exchange_class, exchange_class["students"]
    before = state(run["bob"])
    students.shell("mallory", f'mv "$1/{FILE}" "$1/x" && sleep 0.05 && mv "$1/x" "$1/{FILE}"', str(run["bob"]))
    assert state(run["bob"])[4] > before[4]
    result = collect(run["course"], CHAPTER, run["exchange"])
    name = students.name
    assert {row["student"] for row in result.collected} == {name["alice"], name["bob"]}, result
    assert not result.refused, result
    for role in ("alice", "bob"):
        kept = run["course"] / "submitted" / name[role] / CHAPTER / FILE
        assert kept.read_bytes() == (run[role] / FILE).read_bytes()
    notes = {row["submission"]: row["note"] for row in result.notes}
    assert list(notes) == [run["bob"].name], notes  # none on alice's, none on the inbound folder (3733)
    assert "(mode 0777) is writable by other users" in notes[run["bob"].name], notes


@needs_root
def test_without_the_sticky_bit_a_classmate_renames_even_the_course_submits_folder(exchange_class):
    """The sticky bit is the other half: on a 2733 inbound folder (nbgrader's own mode) mallory renames alice's
    folder, and collect notes the inbound folder."""
    run, students = exchange_class, exchange_class["students"]
    run["exchange"].inbound.chmod(0o2733)
    try:
        students.shell("mallory", 'mv "$1" "$1.gone" && mv "$1.gone" "$1"', str(run["alice"]))
        result = collect(run["course"], CHAPTER, run["exchange"])
    finally:
        run["exchange"].inbound.chmod(0o3733)
    sticky = [row["note"] for row in result.notes if row["submission"] == "every submission"]
    assert len(sticky) == 1 and "has no sticky bit" in sticky[0] and "chmod +t" in sticky[0], result.notes


@needs_root
def test_the_instructor_archives_but_only_root_deletes_a_submission(exchange_class, tmp_path):
    """The price of 0755: the inbound folder's owner (the instructor) may still rename a student's folder in it
    (the sticky bit lets a folder's owner), but not empty it; root cleans up (the README says so)."""
    run, students = exchange_class, exchange_class["students"]
    inbound = run["exchange"].inbound
    os.chown(inbound, pwd.getpwnam(students.name["bob"]).pw_uid, -1)  # bob plays the instructor here
    try:
        students.shell("bob", 'mv "$1" "$2"', str(run["alice"]), f"{inbound}/archived")
        with pytest.raises(subprocess.CalledProcessError):
            students.shell("bob", 'rm -rf "$1"', f"{inbound}/archived")
        assert (inbound / "archived" / FILE).is_file()
    finally:
        os.chown(inbound, 0, -1)
        inbound.chmod(0o3733)
    shutil.rmtree(inbound / "archived")


# the student's cache (`--Exchange.cache`) as a full quota or a broken home may leave it: its course folder cannot be
# made (nbgrader's makedirs fails), or is there and cannot be written (nbgrader's copy into it fails)
BROKEN_CACHES = {"cannot be made": 'chmod 500 "$1"', "cannot be written": 'mkdir -m 500 "$1/lr-schedules"'}


@needs_root
@pytest.mark.parametrize("cache_state", BROKEN_CACHES)
def test_a_submit_that_fails_copying_to_the_cache_leaves_the_folder_closed(exchange_class, cache_state):
    """nbgrader copies the submission into the inbound folder, opens it to all (0777), then copies it into the
    student's own cache: with that cache broken the submit fails, and the folder it made in the inbound folder is
    closed all the same (0755), its notebook the one submitted."""
    run, students = exchange_class, exchange_class["students"]
    cache = students.home(students.name["mallory"]) / f"cache-{cache_state.replace(' ', '-')}"
    students.shell("mallory", f'mkdir -m 700 "$1" && {BROKEN_CACHES[cache_state]}', str(cache))
    students.write_notebook("mallory", notebook())
    failed = students.python(
        "mallory", "-m", "nbgrader", "submit", CHAPTER, "--course", "lr-schedules",
        f"--Exchange.root={run['exchange'].root}", f"--Exchange.cache={cache}",
    )  # fmt: skip
    mine = [p for p in run["exchange"].inbound.iterdir() if p.name.startswith(students.name["mallory"] + "+")]
    try:
        assert failed.returncode != 0 and "Permission denied" in failed.stdout + failed.stderr, failed
        (folder,) = mine
        assert stat.S_IMODE(folder.lstat().st_mode) == 0o755
        assert nbformat.read(folder / FILE, as_version=4).cells[0].source == "x = 1"
    finally:
        for folder in mine:
            shutil.rmtree(folder)  # the other tests collect alice's and bob's alone


def test_the_folder_is_closed_before_nbgrader_copies_into_the_cache(tmp_path, monkeypatch):
    """The folder is 0755 when nbgrader starts its second copy (into the student's cache), not only once the
    submit has ended: the moment it is open to all is nbgrader's chmod to 0777 and the course's chmod right after."""
    from nbgrader.exchange.default.exchange import Exchange as NbgraderExchange

    _, exchange = exchange_for(tmp_path)
    modes: dict[str, list[int]] = {}
    copy = NbgraderExchange.do_copy

    def seen_then_copied(self, src, dest, log=None):
        modes[dest] = [stat.S_IMODE(entry.lstat().st_mode) for entry in exchange.inbound.iterdir()]
        return copy(self, src, dest, log)

    monkeypatch.setattr(NbgraderExchange, "do_copy", seen_then_copied)
    home = tmp_path / "home"
    (home / CHAPTER).mkdir(parents=True)
    nbformat.write(notebook(), home / CHAPTER / FILE)
    monkeypatch.chdir(home)  # nbgrader's assignment_dir, "."
    course_submit(exchange, tmp_path / "cache").start()
    inbound, cached = modes.values()  # the inbound folder's copy first, then the cache's
    assert inbound == [] and cached == [0o755], modes
    assert list(modes)[1].startswith(str(tmp_path / "cache"))


def test_the_course_submit_imports_nothing_of_the_graders():
    """It runs in every student's server: nbgrader, the standard library, and from the course only the package's
    `__init__` and what it loads (a learner's kernel loads the same)."""
    code = (
        "import sys; import nbgrader.exchange.default.submit; before = set(sys.modules); "
        "import lrcourse.exchange_submit; print(sorted(m for m in set(sys.modules) - before if m.startswith('lrcourse')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = run.stdout.strip()
    learners = [
        "lrcourse",
        "lrcourse.cells",
        "lrcourse.exchange_submit",
        "lrcourse.files_read",
        "lrcourse.kernel_messages",
    ]
    assert loaded == str(learners), loaded  # files_read: the kernel's record of reads (a learner's module)


def test_the_students_configuration_names_the_course_submit():
    """hub/nbgrader_config.py (a hub's /etc/jupyter) and the environment's own nbgrader_config.py (setup_lab.py)."""
    from traitlets.config.loader import PyFileConfigLoader

    hub = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "hub")).load_config()
    assert hub.ExchangeFactory.submit == COURSE_SUBMIT
    env = Path(sys.prefix) / "etc" / "jupyter" / "nbgrader_config.py"
    assert f'c.ExchangeFactory.submit = "{COURSE_SUBMIT}"' in env.read_text()


@pytest.mark.parametrize(
    "extra, mode", [("", 0o755), (f'c.ExchangeFactory.submit = "{STOCK}"\n', 0o777)], ids=["course", "nbgrader"]
)
def test_the_assignments_tab_submits_through_the_configured_class(tmp_path, monkeypatch, extra, mode):
    """JupyterLab's Assignments tab (nbgrader's assignment_list handler, in-process) reads the students' config
    (here hub/nbgrader_config.py on JUPYTER_CONFIG_PATH, as a hub's /etc/jupyter) and submits through the class it
    names: the course's leaves the folder 0755; naming nbgrader's own instead gives 0777."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
    from nbgrader.validator import Validator

    # the environment's nbgrader_config.py is read too, and guards Validate process-wide: undone after this test
    monkeypatch.setattr(Validator, "validate", Validator.validate)
    _, exchange = exchange_for(tmp_path)
    config = tmp_path / "etc"
    config.mkdir()
    hub = (ROOT / "hub" / "nbgrader_config.py").read_text()
    (config / "nbgrader_config.py").write_text(
        f'{hub}\nc.Exchange.root = "{exchange.root}"\nc.Exchange.cache = "{tmp_path / "cache"}"\n{extra}'
    )
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config))
    home = tmp_path / "home"
    (home / "lr-schedules" / CHAPTER).mkdir(parents=True)  # the hub's config: path_includes_course
    nbformat.write(notebook(), home / "lr-schedules" / CHAPTER / FILE)
    monkeypatch.chdir(home)  # a student's server runs in its root folder, where nbgrader's assignment_dir "." is
    lister = AssignmentList()
    lister.root_dir = str(home)
    answer = lister.submit_assignment("lr-schedules", CHAPTER)
    assert answer["success"], answer
    (folder,) = exchange.inbound.iterdir()
    assert stat.S_IMODE(folder.lstat().st_mode) == mode


def test_nbgraders_release_keeps_a_sticky_inbound_folder(tmp_path):
    """The README's set-up makes the inbound folder 3733 before the first release: nbgrader's release checks only
    that it owns it, and leaves its mode."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config import Config

    _, exchange = exchange_for(tmp_path)
    shutil.rmtree(exchange.root / "lr-schedules" / "outbound")
    course = tmp_path / "instructor"
    (course / "release" / CHAPTER).mkdir(parents=True)  # nbgrader's default release_directory
    nbformat.write(notebook(), course / "release" / CHAPTER / FILE)
    config = Config()
    config.Exchange.root = str(exchange.root)
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "lr-schedules"
    config.CourseDirectory.assignment_id = CHAPTER
    coursedir = CourseDirectory(config=config)
    release = ExchangeFactory(config=config).ReleaseAssignment(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config
    )
    release.start()
    assert (exchange.root / "lr-schedules" / "outbound" / CHAPTER / FILE).is_file()
    assert stat.S_IMODE(exchange.inbound.lstat().st_mode) == 0o3733


@needs_root
@pytest.mark.parametrize("submit_class", [COURSE_SUBMIT, STOCK])
def test_a_resubmission_on_a_full_disk_never_replaces_the_previous_submission(submit_class):
    """A classmate fills the exchange's file system (its root is 1777; a small tmpfs here): the student's
    resubmission fails midway. The course's submit removes the folder it left and tells her to submit again;
    nbgrader's own leaves it (a cut notebook, no submission_secret.txt), and collect refuses it as unfinished.
    Either way collect takes her previous submission, with its own secret (she can fetch her feedback)."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-full-"))
    scratch.chmod(0o755)
    students = Students(scratch, ("alice", "mallory"))
    disk = scratch / "exchange"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        course, exchange = exchange_for(scratch)
        first = submit(students, "alice", exchange, f"--ExchangeFactory.submit={submit_class}")
        students.shell("mallory", 'dd if=/dev/zero of="$1/fill" bs=64k 2>/dev/null || true', str(exchange.root))
        assert shutil.disk_usage(disk).free < 4096
        big = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\n" + "# a long answer\n" * 20_000)])
        students.write_notebook("alice", big)
        failed = students.python(
            "alice", "-m", "nbgrader", "submit", CHAPTER, "--course", "lr-schedules",
            f"--Exchange.root={exchange.root}", f"--ExchangeFactory.submit={submit_class}",
        )  # fmt: skip
        assert failed.returncode != 0, failed.stdout + failed.stderr
        left = sorted(p for p in exchange.inbound.iterdir() if p != first)
        if submit_class == COURSE_SUBMIT:
            assert "it was removed. Submit again" in failed.stdout + failed.stderr, failed.stdout + failed.stderr
            assert left == []
        else:
            (unfinished,) = left
            assert not (unfinished / "submission_secret.txt").exists()
        on_tmpfs = Exchange(exchange.root, exchange.course_id, memory_fs_ok=True)  # tmpfs: collect would refuse it
        result = collect(course, CHAPTER, on_tmpfs)
        assert [row["submission"] for row in result.collected] == [first.name], result
        assert [row["submission"] for row in result.refused] == [p.name for p in left], result.refused
        written = course / "submitted" / students.name["alice"] / CHAPTER
        assert (written / "submission_secret.txt").read_bytes() == (first / "submission_secret.txt").read_bytes()
    finally:
        subprocess.run(["umount", str(disk)], check=False)
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)
