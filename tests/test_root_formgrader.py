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
from types import SimpleNamespace

import pytest

from lrcourse.grading.exchange import roots_formgrader
from lrcourse.grading.exchange.roots_formgrader import refuse_formgrader_as_root

from support.paths import ROOT

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="as root only: root's formgrader is refused")


def course_with_release(tmp_path: Path, mode: int) -> Path:
    course = tmp_path / "course"
    (course / "release" / "ch").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    for path in (course, course / "release" / "ch"):
        path.chmod(0o755)
    (course / "release").chmod(mode)
    return course


def pressed(course: Path, guard=None, path: str = "/formgrader/api/assignment/ch/assign") -> tuple[int, bytes, list]:
    """(status, body) of a POST to `path` (formgrader's Generate button, or nbgrader's Validate), and what the
    stand-ins for nbgrader's handlers ran; `guard(app)` installs the guard (`refuse_formgrader_as_root`'s)."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port
    from tornado.web import Application, RequestHandler

    ran = []

    class Nbgraders(RequestHandler):
        def post(self, *ids):
            ran.append(self.request.path)
            self.write("done")

    routes = [(r"/formgrader/api/assignment/([^/]+)/assign", Nbgraders), (r"/assignments/validate", Nbgraders)]

    async def press():
        app = Application(routes, base_url="/")
        if guard is None:
            refuse_formgrader_as_root(app, logging.getLogger("test"), [str(course)])
        else:
            guard(app)
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        try:
            url = f"http://127.0.0.1:{port}{path}"
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
    assert (status, body, ran) == (200, b"done", ["/formgrader/api/assignment/ch/assign"])


@root_only
def test_nbgraders_validate_is_refused_too(tmp_path):  # R20a2 M1: it ran a TA's notebook as root
    course = course_with_release(tmp_path, 0o775)
    status, body, ran = pressed(course, path="/assignments/validate")
    assert status == 403 and b"not root's through and through" in body and ran == []


def stand_in_server(app, course: Path):
    return SimpleNamespace(web_app=app, log=logging.getLogger("test"), root_dir=str(course))


@root_only
def test_the_server_extension_refuses_a_course_whose_config_does_not_ask(tmp_path, monkeypatch):  # R20a2 W2
    course = course_with_release(tmp_path, 0o775)  # its config (a course made before the guard) calls nothing
    monkeypatch.chdir(course)
    guard = lambda app: roots_formgrader.guard_server(stand_in_server(app, course))  # noqa: E731
    status, body, ran = pressed(course, guard)
    assert status == 403 and f"{course / 'release'} in it is writable".encode() in body and ran == []


@root_only
def test_the_courses_config_read_by_the_check_does_not_check_again(tmp_path, monkeypatch):  # R20a2 W1
    """The check reads the course's config to find the exchange, and that config asks for the check: it recursed
    (the exchange found only at the top, about a hundred walks a request, and an honest course with its exchange
    inside refused). Now the config's own request returns at once: one read, the course served."""
    from lrcourse.grading.exchange import inbound_folder

    course = course_with_release(tmp_path, 0o755)
    config = (ROOT / "nbgrader_config.py").read_text() + f"\nc.Exchange.root = {str(course / 'exchange')!r}\n"
    (course / "nbgrader_config.py").write_text(config)
    (course / "exchange").mkdir(mode=0o755)
    (course / "exchange").chmod(0o1777)  # the students' by design: set apart only if found
    reads, exchange_of = [], inbound_folder.exchange_of
    monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: reads.append(course) or exchange_of(course))
    monkeypatch.chdir(course)

    def guard(app):
        monkeypatch.setattr(roots_formgrader, "this_server", lambda: stand_in_server(app, course))
        roots_formgrader.refuse_root_here()

    status, body, ran = pressed(course, guard)
    assert (status, ran) == (200, ["/formgrader/api/assignment/ch/assign"]), body
    assert len(reads) == 1, reads


def guarded_by_the_extension(course: Path, served: Path):
    """`pressed`'s guard: the server extension's, in a server whose folder is `served` (formgrader's course: `course`)."""
    return lambda app: roots_formgrader.guard_server(stand_in_server(app, served))


@root_only
def test_the_course_an_instructors_jupyter_config_sets_is_the_one_checked(tmp_path, monkeypatch):
    """R20b2 M1(b): ~/.jupyter/nbgrader_config.py sets c.CourseDirectory.root (nbgrader's usual set-up) to a course a
    group may write; the server's folder and working folder are honest: that course was served unchecked."""
    course = course_with_release(tmp_path, 0o775)
    honest = tmp_path / "honest"
    honest.mkdir(mode=0o755)
    jupyter = tmp_path / "jupyter"
    jupyter.mkdir()
    (jupyter / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(jupyter))
    monkeypatch.chdir(honest)
    status, body, ran = pressed(course, guarded_by_the_extension(course, honest))
    assert status == 403 and f"{course / 'release'} in it is writable".encode() in body and ran == [], body


@root_only
def test_the_working_folder_is_not_checked_when_formgrader_uses_another_course(tmp_path, monkeypatch):
    """R20b2 M1(a): the server started from a folder holding a link (root's home), the course set by
    ~/.jupyter/nbgrader_config.py honest: it was refused, with a mend asking root to rewrite the working folder."""
    course = course_with_release(tmp_path, 0o755)
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "lnk").symlink_to(home / "x")
    jupyter = tmp_path / "jupyter"
    jupyter.mkdir()
    (jupyter / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(jupyter))
    monkeypatch.chdir(home)
    status, body, ran = pressed(course, guarded_by_the_extension(course, course))
    assert (status, body, ran) == (200, b"done", ["/formgrader/api/assignment/ch/assign"])


@root_only
def test_a_course_that_cannot_be_resolved_is_refused(tmp_path, monkeypatch):
    course = course_with_release(tmp_path, 0o755)
    monkeypatch.chdir(course)
    monkeypatch.setattr(roots_formgrader, "formgraders_course", lambda *_: 1 / 0)
    status, body, ran = pressed(course, guarded_by_the_extension(course, course))
    assert status == 403 and b"cannot tell which course formgrader uses (ZeroDivisionError" in body and ran == []


@root_only
def test_the_course_the_servers_own_configuration_sets_is_the_one_checked(tmp_path, monkeypatch):
    """R20c2 M1: `jupyter lab --CourseDirectory.root=<course>` (or c.CourseDirectory.root in
    jupyter_server_config.py): formgrader takes the server's configuration, the guard read nbgrader's config files
    only, and the course, one a group may write, was served unchecked."""
    from traitlets.config import Config

    course = course_with_release(tmp_path, 0o775)
    honest = tmp_path / "honest"
    honest.mkdir(mode=0o755)
    jupyter = tmp_path / "jupyter"
    jupyter.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(jupyter))
    monkeypatch.chdir(honest)
    config = Config()
    config.CourseDirectory.root = str(course)

    def guard(app):
        roots_formgrader.guard_server(SimpleNamespace(**vars(stand_in_server(app, honest)), config=config))

    status, body, ran = pressed(course, guard)
    assert status == 403 and f"{course / 'release'} in it is writable".encode() in body and ran == [], body
    assert config.CourseDirectory.root == str(course) and "Exchange" not in config  # the server's own, unchanged
