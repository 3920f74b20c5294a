"""An exchange as the README sets it up, and the course's submit (`lrcourse.exchange_submit.OwnerOnlySubmit`) run
in-process as this user (tests/test_exchange_submit*.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from lrcourse.grading.exchange.inbound_folder import Exchange

from support.inbound_folders import CHAPTER, FILE


def notebook() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])


def exchange_for(scratch: Path) -> tuple[Path, Exchange]:
    """A course the students cannot read, and an exchange as the README sets it up: root 1777, the course's
    folder 0755, the release readable, the inbound folder 3733."""
    course = scratch / "course"
    (course / "source" / CHAPTER).mkdir(parents=True)
    nbformat.write(notebook(), course / "source" / CHAPTER / FILE)
    course.chmod(0o700)
    exchange = Exchange(scratch / "exchange", "lr-schedules")
    (exchange.root / "lr-schedules" / "outbound" / CHAPTER).mkdir(parents=True)
    nbformat.write(notebook(), exchange.root / "lr-schedules" / "outbound" / CHAPTER / FILE)
    exchange.inbound.mkdir()
    exchange.root.chmod(0o1777)
    exchange.inbound.chmod(0o3733)
    return course, exchange


def course_submit(exchange: Exchange, cache: Path):
    """The course's submit of CHAPTER from the current folder (nbgrader's assignment_dir, "."), configured as a
    student's server would be."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from lrcourse.exchange_submit import OwnerOnlySubmit

    config = Config()
    config.Exchange.root = str(exchange.root)
    config.Exchange.cache = str(cache)
    config.CourseDirectory.course_id = "lr-schedules"
    config.CourseDirectory.assignment_id = CHAPTER
    return OwnerOnlySubmit(
        coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config
    )
