"""Root's grade in a course another account owns never writes through a link that account planted (issue 20, after
R20q W2): `<course>/autograded -> elsewhere` (or `feedback`, `reports`, `grades.csv`, `gradebook.db`...) put root's
files at the link's target, wherever the owner pointed it. `planted_links` names those the run would write, and the
run is refused before grading anyone; `student_link` names a student's own `<kind>/<id>` or `<kind>/<id>/<chapter>`
that is a link, and fails that student only. The mend is said: remove the link, or grade as the course's owner (whose
own grade writes only where that account may). Root's grade looks for them in whoever's course (`checking`): one
root owns that others may write in is theirs to plant links in too (R20v W1 b)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote

from lrcourse.grading.exchange.other_account import course_owner, roots_mend
from lrcourse.grading.outcomes import Outcome

# written by `lrcourse grade`, by nbgrader under it, or by the report after it (the course folder's own names)
WRITTEN = ("autograded", "feedback", "submitted", "notebooks", "reports", "grades.csv", ".nbgrader.log")
GRADEBOOK = tuple(f"gradebook.db{tail}" for tail in ("", "-journal", "-wal", "-shm"))
STUDENT_KINDS = ("submitted", "autograded", "feedback")
EXPORT_FILES = ("grades-by-item.csv", "canvas-import.csv")
EXPORTS = ("exports", *(f"exports/{name}" for name in EXPORT_FILES))


def planted_links(course: Path, assignment: str, export: bool = False, written: tuple[Path, ...] = ()) -> list[str]:
    """As root (`checking`): each path this grade of `assignment` would write that is a link (the
    sqlite gradebook's whatever --db-url says, exports/ if `export`; and in `written`, paths as given on the command
    line: --out's files, --db-url's database, a link in the course's folders along them), with the mend; [] for any
    other account's run (it writes only where it may)."""
    if not checking():
        return []
    names = [*WRITTEN, f"reports/{assignment}.csv", f"reports/{assignment}.html", f"notebooks/{assignment}"]
    names += [f".lrcourse-grading-{assignment}.lock", *GRADEBOOK]  # a link there is never right (R20u N2)
    names += list(EXPORTS) if export else []
    links = [course / name for name in names if _is_link(course / name)]
    links += [link for link in (link_in(course, path) for path in written) if link]
    return [_refusal(course, link) for link in dict.fromkeys(links)]


def checking() -> bool:
    """Whether this run looks for links where it writes: as root, in whoever's course. Before, only in a course
    another account owns (`giving`); but a root-owned course whose `reports/` others may write (0777, or a TA group's
    g+w) took that account's link at reports/<chapter>.html, and root's grade wrote its page over a root-only file
    (R20v W1 b). A course root's through and through (`not_roots_throughout`: no link in it, nothing in it others may
    write) has none to find, so root's grade there runs as before."""
    return os.geteuid() == 0


def link_in(course: Path, path: Path) -> Path | None:
    """The first part of `path` as given (relative to here; links not followed, `..` kept) that is a link in a folder
    of `course` (the real course folder): the owner's to point anywhere, `--out <course>/reports` with her link at
    reports/grades-by-item.csv (R20u N3), `--db-url sqlite:///gradebook.db` from inside the course (R20u N2)."""
    parts = (Path.cwd() / path).parts
    for index in range(1, len(parts) + 1):
        part = Path(*parts[:index])
        if _is_link(part) and part.parent.resolve().is_relative_to(course):
            return part
    return None


def sqlite_files(db_url: str | None) -> tuple[Path, ...]:
    """The files sqlite writes for `db_url` (the database and what a transaction leaves beside it), as SQLAlchemy's
    own parsing gives them to sqlite (`make_url`, the pysqlite dialect's `create_connect_args`: what nbgrader's engine
    opens); () for no URL, another database, or sqlite in memory. Any spelling is then checked: `%2F` in the path,
    a URI filename (`file:sub/gb.db` with `?uri=true`, `=1`, `=yes`...: the file after `file:`, %XX decoded as sqlite
    does); R20w M1: `?uri=1` and `sub%2Fgb.db` opened through the owner's link unchecked."""
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db_url) if db_url else None
        if url is None or url.get_backend_name() != "sqlite":
            return ()
        (database, *_), options = SQLiteDialect_pysqlite().create_connect_args(url)
    except (ArgumentError, ValueError):  # not a URL at all: nbgrader's engine refuses it too
        return ()
    if options.get("uri"):  # sqlite's URI: file:[//authority]path[?query][#fragment]
        path, _, query = database.removeprefix("file:").partition("#")[0].partition("?")
        if "mode=memory" in query.split("&"):
            return ()
        database = unquote("/" + path[2:].partition("/")[2] if path.startswith("//") else path)
    if database in ("", ":memory:"):
        return ()
    return tuple(Path(database + tail) for tail in ("", "-journal", "-wal", "-shm"))


def student_link(course: Path, student: str, assignment: str) -> str:
    """As root (`checking`): why `student` is not graded if her `submitted/`, `autograded/` or
    `feedback/` `<id>` or `<id>/<assignment>` is a link (nbgrader would write, or root's grade remove, at its
    target), else ""."""
    if not checking():
        return ""
    for kind in STUDENT_KINDS:
        for path in (course / kind / student, course / kind / student / assignment):
            if _is_link(path):
                return _refusal(course, path)
    return ""


def through_a_link(course: Path, path: Path) -> bool:
    """Whether any part of `path` below `course` (itself included) is a link: root's grade writes or removes nothing
    there, in whoever's course."""
    parts = path.relative_to(course).parts
    return any(_is_link(course.joinpath(*parts[: index + 1])) for index in range(len(parts)))


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:  # missing, or below a part that is not a folder: nothing written through it
        return False


def _refusal(course: Path, path: Path) -> str:
    try:
        target = os.readlink(path)  # shown as repr: its name is whoever made the link's to choose (R20x N1)
    except OSError:
        target = "?"
    owner = course_owner(course)
    other = f"grade as the course's owner ({owner})" if owner != "root" else roots_mend(course)
    return (
        f"{path} is a link (to {target!r}): root's grade would write there as root; remove the link (the course's own "
        f"folder or file in its place), or {other}"
    )


def refuse_linked(course: Path, assignment: str, outcomes: list[Outcome], todo: list[tuple[str, str]]):
    """The intake's `(outcomes, todo)` with each student whose folders a link stands in (`student_link`) failed with
    the reason, whatever the intake made of her (one skipped read her done-mark through it): what root's grade wrote
    of her earlier is left as it is (`earlier_kept`: nothing removed through the link either)."""
    linked = {}
    for student in [o.student for o in outcomes if o.status != "failed"] + [s for s, _ in todo]:
        reason = student_link(course, student, assignment)
        if reason:
            linked[student] = Outcome(student, "failed", reason, earlier_kept=True)
    kept = [o for o in outcomes if o.student not in linked]
    return kept + list(linked.values()), [(s, f) for s, f in todo if s not in linked]
