"""The course as the grading commands find it: its folder, nbgrader's configuration and its gradebook.

The gradebook is nbgrader's: SQLite (with a busy timeout, so concurrent workers wait instead of failing
with "database is locked") or PostgreSQL via a `db_url`. Every command opens it with
`lrcourse.gradebook_db.gradebook(db_url)` (one import path: the learner's start page uses it too).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

from lrcourse.gradebook_db import with_busy_timeout


def lrcourse_flag(config, name: str) -> bool:
    """`c.Lrcourse.<name>` as a yes or no. The section is not a traitlets class, so a command line's
    `--Lrcourse.<name>=False` arrives as the string "False": read the words, refuse anything else."""
    value = config.get("Lrcourse", {}).get(name, False) if config is not None else False
    if isinstance(value, str):
        value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            value.lower(), value
        )
    if not isinstance(value, bool):
        raise ValueError(f"c.Lrcourse.{name} must be True or False, not {value!r}")
    return value


def default_db_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


GRADING_NAME = re.compile(r"\blrcourse\.grading\.(\w+)")  # a class path of lrcourse's grading, by its first part
UPGRADE = (
    "{file} names class paths lrcourse no longer has ({names}): lrcourse.grading's modules moved into rooms "
    "(autograde/, exchange/, browser/, reports/...), so this course's guards would not load. Update its class paths "
    "as the README's \"Upgrading a course to the grading rooms\" says (this repository's nbgrader_config.py has "
    "them all), then rerun `python scripts/setup_lab.py` in this environment. Nothing was graded."
)


class OutdatedCourseConfig(SystemExit):
    """A course's nbgrader_config.py older than its lrcourse, or one not read (`config_text`). A SystemExit: every command and worker stops with
    its message, not a traceback, before it grades or collects anything."""


def outdated_class_paths(text: str) -> list[str]:
    """The `lrcourse.grading.X` names in a configuration whose X is neither a module nor a room of grading now."""
    here = Path(__file__).parent
    moved = {m.group(1) for m in GRADING_NAME.finditer(text)}
    moved = {name for name in moved if not (here / name).is_dir() and not (here / f"{name}.py").is_file()}
    return sorted(f"lrcourse.grading.{name}" for name in moved)


def refuse_outdated_config(course: Path | str | None) -> None:
    """Raise OutdatedCourseConfig if the course folder's nbgrader_config.py names class paths of an older lrcourse
    (None: a command of no course), or cannot be read as one (`config_text`)."""
    config = Path(course) / "nbgrader_config.py" if course is not None else None
    text = config_text(config) if config is not None else None
    if text is not None and (names := outdated_class_paths(text)):
        raise OutdatedCourseConfig(UPGRADE.format(file=config, names=", ".join(names)))


CONFIG_BYTES = 1 << 20  # a course's nbgrader_config.py is a few KB


def config_text(config: Path) -> str | None:
    """The text of a course's nbgrader_config.py, None if there is none; OutdatedCourseConfig where it is a link and
    this is root (root read another course's root-only file through it and printed it, R20u W2: the course's owner
    points it where she likes), not a regular file (a FIFO: opened without waiting, never read), or longer than
    1 MiB (a sparse 1 GB file cost root 2 GB of memory)."""
    follow = 0 if os.geteuid() != 0 else os.O_NOFOLLOW
    try:
        fd = os.open(config, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | follow)
    except (FileNotFoundError, NotADirectoryError):  # no course there (a mistyped --course): the command says so
        return None
    except OSError as error:
        if not os.path.islink(config):
            raise
        other = ", or run as the course's owner" if os.stat(config.parent).st_uid != 0 else ""  # root's: R20v N1
        raise OutdatedCourseConfig(
            f"{config} is a link, and root does not follow a link in a course ({error.strerror}): put the file "
            f"itself there{other}. Nothing was read."
        ) from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OutdatedCourseConfig(f"{config} is not a regular file: nothing was read, nothing graded")
        data = file.read(CONFIG_BYTES + 1)
    if len(data) > CONFIG_BYTES:
        raise OutdatedCourseConfig(
            f"{config} is longer than 1 MiB (a course's configuration is a few KB): nothing was read past it, nothing "
            "graded"
        )
    return data.decode(errors="replace")


def course_config(course: Path, db_url: str):
    """nbgrader's configuration: the course's nbgrader_config.py, with root and gradebook set; refused if it names
    the class paths of an older lrcourse (its guards would fail to load, silently: OutdatedCourseConfig)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    refuse_outdated_config(course)
    if (course / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = with_busy_timeout(db_url)
    return config


def ensure_tools_on_path() -> None:
    """nbgrader runs `alembic` from PATH when it creates a gradebook: put this environment's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def skip_iri_format_check() -> None:
    """Leave out jsonschema's "iri" format check in this process, before anything imports jsonschema (nbformat does).
    Its checker, rfc3987-syntax, builds an Earley grammar when imported: about 2 s of CPU in every grading command
    and every grading worker (python-jsonschema/jsonschema#1428), for a format that no schema read here uses
    (nbformat's and nbgrader's have none, and neither passes a format checker). A module set to None in
    `sys.modules` cannot be imported, and jsonschema registers that one check only if the import succeeds."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
