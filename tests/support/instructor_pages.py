"""The instructor's browser tab in the browser tests: payloads' traces, visits that give each its chance, pages
served in place of the server's (the controls that show what each wall stops)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from support import hostile_html as hostile

# how Chromium writes the hosts of hostile_html.LOCAL_LINKS: every one is this machine
LOOPBACK_AS_CHROMIUM_WRITES = {"127.0.0.1", "localhost", "[::ffff:7f00:1]", "[::7f00:1]", "[::ffff:0:7f00:1]"}


def on_console(page, text: str) -> None:
    page.messages.append(text)
    if text.startswith(hostile.TRACE):
        page.traces.add(text[len(hostile.TRACE) :])


def visit(page, url: str) -> set[str]:
    """Open `url`, let every payload have its chance (load, errors, focus, clicks on script links); the traces."""
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)
    links = page.locator(f"a[href^='{hostile.FORMGRADER_LINK_PREFIX}']")  # read before a form's submit leaves the page
    followed = [link.evaluate("a => a.href") for link in links.all()]
    for link in page.locator("a[href^='javascript:' i], a[href^=' javascript' i], a[href^='data:' i]").all():
        link.evaluate("a => a.click()")
    if page.locator("#pwn-submit").count():
        page.locator("#pwn-submit").evaluate("b => b.click()")
    page.wait_for_timeout(1000)
    for address in followed:  # a link to another formgrader page: what one click on it opens
        if address.startswith("http"):
            page.goto(address)
            page.wait_for_timeout(1000)
    title = page.title()
    if title.startswith(hostile.TRACE):
        page.traces.add(title[len(hostile.TRACE) :])
    return set(page.traces)


def unguarded_gradebook_page() -> str:
    """nbgrader's gradebook page for the address of mallory's link, as it renders it without the course's guard."""
    from urllib.parse import unquote

    from jinja2 import Environment, FileSystemLoader
    from nbgrader.server_extensions.formgrader import handlers

    link = hostile.WRITTEN["written-formgrader-link"]
    assignment = unquote(link.split(hostile.FORMGRADER_LINK_PREFIX, 1)[1].split("/", 1)[0])
    template = Environment(loader=FileSystemLoader([handlers.template_path])).get_template(
        "gradebook_notebook_submissions.tpl"
    )
    return template.render(assignment_id=assignment, notebook_id="nb", base_url="")


def serve_instead(page, url: str, body: str | None, keep_policy: bool) -> None:
    """Answer `url` with `body` (None: the server's own), with the server's headers (its policy too, or none)."""

    def handle(route):
        response = route.fetch()
        headers = {k: v for k, v in response.headers.items() if keep_policy or k.lower() != "content-security-policy"}
        headers.pop("content-length", None)
        headers.pop("content-encoding", None)
        route.fulfill(status=200, headers=headers, body=response.body() if body is None else body)

    page.route(url, handle)


def local_links(page, container: str = "#notebook-container") -> dict:
    """The links of hostile_html.LOCAL_LINKS still on the page (by their text), each with its host as Chromium
    parses it."""
    found = page.locator(f"{container} a[href]").evaluate_all(
        "links => links.map(a => [a.textContent.trim(), a.hostname])"
    )
    return {name: host for name, host in found if name in hostile.LOCAL_LINKS}


def unsanitized_page(graded: Path, submission_id: str) -> str:
    """The page formgrader would serve for the graded notebook `graded` (autograded/<student>/<chapter>/) without
    the sanitizer (nbgrader's own exporter)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config(
        {"HTMLExporter": {"template_name": "formgrade", "extra_template_basedirs": [handlers.template_path]}}
    )
    resources = {
        "assignment_id": graded.parent.name,
        "notebook_id": graded.stem,
        "submission_id": submission_id,
        "index": 0,
        "total": 2,
        "base_url": "",
        "student": graded.parent.parent.name,
        "notebook_path": "",
    }
    return HTMLExporter(config=config).from_filename(str(graded), resources=resources)[0]


@contextlib.contextmanager
def placed_by_hand(folder: Path):
    """The hostile files (`hostile.FILES`) copied into a student's graded `folder` for the time of a control (grading
    copies none of a student's files there: test_instructor_browser), then removed."""
    try:
        for name, text in hostile.FILES.items():
            (folder / name).write_text(text)
        yield
    finally:
        for name in hostile.FILES:
            (folder / name).unlink(missing_ok=True)


def pwned_files(course: Path) -> list[str]:
    """The files a payload's script wrote into the course (hostile_html's scripts name them pwned-*.txt)."""
    return sorted(p.name for p in course.glob("pwned-*.txt"))


def unsanitized_feedback(graded: Path, db_url: str) -> str:
    """The feedback nbgrader would write for the graded notebook `graded` with its own template, unsanitized."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.preprocessors import GetGrades
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    css = Path(handlers.static_path) / "node_modules" / "bootstrap" / "dist" / "css"  # as GenerateFeedback sets it
    config = Config(
        {
            "HTMLExporter": {
                "template_name": "feedback",
                "extra_template_basedirs": [handlers.template_path],
                "extra_template_paths": [str(css)],
            }
        }
    )
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(GetGrades, enabled=True)
    student, assignment = graded.parent.parent.name, graded.parent.name
    resources = {"nbgrader": {"notebook": graded.stem, "assignment": assignment, "student": student, "db_url": db_url}}
    return exporter.from_filename(str(graded), resources=resources)[0]


def notebook_links(page) -> list[str]:
    """The page's links that open a notebook (Notebook's /notebooks/, JupyterLab's /lab/, any .ipynb)."""
    return page.locator("a[href]").evaluate_all(
        "links => links.map(a => a.getAttribute('href')).filter(h => /notebooks\\/|lab\\/|\\.ipynb/.test(h))"
    )
