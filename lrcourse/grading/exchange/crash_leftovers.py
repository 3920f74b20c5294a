"""What a collect killed midway (SIGKILL, a power cut) leaves, mended by the next collect of the assignment, under
its lock (`ledger_folder.one_collect_at_a_time`: no other process is writing either meanwhile; F23).

`collect._write` replaces `submitted/<student>/<assignment>` by two renames: the old folder to
`.<assignment>.replaced`, the new one from `.<assignment>.collecting`. Killed between them, neither is in place: the
student had no folder in `submitted/`, and `lrcourse grade` skipped her. `put_back_replaced` renames the old one
back (the collect then replaces it as usual, or keeps it if her submission is refused now). `write_ledger` writes
through `.<assignment>.<random>.writing`, removed on any error but not on SIGKILL: `remove_stale_writes` removes
them (only a collect of the assignment writes its ledger, and this one holds the lock).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from lrcourse.grading.exchange.ledger_folder import LEDGER
from lrcourse.grading.exchange.other_account import cannot_write


def put_back_replaced(submitted: Path, assignment: str) -> tuple[list[dict], list[dict]]:
    """Each `submitted/<student>/.<assignment>.replaced` without its `<assignment>` renamed back (plain folders only,
    never through a link); the collect record's note on each, and a refusal row for each that cannot be (another
    account's folder: root's collect killed midway), naming the mend: that student only (collect writes nothing of
    hers: her folder there is as unwritable), the class goes on (F24 W2)."""
    notes, refused = [], []
    for stale in sorted(submitted.glob(f"*/.{assignment}.replaced")):
        folder = stale.parent / assignment
        where = f"submitted/{stale.parent.name}/{assignment}"
        try:
            if not _plain_folder(stale.parent) or not _plain_folder(stale) or os.path.lexists(folder):
                continue
            stale.rename(folder)
        except OSError as error:
            why = cannot_write(error, submitted.parent)
            reason = (
                "not put back from its .replaced copy (a collect was killed while replacing it), and nothing of this "
                f"student's collected now: {why}"
            )
            refused.append({"submission": where, "reason": reason})
            continue
        notes.append({
            "submission": where,
            "note": "put back from its .replaced copy: a collect was killed while replacing it (its .collecting "
            "copy removed); this collect then collects the student as usual",
        })  # fmt: skip
        shutil.rmtree(stale.parent / f".{assignment}.collecting", ignore_errors=True)
    return notes, refused


def remove_stale_writes(course: Path, assignment: str) -> None:
    """The ledger's temporary files of `assignment` a killed writer left (plain files only)."""
    for leftover in (course / LEDGER).glob(f".{assignment}.*.writing"):
        if stat.S_ISREG(os.lstat(leftover).st_mode):
            leftover.unlink(missing_ok=True)


def _plain_folder(path: Path) -> bool:
    return stat.S_ISDIR(os.lstat(path).st_mode)
