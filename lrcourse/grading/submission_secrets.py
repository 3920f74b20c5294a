"""Which `submission_secret.txt` a collected submission keeps (`lrcourse collect`).

nbgrader's `release_feedback` files each student's feedback under a hash of the secret in their submitted folder,
and `fetch_feedback` finds it with the secret the student's own `nbgrader submit` wrote. It stops for the rest of
the class at a missing, empty or undecodable one, so only a secret as `nbgrader submit` writes it is kept, else a
fresh one is written (`NO_SECRET`: that student's feedback cannot reach them through the exchange). A secret can
be read in a classmate's inbound folder: two students holding one would each fetch the other's feedback, so a
secret is kept only by the student collected first (`SHARED_SECRET`). The secrets already in `submitted/` are read
as plain files only, a secret's length at most: `submitted/` may hold what an instructor copied in.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from lrcourse.grading.inbound import OPEN_FLAGS

SECRET = "submission_secret.txt"
SHARED_SECRET = (
    f"its {SECRET} is {{!r}}'s (collected first): a fresh one written, so neither fetches the other's feedback; "
    "this student cannot fetch feedback through the exchange (send it another way)"
)
NO_SECRET = (
    f"no usable {SECRET}: a fresh one written so release_feedback goes on for the class; this student cannot "
    "fetch feedback through the exchange (send it another way)"
)


def usable_secret(files: dict[str, bytes]) -> bool:
    """The student's submission_secret.txt is one `nbgrader submit` writes: 128 hexadecimal digits."""
    return re.fullmatch(rb"[0-9a-f]{128}\n?", files.get(SECRET, b"")) is not None


def held_secrets(submitted: Path, assignment: str) -> dict[bytes, str]:
    """secret -> the student whose collected submission of `assignment` holds it."""
    held = {}
    for path in submitted.glob(f"*/{assignment}/{SECRET}"):
        secret = read_secret(path)
        if secret:
            held.setdefault(secret, path.parent.parent.name)
    return held


def read_secret(path: Path) -> bytes | None:
    """A plain file's first bytes, as many as a secret has (submitted/ may hold what an instructor copied in: a link
    to /dev/zero or a FIFO is not read, nothing is followed); None for anything else."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 130).strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def secret_to_keep(files: dict[str, bytes], student: str, secrets_held: dict[bytes, str]) -> tuple[bytes, str]:
    """The secret to write for `student` (theirs, or a fresh one), and who held theirs first (`student` if no one
    else); `secrets_held` learns it."""
    secret = files[SECRET] if usable_secret(files) else secrets.token_hex(64).encode()
    holder = secrets_held.setdefault(secret.strip(), student)
    if holder != student:
        secret = secrets.token_hex(64).encode()
        secrets_held[secret] = student
    return secret, holder
