"""The exchange's folders with a POSIX ACL, for every user that releases (R20f2 W1, W2): a default ACL, inherited by
what nbgrader's copy makes, and a named user's write through a group-writable folder's mask, refused as root or not
(`nbgrader_release.shared_write_problem`)."""

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from nbgrader.exchange import ExchangeError

from support.exchange_apps import CHAPTER, COURSE_ID, course_with_a_release, exchange_app
from support.other_uid import as_user
from support.posix_acl import acl_bytes, set_acl


def test_a_default_acl_on_an_exchange_folder_is_refused(tmp_path):
    """R20f2 W1: outbound/ 0755 with only a default ACL u:54321:rwx: what nbgrader's copy makes in it is 54321's to
    write while it copies (she linked every file name to a root-only file). Refused, with `setfacl -b`."""
    from lrcourse.grading.exchange.folder_writers import shared_write_problem

    outbound = tmp_path / "outbound"
    outbound.mkdir(mode=0o755)
    set_acl(outbound, "system.posix_acl_default", acl_bytes((0x02, 54321)))
    problem = shared_write_problem(outbound.lstat(), outbound)
    assert "a default POSIX ACL" in problem and f"setfacl -b {outbound}" in problem, problem
    # R20g2 N1: the folder itself is not writable by her (0755): what the release makes in it is
    assert f"{outbound} (mode 0755) carries a default POSIX ACL" in problem, problem
    assert "what the release makes in it would be writable by the users it names" in problem, problem
    assert "is writable by other users" not in problem, problem


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_a_non_root_grader_refuses_a_group_writable_folder_with_a_named_acl():
    """R20f2 W2: README's non-root grader, feedback/ 2771 with an access ACL u:54321:rwx: her link had the grader write
    a feedback page over the instructor's source notebook. The ACL rule holds for every user, not root's alone."""
    from lrcourse.grading.exchange.folder_writers import shared_write_problem

    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-acl-"))
    try:
        scratch.chmod(0o755)
        feedback = scratch / "feedback"
        feedback.mkdir()
        os.chown(feedback, 4242, 4242)
        feedback.chmod(0o2771)
        set_acl(feedback, "system.posix_acl_access", acl_bytes((0x02, 54321)))
        said = as_user(4242, lambda: shared_write_problem(feedback.lstat(), feedback))
        assert "a POSIX ACL naming users or groups" in said, said
        os.removexattr(feedback, "system.posix_acl_access")
        feedback.chmod(0o2771)
        assert as_user(4242, lambda: shared_write_problem(feedback.lstat(), feedback)) == "''"  # its own group: fine
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(exchange: Path, course: Path, which: str):
    """The course's release ("assignment", "feedback") or Unrelease ("unrelease": nbgrader's list with remove), run in
    this process as nbgrader's apps run them, with the course's classes."""
    return exchange_app("list" if which == "unrelease" else which, exchange, course).start()


@pytest.mark.parametrize("which", ["assignment", "feedback", "unrelease"])
@pytest.mark.parametrize("course_folder", ["made", "missing"])
def test_a_default_acl_on_the_exchanges_root_itself_is_refused(tmp_path, which, course_folder):
    """A default ACL u:54321:rwx on the exchange's root (1777) itself: release refused it only where a folder it made
    in the root inherited it (the course folder, not made yet); with the README's course folder made before the ACL,
    nothing inherited it and release, release_feedback and Unrelease went on under a root that gives whatever is
    made in it next to 54321. Now each refuses the root itself, naming `setfacl -k`, before making anything there."""
    course = course_with_a_release(tmp_path)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    if course_folder == "made":  # the README's set-up, before the ACL: no ACL of its own
        for folder in ("", "outbound", *(["outbound/" + CHAPTER] if which == "unrelease" else [])):
            (exchange / COURSE_ID / folder).mkdir(mode=0o755)  # the chapter: released, for Unrelease to remove
    set_acl(exchange, "system.posix_acl_default", acl_bytes((0x02, 54321)))
    before = sorted(str(path) for path in exchange.rglob("*"))
    with pytest.raises(ExchangeError, match=f"the exchange's root {exchange} carries a default POSIX ACL"):
        run(exchange, course, which)
    assert sorted(str(path) for path in exchange.rglob("*")) == before  # nothing made, nothing removed
    os.removexattr(exchange, "system.posix_acl_default")
    run(exchange, course, which)  # the same root without it: released (or unreleased) as before


def test_the_doctor_fails_a_default_acl_on_the_exchanges_root(tmp_path):
    """The doctor fails the root's default ACL as release does (stops release, not collect), with the mend."""
    from lrcourse.grading.doctor.diagnose import verdict
    from lrcourse.grading.doctor.exchange import exchange_root

    exchange = tmp_path / "exchange"
    (exchange / COURSE_ID / "inbound").mkdir(parents=True)
    exchange.chmod(0o1777)
    (exchange / COURSE_ID).chmod(0o755)
    (exchange / COURSE_ID / "inbound").chmod(0o3733)
    config = f'c = get_config()\nc.CourseDirectory.course_id = "{COURSE_ID}"\nc.Exchange.root = "{exchange}"\n'
    (tmp_path / "nbgrader_config.py").write_text(config)
    assert not exchange_root(tmp_path).failed
    set_acl(exchange, "system.posix_acl_default", acl_bytes((0x02, 54321)))
    said = exchange_root(tmp_path)
    assert said.failed and said.stops == "release", said
    assert said.problem.startswith(f"the exchange's root {exchange} carries a default POSIX ACL"), said.problem
    assert "release, release_feedback and Unrelease refuse it" in said.problem, said.problem
    assert f"setfacl -k {exchange}" in said.fix, said.fix
    assert verdict([said]).startswith("students' code can be graded here, but nbgrader's release refuses this exchange")
    shutil.rmtree(exchange / COURSE_ID)  # a course folder missing stops collect: that FAIL first
    said = exchange_root(tmp_path)
    assert said.failed and said.stops == "collect" and "does not exist yet" in said.problem, said


def test_a_course_folder_made_and_refused_is_removed_and_after_the_mend_released_0755(tmp_path):
    """R20g2 W2: the course's folder made (0700 until its mode is set) in a root whose default ACL it inherited, then
    refused, was left at 0700; after the printed mend the next release found it made, never set its mode, and no
    student could fetch. The folder made and refused is removed again (the root's ACL appearing after its check,
    here by calling the folder walk itself); after `setfacl -k <root>` the release makes it 0755."""
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable
    from lrcourse.grading.exchange.nbgrader_release import ensure_exchange_folder

    course = course_with_a_release(tmp_path)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    set_acl(exchange, "system.posix_acl_default", acl_bytes((0x02, 54321)))
    with pytest.raises(ExchangeUnusable, match="carries a default POSIX ACL"):
        ensure_exchange_folder(exchange, (COURSE_ID, "outbound"), 0o755)
    assert list(exchange.iterdir()) == []  # nothing left behind
    os.removexattr(exchange, "system.posix_acl_default")  # `setfacl -k <root>`
    run(exchange, course, "assignment")
    assert stat.S_IMODE((exchange / COURSE_ID).stat().st_mode) == 0o755
    assert stat.S_IMODE((exchange / COURSE_ID / "outbound").stat().st_mode) == 0o755
