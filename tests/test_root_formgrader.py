"""Issue 20, R20z W1: formgrader served by root (`make instructor` as root) had none of the root-course guards: in a
course whose `release/` a TA group may write, its Generate button removed and rewrote the chapter's release through
her link, into a root-only folder, and made its secret 0644. Now, as root, in a course root owns that is not root's
through and through, every formgrader address answers 403 with the reason (`roots_formgrader`), before nbgrader's
handlers; an honest course is served. A stand-in for nbgrader's button records whether it ran. Every chmod here is
inside the test's own tmp_path."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from lrcourse.grading.exchange.roots_formgrader import refuse_formgrader_as_root

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="as root only: root's formgrader is refused")


def course_with_release(tmp_path: Path, mode: int) -> Path:
    course = tmp_path / "course"
    (course / "release" / "ch").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    for path in (course, course / "release" / "ch"):
        path.chmod(0o755)
    (course / "release").chmod(mode)
    return course


def pressed(course: Path) -> tuple[int, bytes, list]:
    """(status, body) of a POST to formgrader's Generate button, and whether the stand-in for nbgrader's ran."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port
    from tornado.web import Application, RequestHandler

    ran = []

    class Assign(RequestHandler):
        def post(self, assignment):
            ran.append(assignment)
            self.write("generated")

    async def press():
        app = Application([(r"/formgrader/api/assignment/([^/]+)/assign", Assign)], base_url="/")
        refuse_formgrader_as_root(app, logging.getLogger("test"), [str(course)])
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        try:
            url = f"http://127.0.0.1:{port}/formgrader/api/assignment/ch/assign"
            return await AsyncHTTPClient().fetch(url, method="POST", body="", raise_error=False)
        finally:
            server.stop()

    answer = asyncio.run(press())
    return answer.code, answer.body, ran


@root_only
def test_roots_formgrader_refuses_a_course_a_group_may_write_before_its_buttons_run(tmp_path):
    course = course_with_release(tmp_path, 0o775)
    status, body, ran = pressed(course)
    assert status == 403 and f"{course / 'release'} in it is writable by others (mode 775)".encode() in body, body
    assert b"lrcourse formgrader: run as root in a course that is not root's through and through" in body
    assert ran == []  # nbgrader's button never ran


@root_only
def test_roots_formgrader_serves_a_course_roots_through_and_through(tmp_path):
    status, body, ran = pressed(course_with_release(tmp_path, 0o755))
    assert (status, body, ran) == (200, b"generated", ["ch"])
