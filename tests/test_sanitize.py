"""The sanitizer of student work (lrcourse/grading/browser/sanitize.py): fast, no browser. The policy and route guards are
tests/test_content_policy.py's; tests/test_instructor_browser.py shows both in Chromium."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from lrcourse.grading.browser import sanitize
from lrcourse.grading.browser.bounded_render import BUDGET, PageBudget
from lrcourse.grading.browser.markup import clean_html, clean_svg

from support import hostile_html as hostile

RUNNABLE = (
    "<script",
    "onerror",
    "onload",
    "onfocus",
    "ontoggle",
    "javascript:",
    "srcdoc",
    "<iframe",
    "<object",
    "<embed",
    "<meta",
    "<base",
    "<form",
    "data:text",
)


def runnable(markup: str) -> list[str]:
    lower = markup.lower()
    return [marker for marker in RUNNABLE if marker in lower]


@pytest.mark.parametrize("name", sorted(hostile.HTML_OUTPUTS))
def test_every_html_vector_is_cleaned_and_reported(name):
    markup = hostile.HTML_OUTPUTS[name]
    assert runnable(clean_html(markup)) == []
    assert sanitize.attempts(markup), f"{name} should be named in the note the instructor reads"


def test_honest_html_keeps_its_text_tables_links_and_images():
    markup = (
        '<table><tr><th>step</th><td>0.1</td></tr></table><p><b>bold</b> <a href="https://pytorch.org">docs</a>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="a plot"></p>'
    )
    cleaned = clean_html(markup)
    for kept in ("<table>", "<th>step</th>", "<b>bold</b>", 'href="https://pytorch.org"', 'alt="a plot"'):
        assert kept in cleaned
    assert sanitize.attempts(markup) == []


def test_svg_keeps_its_drawing_and_loses_scripts_and_handlers():
    drawing = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="5" cy="5" r="3" fill="red"/></svg>'
    )
    assert '<circle cx="5" cy="5" r="3" fill="red">' in clean_svg(drawing)
    for _, markup in (hostile.RAW_OUTPUTS["svg-output-onload"], hostile.RAW_OUTPUTS["svg-output-script"]):
        assert runnable(clean_svg(markup)) == []


def test_markdown_keeps_text_and_maths_and_shows_raw_html_and_script_links_as_text():
    rendered = sanitize.markdown2html(hostile.WRITTEN_ANSWER + "\n`a<b` and $a<b$\n\n[docs](https://pytorch.org)")
    body = rendered.split("</pre>", 1)[1]  # after the note, which quotes the original as text
    assert runnable(body) == []
    assert r"$\eta_t = \eta_0 \gamma^t$" in body and "<code>a&lt;b</code>" in body and "$a&lt;b$" in body
    assert 'href="https://pytorch.org"' in body
    note = rendered.split("</pre>", 1)[0]
    assert "&lt;script&gt;" in note and "onerror=" in note and "javascript: URL" in note
    assert sanitize.markdown2html("Plain *text*.") == "<p>Plain <em>text</em>.</p>\n"


def output(data: dict) -> dict:
    return nbformat.v4.new_output("display_data", data=data)


def test_script_and_widget_outputs_become_visible_notes():
    cell = nbformat.v4.new_code_cell(
        "x",
        outputs=[
            output({"application/javascript": "alert(1)", "text/plain": "<Javascript>"}),
            output({"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "HTML(...)"}),
            output({"text/html": hostile.HTML_OUTPUTS["html-img-onerror"], "text/plain": "x"}),
            nbformat.v4.new_output(
                "stream", name="stdout", text="<script>printed text is escaped by the template</script>"
            ),
        ],
    )
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    safe, _ = sanitize.SafeToShow().preprocess(copy.deepcopy(notebook), {})
    outputs = safe.cells[0].outputs
    shown = [o.get("data", {}) for o in outputs]
    assert not any(m in data for data in shown for m in sanitize.ACTIVE_OUTPUTS)
    notes = [data["text/plain"] for data in shown if "text/plain" in data and "[lrcourse removed" in data["text/plain"]]
    assert len(notes) == 2 and "alert(1)" in notes[0] and "onerror=" in notes[1]
    assert sanitize.WIDGET_NOTE in [data.get("text/plain") for data in shown] and "HTML(...)" in str(shown)
    assert all(runnable(data.get("text/html", "")) == [] for data in shown)
    assert outputs[-1].output_type == "stream" and "widgets" not in safe.metadata


def test_raw_cells_and_forged_grade_ids_are_made_harmless():
    raw = nbformat.v4.new_raw_cell(hostile.RAW_CELL, metadata={"raw_mimetype": "text/html"})
    forged = nbformat.v4.new_markdown_cell(
        "x", metadata={"nbgrader": {"solution": True, "grade_id": 'a"><img src=x onerror=alert(1)>'}}
    )
    honest = nbformat.v4.new_markdown_cell(
        "y", metadata={"nbgrader": {"solution": True, "grade_id": "written_noise_decay"}}
    )
    safe, _ = sanitize.SafeToShow().preprocess(nbformat.v4.new_notebook(cells=[raw, forged, honest]), {})
    assert runnable(safe.cells[0].source.split("</pre>", 1)[1]) == [] and "&lt;script&gt;" in safe.cells[0].source
    assert (
        "nbgrader" not in safe.cells[1].metadata and safe.cells[2].metadata.nbgrader.grade_id == "written_noise_decay"
    )


class TagAttributes(HTMLParser):
    """Every attribute of every tag in a page (text, the notes' quotes included, is not an attribute)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.names: set[str] = set()
        self.pairs: list[tuple[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.names |= {name for name, _ in attrs}
        self.pairs += [(name, value or "") for name, value in attrs]


def course_page(root, template: str, notebook) -> str:
    """`notebook` as nbconvert's HTMLExporter renders it with the course's configuration and `template`."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    if template == "course feedback":  # the course's feedback page, as nbgrader_config.py sets it for GenerateFeedback
        template = "feedback"
        config.HTMLExporter.template_file = config.GenerateFeedback.HTMLExporter.template_file
    config.HTMLExporter.template_name = template
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]  # as nbgrader's feedback sets them
    config.HTMLExporter.extra_template_paths = [str(Path(handlers.static_path, "node_modules/bootstrap/dist/css"))]
    resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 1, "late_penalty": 0}}
    return HTMLExporter(config=config).from_notebook_node(notebook, resources=resources)[0]


@pytest.mark.parametrize("template", ["classic", "feedback", "course feedback"])
def test_output_metadata_keeps_integer_image_sizes_only(root, template):
    hostile_outputs = [
        nbformat.v4.new_output("display_data", data={mimetype: data, "text/plain": "x"}, metadata=metadata)
        for mimetype, data, metadata in hostile.METADATA_OUTPUTS.values()
    ]
    honest = [
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": hostile.PIXEL, "text/plain": "plot"},
            metadata={"image/png": {"width": 432, "height": "288"}, "filenames": {"image/png": "/files/x.png"}},
        ),
        nbformat.v4.new_output(
            "display_data", data={"image/jpeg": "AAAA", "text/plain": "p"}, metadata={"width": "64"}
        ),
        nbformat.v4.new_output("display_data", data={"text/vnd.mermaid": "graph TD\n<b>A</b>", "text/plain": "m"}),
    ]
    cell = nbformat.v4.new_code_cell("x", outputs=hostile_outputs + honest)
    page = course_page(root, template, nbformat.v4.new_notebook(cells=[cell]))
    assert [name for name in TagAttributes(page).names if name.startswith("on")] == []
    assert page.count("an image size that is not a plain integer") == len(hostile.METADATA_OUTPUTS)
    assert 'width="432"' in page and 'height="288"' in page and 'width="64"' in page
    assert "/files/x.png" not in page and "<b>A</b>" not in page and "text/vnd.mermaid" in page
    assert "<iframe" not in page  # the svg's "isolated" is gone with the rest


@pytest.mark.parametrize("template", ["classic", "feedback", "course feedback"])
def test_markdown_keeps_pasted_images_and_no_files_prefix_turns_a_link_active(root, template):
    """A written answer with an image pasted in JupyterLab (an attachment) renders with it (without the attachments
    the page failed to render, and the student's feedback with it); a `/files/javascript:` link, which nbconvert's
    strip_files_prefix would turn into `javascript:` after the sanitizer, stays inert; an SVG attachment (script)
    and a missing one show as empty images."""
    answer = nbformat.v4.new_markdown_cell(
        "![plot](attachment:plot.png) ![v](attachment:v.svg) ![gone](attachment:gone.png)\n\n"
        '[click](/files/javascript:alert(1)) <a href="files/javascript:alert(2)">raw</a> '
        "[data](files/data/x.csv)",
        attachments={
            "plot.png": {"image/png": hostile.PIXEL},
            "v.svg": {"image/svg+xml": "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"},
        },
    )
    page = course_page(root, template, nbformat.v4.new_notebook(cells=[answer]))
    hrefs = [value for name, value in TagAttributes(page).pairs if name in ("href", "src")]
    assert not [v for v in hrefs if v.strip().lower().startswith(("javascript:", "data:image/svg"))], hrefs
    assert f"data:image/png;base64,{hostile.PIXEL}" in hrefs
    assert not [v for v in hrefs if "files/" in v or "x.csv" in v], hrefs  # relative links lead only to our server
    assert "data</a>" in page  # its text stays


@pytest.mark.parametrize("template", ["classic", "feedback", "course feedback"])
def test_a_cell_of_an_unknown_type_shows_as_a_note(root, template):
    """nbconvert's templates write an unknown cell's `type` into the page unescaped; such a cell (a notebook that
    claims a newer nbformat has them) is shown as a note instead."""
    evil = {"cell_type": "x-evil", "id": "e1", "source": "", "metadata": {}, "type": "<img src=x onerror=alert(1)>"}
    answer = {"cell_type": "markdown", "id": "a1", "source": "Answer.", "metadata": {}}
    raw = {"cells": [answer, evil], "metadata": {}, "nbformat": 4, "nbformat_minor": 99}
    notebook = nbformat.reads(json.dumps(raw), as_version=4)  # as nbgrader reads a submitted notebook
    page = course_page(root, template, notebook)
    assert [name for name in TagAttributes(page).names if name.startswith("on")] == []
    assert "a cell of an unknown type" in page and "Answer." in page


@pytest.mark.parametrize("template", ["classic", "feedback", "course feedback"])
def test_cell_metadata_of_another_type_than_the_templates_read_does_not_stop_the_page(root, template):
    """A raw cell's raw_mimetype, a cell's magics_language or transient of a type nbformat's schema allows but
    the templates do not read made them raise (formgrader could not show the submission, the student got no
    feedback); such values are dropped."""
    metadata = {"raw_mimetype": 7, "magics_language": ["x"], "transient": "x"}
    raw = nbformat.v4.new_raw_cell("A raw note.", metadata=dict(metadata))
    code = nbformat.v4.new_code_cell("answer_value = 1", metadata=dict(metadata))
    answer = nbformat.v4.new_markdown_cell("Answer.", metadata=dict(metadata))
    notebook = nbformat.v4.new_notebook(cells=[raw, code, answer])
    nbformat.validate(notebook)  # what intake lets through
    page = course_page(root, template, notebook)
    assert "Answer." in page and "answer_value" in page


def test_image_sizes_are_plain_non_negative_integers():
    assert [sanitize.image_size(v) for v in (0, 432, "288", "0640")] == [0, 432, 288, 640]
    for refused in (True, -1, 10**6, 4.5, "4.5", "12px", "-3", "\u0663", "1 onerror=x", "9" * 5000, None, [1]):
        assert sanitize.image_size(refused) is None, refused


def test_show_safely_adds_itself_once_and_keeps_other_preprocessors():
    config = Config()
    config.HTMLExporter.preprocessors = ["some.Other"]
    sanitize.show_safely(config)
    sanitize.show_safely(config)
    assert config.HTMLExporter.preprocessors == ["some.Other", "lrcourse.grading.browser.sanitize.SafeToShow"]
    assert config.HTMLExporter.filters["markdown2html"] == "lrcourse.grading.browser.sanitize.cell_markdown2html"
    assert config.HTMLExporter.filters["strip_files_prefix"] == "lrcourse.grading.browser.sanitize.strip_files_prefix"


def test_the_course_configuration_sanitizes_what_formgrader_renders(root):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    assert "lrcourse.grading.browser.sanitize.SafeToShow" in config.HTMLExporter.preprocessors
    assert config.HTMLExporter.filters["markdown2html"] == "lrcourse.grading.browser.sanitize.cell_markdown2html"
    assert config.HTMLExporter.filters["strip_files_prefix"] == "lrcourse.grading.browser.sanitize.strip_files_prefix"


def test_links_to_another_host_without_a_scheme_go_and_kept_links_send_no_referer():
    """Browsers read `//host`, `\\\\host` and `/\\host` as another host (phishing from a student's answer), also with
    tabs or newlines inside, which they drop; without a Referer, jupyter_server refuses its /files/ and /nbconvert/
    pages to a link a student wrote."""
    hrefs = (
        "//evil.example/a",
        "\\\\evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "\x01//evil",
    )
    links = "".join(f'<a href="{href}">x</a>' for href in hrefs)
    assert "evil" not in clean_html(links)
    kept = clean_html('<a href="https://example.org/a">ok</a> <a href="mailto:ta@example.org">mail</a>')
    assert kept.count('rel="noopener noreferrer"') == 2 and "https://example.org/a" in kept and "mailto:" in kept


def test_a_link_leads_only_to_another_page_by_its_full_address_and_opens_in_a_new_tab():
    """A relative link leads only into the instructor's own server (/logout, a notebook that starts a kernel, a
    formgrader page); a link followed in JupyterLab's formgrader panel put another site's page in the panel's frame,
    whose messages nbgrader's lab extension runs as lab commands (code run as the instructor): kept links open in a
    new tab (which a frame without 'allow-popups' refuses), whatever target the student set."""
    relative = (
        "/logout",
        "../../gradebook/x",
        "lab/tree/a.ipynb",
        "http:logout",
        "HTTPS:/x",
        "https:///x",
        "?reset",
        "#x",
    )
    for href in relative:
        assert "href" not in clean_html(f'<a href="{href}">text</a>'), href
        assert "text" in clean_html(f'<a href="{href}">text</a>')
    for href in ("https://example.org/plot.html", "HTTP://example.org", "mailto:ta@example.org"):
        kept = clean_html(f'<a href="{href}" target="_self">text</a>')
        assert f'href="{href}"' in kept and 'target="_blank"' in kept and "_self" not in kept, kept


@pytest.mark.parametrize("template", ["classic", "feedback", "course feedback"])
def test_a_cells_tags_and_transient_metadata_cannot_hide_or_restyle_the_page(root, template):
    """Each word of a tag became a class of the page (a student's cell fixed over formgrader's navigation bar,
    "hidden"); transient remove_source left the written answer, with its score box, out of the page."""
    tags = ["x navbar navbar-fixed-top", "x hidden", "plain-tag_1"]
    code = nbformat.v4.new_code_cell("answer_value = 1", metadata={"tags": list(tags)})
    answer = nbformat.v4.new_markdown_cell("My written answer.", metadata={"transient": {"remove_source": True}})
    notebook = nbformat.v4.new_notebook(cells=[code, answer])
    nbformat.validate(notebook)  # what intake lets through
    page = course_page(root, template, notebook)
    classes = " ".join(value for name, value in TagAttributes(page).pairs if name == "class").split()
    assert "navbar-fixed-top" not in classes and "hidden" not in classes, classes
    assert "celltag_plain-tag_1" in classes or template != "classic", classes
    assert "My written answer." in page and "answer_value" in page


def test_an_image_shows_only_embedded_raster_data():
    """Any address is a request with the instructor's session the moment the page opens (formgrader's routes,
    /logout): only a plot embedded as raster data stays."""
    sources = (
        "../../../formgrader?path=/tmp/x",
        "/logout",
        "https://example.org/p.png",
        "data:image/svg+xml;base64,PHN2Zz4=",
    )
    images = "".join(f'<img src="{source}">' for source in sources)
    assert "src=" not in clean_html(images)
    plot = f'<img src="data:image/png;base64,{hostile.PIXEL}">'
    assert f"data:image/png;base64,{hostile.PIXEL}" in clean_html(plot)


def test_the_names_formgraders_template_writes_unescaped_are_escaped():
    """A roster's names (an LMS display name a student chose) reach formgrader's page as they are."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Answer.")])
    resources = {"first_name": "<b>Eve</b>", "last_name": "O'Brien & co", "student": "eve", "index": 0}
    _, resources = sanitize.SafeToShow().preprocess(notebook, resources)
    assert isinstance(resources.pop(BUDGET), PageBudget)  # the page's budget, for the templates' filters
    assert resources == {
        "first_name": "&lt;b&gt;Eve&lt;/b&gt;",
        "last_name": "O&#x27;Brien &amp; co",
        "student": "eve",
        "index": 0,
    }


def test_the_environments_configuration_sanitizes_a_course_configured_without_it(tmp_path, monkeypatch):
    """A course folder whose nbgrader_config.py does not name the sanitizer (written by hand for a hub, say): the
    environment's own configuration (scripts/setup_lab.py) adds it to what formgrader and the feedback render."""
    from nbgrader.apps import NbGrader

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = 'x'\n")
    monkeypatch.chdir(tmp_path)
    app = NbGrader()
    app.load_config_file()
    assert "lrcourse.grading.browser.sanitize.SafeToShow" in app.config.HTMLExporter.preprocessors


def test_finding_what_to_note_reads_each_character_once():
    """Python 3.11's HTMLParser took time quadratic in some malformed markup (35 kB of `<a x="` held formgrader's
    page 25 s, a megabyte would have held the instructor's server for hours): the note's finder reads one tag at
    a time. A megabyte of each kind in well under a minute (quadratic: hours)."""
    import time

    for markup in ('<a x="' * 170_000, "<" * 1_000_000, "<a " + 'x="' * 330_000, "<!--" + "<a" * 500_000):
        start = time.monotonic()
        sanitize.attempts(markup)
        assert time.monotonic() - start < 30, markup[:20]
    assert sanitize.attempts('<a href="&#106;ava\tscript:x" ONCLICK=y>') == ["javascript: URL", "onclick="]


def test_a_long_markdown_output_is_shown_as_text():
    """formgrader renders markdown inside the instructor's server (about 30 s a megabyte): a markdown output over
    64 kB is shown as a note of text, a short one as markdown."""
    long = nbformat.v4.new_output("display_data", data={"text/markdown": "[a](" * 20_000, "text/plain": "x"})
    short = nbformat.v4.new_output("display_data", data={"text/markdown": "**bold**", "text/plain": "x"})
    outputs = sanitize.safe_outputs([long, short])
    assert "text/markdown" not in outputs[1]["data"] and "a long markdown output" in outputs[0]["data"]["text/plain"]
    assert outputs[2]["data"]["text/markdown"] == "**bold**"


@pytest.mark.parametrize("markup", ['<q cite="javascript:x()">q</q>', '<del cite=" JaVaScRiPt:x()">d</del>',
                                    '<img src="data:image/png;base64,AA==" longdesc="vbscript:x">'])  # fmt: skip
def test_a_script_url_in_an_attribute_nh3_does_not_treat_as_a_url_is_dropped_and_reported(markup):
    """`cite` and `longdesc` hold addresses nh3 does not check (F4): a javascript: there ran nothing, but the README
    promises no such URL stays."""
    assert runnable(clean_html(markup)) == [] and "vbscript" not in clean_html(markup).lower()
    assert sanitize.attempts(markup), "named in the note the instructor reads"
    assert clean_html('<q cite="https://example.org/source">q</q>') == '<q cite="https://example.org/source">q</q>'
