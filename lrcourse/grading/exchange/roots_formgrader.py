"""formgrader served by root in a course root owns that is not root's through and through: every formgrader page and
button answers 403 with the reason, as root's grade, collect and worker refuse such a course (`roots_course`).

Who trusts whom: formgrader's buttons run nbgrader as the server's user. As root, its Generate button removed and
rewrote `release/<chapter>` and made every file below it 0644, through a TA's link in a group-writable `release/`,
into a root-only folder (R20z W1). The course's `nbgrader_config.py` has run inside the server by the time this runs,
so a TA who may write that file has run her code as root already: README says to serve formgrader as root only in a
course root's through and through (`lrcourse doctor` says), else as the course's owner.
"""

from __future__ import annotations

import os

from tornado.web import RequestHandler

from lrcourse.grading.browser.content_policy import put_first, this_server
from lrcourse.grading.exchange.roots_course import refusal


def refuse_root_here() -> None:
    """The course's nbgrader_config.py calls this (formgrader reads it inside the server it runs in): as root, in a
    course root owns that is not root's through and through, formgrader is refused (`refuse_formgrader_as_root`)."""
    app = this_server()
    if app is not None and os.geteuid() == 0:
        refuse_formgrader_as_root(app.web_app, app.log, [str(app.root_dir), os.getcwd()])


REFUSED = "lrcourse_refused_as_root"  # the web app's setting: why root's formgrader is refused here


def refuse_formgrader_as_root(web_app, log, courses: list[str]) -> str:
    """If root serves any of `courses` (the server's folder and its working folder, where formgrader finds the
    course) and it is not root's through and through: every formgrader address answers 403 with the reason, which
    is also logged and returned; else ""."""
    if web_app.settings.get(REFUSED):  # the config is read more than once in a server
        return web_app.settings[REFUSED]
    for course in dict.fromkeys(os.path.abspath(course) for course in courses):
        if why := refusal(course, "formgrader"):
            web_app.settings[REFUSED] = why
            log.error(why)
            base_url = web_app.settings.get("base_url", "/")
            put_first(web_app, [(f"{base_url}formgrader(/.*)?", refused_handler(why))])
            return why
    return ""


def refused_handler(why: str):
    class RefusedAsRoot(RequestHandler):
        def prepare(self):
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(why)

    return RefusedAsRoot
