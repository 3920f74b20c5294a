"""`lrcourse doctor` (issue 21): a pre-flight that starts what grading starts, once, and says what is missing.

Here the sandbox works: every check passes, with one real answer process and one real kernel. With bubblewrap
off PATH (no root needed to arrange), or a course whose sandbox limits are wrong, it fails on the line that says
so and how to fix it, starting nothing.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.doctor.check import Check
from lrcourse.grading.doctor.diagnose import course_folder_closed, fix_for, private_homes, verdict
from lrcourse.grading.doctor.exchange import exchange_root, protected_hardlinks
from lrcourse.grading.exchange.kept_folders import aside

from support.doctor_exchange import moved_aside
from support.exchange_apps import exchange_in
from support.paths import ROOT


@pytest.fixture
def open_tmp():
    """A folder every user may enter, and those above it (pytest's tmp_path and its parents are 0700: students could
    not reach an exchange there, which the doctor warns of, R20c M1), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def doctor(path: str, course: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "doctor", "--course", str(course)],
        cwd=ROOT,
        env={**tool_environment(), "PATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_doctor_starts_a_sandboxed_kernel_and_answer_process_here():
    run = doctor(os.environ["PATH"])
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "ok    a sandboxed kernel starts and sees the environment" in lines, run.stdout
    assert "ok    a sandboxed answer process starts and sees the environment" in lines, run.stdout
    assert all(line.startswith(("ok ", "warn ")) for line in lines[:-1]), run.stdout
    assert lines[-1] == "students' code can be graded here", run.stdout
    assert "starting one sandboxed answer process and one sandboxed kernel" in run.stderr  # not silent meanwhile


def test_the_doctor_says_bubblewrap_is_missing_and_how_to_install_it(tmp_path: Path):
    bare = tmp_path / "bin"  # a PATH without bwrap (nor the rest of util-linux)
    bare.mkdir()
    run = doctor(str(bare))
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    line = "FAIL  sandbox tools: bubblewrap is not installed -- fix: `apt-get install bubblewrap` (Debian/Ubuntu)"
    assert line in run.stdout.splitlines(), run.stdout
    assert "kernel" not in run.stdout and run.stdout.splitlines()[-1] == "students' code cannot be graded here"
    assert "starting" not in run.stderr


def test_the_doctor_names_a_sandbox_limit_the_course_gets_wrong(tmp_path: Path):
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.Sandbox.memory_mb = "lots"\n')
    run = doctor(os.environ["PATH"], tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("FAIL"))
    assert line.startswith("FAIL  the course's sandbox limits: ValueError: c.Sandbox.memory_mb must be"), line
    assert f"fix: correct c.Sandbox in {tmp_path / 'nbgrader_config.py'}" in line and "kernel" not in run.stdout


@pytest.mark.parametrize(
    "error, fix",
    [
        ("bwrap: setting up uid map: Permission denied", "kernel.apparmor_restrict_unprivileged_userns=0"),
        ("bwrap: No permissions to creating new namespace, likely because the kernel", "seccomp"),
        ("bwrap: unshare failed: Operation not permitted", "user.max_user_namespaces"),
        ("ModuleNotFoundError: No module named 'lrcourse'", "make .venv/.installed"),
    ],
)
def test_each_way_bubblewrap_fails_gets_its_own_fix(error, fix):
    """What bwrap prints where AppArmor (Ubuntu 24.04), a container's seccomp or a sysctl refuses it a user
    namespace, each with the fix for that cause."""
    assert fix in fix_for(error)


@pytest.mark.parametrize("mode, line", [
    (0o777, "FAIL  the nbgrader exchange's root: {root} (mode 0777) is writable by other users without the sticky bit"),
    (0o1777, "ok    the nbgrader exchange's root {root} keeps the course's folder in place (sticky bit)"),
])  # fmt: skip
def test_the_doctor_checks_the_exchanges_root_keeps_the_course_folder_in_place(open_tmp: Path, mode, line):
    root = exchange_in(open_tmp, mode)
    (root / "lr-schedules").mkdir(mode=0o755)  # the instructor's, as the README's set-up makes it
    (root / "lr-schedules" / "inbound").mkdir()
    (root / "lr-schedules" / "inbound").chmod(0o3733)
    said = exchange_root(open_tmp).line()
    assert said.startswith(line.format(root=root)), said
    assert (f"fix: `chmod 1777 {root}`" in said) == (mode == 0o777), said
    # the last line: grading works; only collect stops at an exchange whose root lets a student replace the course's
    others = [Check("sandbox tools"), Check("cgroups", "none", warning=True)]
    last = verdict([exchange_root(open_tmp), *others])
    assert last.startswith("students' code can be graded here"), last
    assert ("lrcourse collect refuses this exchange" in last) == (mode == 0o777), last
    assert verdict([exchange_root(open_tmp), Check("sandbox tools", "bubblewrap is not installed")]) == (
        "students' code cannot be graded here"
    )


def student_owns(folder: Path) -> None:
    """`folder` made as a student would make it before the instructor's first release (root gives it away)."""
    folder.mkdir()
    os.chown(folder, 4242, 4242)


# The course's folder in a sticky root, as a student may leave it before the instructor's first release: missing
# (the first to create it owns it), the student's own (nbgrader's release fails: "You don't own the directory";
# collect refuses it), a link to the student's folder, not a folder; then the inbound folder's mode.
COURSE_FOLDERS = {
    "missing": (lambda course: None, "does not exist yet", "create it now, as the user who collects, `mkdir -m 0755"),
    "a student's": (student_owns, "is owned by uid 4242", "`{aside}"),  # moved aside (r20j W1)
    "a link": (
        lambda course: course.symlink_to(course.parent.parent),
        "is a symbolic link",
        "`rm {course}` (as root",  # `rm` removes the link itself
    ),
    "a file": (lambda course: course.write_text("x"), "is not a folder", "`{aside}"),
}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a folder to another user")
@pytest.mark.parametrize("state", COURSE_FOLDERS)
def test_the_doctor_fails_a_course_folder_in_the_exchange_that_collect_refuses(tmp_path: Path, state):
    make, problem, fix = COURSE_FOLDERS[state]
    course = exchange_in(tmp_path, 0o1777) / "lr-schedules"
    make(course)
    said = exchange_root(tmp_path)
    assert said.failed and said.stops == "collect", said
    assert said.line().startswith(f"FAIL  the nbgrader exchange's course folder: {course} {problem}"), said.line()
    assert (
        said.fix.startswith(fix.format(course=course, aside=moved_aside(course)))
        and f"mkdir -m 0755 {course}" in said.fix
    ), said.fix
    assert f"install -d -m 3733 {course / 'inbound'}" in said.fix, said.fix
    assert verdict([said, Check("sandbox tools")]).endswith("lrcourse collect refuses this exchange (see FAIL above)")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a folder to another user")
@pytest.mark.parametrize("kind", ["folder", "link"])
def test_an_inbound_folder_collect_refuses_in_a_course_folder_it_takes_is_made_again_alone(open_tmp: Path, kind):
    """r20h N5: with only inbound/ another account's, the mend "remove it, then `mkdir -m 0755 <course folder> &&
    install -d -m 3733 <inbound>`" failed at the course folder ("File exists"), and `&&` skipped inbound. The mend
    is inbound's alone; followed as written, collect opens it and the doctor says ok."""
    from lrcourse.grading.exchange.inbound_folder import Exchange, open_inbound

    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    course.mkdir()
    inbound = course / "inbound"
    student_owns(inbound) if kind == "folder" else inbound.symlink_to(open_tmp)
    said = exchange_root(open_tmp)
    assert said.failed and said.stops == "collect" and f"{inbound} is " in said.problem, said
    mend = f"`{aside([inbound], course.parent)}" if kind == "folder" else f"`rm {inbound}"
    made = f"mkdir -m 3733 -- {inbound} && chown -h root -- {inbound}"  # follows no link (r20l W3)
    assert said.fix.startswith(f"{mend} && {made}` (as root"), said.fix
    moved = subprocess.run(["bash", "-c", said.fix.split("`")[1]], check=True, capture_output=True, text=True)
    if kind == "folder":  # moved aside (r20j W1): kept, out of the exchange
        shutil.rmtree(moved.stdout.removeprefix("moved to ").strip())
    os.close(open_inbound(Exchange(course.parent, "lr-schedules")))
    assert not exchange_root(open_tmp).problem and open_tmp.is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="the group and ACL rules are root's")
@pytest.mark.parametrize("where", ["", "outbound", "feedback"])
@pytest.mark.parametrize("how", ["group", "acl"])
def test_the_doctor_fails_an_exchange_folder_release_and_unrelease_refuse(tmp_path: Path, where, how):
    """R20e2 M1: a course, outbound or feedback folder a group but root's may write in (2775 root:4242), or one whose
    POSIX ACL names another uid (the group bits are then the mask): root's release, release_feedback and Unrelease
    refuse it, so the doctor fails it (stops release; the course's folder stops collect too, R20g2 M1), with the mend;
    root's group alone is root's own."""
    from support.posix_acl import acl_bytes, set_acl

    course = exchange_in(tmp_path, 0o1777) / "lr-schedules"
    course.mkdir(mode=0o755)
    (course / "inbound").mkdir()
    (course / "inbound").chmod(0o3733)
    folder = course / where
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o775)
    assert not exchange_root(tmp_path).failed  # root's group: trusted
    if how == "group":
        os.chown(folder, 0, 4242)
        folder.chmod(0o775)
    else:
        set_acl(folder, "system.posix_acl_access", acl_bytes((0x02, 54321)))
        folder.chmod(0o775)
    said = exchange_root(tmp_path)
    stops = "collect" if where == "" else "release"  # the course's folder: collect's rule too (R20g2 M1)
    assert said.failed and said.stops == stops, said
    by = "its group, gid 4242, as root" if how == "group" else "a POSIX ACL naming users or groups, as root"
    assert said.line().startswith(  # the course's folder's own label, not the root's (R20a N1)
        f"FAIL  the nbgrader exchange's course folder: {folder} (mode 0775) is writable by other users ({by})"
    ), said.line()
    refused = {"": "lrcourse collect refuses it", "outbound": "nbgrader's release and Unrelease refuse it"}
    refused = refused.get(where, "nbgrader's release_feedback refuses it")  # r20h N3: each its own command
    assert refused in said.problem, said.problem
    if where:  # r20h W1: outbound/, feedback/ removed, not chmodded: that would keep what others put in them
        lock = f"[ ! -L {folder} ] && chmod g-w -- {folder} && " if how == "group" else ""  # r20k W3: first
        assert (
            said.fix.startswith(f"`{lock}{moved_aside(folder)} ")
            and "a folder others could write in" in said.fix
            and "`chmod" in said.fix
        )
    else:
        assert f"chmod go-w {folder}" in said.fix and (f"setfacl -b {folder}" in said.fix) == (how == "acl"), said.fix
    assert verdict([said, Check("sandbox tools")]).startswith(
        "students' code can be graded here, but "
        + ("lrcourse collect refuses" if where == "" else "nbgrader's release refuses this exchange")
    )


@pytest.mark.parametrize("mode, warned", [
    (0o3733, set()), (0o3773, {"group"}), (0o2733, {"sticky"}), (0o2773, {"group", "sticky"}), (0o777, {"mode"}),
    (0o733, {"mode"}),
])  # fmt: skip
def test_the_doctor_warns_of_an_inbound_folder_not_as_the_readme_sets_it(open_tmp: Path, mode, warned):
    """Listable by everyone (0777), a classmate's folder name is no secret; nbgrader makes it 2733, which lets a
    classmate rename a submission folder (the README adds the sticky bit: 3733), and 2773 with groupshared, where
    anyone in its group reads every submission: the group and its members are named."""
    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    course.mkdir(mode=0o755)
    inbound = course / "inbound"
    inbound.mkdir()
    inbound.chmod(mode)
    said = exchange_root(open_tmp)
    assert not said.failed and said.warning == bool(warned), said
    assert (f"has mode {mode:04o}, not 3733" in said.line()) == ("mode" in warned), said.line()
    assert (f"has mode {mode:04o}, without the sticky bit" in said.line()) == ("sticky" in warned), said.line()
    assert (f"chmod +t {inbound}" in said.fix) == ("sticky" in warned), said.fix
    group = grp.getgrgid(inbound.stat().st_gid)
    members = sorted({*group.gr_mem, *(user.pw_name for user in pwd.getpwall() if user.pw_gid == group.gr_gid)})
    listed = f"{inbound} (mode {mode:04o}) can be listed by its group {group.gr_name} (members listed here: "
    assert (listed in said.line() and "no student may be among them" in said.line()) == ("group" in warned), said.line()
    assert ", ".join(members[:5]) in said.line() or "group" not in warned, (members, said.line())
    assert (f"chmod g-r {inbound}" in said.fix) == ("group" in warned), said.fix
    assert said.line().startswith("warn" if warned else f"ok    the nbgrader exchange's root {course.parent} keeps")


@pytest.mark.parametrize("value, warned", [("1", False), ("0", True), ("2", True), (None, True)])
def test_the_doctor_warns_where_the_kernel_allows_hard_links_to_others_files(tmp_path: Path, value, warned):
    """fs.protected_hardlinks = 0 lets a classmate hard-link a submitted notebook (it then looks late, and collect
    refuses it); a setting it cannot read is said, not taken as fine."""
    sysctl = tmp_path / "protected_hardlinks"
    if value is not None:
        sysctl.write_text(f"{value}\n")
    said = protected_hardlinks(sysctl)
    assert not said.failed and said.warning == warned, said
    assert (f"{sysctl} is {value}: a student" in said.line()) == (warned and value is not None), said.line()
    assert ("fs.protected_hardlinks=1" in said.fix) == (warned and value is not None), said.fix
    assert ("not checked: cannot read" in said.line()) == (value is None), said.line()
    machine = Path("/proc/sys/fs/protected_hardlinks").read_text().strip()
    assert protected_hardlinks().warning == (machine != "1")  # this machine's own setting, read


def test_the_doctor_warns_of_homes_other_users_can_enter(tmp_path: Path):
    """A classmate who can enter a home reads nbgrader_cache/.../submission_secret.txt there (its path is fixed)."""
    for name, mode in (("alice", 0o700), ("bob", 0o755), ("carol", 0o711)):
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(mode)
    said = private_homes(tmp_path)
    assert said.warning and said.problem.startswith("2 of 3 can be entered by other users (bob, carol)"), said
    assert "HOME_MODE 0700 in /etc/login.defs" in said.fix
    for name in ("bob", "carol"):
        (tmp_path / name).chmod(0o700)
    assert (
        private_homes(tmp_path).line()
        == f"ok    students' homes in {tmp_path} closed to other users (mode 0700): 3 checked"
    )


# a course folder's mode, and the chmod of each warning: others' or its group's writing, others' reading or entering
MODES = [(0o755, "", "o-rwx"), (0o750, "", ""), (0o700, "", ""), (0o701, "", "o-rwx"), (0o770, "go-w", "")]
MODES += [(0o775, "go-w", "o-rwx"), (0o1777, "go-w", "o-rwx"), (0o757, "go-w", "o-rwx"), (0o720, "go-w", "")]


@pytest.mark.parametrize("mode, written, read", MODES)
def test_the_doctor_warns_of_an_instructors_course_folder_others_may_write_in_or_read(mode, written, read):
    """F22: in a course folder others can write, a student renames the secret ledger away; collect and grade refuse a
    planted ledger, not the folder's mode, so the doctor says it, with the chmod that mends it. F24 N3: in one others
    can read or enter (0755), every classmate's submission secret in submitted/ and source/ are read: warned too,
    its group's reading (0750) not."""
    scratch = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own base is 0700: others could reach nothing in it
    try:
        scratch.chmod(0o755)
        course = scratch / "course"
        course.mkdir()
        course.chmod(mode)
        said = course_folder_closed(course)
        assert not said.failed and said.warning == bool(written or read), said
        assert ("writable by group or others" in said.line()) == bool(written), said.line()
        assert ("every student can read each classmate's submission secret" in said.line()) == bool(read), said
        assert ("hidden tests in source/" in said.line()) == bool(read), said.line()
        mends = ",".join(mend for mend in (written, read) if mend)
        assert said.fix == (f"`chmod {mends} {course}`" if mends else ""), said.fix
        scratch.chmod(0o700)  # closed around it, as the README's home: others reach nothing in it
        assert ("submission secret" in course_folder_closed(course).line()) is False
    finally:
        shutil.rmtree(scratch)


def test_the_doctor_says_a_course_that_is_a_file_is_not_a_folder(tmp_path: Path):
    """R25v N2: a mistyped --course naming a file got a folder's mode advice (`chmod o-rwx <the file>`)."""
    afile = tmp_path / "afile"
    afile.write_text("not a course\n")
    said = course_folder_closed(afile)
    assert said.warning and "not checked: not a folder" in said.line() and "chmod" not in said.fix, said.line()


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o757])
def test_the_doctor_fails_a_course_folder_others_may_write_in(tmp_path: Path, mode):
    """Sticky or not: a student's own feedback/ or outbound/ there stops nbgrader's release_feedback or release (F4)."""
    course = exchange_in(tmp_path, 0o1777) / "lr-schedules"
    course.mkdir()
    course.chmod(mode)
    said = exchange_root(tmp_path)
    assert said.failed and said.stops == "collect", said
    assert f"{course} (mode {mode:04o}) is writable by other users" in said.line(), said.line()
    assert said.fix == f"`chmod o-w {course}` (0755; see the README's instructor set-up)", said.fix


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a link to another user")
def test_the_doctor_fails_a_students_link_at_the_exchanges_root_and_mends_nothing_through_it(tmp_path: Path):
    """R20c2 W3: the exchange's root not made yet in a folder everyone may write in: a student's link there to a
    folder of the instructor's was taken for the root, and the doctor's mend (`mkdir ... lr-schedules`), run as root,
    wrote through it. Now the root's path fails, with a mend that names the root, not a folder through the link."""
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    config = f'c = get_config()\nc.CourseDirectory.course_id = "lr-schedules"\nc.Exchange.root = "{public}/exchange"\n'
    (tmp_path / "nbgrader_config.py").write_text(config)
    (public / "exchange").symlink_to(victim)
    os.chown(public / "exchange", 4242, 4242, follow_symlinks=False)
    said = exchange_root(tmp_path)
    assert said.failed and said.stops == "collect", said
    assert said.line().startswith(f"FAIL  the nbgrader exchange's root: the exchange's root {public}/exchange: "), said
    assert "exchange in it is uid 4242's" in said.problem and "lr-schedules" not in said.fix, said.fix
    # R20e2 N1: collect checks the root's path as release does, so the doctor says both refuse this exchange
    assert ".; " not in said.problem and said.problem.endswith("; lrcourse collect and nbgrader's release refuse it"), (
        said.problem
    )
    assert verdict([said, Check("sandbox tools")]) == (
        "students' code can be graded here, but lrcourse collect refuses this exchange (see FAIL above)"
    )
    (public / "exchange").unlink()  # not made yet: any student could make it first
    said = exchange_root(tmp_path)
    assert said.failed and "exchange in it is not made yet" in said.problem, said
