"""Issue 20, R20w W2, M2, N1: "root's through and through" (`not_roots_throughout`) looked only at the mode bits, so
a course shared with a TA by POSIX ACLs (`setfacl -R -m u:TA:rwx -d -m u:TA:rwx`) passed once `chmod -R go-w` had
run: the default ACL gave her rwx on the `reports/` root's grade made, and her link there was written through. Now an
access ACL naming users or groups, or any default ACL, is refused and the mend says `setfacl -R -b`. The mend for
another account's folder on the course's path is only to move the course out of it (M2); a --course naming root's
file says it is not a folder (N1). The ACLs are written as raw xattrs (no setfacl needed); every xattr, chown and chmod
is inside the test's own tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lrcourse import cli
from lrcourse.grading.exchange.other_account import not_roots_throughout

from support.posix_acl import acl_bytes, set_acl

TA = 54321  # no passwd entry
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: root's rule, and files given to another uid")


def roots_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "reports").mkdir(parents=True)
    (course / "grades.csv").write_text("")
    for path in (course, course / "reports"):
        path.chmod(0o755)
    (course / "grades.csv").chmod(0o644)
    return course


@root_only
@pytest.mark.parametrize("where", [".", "reports", "grades.csv"])
def test_a_named_access_acl_in_a_root_course_is_refused(tmp_path, where):  # grades.csv: grade's, not export's
    course = roots_course(tmp_path)
    assert not_roots_throughout(course, whole=True) == ("", "")
    set_acl(course / where, "system.posix_acl_access", acl_bytes())  # no named entry: the mode says it all
    assert not_roots_throughout(course, whole=True) == ("", "")
    set_acl(course / where, "system.posix_acl_access", acl_bytes((0x02, TA)))
    os.chmod(course / where, 0o755 if (course / where).is_dir() else 0o644)  # go-w: the mask, not the named entry
    reason, mend = not_roots_throughout(course, whole=True)
    assert "a POSIX ACL naming users or groups" in reason and f"`setfacl -R -b {course}`" in mend, (reason, mend)
    set_acl(course / where, "system.posix_acl_access", acl_bytes((0x08, TA)))  # a named group
    os.chmod(course / where, 0o755 if (course / where).is_dir() else 0o644)
    assert "a POSIX ACL naming users or groups" in not_roots_throughout(course, whole=True)[0]


@root_only
@pytest.mark.parametrize("where", [".", "reports"])
def test_a_default_acl_in_a_root_course_is_refused_by_roots_export_and_grade(tmp_path, capsys, where):
    course = roots_course(tmp_path)
    set_acl(course / where, "system.posix_acl_default", acl_bytes((0x02, TA)))  # what R20w's acl.py wrote
    reason, mend = not_roots_throughout(course)
    assert "a default POSIX ACL" in reason and f"`setfacl -R -b {course}`" in mend, (reason, mend)
    (course / "source" / "ch").mkdir(parents=True)
    assert cli.main(["grade", "ch", "--course", str(course), "--no-sandbox"]) == 2
    assert "a default POSIX ACL" in capsys.readouterr().err
    assert cli.main(["export", "--course", str(course)]) == 2
    assert "a default POSIX ACL" in capsys.readouterr().err


@root_only
def test_another_accounts_folder_on_the_path_is_only_moved_out_of(tmp_path):
    home = tmp_path / "alice"
    course = roots_course(home)
    os.chown(home, TA, TA)  # her home, 0755
    reason, mend = not_roots_throughout(course)
    assert reason == f"the folder {home} on its path is uid {TA}'s", reason
    assert mend == f"move the course out of {home}", mend  # never `chown root` of her home; +t would not help
    os.chown(home, 0, 0)
    home.chmod(0o777)
    assert "`chmod go-w" in not_roots_throughout(course)[1]  # root's folder others may write: close it


@root_only
def test_a_course_naming_roots_file_says_it_is_not_a_folder(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("root's")
    victim.chmod(0o600)
    assert not_roots_throughout(victim) == (f"{victim} is not a folder", "give --course the course's folder")
    assert cli.main(["export", "--course", str(victim)]) == 2
    assert capsys.readouterr().err == f"lrcourse export: {victim} is not a folder (give --course the course's folder)\n"
