"""nbgrader's own ways to collect (`nbgrader collect`, formgrader's Collect button) made `lrcourse collect`.

Formgrader shows a Collect button that runs nbgrader's exchange collect as the instructor: it trusts the
folder names students write, follows their links and reads their FIFOs (issue 20, items 2-4 and 9). The
course's `nbgrader_config.py` sets `c.ExchangeFactory.collect` to `TrustedCollect`, so the button and the
command run `lrcourse.grading.collect` instead, with its checks, its collect record and its refusals.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.exchange.abc import ExchangeCollect


class TrustedCollect(ExchangeCollect):
    """`lrcourse collect <assignment>` behind nbgrader's collect interface."""

    def start(self):
        from lrcourse.grading.collect import ExchangeUnusable, collect, exchange_of, summary, write_collect_record

        course = Path(self.coursedir.root).resolve()
        try:
            result = collect(course, self.coursedir.assignment_id, exchange_of(course))
        except ExchangeUnusable as error:
            self.fail(f"lrcourse collect: {error}")
        for line in summary(result).splitlines():
            self.log.info(line)
        self.log.info("collect record: %s", write_collect_record(course, result))
        if result.refused:  # the button shows the log of a failed collect; the accepted ones are in submitted/
            self.fail(f"{result.refusals} submission(s) refused: see the collect record")
