"""`lrcourse collect` checks the exchange's root's own path as nbgrader's release does (`root.root_path_problem`,
through `root.check_exchange_root`; R20e2 N1): a root below a folder another account owns, or a link of another
account's in its place, is refused with release's reason, nothing collected; the README's set-ups still collect. Beside
it, the course folder by release's rule (R20g2 M1) and a note naming the inbound folder's POSIX ACL (M3)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.root import check_exchange_root, root_path_problem

from support.inbound_folders import CHAPTER, exchange_course, inbound_folder
from support.other_uid import as_user

STUDENT = 4242  # a uid of no account: another user's folder or link on the root's path
SAID = "another account could point it, or put a link in its place, anywhere: root's or your release would then chmod"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a folder or link to another uid")
@pytest.mark.parametrize("trap", ["folder", "link"])
def test_collect_refuses_a_root_another_account_could_point_anywhere(tmp_path, trap):
    """The honest exchange, reached through a folder of a student's (she may rename it and put her own tree in its
    place) or through her link in a folder everyone may write in (as /tmp): collect took its submissions as the
    exchange's; release refused it. Now collect refuses it too, with release's reason, and writes nothing."""
    course, exchange = exchange_course(tmp_path)
    exchange.root.chmod(0o1777)
    inbound_folder(exchange.inbound)
    if trap == "folder":
        hers = tmp_path / "hers"
        hers.mkdir()
        exchange.root.rename(hers / "exchange")
        os.chown(hers, STUDENT, STUDENT)
        root, reason = hers / "exchange", f"the folder {hers} on its path is uid {STUDENT}'s"
    else:
        public = tmp_path / "public"
        public.mkdir()
        public.chmod(0o1777)
        root = public / "exchange"
        root.symlink_to(exchange.root)
        os.chown(root, STUDENT, STUDENT, follow_symlinks=False)
        reason = f"the folder {public} on its path is writable by others (mode 1777) and exchange in it is uid 4242's"
    with pytest.raises(ExchangeUnusable) as refused:
        collect(course, CHAPTER, Exchange(root, exchange.course_id))
    said = str(refused.value)
    assert said.startswith(f"the exchange's root {root}: {reason}: {SAID}"), said
    assert said == root_path_problem(root)  # release's sentence (`lrcourse release: <it>. Nothing was released.`)
    assert not (course / "submitted").exists()


def test_the_readmes_exchange_made_by_root_still_collects(tmp_path):
    """The README's set-up: the root made by root, mode 1777, below root's own folders (as /srv/nbgrader/exchange),
    the course's folder and inbound folder the collecting user's: collected."""
    course, exchange = exchange_course(tmp_path)
    exchange.root.chmod(0o1777)
    inbound_folder(exchange.inbound)
    assert root_path_problem(exchange.root) is None
    assert len(collect(course, CHAPTER, exchange).collected) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_the_readmes_hub_exchange_passes_for_the_grader_account():
    """The README's hub set-up: /srv/nbgrader/exchange root's and 1777 below root's 0755 folders, the course's folder
    and inbound the grader account's (here uid 4243): the grader's collect checks the root's path and passes it, as
    its release does; nbgrader's default root, /usr/local/share/nbgrader/exchange, passes too where root made it."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-srv-"))  # root's, and others may enter it, as /srv
    try:
        scratch.chmod(0o755)
        root = scratch / "srv" / "nbgrader" / "exchange"
        root.mkdir(parents=True)
        root.chmod(0o1777)
        for path in (root / "lr-schedules", root / "lr-schedules" / "inbound"):
            path.mkdir()
            os.chown(path, 4243, 4243)
        (root / "lr-schedules" / "inbound").chmod(0o3733)
        exchange = Exchange(root, "lr-schedules")
        assert as_user(4243, lambda: check_exchange_root(exchange)) == "None"
        if os.path.isdir("/usr/local/share") and not os.path.lexists("/usr/local/share/nbgrader"):
            assert root_path_problem("/usr/local/share/nbgrader/exchange") is None  # made by root, as nbgrader would
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a uid an ACL entry here")
@pytest.mark.parametrize("how", ["acl", "group"])
def test_collect_refuses_a_course_folder_a_student_may_write_in_through_an_acl_or_a_group(tmp_path, how):
    """R20g2 M1: the course's folder 0755 plus an access ACL u:<student>:rwx (mode 0775: the group bits are its mask),
    or, as root, 2775 with a group but root's: she renamed inbound/ away and put outbound/ in its place, and collect
    said "0 collected". collect refuses it as release does (its sentence and mend); after the mend it collects."""
    from support.posix_acl import acl_bytes, set_acl

    course, exchange = exchange_course(tmp_path)
    exchange.root.chmod(0o1777)
    inbound_folder(exchange.inbound)
    folder = exchange.root / exchange.course_id
    if how == "acl":
        set_acl(folder, "system.posix_acl_access", acl_bytes((0x02, STUDENT)))
    else:
        os.chown(folder, 0, STUDENT)
    folder.chmod(0o775)
    with pytest.raises(ExchangeUnusable) as refused:
        collect(course, CHAPTER, exchange)
    said = str(refused.value)
    assert said.startswith(f"{folder} (mode 0775) is writable by other users ("), said
    assert ("`setfacl -b" in said) == (how == "acl") and f"chmod go-w {folder}" in said, said
    assert not (course / "submitted").exists()
    folder.chmod(0o755)  # the mask r-x: the named uid may no longer write; the group no longer may
    assert len(collect(course, CHAPTER, exchange).collected) == 1


def test_an_inbound_folder_listed_through_a_posix_acl_is_noted_naming_the_acl(tmp_path):
    """R20g2 M3: inbound 3733 plus an access ACL u:54321:rx (mode 3773, the group bits its mask): collect's note blamed
    only "everyone in its group"; it names the POSIX ACL too."""
    from support.posix_acl import acl_bytes, set_acl

    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    set_acl(exchange.inbound, "system.posix_acl_access", acl_bytes((0x02, 54321)))
    exchange.inbound.chmod(0o3773)
    notes = [row["note"] for row in collect(course, CHAPTER, exchange).notes if row["submission"] == "every submission"]
    assert any("or the users and groups its POSIX ACL names" in note for note in notes), notes


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a uid an ACL entry here")
def test_collect_takes_a_course_folder_whose_default_acl_lets_no_student_write_there(tmp_path):
    """R20a M2: a default ACL on the course's folder (0755, no access ACL: no student may write in it; her mkdir there
    was refused)
    made collect refuse the whole class, saying "her own outbound/ ... there". Collect reads only inbound/, which is
    there: it collects; release and Unrelease (`check_exchange_root`, release's rule) still refuse it. An access ACL
    letting her write beside it is still refused by collect."""
    from support.posix_acl import acl_bytes, set_acl

    course, exchange = exchange_course(tmp_path)
    exchange.root.chmod(0o1777)
    inbound_folder(exchange.inbound)
    folder = exchange.root / exchange.course_id
    set_acl(folder, "system.posix_acl_default", acl_bytes((0x02, STUDENT)))
    folder.chmod(0o755)
    assert len(collect(course, CHAPTER, exchange).collected) == 1
    with pytest.raises(ExchangeUnusable, match=f"{folder} \\(mode 0755\\) carries a default POSIX ACL"):
        check_exchange_root(exchange)  # release's and Unrelease's rule, unchanged
    set_acl(folder, "system.posix_acl_access", acl_bytes((0x02, STUDENT)))
    folder.chmod(0o775)
    with pytest.raises(ExchangeUnusable, match="is writable by other users \\(a POSIX ACL naming users or groups"):
        collect(course, CHAPTER, exchange)
