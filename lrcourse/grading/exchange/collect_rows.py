"""The rows `collect` counts instead of naming one by one, so whatever a student put in the inbound folder the
collect record stays short (`collect.Bounds`): refusals past a cap, an owner's folders past the entry budget,
a student's folders past her read budget, a student's older submissions, a submission's strays."""

from __future__ import annotations


def capped_rows(assignment: str, refusals: dict[tuple[str, str], int], cap: int) -> list[dict]:
    """One row per refusal cap exceeded: `and N more` of a student's own, or of an owner's in names not theirs
    (`refusals`: the count per (claimed id, owner), the claimed id empty for an owner's in others' names)."""
    rows = []
    for (claimed_id, owner), count in sorted(refusals.items()):
        if count > cap:
            more = count - cap
            if claimed_id:
                row = {"submission": f"{claimed_id}+{assignment}+...", "reason": f"and {more} more of "}
                row["reason"] += f"{claimed_id}'s own submissions refused"
            else:
                row = {"submission": f"{owner}: {more} more", "reason": f"and {more} more submissions owned by "}
                row["reason"] += f"{owner} in names not theirs refused"
            rows.append({**row, "more": more})
    return rows


def over_budget(owner: str, count: int, entries: int) -> dict:
    """The row of an owner whose folders hold more entries than a run lists for one owner (a flood?)."""
    reason = (
        f"{owner}'s submission folders hold more than {entries} entries in all (a flood?): listed newest folder "
        f"first, {count} folders were not checked once {entries} had been read"
    )
    return {"submission": f"{owner}: {count} folders", "reason": reason, "more": count}


def not_read(student: str, assignment: str, count: int, seconds: float) -> dict:
    """The row of a student's `count` accepted folders left unread once reading hers took `seconds` (a flood of
    notebooks that cannot be graded?), none of hers collected."""
    reason = (
        f"not read: {student}'s submissions took more than {seconds:g} s to read (a flood of notebooks that cannot "
        f"be graded?), her newest refused above; {count} older {'one was' if count == 1 else 'ones were'} not read "
        "and none of hers is collected: set her broken folders aside as root, and collect again (the inbound "
        "folder's owner can neither remove them nor move them out; renamed there with a leading dot, collect "
        "refuses them unread, counted among folders in names not hers)"
    )
    return {"submission": f"{student}+{assignment}+... (not read)", "reason": reason, "more": count}


def superseded_rows(student: str, older: list[str], named: int) -> list[dict]:
    """The rows of a student's `older` accepted submissions (names, newest first) that the collected one
    supersedes: the `named` newest one each, the rest counted in one row."""
    rows = [{"submission": name} for name in older[:named]]
    if len(older) > named:
        rows.append({"student": student, "submission": f"{student}: older submissions", "more": len(older) - named})
    return rows


def more_strays(count: int) -> str:
    return f"and {count} more entries left out (not part of the assignment)"
