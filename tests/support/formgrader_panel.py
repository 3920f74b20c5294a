"""JupyterLab's formgrader panel in the instructor's browser, and what a student's link does there.

nbgrader's lab extension shows formgrader in a frame (sandboxed: scripts, same origin, forms; no popups, no top
navigation) and runs every message that frame posts as a lab command, whatever page the frame holds at the time
(its `on_message` checks the sender's window, never its origin). A student's link that opened in the frame would
put another site's page there, and its messages would run as the instructor's lab commands.
"""

from __future__ import annotations

import json
import re
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

# nbgrader's "Nbgrader > Formgrader" menu item (its lab command: nbgrader:open-formgrader, in its lab extension's JS)
MENU, ITEM = "Nbgrader", re.compile("^Formgrader$")
TABS = "#jp-main-dock-panel .lm-TabBar-tab"  # the lab's tabs: a console, a notebook, the formgrader panel
FRAME = "#formgrader-iframe iframe"
# Another site's page that asks the lab, through the panel's frame, for a console and a new notebook: each starts
# a kernel of the instructor's (code run as the instructor), the notebook is a file written into the course.
COMMANDS = [
    {"command": "console:create", "arguments": {"kernelPreference": {"name": "python3"}}},
    {"command": "notebook:create-new", "arguments": {"kernelName": "python3"}},
]
MESSAGING_PAGE = "<script>" + "".join(f"parent.postMessage({json.dumps(json.dumps(c))}, '*');" for c in COMMANDS)
MESSAGING_PAGE += "</script><p>another site's page</p>"


def lab_tabs(page) -> list[str]:
    return page.locator(TABS).all_inner_texts()


def open_panel(page, server: str, token: str):
    """The lab, then formgrader in its panel (nbgrader's menu item): the panel's frame."""
    page.goto(f"{server}/lab?token={token}")
    page.locator(".lm-MenuBar-itemLabel", has_text=MENU).click(timeout=120_000)
    page.locator(".lm-Menu-itemLabel", has_text=ITEM).click(timeout=30_000)
    page.locator(FRAME).wait_for(timeout=60_000)
    frame = page.locator(FRAME).element_handle().content_frame()
    # The panel opens on formgrader's first page; a test's own navigation before that page loads is cut short.
    frame.wait_for_url("**/formgrader/manage_assignments**", timeout=60_000)
    frame.wait_for_load_state("load", timeout=60_000)
    return frame


def student_links(frame) -> list:
    """The links of the student's work on formgrader's page of a submission that lead out of the page."""
    return frame.locator("#notebook-container a[href]:not([href^='#'])").all()


def watch(page, other_site: str) -> dict:
    """What the lab does from now on: the requests it sends (any frame), the tabs and windows it opens; and each
    request for `other_site`, answered with `MESSAGING_PAGE`."""
    seen = {"requests": [], "popups": [], "other_site": []}
    page.on("request", lambda request: seen["requests"].append((request.method, request.url)))
    page.context.on("page", lambda popup: seen["popups"].append(popup.url))

    def other(route):
        seen["other_site"].append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=MESSAGING_PAGE)

    site = urlsplit(other_site)
    page.context.route(f"{site.scheme}://{site.netloc}/**", other)
    return seen


def without_targets(page, url: str) -> None:
    """The control: `url` answered with the server's own page and headers, every link's target="_blank" taken
    out (what the page would be if the sanitizer kept a student's link as the student wrote it)."""

    def handle(route):
        response = route.fetch()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        route.fulfill(status=response.status, headers=headers, body=response.text().replace(' target="_blank"', ""))

    page.route(url, handle)


def sessions_started(seen: dict) -> list[str]:
    return [url for method, url in seen["requests"] if method == "POST" and "/api/sessions" in url]


def wait_for_sessions(page, seen: dict, count: int, seconds: float = 120) -> list[str]:
    """The sessions (kernels) the lab asked for, once there are `count` of them or `seconds` have passed."""
    for _ in range(int(seconds * 2)):
        if len(sessions_started(seen)) >= count:
            break
        page.wait_for_timeout(500)
    return sessions_started(seen)


def stop_sessions(server: str, token: str) -> None:
    """Shut down the kernels the control made the lab start (the module's server serves the other tests)."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{server}/api/sessions", headers=headers), timeout=30) as r:
        sessions = json.loads(r.read())
    for session in sessions:
        request = urllib.request.Request(f"{server}/api/sessions/{session['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(request, timeout=30).close()


@contextmanager
def submission_in_panel(browser, server: str, token: str, url: str, other_site: str, targets: bool = True):
    """A fresh instructor's tab: the lab, formgrader's panel showing the page of a submission (`url`; with its links'
    targets taken out unless `targets`). Yields the tab, the panel's frame, the lab's tabs then, and what the lab
    does from then on (`watch`)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        frame = open_panel(page, server, token)
        if not targets:
            without_targets(page, url)
        frame.goto(url)
        frame.locator("#notebook-container").first.wait_for(timeout=60_000)
        yield page, frame, lab_tabs(page), watch(page, other_site)
    finally:
        context.close()


def wait_for_tabs(page, count: int) -> None:
    page.wait_for_function(f"n => document.querySelectorAll({TABS!r}).length >= n", arg=count, timeout=120_000)


def files_in(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if ".ipynb_checkpoints" not in path.parts}
