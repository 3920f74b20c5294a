"""A Jupyter server run by root in a course root owns that is not root's through and through: every address of
formgrader and of nbgrader's other server extensions (its buttons, Validate, the assignment and course lists) answers
403 with the reason, as root's grade, collect and worker refuse such a course (`roots_course`).

Who trusts whom: formgrader's buttons run nbgrader as the server's user. As root, its Generate button removed and
rewrote `release/<chapter>` and made every file below it 0644, through a TA's link in a group-writable `release/`,
into a root-only folder (R20z W1). The course's `nbgrader_config.py` has run inside the server by the time this runs,
so a TA who may write that file has run her code as root already: README says to serve formgrader as root only in a
course root's through and through (`lrcourse doctor` says), else as the course's owner. The course checked is the
one formgrader uses, `c.CourseDirectory.root` as the server's own configuration and then nbgrader's config files set
it, else the working folder (R20b2 M1: the server's folder and working folder were checked, not the course an
instructor's ~/.jupyter sets; R20c2 M1: nor one on the server's command line). Checked once
per server, from this server extension (which stands whatever the course's config says, R20a2 W2) and from the course's
`nbgrader_config.py`; the check reads that file again to find the exchange, and that read returns at once (R20a2 W1:
it recursed, walking the course about a hundred times a request).
"""

from __future__ import annotations

import copy
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
    """As root, `refuse_formgrader_as_root` for the course formgrader uses (`formgraders_course`), once a server."""
    settings = serverapp.web_app.settings
    if os.geteuid() != 0 or CHECKED in settings:
        return
    settings[CHECKED] = ""  # the config files read next call this again (the course's does): they return at once
    try:
        course = formgraders_course(getattr(serverapp, "config", None))
    except Exception as error:  # noqa: BLE001 -- whatever stops the read, root's formgrader is not served unchecked
        course = None
        why = f"lrcourse formgrader: cannot tell which course formgrader uses ({type(error).__name__}: {error})"
    del settings[CHECKED]
    if course is None:
        settings[CHECKED] = why
        serverapp.log.error(why)
        put_first(serverapp.web_app, [(nbgraders_addresses(serverapp.web_app), refused_handler(why))])
    else:
        refuse_formgrader_as_root(serverapp.web_app, serverapp.log, [course])


def formgraders_course(server_config=None) -> str:
    """The course formgrader uses: `c.CourseDirectory.root` as its FormgradeExtension reads it (the server's own
    configuration, `server_config`: its command line and jupyter_server_config.py, then nbgrader's config files on
    the Jupyter config path and the working folder's), else the working folder (R20b2 M1: the server's folder and the
    working folder were checked, not a course set by the instructor's ~/.jupyter/nbgrader_config.py; R20c2 M1: nor one
    set by `--CourseDirectory.root` on the server's command line)."""
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory

    app = NbGrader(config=copy.deepcopy(server_config)) if server_config is not None else NbGrader()  # not changed
    app.load_config_file()
    return os.path.abspath(CourseDirectory(config=app.config).root)


def refuse_formgrader_as_root(web_app, log, courses: list[str]) -> str:
    """If root serves any of `courses` (the course formgrader uses) and it is not root's through and through:
    nbgrader's addresses (NBGRADERS) answer 403 with the reason, which is also logged and returned; else "". Once per server: marked checked before the check, which reads the
    course's config, which calls this again."""
    if CHECKED in web_app.settings:
        return web_app.settings[CHECKED]
    web_app.settings[CHECKED] = ""
    for course in dict.fromkeys(os.path.abspath(course) for course in courses):
        if why := refusal(course, "formgrader"):
            web_app.settings[CHECKED] = why
            log.error(why)
            put_first(web_app, [(nbgraders_addresses(web_app), refused_handler(why))])
            return why
    return ""


def nbgraders_addresses(web_app) -> str:
    return f"{web_app.settings.get('base_url', '/')}(?:{'|'.join(NBGRADERS)})(?:/.*)?"


def refused_handler(why: str):
    class RefusedAsRoot(RequestHandler):
        def prepare(self):
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(why)

    return RefusedAsRoot
