"""nbgrader's submit, leaving the student's submission folder writable by that student alone (issue 20).

nbgrader's own submit (`ExchangeSubmit.copy_files`) makes each submission folder in the exchange's inbound folder
mode 0777, so that an instructor who is not root can delete it later; then any classmate who learns the folder's
name (its random part is all that hides it) can rename it, take its notebook out, or rename that notebook away
and back, which takes the submission out of collect, makes an older draft count instead, or makes it look late.
`OwnerOnlySubmit` does what nbgrader's submit does, and sets the folder to 0755 as soon as nbgrader has written it
and opened it to all, before nbgrader's second copy (into the student's own cache, which a full quota can make
fail), and again on the way out whatever failed: the student writes in it, the instructor who collects reads it,
no one else can change an entry in it. With the sticky bit on the inbound folder (mode 3733, the README's set-up)
no one but the student, the inbound folder's owner and root can rename the folder itself either. Its price: only
the student and root can delete a submission (the README's clean-up). A first copy that fails midway (a full disk or
quota) leaves a folder without its notebook whole or its submission_secret.txt: it is removed, and the student told
to submit again (`remove_unfinished`; `lrcourse collect` refuses such a folder anyway).

The students' nbgrader configuration names it (`c.ExchangeFactory.submit`: hub/nbgrader_config.py, and the
environment's own nbgrader_config.py that scripts/setup_lab.py writes), and both `nbgrader submit` and the
Assignments tab of JupyterLab (nbgrader's assignment_list server extension) build their submit from it. It runs in
the student's own server: it imports nbgrader, the standard library and, through the package's `__init__`,
`lrcourse.kernel_messages` and `lrcourse.cells` (what a learner's kernel loads anyway), nothing of the grader's
(`lrcourse.grading`: tests/test_exchange_submit.py checks the list), and reads nothing but the student's notebooks,
before it copies them (a notebook of the release past a limit collect refuses it for fails the submit with the
reason and what to do: `lrcourse.notebook_limits`, imported then), and the folder it has just written.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from nbgrader.exchange.default.submit import ExchangeSubmit

# the student reads, writes and enters; group and others (the instructor who collects) read and enter only
FOLDER_MODE = 0o755
SECRET = "submission_secret.txt"  # the last file nbgrader 0.9.6's submit writes in the folder (`copy_files`)
OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class OwnerOnlySubmit(ExchangeSubmit):
    """nbgrader's `ExchangeSubmit`, its submission folder then closed to everyone but its owner (FOLDER_MODE)."""

    def init_dest(self):
        # r20am 3: the checks read her notebooks, which takes time; done before the time in the folder's name is
        # fixed, so that it stays close to the folder's change time, the one collect trusts
        self.refuse_what_collect_refuses()
        self.set_timestamp()
        super().init_dest()

    def copy_files(self):
        try:
            super().copy_files()
        except Exception as error:  # the exchange may hold half a submission: take it out, say submit again
            self.remove_unfinished(error)
            raise
        finally:  # a copy, a write or the cache that failed midway must not leave the folder open to all
            self.close_submission()

    def refuse_what_collect_refuses(self) -> None:
        """Fail, copying nothing, where collect would refuse the submission for what the student can change: more
        names than a submission folder may hold (r20ai 1: 10,001 saved plots; collect refused the folder and, its
        listing budget spent, her earlier good one too), none of the release's notebooks (r20ai 2: saved as "Copy
        of ..."), or a notebook of the release past a limit (`lrcourse.notebook_limits`, read the same way, a link
        where it leads as nbgrader's copy does: r20ad M1, "Submitted as ..." for 21 MB of outputs). Only the
        release's notebooks are read (r20af 4). Collect's check of nbformat's schema is not repeated here."""
        from nbgrader.utils import find_all_notebooks, ignore_patterns

        from lrcourse.notebook_limits import MAX_FOLDER_ENTRIES, NotebookRefused, PastLimit, read_notebook
        from lrcourse.submission_copy import copy_problem, size_problem

        self.init_release()  # nbgrader's copy_files does it first too: the release's path, or its failure
        coursedir = self.coursedir
        ignore = ignore_patterns(coursedir.ignore, coursedir.include, coursedir.max_file_size)  # the copy's own
        try:
            names = os.listdir(self.src_path)
            left_out = set(ignore(self.src_path, names))  # once: it stats each name
            copied = [name for name in names if name not in left_out]
        except OSError as error:  # r20an 9: a traceback before
            self.fail(f"Not submitted: your assignment folder cannot be read ({error.strerror}): fix its permissions.")
        most = MAX_FOLDER_ENTRIES // 10  # r20ak 2: room in collect's budget for her older submissions
        if len(set(copied) | {"timestamp.txt", "submission_secret.txt"}) > most:  # nbgrader writes those two
            self.fail(
                f"Not submitted: your assignment folder holds {len(copied):,} files and folders, more than a "
                f"submission may ({most - 2:,}): move what the assignment does not need (saved plots, data) out of "
                "it, and submit again."
            )
        most_bytes = 1000 * coursedir.max_dir_size
        if problem := size_problem(self.src_path, most_bytes) or copy_problem(self.src_path, ignore, most_bytes):
            self.fail(f"Not submitted: {problem}: remove it or fix it, and submit again.")  # r20al 4, r20an 1-3
        expected = find_all_notebooks(self.release_path)
        present = [name for name in expected if os.path.isfile(os.path.join(self.src_path, name))]
        if expected and not present:
            self.fail(
                f"Not submitted: the assignment's notebook ({', '.join(expected)}) is not in your folder, and your "
                "instructor's grader reads no other: save your work under that name, and submit again."
            )
        for name in present:
            path = Path(os.path.realpath(os.path.join(self.src_path, name)))
            try:
                read_notebook(path)
            except PastLimit as error:
                self.fail(
                    f"Not submitted: {error}. Your instructor's grader would refuse it: clear its outputs (Kernel > "
                    "Restart Kernel and Clear Outputs of All Cells) or remove what you added past the limit, save, "
                    "and submit again."
                )
            except NotebookRefused as error:
                self.fail(
                    f"Not submitted: {error}. Your instructor's grader would refuse it: open it in JupyterLab, save "
                    "it again, and submit again; tell your instructor if this message comes back."
                )
            except OSError as error:  # r20af 7, r20ai 4: her file's permissions, not the exchange
                self.fail(
                    f"Not submitted: {name} cannot be read ({error.strerror}): make it readable (or save it again "
                    "from JupyterLab), and submit again."
                )

    def do_copy(self, src, dest, log=None):
        # nbgrader copies twice: into the inbound folder, then (the folder complete and 0777 by now) into the
        # student's cache; close it before the second, which a full quota or an unwritable cache can make fail
        if dest != self.submission_folder():
            self.close_submission()
        super().do_copy(src, dest, log)

    def remove_unfinished(self, error: Exception) -> None:
        """Remove the submission folder a failed submit left unfinished (a full disk or quota: a cut notebook, no
        submission_secret.txt, the last file nbgrader writes there), if it is this user's own folder, never following
        a link (the sticky inbound folder lets its owner remove it), and tell the student to submit again. A finished
        one (the cache's copy failed) stays. `lrcourse collect` refuses an unfinished one anyway (its rule, here)."""
        folder = self.submission_folder()
        try:
            seen = os.lstat(folder)
        except FileNotFoundError:  # nbgrader failed before making it: said, not a traceback (r20ak 4)
            if not isinstance(error, OSError):  # its size limit (max_dir_size), its own checks: hers to fix
                self.fail(f"Not submitted: {error}. Nothing was copied: fix what this names, and submit again.")
            self.fail(  # r20al 5: the exchange refused the folder (a full disk, its permissions): not hers to fix
                f"Not submitted: the exchange refused it ({error}). Nothing was copied: submit again, and tell your "
                f"instructor if this message comes back{disk_hint(error)}."
            )
        own = seen.st_uid == os.geteuid() and stat.S_ISDIR(seen.st_mode)  # lstat: a link is not a folder
        if own and finished(folder):
            return  # the cache's copy failed: the submission is whole, collect takes it
        if own:
            try:
                shutil.rmtree(folder)  # fd-based on Linux (`rmtree.avoids_symlink_attacks`): never follows a link
                left = "it was removed"
            except OSError as failure:
                left = f"it could not be removed ({failure.strerror}): your instructor's collect refuses it"
        else:
            left = "it is not your own folder: left as it is"
        self.fail(
            f"Your submission did not reach the exchange ({error}); {left}. Submit again, and tell your instructor "
            f"if this message comes back{disk_hint(error)}."
        )

    def submission_folder(self) -> str:
        return os.path.join(self.inbound_path, self.assignment_filename)

    def close_submission(self) -> None:
        """Close the submission folder, if nbgrader made one, to everyone but its student (`close_to_others`)."""
        folder = self.submission_folder()
        if not os.path.lexists(folder):  # nbgrader failed before making it: nothing to close
            return
        try:
            close_to_others(folder)
        except OSError as error:
            self.fail(
                f"Your submission folder ({folder}) could not be closed to other users ({error.strerror}): "
                "submit again, and tell your instructor if this message comes back."
            )


def finished(folder: str) -> bool:
    """nbgrader wrote the folder's submission_secret.txt, its last file: not missing nor an empty plain file (as
    collect reads it: `lrcourse.grading.exchange.unfinished_submit`), looked at without following a link; False if it cannot
    be seen."""
    try:
        fd = os.open(folder, OPEN_FLAGS)
    except OSError:
        return False
    try:
        secret = os.stat(SECRET, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return False
    finally:
        os.close(fd)
    return not stat.S_ISREG(secret.st_mode) or secret.st_size > 0


def disk_hint(error: Exception) -> str:
    """What to add where the copy failed for want of room (a full disk or quota, also inside copytree's error list)."""
    full = getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list):
        full = full or any(
            f"[Errno {errno.ENOSPC}]" in str(why) or f"[Errno {errno.EDQUOT}]" in str(why) for *_, why in error.args[0]
        )
    return " (the exchange's disk or your quota may be full)" if full else ""


def close_to_others(folder: str) -> None:
    """Set the submission folder this process just wrote to FOLDER_MODE, opened without following a link and
    checked to be this user's own (never another's folder put in its place meanwhile); left as it is when already
    so (a chmod moves the folder's change time, which collect takes as the submission's)."""
    fd = os.open(folder, OPEN_FLAGS)
    try:
        seen = os.fstat(fd)
        if seen.st_uid != os.geteuid() or not stat.S_ISDIR(seen.st_mode):
            raise PermissionError(1, "the folder is not this user's own (replaced meanwhile?)", folder)
        if stat.S_IMODE(seen.st_mode) != FOLDER_MODE:
            os.fchmod(fd, FOLDER_MODE)
    finally:
        os.close(fd)
