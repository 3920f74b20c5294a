"""nbgrader's own ways to collect (`nbgrader collect`, formgrader's Collect button) made `lrcourse collect`.

Formgrader shows a Collect button that runs nbgrader's exchange collect as the instructor: it trusts the
folder names students write, follows their links and reads their FIFOs (issue 20, items 2-4 and 9). The
course's `nbgrader_config.py` sets `c.ExchangeFactory.collect` to `TrustedCollect`, so the button and the
command run `lrcourse.grading.exchange.collect` instead, with its checks, its collect record and its refusals.
The exchange, the course id and `--student` are nbgrader's, as its command line and config files set them.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.exchange.abc import ExchangeCollect
from nbgrader.exchange.default.exchange import Exchange as NbgraderExchange

from lrcourse.grading.exchange.collect import collect, summary
from lrcourse.grading.exchange.collect_record import write_collect_record
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.other_account import cannot_write
from lrcourse.grading.exchange.roots_course import close_roots_umask, refusal
from lrcourse.grading.intake import STUDENT_ID_RULE, valid_student_id


class TrustedCollect(NbgraderExchange, ExchangeCollect):
    """`lrcourse collect <assignment>` behind nbgrader's collect interface (nbgrader's exchange: `root`)."""

    def start(self):
        if why := refusal(self.coursedir.root, "collect", Path(self.root)):  # nbgrader ran the config: README says so
            self.fail(why)
        close_roots_umask()  # as lrcourse collect's (R20y M3)
        course = Path(self.coursedir.root).resolve()
        try:
            if not self.coursedir.course_id:
                raise ExchangeUnusable("no course id (c.CourseDirectory.course_id or --course)")
            exchange = Exchange(Path(self.root), self.coursedir.course_id)
            only = self._only_student()
            # a wait for another collect said in nbgrader's log: formgrader's Collect dialog shows it (G16)
            result = collect(course, self.coursedir.assignment_id, exchange, only=only, say=self.log.warning)
        except ExchangeUnusable as error:
            self.fail(f"lrcourse collect: {error}")
        for line in summary(result).splitlines():
            self.log.info(line)
        try:
            self.log.info("collect record: %s", write_collect_record(course, result, only))
            unwritten = ""
        except OSError as error:  # root's record (F24 M1(b)): said after the summary, as `lrcourse collect` says it
            unwritten = f"not written, {cannot_write(error, course)}"
            self.log.error("collect record: %s", unwritten)
        if result.refused:  # the button shows the log of a failed collect; the accepted ones are in submitted/
            where = "the refusals above (the collect record is not written)" if unwritten else "the collect record"
            self.fail(f"{result.refusals} submission(s) refused: see {where}")
        if unwritten:
            self.fail(f"collect record: {unwritten}")

    def _only_student(self) -> str | None:
        """`--student`: one exact id, or everyone; nbgrader's patterns would let one id's glob match another's."""
        student = self.coursedir.student_id
        if student in ("", "*"):
            return None
        if not valid_student_id(student):
            raise ExchangeUnusable(f"--student takes one student id, not a pattern: {student!r} ({STUDENT_ID_RULE})")
        return student
