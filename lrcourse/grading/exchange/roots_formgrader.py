"""A Jupyter server run by root in a course root owns that is not root's through and through: every address of
formgrader and of nbgrader's other server extensions (its buttons, Validate, the assignment and course lists) answers
403 with the reason, as root's grade, collect and worker refuse such a course (`roots_course`).

Who trusts whom: formgrader's buttons run nbgrader as the server's user. As root, its Generate button removed and
rewrote `release/<chapter>` and made every file below it 0644, through a TA's link in a group-writable `release/`,
into a root-only folder (R20z W1). The course's `nbgrader_config.py` has run inside the server by the time this runs,
so a TA who may write that file has run her code as root already: README says to serve formgrader as root only in a
course root's through and through (`lrcourse doctor` says), else as the course's owner. Checked once per server, from
this server extension (which stands whatever the course's config says, R20a2 W2) and from the course's
`nbgrader_config.py`; the check reads that file again to find the exchange, and that read returns at once (R20a2 W1:
it recursed, walking the course about a hundred times a request).
"""

from __future__ import annotations

import os

from tornado.web import RequestHandler

from lrcourse.grading.browser.content_policy import put_first, this_server
from lrcourse.grading.exchange.roots_course import refusal

CHECKED = "lrcourse_roots_course_checked"  # the web app's setting: "" once checked and served, else why refused
NBGRADERS = ("formgrader", "formgraders", "assignments", "courses", "nbgrader_version")  # its extensions' addresses


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    guard_server(serverapp)


def refuse_root_here() -> None:
    """The course's nbgrader_config.py calls this (formgrader reads it inside the server it runs in), for a server
    where this extension is not enabled."""
    if (app := this_server()) is not None:
        guard_server(app)


def guard_server(serverapp) -> None:
    """As root, `refuse_formgrader_as_root` for the server's folder and its working folder."""
    if os.geteuid() == 0:
        refuse_formgrader_as_root(serverapp.web_app, serverapp.log, [str(serverapp.root_dir), os.getcwd()])


def refuse_formgrader_as_root(web_app, log, courses: list[str]) -> str:
    """If root serves any of `courses` (the server's folder and its working folder, where formgrader finds the
    course) and it is not root's through and through: nbgrader's addresses (NBGRADERS) answer 403 with the reason,
    which is also logged and returned; else "". Once per server: marked checked before the check, which reads the
    course's config, which calls this again."""
    if CHECKED in web_app.settings:
        return web_app.settings[CHECKED]
    web_app.settings[CHECKED] = ""
    for course in dict.fromkeys(os.path.abspath(course) for course in courses):
        if why := refusal(course, "formgrader"):
            web_app.settings[CHECKED] = why
            log.error(why)
            base_url = web_app.settings.get("base_url", "/")
            put_first(web_app, [(f"{base_url}(?:{'|'.join(NBGRADERS)})(?:/.*)?", refused_handler(why))])
            return why
    return ""


def refused_handler(why: str):
    class RefusedAsRoot(RequestHandler):
        def prepare(self):
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(why)

    return RefusedAsRoot
