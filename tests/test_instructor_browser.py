"""No student HTML or script runs in the instructor's browser (issue 20, item 1), in headless Chromium.

One chapter graded by `lrcourse grade`: alice (honest, written answers too) and mallory (the same answers plus
every vector of tests/support/hostile_html.py). JupyterLab with formgrader serves the course as `make instructor`
does; the instructor's browser opens each submission in formgrader and the feedback HTML (mallory's files reach
neither folder; copied in by hand, formgrader serves them under its policy). No payload may leave a trace; the
controls show that each layer holds alone (the unsanitized page under the server's policy) and that the traces
do appear with neither layer.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from support import formgrader_panel as panel, hostile_html as hostile, stray_source as stray
from support.course import NOTEBOOK, make_course, solution_answers, submission_id, submit, total
from support.gradedclass import lrcourse
from support.instructor_pages import (
    LOOPBACK_AS_CHROMIUM_WRITES,
    local_links,
    notebook_links,
    on_console,
    placed_by_hand,
    pwned_files,
    serve_instead,
    unguarded_gradebook_page,
    unsanitized_feedback,
    unsanitized_page,
    visit,
)
from support.labserver import free_port, lab_command, running_lab
from support.paths import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTER = "01_learning_rate"
NB = Path(NOTEBOOK[CHAPTER]).stem
WRITTEN = "written_noise_decay"
TOKEN = "instructor-browser-test"
SHOTS = ARTIFACTS / "instructor-browser"
# Vectors that run in an unsanitized page with no policy (the control): each must leave its trace there.
# The others are already inert in nbconvert's HTML or in Chromium (SVG outputs become <img>, data: links
# and javascript: meta refreshes are not followed, nbconvert leaves raw cells out, the widget renderer comes
# from a CDN the page cannot reach here, an SVG's size is not written into its tag, only the lab template
# renders mermaid), and are kept in the catalogue so that it stays true.
RUN_WITHOUT_DEFENCES = {
    "html-script",
    "html-img-onerror",
    "html-svg-onload",
    "html-svg-script",
    "html-iframe-srcdoc",
    "html-javascript-link",
    "html-javascript-link-obfuscated",
    "html-data-iframe",
    "html-object-data",
    "html-embed-svg",
    "html-autofocus",
    "html-details-ontoggle",
    "html-form-action",
    "javascript-output",
    "markdown-output",
    "markdown-output-img",
    "written-img-onerror",
    "written-script",
    "written-javascript-link",
    "written-formgrader-link",  # the control serves nbgrader's own gradebook page for its address
    "markdown-iframe-srcdoc",
    "markdown-html-link",
    "markdown-svg-script",
    "meta-png-width",
    "meta-jpeg-height",
    "meta-top-width",
}
FILES_WITHOUT_POLICY = {"file-html", "file-svg"}  # mallory's files served by formgrader with no policy


def submit_class(course: Path) -> None:
    answers = {**solution_answers(CHAPTER), WRITTEN: "A constant rate stalls at its noise floor."}
    submit(course, "alice", CHAPTER, answers)
    path = submit(course, "mallory", CHAPTER, {**answers, WRITTEN: hostile.WRITTEN_ANSWER + f"\n{hostile.BEACONS}\n"})
    notebook = nbformat.read(path, as_version=4)
    notebook.cells += hostile.hostile_cells()
    notebook.cells.append(nbformat.v4.new_code_cell(stray.LOOK))
    nbformat.write(notebook, path)
    for name, text in hostile.FILES.items():
        (path.parent / name).write_text(text)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("instructor") / "course", [CHAPTER])
    submit_class(course)
    stray.leave(course, CHAPTER)  # after the release, which refuses them
    # two students: one worker (a second one's start, nbgrader and both zygotes, costs more than the student it takes)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return course


@pytest.fixture(scope="module")
def server(course):
    """JupyterLab with formgrader on the course root, as `make instructor` serves it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = lab_command(port, TOKEN, course, course.parent / "workspaces")
    with running_lab(command, course, TOKEN, port, ARTIFACTS / "instructor-browser-lab.log") as base:
        yield base


@pytest.fixture
def instructor(browser, server):
    """The instructor's logged-in browser tab; `.traces` collects every payload's console trace, any frame."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.traces, page.messages = set(), []
    page.on("console", lambda message: on_console(page, message.text))
    page.goto(f"{server}/formgrader?token={TOKEN}")
    yield page
    context.close()


def test_no_payload_runs_in_formgraders_view_and_the_controls_show_each_wall_holds(course, server, instructor):
    url = f"{server}/formgrader/submissions/{submission_id(course, CHAPTER, 'mallory')}/"
    unsanitized = unsanitized_page(
        course / "autograded" / "mallory" / CHAPTER / f"{NB}.ipynb", submission_id(course, CHAPTER, "mallory")
    )

    serve_instead(instructor, url, unsanitized, keep_policy=False)
    instructor.route(  # nbgrader's own gradebook page for the address of mallory's link, unguarded
        f"{server}/formgrader/gradebook/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=unguarded_gradebook_page()),
    )
    control = visit(instructor, url)
    instructor.screenshot(path=str(SHOTS / "control-no-defences.png"), full_page=True)
    assert RUN_WITHOUT_DEFENCES <= control, f"the trace mechanism failed for {RUN_WITHOUT_DEFENCES - control}"
    instructor.goto(url)  # visit() left the page (a form's submit): unsanitized, each link to this machine is there
    unguarded = local_links(instructor)  # and Chromium reads it as this machine
    assert unguarded.keys() == hostile.LOCAL_LINKS.keys() and set(unguarded.values()) <= LOOPBACK_AS_CHROMIUM_WRITES
    instructor.unroute(url)
    instructor.unroute(f"{server}/formgrader/gradebook/**")
    for name in hostile.FILES:  # none of mallory's files reached her graded folder: formgrader has none to serve
        assert instructor.goto(f"{url}{name}").status == 404, name
    with placed_by_hand(course / "autograded" / "mallory" / CHAPTER):  # copied in by hand: without the policy, they run
        for name in hostile.FILES:
            serve_instead(instructor, f"{url}{name}", None, keep_policy=False)
            visit(instructor, f"{url}{name}")
            instructor.unroute(f"{url}{name}")
    assert FILES_WITHOUT_POLICY <= instructor.traces, "formgrader serves a student's HTML and SVG files as pages"
    control |= instructor.traces
    print(f"\nran with neither defence: {sorted(control)}\ninert even then: {sorted(set(hostile.VECTORS) - control)}")
    assert "pwned-html-script.txt" in pwned_files(course), "a script on that page could write into the course"
    for path in course.glob("pwned-*.txt"):
        path.unlink()

    instructor.traces.clear()
    serve_instead(instructor, url, unsanitized, keep_policy=True)
    assert visit(instructor, url) == set(), "the Content-Security-Policy alone must stop every script"
    instructor.unroute(url)

    instructor.traces.clear()
    response = instructor.goto(url)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert visit(instructor, url) == set()
    for _ in range(2):  # a second visit (a 304 once) still runs formgrader's own head scripts
        instructor.goto(url)
        assert instructor.evaluate("typeof submission_id") == "string"
    links = instructor.locator("#notebook-container a[href]").evaluate_all(
        "links => links.map(a => [a.getAttribute('href'), a.getAttribute('target')])"
    )
    assert links and not [href for href, _ in links if not href.startswith(("https://", "http://", "mailto:", "#"))]
    # a followed link opens in a new tab, never in the frame of JupyterLab's formgrader panel (its messages are
    # lab commands to nbgrader's lab extension)
    assert [hostile.OTHER_SITE, "_blank"] in links and all(t == "_blank" for h, t in links if h[0] != "#"), links
    assert local_links(instructor) == {}, "a link to this machine, as Chromium parses it, is gone (F7)"
    markdown = hostile.WRITTEN["written-formgrader-link"]  # the address mallory's link had: formgrader's guard
    address = markdown[markdown.index("](") + 2 : -1]
    assert instructor.goto(urllib.parse.urljoin(url, address)).status == 404
    assert instructor.goto(f"{server}/formgrader/gradebook/{CHAPTER}/{NB}").status == 200  # honest ids still open
    instructor.goto(url)
    instructor.screenshot(path=str(SHOTS / "mallory-formgrader.png"), full_page=True)
    text = instructor.locator("#notebook-container").first.inner_text()
    assert text.count("[lrcourse removed") >= 10, "what was removed is shown to the instructor"
    assert "onerror" in text and "javascript:" in text and "application/javascript" in text
    assert "My answer, with maths" in text and "eta_0" in text, "the written answer's text and maths stay"

    with placed_by_hand(course / "autograded" / "mallory" / CHAPTER):  # copied in by hand: under the policy, inert
        for name in hostile.FILES:
            assert visit(instructor, f"{url}{name}") == set(), name
    assert pwned_files(course) == []


def test_formgraders_page_links_to_no_notebook_and_a_students_image_loads_nothing(course, server, browser):
    """nbgrader's header linked "Submission #N" to the autograded notebook in Notebook or JupyterLab, which show its
    markdown unsanitized, under no policy: mallory's images loaded there (F13). The course's page has no such link;
    her images load nothing. The control, nbgrader's template unsanitized with no policy: the links, both requests."""
    url = f"{server}/formgrader/submissions/{submission_id(course, CHAPTER, 'mallory')}/"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(f"{server}/formgrader?token={TOKEN}")  # logged in
    mallory = course / "autograded" / "mallory" / CHAPTER / f"{NB}.ipynb"
    serve_instead(page, url, unsanitized_page(mallory, "control"), keep_policy=False)
    page.goto(url)
    page.wait_for_load_state("networkidle", timeout=60_000)
    assert page.locator("li.live-notebook a").count() == 2 and notebook_links(page).count("/notebooks/") == 2
    assert len([address for address in requested if hostile.BEACON in address]) == 2, requested
    page.unroute(url)
    requested.clear()
    page.goto(url)
    page.wait_for_load_state("networkidle", timeout=60_000)
    assert page.evaluate("typeof submission_id") == "string", "formgrader's own scripts still run"
    assert "Submission #" in page.locator("li.live-notebook").inner_text()
    assert page.locator("li.live-notebook a").count() == 0 and page.locator("[data-link]").count() == 0
    assert notebook_links(page) == []
    assert hostile.BEACON in mallory.read_text() and hostile.BEACON not in page.content(), "the sanitizer drops them"
    assert [address for address in requested if hostile.BEACON in address] == []
    context.close()


def test_no_payload_runs_in_the_feedback(course, instructor, tmp_path):
    feedback = course / "feedback" / "mallory" / CHAPTER / f"{NB}.html"
    assert visit(instructor, feedback.as_uri()) == set()
    text = instructor.locator("body").inner_text()
    assert "[lrcourse removed" in text and "My answer, with maths" in text
    assert local_links(instructor, "body") == {}

    control = tmp_path / "feedback-unsanitized.html"  # the control: nbgrader's feedback template, unsanitized
    graded = course / "autograded" / "mallory" / CHAPTER / f"{NB}.ipynb"
    control.write_text(unsanitized_feedback(graded, f"sqlite:///{course / 'gradebook.db'}"))
    assert {"html-script", "html-img-onerror", "written-script"} <= visit(instructor, control.as_uri())


def test_no_file_beside_the_notebook_reaches_the_students_folder_kernel_or_feedback(course):
    folder, feedback = (course / kind / "mallory" / CHAPTER for kind in ("autograded", "feedback"))
    assert {path.name for path in (course / "submitted" / "mallory" / CHAPTER).iterdir()} >= set(hostile.FILES)
    assert not [(k, n) for k in (folder, feedback) for n in [*stray.FILES, *hostile.FILES] if (k / n).exists()]
    printed = stray.printed(folder / f"{NB}.ipynb")
    assert f"folder: ['{NB}.ipynb']" in printed, "the cell ran in mallory's folder, alone there: " + printed
    assert stray.SECRET not in printed and all(f"{name} absent" in printed for name in stray.FILES), printed
    assert stray.SECRET not in (feedback / f"{NB}.html").read_text()


def test_hand_grading_still_saves_and_the_honest_grade_is_unchanged(course, server, instructor):
    before = total(course, CHAPTER, "alice")
    url = f"{server}/formgrader/submissions/{submission_id(course, CHAPTER, 'alice')}/"
    violations = []
    instructor.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    instructor.goto(url)
    # formgrader binds its inputs to the gradebook only once its grades and comments have been fetched: a score
    # typed before that is never saved (seen on a loaded machine)
    instructor.wait_for_load_state("networkidle", timeout=60_000)
    score = instructor.locator(f"input.score#{WRITTEN}")
    score.wait_for(timeout=30_000)
    score.fill("1.5")
    score.press("Tab")
    comment = instructor.locator(f"textarea#{WRITTEN}-comment")
    comment.fill("Right idea; say why the noise floor stays.")
    comment.press("Tab")
    instructor.wait_for_timeout(1500)
    instructor.screenshot(path=str(SHOTS / "alice-hand-graded.png"), full_page=True)
    from lrcourse.gradebook_db import gradebook

    deadline = time.monotonic() + 60
    while True:
        with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
            grade = book.find_grade(WRITTEN, NB, CHAPTER, "alice")
            saved = (grade.manual_score, book.find_comment(WRITTEN, NB, CHAPTER, "alice").manual_comment)
        if saved == (1.5, "Right idea; say why the noise floor stays.") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert saved == (1.5, "Right idea; say why the noise floor stays."), saved
    assert [v for v in violations if "unsafe-eval" not in v] == [], "formgrader's own scripts must run"
    after = total(course, CHAPTER, "alice")
    assert after[1] == before[1] and after[0] == pytest.approx(before[0] + 1.5)
    assert total(course, CHAPTER, "mallory")[1] == before[1], (
        "the hostile cells neither raise nor lower mallory's score"
    )


def test_formgraders_autograde_button_is_refused_and_touches_nothing(course, server):
    """The request formgrader's Autograde button sends (nbgrader's API, forced): refused with the message its error
    dialog shows; mallory's graded folder, byte for byte, and her score as they were."""
    folder = course / "autograded" / "mallory" / CHAPTER
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    score = total(course, CHAPTER, "mallory")
    request = urllib.request.Request(
        f"{server}/formgrader/api/submission/{CHAPTER}/mallory/autograde",
        method="POST",
        data=b"",
        headers={"Authorization": f"token {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        result = json.loads(response.read())
    assert not result["success"] and "autograde through `lrcourse grade CHAPTER`" in result["log"], result
    assert before and {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before
    assert total(course, CHAPTER, "mallory") == score


def test_formgrader_opens_no_other_folder_and_its_json_answers_are_never_pages(course, server, instructor, tmp_path):
    """`formgrader?path=DIR` would run DIR/nbgrader_config.py inside the server on a plain GET (an image in a
    student's answer; students can write such a file into the exchange); nbgrader's JSON answers, some holding a
    value from the address, were served as text/html (a link to one ran as a page)."""
    elsewhere, ran = tmp_path / "exchange-folder", tmp_path / "config-ran"
    elsewhere.mkdir()
    (elsewhere / "nbgrader_config.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    assert instructor.goto(f"{server}/formgrader?path={elsewhere}").status == 403
    assert not ran.exists()
    assert instructor.goto(f"{server}/formgrader?path={course}").status == 200  # the course's own folder opens
    link = tmp_path / "course-link"
    link.symlink_to(course)
    assert instructor.goto(f"{server}/formgrader?path={link}").status == 200  # a link to it opens it too, but
    link.unlink()
    link.symlink_to(elsewhere)  # nbgrader never got the link: pointed elsewhere now, nothing of there is read
    assert instructor.goto(f"{server}/formgrader/manage_assignments").status == 200
    assert not ran.exists()
    assert instructor.goto(f"{server}/formgrader").status == 200
    payload = urllib.parse.quote(f'<img src=x onerror="{hostile.run("json-answer")}">', safe="")
    response = instructor.goto(f"{server}/formgrader/api/submission/{CHAPTER}/{payload}")
    assert response.headers["content-type"].startswith("application/json"), response.headers
    instructor.wait_for_timeout(1000)
    assert "json-answer" not in instructor.traces and instructor.title() != f"{hostile.TRACE}json-answer"
    os.mkfifo(elsewhere / "nb.ipynb")  # nbgrader's assignment list would open it, and the server hang there
    (elsewhere / "a+b+c").mkdir()
    os.mkfifo(elsewhere / "a+b+c" / "nb.ipynb")
    listing = instructor.goto(f"{server}/assignments?course_id={urllib.parse.quote(str(elsewhere), safe='')}")
    assert listing.status == 403  # a course id is a plain name, not a folder to list
    assert instructor.goto(f"{server}/assignments?course_id=lr-schedules").status == 200


def test_the_courses_configuration_guards_formgrader_where_the_extension_is_not_enabled(course, tmp_path):
    """formgrader started in a server without lrcourse's extension (another configuration, a hub's service) still
    gets the page policy and the route guards: the course's nbgrader_config.py installs them as formgrader reads it."""
    config = tmp_path / "jupyter-config"
    (config / "jupyter_server_config.d").mkdir(parents=True)
    disabled = {"ServerApp": {"jpserver_extensions": {"lrcourse.grading.browser.content_policy": False}}}
    (config / "jupyter_server_config.d" / "zz-no-content-policy.json").write_text(json.dumps(disabled))
    port, log = free_port(), tmp_path / "lab.log"
    command = ["env", f"JUPYTER_CONFIG_PATH={config}", *lab_command(port, TOKEN, course, tmp_path / "workspaces")]
    with running_lab(command, course, TOKEN, port, log) as base:
        listing = urllib.request.urlopen(f"{base}/formgrader/api/assignments?token={TOKEN}", timeout=30)
        assert listing.headers["Content-Type"].startswith("application/json"), dict(listing.headers)
        assert "sandbox" in listing.headers["Content-Security-Policy"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/formgrader?path={tmp_path}&token={TOKEN}", timeout=30)
        assert refused.value.code == 403
    text = log.read_text()
    assert "lrcourse.grading.browser.content_policy | extension was successfully loaded" not in text, text[-3000:]
    assert "Content-Security-Policy on formgrader's pages of student work" in text, text[-3000:]


def test_a_students_link_in_jupyterlabs_formgrader_panel_navigates_nothing_and_opens_nothing(course, server, browser):
    """nbgrader's lab extension runs what formgrader's frame posts as lab commands, whatever page the frame holds.
    Each link of mallory's markup, clicked in the panel, leaves the frame and the lab as they were: it opens in a new
    tab (target=_blank), which the frame's sandbox (no allow-popups) never opens. The control, in the same panel: the
    page with its links' targets taken out lets a link bring another site's page into the frame, and its messages
    open a console and a new notebook in the course."""
    url, files = f"{server}/formgrader/submissions/{submission_id(course, CHAPTER, 'mallory')}/", panel.files_in(course)
    with panel.submission_in_panel(browser, server, TOKEN, url, hostile.OTHER_SITE) as (page, frame, tabs, seen):
        links = panel.student_links(frame)
        assert hostile.OTHER_SITE in [link.get_attribute("href") for link in links]
        for link in links:
            link.click(timeout=30_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(SHOTS / "formgrader-panel-links-clicked.png"))
        assert (frame.url, seen["other_site"], seen["popups"]) == (url, [], []), seen
        assert panel.sessions_started(seen) == [] and panel.lab_tabs(page) == tabs
        assert panel.files_in(course) == files
    control = panel.submission_in_panel(browser, server, TOKEN, url, hostile.OTHER_SITE, targets=False)
    with control as (page, frame, tabs, seen):
        frame.locator(f"a[href='{hostile.OTHER_SITE}']").first.click(timeout=30_000)
        panel.wait_for_tabs(page, len(tabs) + 2)  # a console and a notebook, each with a kernel of the instructor's
        sessions = panel.wait_for_sessions(page, seen, 2)
        page.screenshot(path=str(SHOTS / "formgrader-panel-control.png"))
        written = panel.files_in(course) - files
        panel.stop_sessions(server, TOKEN)
        for name in written:
            (course / name).unlink()
        assert frame.url == hostile.OTHER_SITE and seen["other_site"] and len(sessions) == 2, seen
        assert [name for name in written if name.startswith("Untitled")], written
