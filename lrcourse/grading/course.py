"""The course as the grading commands find it: its folder, nbgrader's configuration and its gradebook.

The gradebook is nbgrader's: SQLite (with a busy timeout, so concurrent workers wait instead of failing
with "database is locked") or PostgreSQL via a `db_url`. Every command opens it with
`lrcourse.gradebook_db.gradebook(db_url)` (one import path: the learner's start page uses it too).
"""

from __future__ import annotations

import os
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


def course_config(course: Path, db_url: str):
    """nbgrader's configuration: the course's nbgrader_config.py, with root and gradebook set."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
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
