"""The course as a student sees it: JupyterLab in headless Chromium, driven by Playwright.

For every chapter in notebooks/: open it, run all cells, wait for the kernel, check that the only errors
are the unanswered exercises' test cells, that every slider panel rendered, and that moving one slider
of each panel redraws its plot (the image changes); screenshots before and after go to
test-artifacts/browser/, and the slider-to-plot latency seen in the browser is printed and saved.
A solution notebook runs without any error, and nbgrader's extensions are present.

Run alone with `make test-browser` (or `pytest -m browser`).
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from support.labpage import move_slider, open_notebook, run_all
from support.labserver import free_port, lab_command, running_lab
from support.paths import ARTIFACTS, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-test"
SHOTS = ARTIFACTS / "browser"
CHAPTERS = sorted(p for p in (ROOT / "notebooks").glob("*/*.ipynb"))
LATENCIES: dict[str, list[float]] = {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a scratch copy of the course (running cells must not change the repository)."""
    home = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "solutions"):
        shutil.copytree(ROOT / folder, home / folder)
    shutil.copy(ROOT / "nbgrader_config.py", home)
    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = lab_command(port, TOKEN, home, home / "workspaces", "--LabApp.expose_app_in_browser=True")
    with running_lab(command, home, TOKEN, port, ARTIFACTS / "browser-lab.log") as base:
        yield base


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: page.console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


def cells_with_errors(page) -> list[dict]:
    return page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .map(w => w.model.sharedModel.toJSON())
        .filter(c => c.cell_type === 'code' && (c.outputs || []).some(o => o.output_type === 'error'))
        .map(c => ({id: c.id, grade: !!(c.metadata.nbgrader && c.metadata.nbgrader.grade),
                    prediction: !!(c.metadata.nbgrader && c.metadata.nbgrader.solution && (c.metadata.tags || []).includes('raises-exception')
                                   && c.outputs.some(o => o.ename === 'NotImplementedError')),
                    error: c.outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)[0]}))""")


def images_without_alt(page) -> list[str]:
    """Every figure a student sees (outputs and slider panels) as an <img>: those with an empty alt text."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output img, .lrcourse-panel img')]
        .filter(img => !(img.getAttribute('alt') || '').trim()).map(img => img.outerHTML.slice(0, 80))""")


def panels_in(path) -> int:
    notebook = nbformat.read(path, as_version=4)
    return sum(cell.source.count("SliderPanel(") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.parent.name)
def test_chapter_runs_and_every_slider_redraws_its_plot(lab, page, path):
    chapter = path.parent.name
    open_notebook(page, lab, f"notebooks/{chapter}/{path.name}", f"chapter-{chapter}", TOKEN)
    run_all(page)

    errors = cells_with_errors(page)
    graded = any(cell.metadata.get("nbgrader", {}).get("grade") for cell in nbformat.read(path, as_version=4).cells)
    if graded:
        assert errors, "the unanswered exercises' tests should fail in the student version"
    else:  # a chapter with no exercise yet (chapter 7's first part): nothing may fail
        assert errors == []
    assert all(error["grade"] or error["prediction"] for error in errors), [e for e in errors if not e["grade"]]

    expected = panels_in(path)
    page.wait_for_function(
        f'() => document.querySelectorAll(\'.lrcourse-panel img[src^="blob:"], '
        f'.lrcourse-panel img[src^="data:"]\').length >= {expected}',
        timeout=60_000,
    )
    panels = page.locator(".lrcourse-panel")
    assert panels.count() == expected
    latencies = []
    for index in range(expected):
        panel = panels.nth(index)
        panel.scroll_into_view_if_needed()
        assert panel.locator(".widget-slider, .widget-dropdown").count() >= 1
        panel.screenshot(path=str(SHOTS / f"{chapter}-panel{index}-before.png"))
        latencies.append(move_slider(page, index))
        page.wait_for_timeout(300)
        panel.screenshot(path=str(SHOTS / f"{chapter}-panel{index}-after.png"))
    assert page.locator(".jp-OutputArea-output img").count() >= expected, "the panels' figures are shown"
    assert images_without_alt(page) == [], "every figure needs a text description (alt) for screen readers"
    alts = page.evaluate("() => [...document.querySelectorAll('.lrcourse-panel img')].map(img => img.alt)")
    assert len(alts) == expected and all(len(alt) > 20 for alt in alts), alts
    LATENCIES[chapter] = latencies
    (SHOTS / "latency.json").write_text(json.dumps(LATENCIES, indent=2))
    print(f"\n{chapter}: slider-to-plot latency in the browser (ms): {[round(ms) for ms in latencies]}")
    page.screenshot(path=str(SHOTS / f"{chapter}-page.png"))
    assert not page.console_errors, page.console_errors


def test_solution_runs_without_errors_and_nbgrader_tools_are_there(lab, page):
    chapter = "02_ordered_schedules"
    open_notebook(page, lab, f"solutions/{chapter}/ordered_schedules.ipynb", "solution", TOKEN)
    run_all(page)
    assert cells_with_errors(page) == []
    assert images_without_alt(page) == [], "every figure needs a text description (alt) for screen readers"
    toolbar = page.locator(".jp-NotebookPanel-toolbar")
    assert toolbar.get_by_text("Validate").count() >= 1, "nbgrader's Validate button is missing"
    menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
    assert menu.count() == 1, "nbgrader's menu (assignment list, formgrader) is missing"
    menu.click()
    items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    assert any("Assignment List" in item for item in items) and any("Formgrader" in item for item in items), items
    page.keyboard.press("Escape")
    page.screenshot(path=str(SHOTS / "solution-page.png"))
    assert not page.console_errors, page.console_errors


def test_figures_stay_readable_in_the_dark_theme(lab, page):
    """Figures have an opaque white background: in JupyterLab Dark they are white panels with dark text,
    not dark text on a dark page."""
    from matplotlib.image import imread

    open_notebook(page, lab, "solutions/02_ordered_schedules/ordered_schedules.ipynb", "dark", TOKEN)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    assert images_without_alt(page) == [], "the stored figures of an unexecuted (untrusted) notebook keep their alt"
    figure = page.locator(".jp-OutputArea-output img").first
    figure.scroll_into_view_if_needed()
    path = SHOTS / "dark-theme-figure.png"
    figure.screenshot(path=str(path))
    page.screenshot(path=str(SHOTS / "dark-theme-page.png"))
    pixels = imread(path)[..., :3]
    # a few pixels inside each edge: the element's crop can catch one row of the page around it
    border = [pixels[3:6].mean(), pixels[-6:-3].mean(), pixels[:, 3:6].mean(), pixels[:, -6:-3].mean()]
    assert min(border) > 0.95, f"the figure's edges should be white in the dark theme, got {border}"
    assert pixels.min() < 0.3, "the figure should contain dark text and lines"
