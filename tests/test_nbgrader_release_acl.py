"""The exchange's folders with a POSIX ACL, for every user that releases (R20f2 W1, W2): a default ACL, inherited by
what nbgrader's copy makes, and a named user's write through a group-writable folder's mask, refused as root or not
(`nbgrader_release.shared_write_problem`)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.other_uid import as_user
from support.posix_acl import acl_bytes, set_acl


def test_a_default_acl_on_an_exchange_folder_is_refused(tmp_path):
    """R20f2 W1: outbound/ 0755 with only a default ACL u:54321:rwx: what nbgrader's copy makes in it is 54321's to
    write while it copies (she linked every file name to a root-only file). Refused, with `setfacl -b`."""
    from lrcourse.grading.exchange.nbgrader_release import shared_write_problem

    outbound = tmp_path / "outbound"
    outbound.mkdir(mode=0o755)
    set_acl(outbound, "system.posix_acl_default", acl_bytes((0x02, 54321)))
    problem = shared_write_problem(outbound.lstat(), outbound)
    assert "a default POSIX ACL" in problem and f"setfacl -b {outbound}" in problem, problem


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_a_non_root_grader_refuses_a_group_writable_folder_with_a_named_acl():
    """R20f2 W2: README's non-root grader, feedback/ 2771 with an access ACL u:54321:rwx: her link had the grader write
    a feedback page over the instructor's source notebook. The ACL rule holds for every user, not root's alone."""
    from lrcourse.grading.exchange.nbgrader_release import shared_write_problem

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
