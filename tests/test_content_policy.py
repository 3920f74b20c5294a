"""The Content-Security-Policy and the route guards on the instructor's Jupyter server
(lrcourse/grading/browser/content_policy.py), on responses as the server's transform sees them (no server: the browser
tests run a real one, tests/test_instructor_browser.py)."""

from __future__ import annotations

import pytest

from lrcourse.grading.browser import content_policy


def test_the_policy_allows_the_pages_head_and_nbgraders_static_scripts_only():
    page = (
        '<html><head><script src="/formgrader/static/js/formgrade.js"></script><script>var a = 1;</script>'
        '<script type="text/x-mathjax-config">MathJax.Hub.Config({})</script></head>'
        "<body><script>var a = 1;</script><script>evil()</script></body></html>"
    )
    policy = content_policy.page_policy("http://127.0.0.1:8888", "/", page, content_policy.template_allowances())
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert content_policy.sha256("var a = 1;") in script_src
    assert content_policy.sha256("evil()") not in script_src
    assert content_policy.sha256("MathJax.Hub.Config({})") not in script_src
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "http://127.0.0.1:8888/formgrader/static/" in script_src and " 'self'" not in script_src
    assert content_policy.sha256("toggle_name(true);") in script_src  # nbgrader's own name toggle
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-src 'none'", "form-action 'none'"):
        assert directive in policy
    assert "sandbox" in content_policy.FILE_POLICY and "script-src" not in content_policy.FILE_POLICY


# A student's relative link from a submission's page to formgrader's gradebook page, its ids holding a script
# (issue 20, fifth review): nbgrader's templates write those ids into an inline script unescaped.
HOSTILE_IDS = ['x";document.title="PWNED";var z="', "nb"]


def hostile_gradebook_path(base_url: str = "/") -> str:
    from urllib.parse import quote

    return base_url + "formgrader/gradebook/" + "/".join(quote(part, safe="") for part in HOSTILE_IDS)


def test_nbgraders_gradebook_page_writes_its_addresss_ids_into_a_script_unescaped():
    """Why the policy refuses such addresses: nbgrader's own page runs the student's script."""
    from jinja2 import Environment, FileSystemLoader
    from nbgrader.server_extensions.formgrader import handlers

    page = (
        Environment(loader=FileSystemLoader([handlers.template_path]))
        .get_template("gradebook_notebook_submissions.tpl")
        .render(assignment_id=HOSTILE_IDS[0], notebook_id=HOSTILE_IDS[1], base_url="")
    )
    assert 'var assignment_id = "x";document.title="PWNED";' in page


def respond(path: str, status: int = 200, chunk: bytes = b"<script>page</script>", more: bytes = b"") -> tuple:
    """What formgrader's response to `path` becomes through the course's transform: (status, headers, body)."""
    from types import SimpleNamespace

    transform = content_policy.policy_transform("/", [])(
        SimpleNamespace(path=path, protocol="http", host="127.0.0.1:8888")
    )
    headers = {"Content-Type": "text/html", "Content-Length": str(len(chunk + more))}
    status, headers, body = transform.transform_first_chunk(status, headers, chunk, not more)
    return status, headers, body + transform.transform_chunk(more, True)


@pytest.mark.parametrize(
    "path",
    [
        hostile_gradebook_path(),
        "/formgrader/gradebook/a%22b",
        "/formgrader/gradebook/ok/%3Cscript%3E",
        "/formgrader/manage_submissions/x%22%3B/",
        "/formgrader/manage_students/alice/x%27",
        "/formgrader/manage_students/a%2Fb",  # a slash tornado decodes into the id
        "/formgrader/submissions/x%22%3Balert(1)%3B/",
    ],
)
def test_a_formgrader_page_whose_address_holds_what_no_id_has_is_answered_404_with_nothing_of_the_page(path):
    status, headers, body = respond(path, more=b"<script>more of the page</script>")
    assert status == 404 and b"<script" not in body and body == content_policy.REFUSED_PAGE
    assert headers["Content-Length"] == str(len(body)) and headers["Content-Type"].startswith("text/plain")
    assert "sandbox" in headers["Content-Security-Policy"]


def answered(routes: list, paths: list[str]) -> list:
    """The responses to each of `paths` from a tornado server with the course's routes and transform installed
    (`content_policy.install`) ahead of `routes`, the stand-ins for nbgrader's handlers."""
    import asyncio
    import logging

    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port
    from tornado.web import Application

    async def fetch_all():
        app = Application(routes, base_url="/")
        content_policy.install(app, logging.getLogger("test"))
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        try:
            client = AsyncHTTPClient()
            return [await client.fetch(f"http://127.0.0.1:{port}{p}", raise_error=False) for p in paths]
        finally:
            server.stop()

    return asyncio.run(fetch_all())


def served(paths: list[str], reached: list) -> list[tuple[int, str, bytes, str]]:
    """(status, reason, body, policy) of each of `paths`, the course's routes ahead of a stand-in for nbgrader's
    gradebook page, which answers 200 with a script (and adds the ids it was given to `reached`)."""
    from tornado.web import RequestHandler

    class Gradebook(RequestHandler):
        def get(self, *ids):
            reached.append(ids)
            self.write("<script>var assignment_id = 'x';</script>")

    answers = answered([(r"/formgrader/gradebook/(.*)", Gradebook)], paths)
    return [(a.code, a.reason, a.body, a.headers.get("Content-Security-Policy", "")) for a in answers]


def test_a_refused_address_is_answered_404_not_found_by_a_route_ahead_of_nbgraders_page():
    """The status line says "Not Found" (a transform that turns a page into a 404 leaves "404 OK"), and the page's
    handler never runs; an honest address still reaches it."""
    reached = []
    refused, honest = served(
        [hostile_gradebook_path(), "/formgrader/gradebook/01_learning_rate/learning_rate"], reached
    )
    assert refused[:3] == (404, "Not Found", content_policy.REFUSED_PAGE) and "sandbox" in refused[3], refused
    assert honest[:3] == (200, "OK", b"<script>var assignment_id = 'x';</script>"), honest
    assert reached == [("01_learning_rate/learning_rate",)], "nbgrader's handler never runs on a refused address"


@pytest.mark.parametrize(
    "path",
    [
        "/formgrader",
        "/formgrader/gradebook/",
        "/formgrader/gradebook/03_adaptive_schedules/adaptive_schedules",
        "/formgrader/manage_students/lrc1a2b3alice/03_adaptive_schedules/",
        "/formgrader/manage_submissions/02_ordered_schedules",
        "/formgrader/static/js/formgrade.js",
        "/formgrader/submissions/0123abcd/evil%20file.html",  # a student's file: the file policy, not a refusal
        "/lab/tree/a%22b.ipynb",
    ],
)
def test_formgraders_pages_with_real_ids_and_other_addresses_pass(path):
    status, _, body = respond(path)
    assert status == 200 and body == b"<script>page</script>"


@pytest.mark.parametrize(
    "path",
    [
        "/formgrader/api/submission/ps1/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/nbgrader_version",
        "/assignments",
        "/courses",
        "/formgraders",
    ],
)
def test_nbgraders_json_answers_are_never_pages(path):
    """nbgrader writes them as text/html, some with a value a student chose (an id in the address, a folder in the
    exchange): a link to one would have run as a page in the server's origin."""
    status, headers, body = respond(path, chunk=b'{"student": "<img src=x onerror=alert(1)>"}')
    assert status == 200 and body.startswith(b'{"student"')  # the answer as it was, for the pages that read it
    assert headers["Content-Type"].startswith("application/json") and headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"] and "script-src" not in headers["Content-Security-Policy"]


def test_a_submission_page_loads_images_styles_and_fonts_only_inline_or_from_formgraders_static_files():
    """Not 'self': each is a GET with the instructor's session to any address of the server (nor formgrader's
    submissions/, where every image would render the student's notebook again)."""
    policy = content_policy.page_policy("http://h:1", "/", "<html><head></head><body></body></html>", [])
    sources = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert sources["img-src"] == ["data:", "http://h:1/formgrader/static/"]
    assert sources["style-src"][:2] == ["http://h:1/formgrader/static/", "'unsafe-inline'"]
    assert sources["font-src"][:2] == ["http://h:1/formgrader/static/", "data:"]
    assert not any("'self'" in values for name, values in sources.items() if name != "frame-ancestors")


def test_a_submission_page_is_never_cached_and_a_304_keeps_the_first_answers_policy():
    """A 304 carries no page: a policy hashed from it would block the cached page's own scripts on a second visit."""
    page = b"<html><head><script>var submission_id = 'x';</script></head><body></body></html>"
    status, headers, _ = respond("/formgrader/submissions/0123abcd/", chunk=page)
    assert headers["Cache-Control"] == "no-store" and "Etag" not in headers
    assert content_policy.sha256("var submission_id = 'x';") in headers["Content-Security-Policy"]
    status, headers, _ = respond("/formgrader/submissions/0123abcd/", status=304, chunk=b"")
    assert "Content-Security-Policy" not in headers


def test_formgraders_guard_takes_every_character_of_a_student_id_and_no_other():
    """One definition of an id's characters (intake.ID_CHARACTERS): a student `lrcourse grade` takes has formgrader
    pages that open, and an id holding any other character (one a student id cannot hold) is refused."""
    import string
    from urllib.parse import quote

    from lrcourse.grading import intake

    pages = content_policy.formgrader_pages("/")
    for character in string.printable + "\u00e9\u200b\uff1c":
        student = "a" + character
        address = f"/formgrader/manage_students/{quote(student, safe='')}/01_learning_rate"
        opens = content_policy.ids_allowed(pages.match(address))
        assert opens == intake.valid_student_id(student), repr(student)


def served_files(course, paths: list[str]) -> list[tuple[int, bytes]]:
    """(status, body) of each of `paths`, the course's routes ahead of a stand-in for nbgrader's
    SubmissionFilesHandler: as nbgrader's, a StaticFileHandler rooted at the course's folder that joins the decoded
    path to the submission's autograded folder (every id is alice's)."""
    import os

    from tornado.web import StaticFileHandler

    class SubmissionFiles(StaticFileHandler):
        def parse_url_path(self, url_path):
            _, path = url_path.lstrip("/").split("/", 1)
            return super().parse_url_path(os.path.join(str(course / "autograded" / "alice" / "ch"), path))

    answers = answered([(r"/formgrader/submissions/(.*)", SubmissionFiles, {"path": str(course)})], paths)
    return [(a.code, a.body) for a in answers]


def test_a_submissions_file_address_that_leaves_its_folder_is_answered_404(tmp_path):
    """F15: nbgrader serves `submissions/<id>/../../../gradebook.db` (and `%2e%2e`, `..%2F`, a leading `%2F`; F16:
    `<id>%2F..`, `/<id>/..`) from the course's folder to the instructor's session; the submission's own files are
    still served."""
    course = tmp_path / "course"
    (course / "autograded" / "alice" / "ch" / "sub").mkdir(parents=True)
    (course / "autograded" / "alice" / "ch" / "sub" / "plot.png").write_bytes(b"own file")
    (course / "gradebook.db").write_bytes(b"the gradebook")
    leaving = [
        "/formgrader/submissions/1/../../../gradebook.db",
        "/formgrader/submissions/1/%2e%2e/%2e%2e/%2e%2e/gradebook.db",
        "/formgrader/submissions/1/..%2F..%2F..%2Fgradebook.db",
        "/formgrader/submissions/1/sub/../../../../gradebook.db",
        f"/formgrader/submissions/1/%2F{str(course / 'gradebook.db').lstrip('/')}",
        f"/formgrader/submissions/1//{str(course / 'gradebook.db').lstrip('/')}",
        # F16: the slash after the id percent-encoded, or the id led by a slash; nbgrader splits after decoding
        "/formgrader/submissions/1%2F..%2F..%2F../gradebook.db",
        "/formgrader/submissions/1%2F..%2F..%2F..%2Fgradebook.db",
        "/formgrader/submissions//1/../../../gradebook.db",
        # F17: a NUL or another control character made nbgrader's handler raise ValueError (500, a traceback)
        "/formgrader/submissions/1/..%00/gradebook.db",
        "/formgrader/submissions/1/sub/plot.png%00",
        "/formgrader/submissions/1/sub%0A/plot.png",
        "/formgrader/submissions/1%00/sub/plot.png",
    ]
    own = ["/formgrader/submissions/1/sub/plot.png", "/formgrader/submissions/1/./sub/plot.png"]
    answers = served_files(course, [*leaving, *own])
    assert [status for status, _ in answers[: len(leaving)]] == [404] * len(leaving), answers
    assert not [body for _, body in answers if b"the gradebook" in body], answers
    assert answers[len(leaving) :] == [(200, b"own file")] * len(own), answers
