"""Content-Security-Policy on formgrader's pages of student work: a Jupyter server extension.

The second wall behind `sanitize.py`: should the sanitizer miss something, the browser still runs no script
of a student's on a page of the instructor's session.

- A submission's page (formgrader's `submissions/<id>/`) may run only formgrader's own scripts: its files
  under `formgrader/static/`, MathJax from the CDN nbconvert names, the inline scripts of the page's head and
  nbgrader's static template scripts (by hash), and nbgrader's two static event handlers ('unsafe-hashes').
  No 'unsafe-inline', no 'unsafe-eval', no frames, objects, forms or base; requests only to formgrader's API.
- A submission's page links nowhere to the notebook itself: nbgrader's header ("Submission #N", the student's
  name) opened the autograded .ipynb in Notebook or in JupyterLab, which show a student's markdown unsanitized and
  under no policy of this module's, where an image loads from any address (a beacon: when and where the instructor
  read it) and makes GETs with the instructor's cookie. The page's own handler (`submission_page`, put before
  formgrader's) renders it with the course's copy of the template's macros (`templates/formgrade/`), the links
  taken out.
- A student's file that formgrader serves (`submissions/<id>/<file>`) is sandboxed: it runs nothing. A file
  path that leaves the submission's folder (a `..` segment or a leading `/`, percent-encoded or not, the slash
  after the id too), or holds a control character (`%00`, F17), is answered "404 Not Found" by a route ahead of
  nbgrader's (`LeavingSubmission`): nbgrader's handler serves any file under the course's folder (`../../../gradebook.db`, the source notebooks) to the
  instructor's session, so a student's link or image could make the instructor's browser fetch them (F15, F16).
- nbgrader's JSON answers (formgrader's API, the assignment and course lists, the version) are written as
  `text/html`, some with a student's value in them (an id from the address, a folder name in the exchange): a
  link to one would run as a page. They are answered as `application/json` under the file policy.
- `formgrader?path=DIR` makes formgrader load DIR/nbgrader_config.py, Python run inside the server, on a plain
  GET (an image in a student's answer, through the exchange students write to): only the course's own folder is
  taken (`OneCourseFormgrader`, put before formgrader's own handler).
- formgrader's other pages (the gradebook, manage submissions, manage students) write the ids of their address
  into an inline script, unescaped: a student's link to `../../gradebook/x";<script>` would run on one click, and
  no policy can tell that script from the page's own. Such an address is answered "404 Not Found" unless every id
  in it is one an id can be (`ID`): a route ahead of nbgrader's (`RefusedAddress`) answers it, so nbgrader's
  handler never runs, and the transform writes a bare body whatever handler answered.

Switched on by `scripts/setup_lab.py` (`jupyter server extension enable lrcourse.grading.browser.content_policy`), and by
the course's nbgrader_config.py wherever formgrader reads it inside a server (`guard_this_server`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import unquote

from tornado.routing import PathMatches
from tornado.web import HTTPError, OutputTransform, RequestHandler

from lrcourse.grading.intake import ID_CHARACTERS

MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"  # nbconvert's default MathJax, and its fonts
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)([^>]*)>(.*?)</script\s*>", re.S | re.I)
SCRIPT_TYPE = re.compile(r"\btype\s*=\s*[\"']?([^\"'\s>]*)", re.I)
JAVASCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}
STATIC_HANDLER = re.compile(r"\bon[a-z]+=\"([^\"{}]*)\"")
FILE_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
# The ids formgrader's pages take from their address: students', assignments', notebooks', submissions'. Of a
# student id's characters (`intake.ID_CHARACTERS`), but looser than a student id (`intake.STUDENT_ID`) on purpose:
# any first character and length, since assignments and notebooks are named by the instructor.
ID = re.compile(rf"[{ID_CHARACTERS}]+")
INSTALLED = "lrcourse_content_policy"  # the web app's setting that says the policy is on
# The course's copy of formgrader's template macros, in a folder named as nbgrader's own template ("formgrade")
FORMGRADE_TEMPLATES = Path(__file__).parent / "templates"
EXPORTER = "lrcourse_formgrade_exporter"  # the web app's setting that holds the submission pages' exporter
REFUSED_PAGE = b"404: not a formgrader page (an id in the address holds a character no id has)"


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    install(serverapp.web_app, serverapp.log)


def guard_this_server() -> None:
    """The course's nbgrader_config.py calls this. formgrader reads that file inside the server it runs in, before
    it adds its own routes: the policy and the guards stand wherever formgrader serves this course, whether or not
    this extension was enabled there (a server started with another configuration, a hub's service)."""
    if app := this_server():
        install(app.web_app, app.log)


def this_server():
    """The Jupyter server this process runs, with its web app, if it runs one (None in nbgrader's own commands,
    which have no pages to guard)."""
    try:
        from jupyter_server.serverapp import ServerApp
        from traitlets.config import Application
    except ImportError:
        return None
    app = Application.instance() if Application.initialized() else None  # the process's one application
    return app if isinstance(app, ServerApp) and getattr(app, "web_app", None) is not None else None


def install(web_app, log) -> None:
    """The policy and the route guards on `web_app`, once (the extension and the course's configuration both ask)."""
    if web_app.settings.get(INSTALLED):
        return
    web_app.settings[INSTALLED] = True
    base_url = web_app.settings.get("base_url", "/")
    # First in line, so that it reads the page before the server compresses it.
    web_app.transforms.insert(0, policy_transform(base_url, template_allowances()))
    # Whether nbgrader's extensions are on (by their names or the package's) shows only once they have loaded: the
    # guards answer 404 where nbgrader's own handler would not exist.
    put_first(
        web_app,
        [
            (RefusedAddress(formgrader_pages(base_url)), NotFound),
            (LeavingSubmission(submission_files(base_url)), NotFound),
            (f"{base_url}formgrader/?", one_course_formgrader()),
            (f"{base_url}formgrader/submissions/([^/]+)/?", submission_page()),
            (f"{base_url}assignments/?", plain_course_ids_only()),
        ],
    )
    log.info("lrcourse: Content-Security-Policy on formgrader's pages of student work")


def put_first(web_app, handlers: list) -> None:
    """Add `handlers` ahead of every other extension's (the server loads extensions in an order of its own)."""
    web_app.add_handlers(".*$", handlers)
    rules = web_app.default_router.rules
    ours = next(rule for rule in rules if any(r.target is handlers[0][1] for r in getattr(rule.target, "rules", [])))
    rules.remove(ours)
    rules.insert(0, ours)


def formgrader_pages(base_url: str) -> re.Pattern:
    """formgrader's pages that write the ids of their address into the page: `ids` or `id`, as `ids_allowed` reads
    them."""
    return re.compile(
        re.escape(base_url) + r"formgrader/(?:(?:gradebook|manage_\w+)(?P<ids>/.*)?|submissions/(?P<id>[^/]+)/?)$"
    )


class RefusedAddress(PathMatches):
    """The addresses of formgrader's pages that hold an id no id has, and no other."""

    def match(self, request):
        found = super().match(request)
        return found if found is not None and not ids_allowed(self.regex.match(request.path)) else None


def submission_files(base_url: str) -> re.Pattern:
    """The addresses of the files formgrader serves from a submission's folder: `file`, the submission's id and the
    file's path as sent. Not split here: nbgrader splits them only after tornado's decoding, so an id followed by
    `%2F` or led by `/` (`submissions/<id>%2F..%2Fx`, `submissions//<id>/../x`) is split there as anywhere (F16)."""
    return re.compile(re.escape(base_url) + r"formgrader/submissions/(?!components/)(?P<file>.+)$")


class LeavingSubmission(PathMatches):
    """The addresses of a submission's files that lead out of its folder, and no other."""

    def match(self, request):
        found = super().match(request)
        return found if found is not None and leaves_folder(self.regex.match(request.path)["file"]) else None


def leaves_folder(rest: str) -> bool:
    """Whether the file's path in `<id>/<path>`, percent-decoded and split as nbgrader's handler reads it (leading
    slashes stripped, split at the first `/`), leads out of the folder it is joined to (os.path.join drops the
    folder before a leading `/`). A control character anywhere (`..%00`) counts as leaving: no file a student
    submits is named with one, and a NUL made nbgrader's handler raise ValueError (500, a traceback in the log)."""
    decoded = unquote(rest)
    if re.search(r"[\x00-\x1f\x7f]", decoded):
        return True
    found = re.match(r"([^/]+)/(.*)", decoded.lstrip("/"))  # nbgrader's own split, after tornado's decoding
    return found is not None and (found[2].startswith("/") or ".." in found[2].split("/"))


class NotFound(RequestHandler):
    """A 404 whose status line says "Not Found": a transform can change a status but not its reason ("404 OK")."""

    def prepare(self):
        raise HTTPError(404)


def one_course_formgrader():
    """nbgrader's formgrader start page (`formgrader`, `formgrader?path=`), refusing a `path` other than the
    course's folder: formgrader would run that folder's nbgrader_config.py inside the server."""

    from nbgrader.server_extensions.formgrader.handlers import FormgraderHandler
    from tornado import web

    class OneCourseFormgrader(FormgraderHandler):
        def get(self):
            if "nbgrader_formgrader" not in self.settings:
                raise web.HTTPError(404)
            path = self.get_argument("path", "")
            course = self.settings["nbgrader_formgrader"].coursedir.root  # never changed: nbgrader gets no path
            if path and os.path.realpath(path) != os.path.realpath(course):
                raise web.HTTPError(403, "formgrader opens only the course it was started in")
            # nbgrader never gets the path: a link to the course checked here could point elsewhere by the time
            # nbgrader reads the folder's configuration again (on every page after)
            self.request.arguments.pop("path", None)
            self.request.query_arguments.pop("path", None)
            return super().get()

    return OneCourseFormgrader


def submission_page():
    """nbgrader's page of one submission, rendered with the course's template macros (no link to the notebook)."""
    from nbgrader.server_extensions.formgrader.handlers import SubmissionHandler
    from tornado import web

    class SubmissionWithoutNotebookLink(SubmissionHandler):
        def prepare(self):
            if "nbgrader_exporter" not in self.settings:
                raise web.HTTPError(404)
            return super().prepare()

        @property
        def exporter(self):
            if EXPORTER not in self.settings:  # once per server: building an exporter reads every template
                self.settings[EXPORTER] = linkless_exporter(self.settings["nbgrader_exporter"])
            return self.settings[EXPORTER]

    return SubmissionWithoutNotebookLink


def linkless_exporter(formgraders):
    """An exporter configured as formgrader's, whose templates are looked up in the course's folder first."""
    import copy

    from nbconvert.exporters import HTMLExporter

    config = copy.deepcopy(formgraders.config)
    config.HTMLExporter.extra_template_basedirs = [str(FORMGRADE_TEMPLATES), *formgraders.extra_template_basedirs]
    return HTMLExporter(config=config)


def plain_course_ids_only():
    """nbgrader's assignment list (`assignments?course_id=`), refusing a course id that is not a plain name: nbgrader
    puts it into a file pattern unchecked, so a path made the server list and read any folder (a FIFO there hung
    the whole server, on one click on a student's link)."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentListHandler
    from tornado import web

    class PlainCourseIds(AssignmentListHandler):
        def get(self):
            if "assignment_list_manager" not in self.settings:
                raise web.HTTPError(404)
            course_id = self.get_argument("course_id", "")
            if course_id not in ("", "*") and not (ID.fullmatch(course_id) and course_id.strip(".")):
                raise web.HTTPError(403, "a course id is a plain name")
            return super().get()

    return PlainCourseIds


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_scripts(markup: str) -> list[str]:
    """The text of every inline script a browser would run as JavaScript."""
    return [body for attributes, body in INLINE_SCRIPT.findall(markup) if script_type(attributes) in JAVASCRIPT_TYPES]


def script_type(attributes: str) -> str:
    match = SCRIPT_TYPE.search(attributes)
    return match[1].lower() if match else ""


def template_allowances() -> list[str]:
    """Hashes of the static scripts and event handlers in the formgrade template's macros, as the course serves them
    (no template tags)."""
    macros = (FORMGRADE_TEMPLATES / "formgrade" / "formgrade_macros.html.j2").read_text()
    scripts = [sha256(body) for body in inline_scripts(macros) if "{{" not in body and "{%" not in body]
    handlers_ = [sha256(body) for body in STATIC_HANDLER.findall(macros)]
    return sorted(set(scripts)) + ["'unsafe-hashes'"] + sorted(set(handlers_))


def page_policy(origin: str, base_url: str, page: str, allowances: list[str]) -> str:
    """A submission page's policy: its head (written by the template before any student content) and the
    template's static scripts may run; nothing the student's part of the page holds."""
    head = page.split("<body", 1)[0]
    hashes = sorted({sha256(body) for body in inline_scripts(head)}) + allowances
    formgrader = f"{origin}{base_url}formgrader/"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {formgrader}static/ {MATHJAX} {' '.join(hashes)}",
            # not 'self': a style sheet, a font or an image is a GET the instructor's session makes, to any of the
            # server's addresses; nor formgrader's submissions/ (each image there would render the notebook again)
            f"style-src {formgrader}static/ 'unsafe-inline' {MATHJAX}",
            f"font-src {formgrader}static/ data: {MATHJAX}",
            f"img-src data: {formgrader}static/",
            f"connect-src {formgrader}api/",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-src 'none'",
            "object-src 'none'",
            "frame-ancestors 'self'",
        ]
    )


def policy_transform(base_url: str, allowances: list[str]):
    """A tornado transform that sets the policy of each response of formgrader's submission views."""
    submissions = re.compile(re.escape(base_url) + r"formgrader/submissions/(?!components/)[^/]+/?(?P<file>.*)$")
    json_answers = re.compile(
        re.escape(base_url) + r"(?:formgrader/api/|assignments|courses|formgraders|nbgrader_version)"
    )
    pages = formgrader_pages(base_url)

    class StudentWorkPolicy(OutputTransform):
        def __init__(self, request):
            super().__init__(request)
            self.request = request

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if not ids_allowed(pages.match(self.request.path)):
                self.refused = True
                return refused_page(headers)
            if json_answers.match(self.request.path):  # never a page, whatever it holds
                headers["Content-Type"] = "application/json; charset=UTF-8"
                headers["Content-Security-Policy"] = FILE_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                return status_code, headers, chunk
            match = submissions.match(self.request.path)
            if match and match["file"]:
                headers["Content-Security-Policy"] = FILE_POLICY
            elif match and status_code != 304:  # a 304 has no page to hash: the browser keeps the first answer's
                origin = f"{self.request.protocol}://{self.request.host}"
                page = chunk.decode("utf-8", "replace")
                headers["Content-Security-Policy"] = page_policy(origin, base_url, page, allowances)
                headers.pop("Etag", None)  # and no 304 is asked for: the page is made again, with its policy
                headers["Cache-Control"] = "no-store"
            return status_code, headers, chunk

        def transform_chunk(self, chunk, finishing):
            return b"" if getattr(self, "refused", False) else chunk

    return StudentWorkPolicy


def ids_allowed(page: re.Match | None) -> bool:
    """Whether the ids in a formgrader page's address (percent-decoded, as the page's handler reads them) are
    all ids; any other address passes."""
    if page is None:
        return True
    ids = page["id"] if page["id"] is not None else (page["ids"] or "").strip("/")
    return all(ID.fullmatch(unquote(part)) for part in ids.split("/") if part)


def refused_page(headers) -> tuple[int, object, bytes]:
    """A bare 404 in place of the page, which runs nothing (its status line's reason is `NotFound`'s)."""
    for name in ("Content-Encoding", "Etag", "Location"):
        headers.pop(name, None)
    headers["Content-Type"] = "text/plain; charset=UTF-8"
    headers["Content-Length"] = str(len(REFUSED_PAGE))
    headers["Content-Security-Policy"] = FILE_POLICY
    return 404, headers, REFUSED_PAGE
