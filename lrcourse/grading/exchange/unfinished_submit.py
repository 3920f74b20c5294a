"""An unfinished submit in nbgrader's exchange: a submission folder `lrcourse collect` refuses (issue 20).

nbgrader 0.9.6's submit (`ExchangeSubmit.copy_files`) copies the assignment folder into the inbound folder, then
writes `timestamp.txt` and, last, `submission_secret.txt`, then sets the modes. A submit that fails midway (a full
disk or quota, which a classmate can cause, the exchange's root being writable by all; a server stopped) leaves a
folder without that secret, or with an empty one, its notebook perhaps cut short, and a change time later than the
student's good submissions: taken as her newest, it would supersede them. So it is refused, and her previous
accepted submission is collected instead, with its own secret (her feedback still reaches her). A secret that is
something else (a link, a folder) is no submit's doing: a stray, left out (`submission_secrets.NO_SECRET`).
The course's submit (`lrcourse.exchange_submit`) removes such a folder itself and tells the student to submit again.
"""

from __future__ import annotations

import os
import stat

LAST_FILE = "submission_secret.txt"  # the last file nbgrader submit writes in the folder
UNFINISHED = (
    f"an unfinished submit: no {LAST_FILE}, or an empty one, the last file nbgrader submit writes (a full disk or "
    "quota, a stopped server): the student's previous accepted submission, if any, is taken instead; ask the "
    "student to submit again"
)


def unfinished(folder: int) -> bool:
    """The submission folder open at `folder` lacks its secret, or holds an empty plain one (no link followed)."""
    try:
        secret = os.stat(LAST_FILE, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(secret.st_mode) and secret.st_size == 0
