"""nbgrader's exchange apps as the course's nbgrader_config.py sets them (lrcourse/grading/exchange/: the trusted
release, release_feedback and list), made in this process as nbgrader's apps make them: the tests of those classes
share one way to run them, and one instructor's course to release from."""

from __future__ import annotations

from pathlib import Path

COURSE_ID = "lr-schedules"
CHAPTER = "ch1"
OURS = "lrcourse.grading.exchange"
RELEASE = f"{OURS}.nbgrader_release.TrustedReleaseAssignment"
FEEDBACK = f"{OURS}.nbgrader_release.TrustedReleaseFeedback"
LIST = f"{OURS}.nbgrader_list.TrustedList"


def exchange_app(
    verb: str,
    exchange: Path,
    course: Path | None = None,
    *,
    inbound: bool = False,
    groupshared: bool = False,
    remove: bool = True,
    assignment: str | None = CHAPTER,
    student: str | None = None,
):
    """The app of `verb` ("assignment", "feedback": the release; "list": list with --remove, formgrader's Unrelease,
    `inbound` for --inbound, `remove` False for the listing alone, `assignment` None for no chapter named, `student`
    for --student), not started: a caller that runs it as another uid makes it here first (a child as
    another uid may not read the interpreter's own modules to import them)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config import Config

    config = Config()
    config.Exchange.root = str(exchange)
    if course is not None:
        config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = COURSE_ID
    if assignment is not None:  # None: every chapter, as `nbgrader list --inbound` with no assignment
        config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.groupshared = groupshared
    if student is not None:
        config.CourseDirectory.student_id = student
    config.ExchangeFactory.release_assignment = RELEASE
    config.ExchangeFactory.release_feedback = FEEDBACK
    config.ExchangeFactory.list = LIST
    config.ExchangeList.remove = remove
    config.ExchangeList.inbound = inbound
    factory = ExchangeFactory(config=config)
    kind = {"assignment": factory.ReleaseAssignment, "feedback": factory.ReleaseFeedback, "list": factory.List}[verb]
    coursedir = CourseDirectory(config=config)
    return kind(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)


def course_with_a_release(tmp_path: Path) -> Path:
    """An instructor's course with one chapter to release and one student's feedback to release."""
    course = tmp_path / "course"
    (course / "release" / CHAPTER).mkdir(parents=True)
    (course / "release" / CHAPTER / "notebook.ipynb").write_text("{}")
    feedback = course / "feedback" / "alice" / CHAPTER
    feedback.mkdir(parents=True)
    (feedback / "notebook.html").write_text("<p>alice</p>")
    (feedback / "timestamp.txt").write_text("2026-12-06 12:00:00")
    (feedback / "submission_secret.txt").write_text("s" * 32)
    return course


def exchange_in(course: Path, mode: int) -> Path:
    """An exchange root of `mode` in `course`, named with the course id by `course`'s nbgrader_config.py."""
    root = course / "exchange"
    root.mkdir()
    root.chmod(mode)
    config = f'c = get_config()\nc.CourseDirectory.course_id = "{COURSE_ID}"\nc.Exchange.root = "{root}"\n'
    (course / "nbgrader_config.py").write_text(config)
    return root
