"""What MathJax makes of a student's maths: the sanitizer's rewrite everywhere MathJax reads (no browser), then a
real page in headless Chromium: the feedback page as nbgrader writes it with the course's template,
its MathJax this machine's 2.7 with nbconvert's configuration and the Safe extension (`lrcourse check`'s; the CDN's
is the same version and extensions). Safe keeps `javascript:` out of `\\href`, and ids, classes and this padding out of
`\\cssId`, `\\class` and `\\style`, but makes links of http:, https: and file: addresses (opening in the page's own frame):
the sanitizer shows those macros as text (`markup.inert_maths`). The control, the same page without that rewrite,
shows the links MathJax makes."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from lrcourse.grading.browser import feedback_page, markup, sanitize
from lrcourse.grading.browser.markup import clean_html, clean_svg
from lrcourse.self_check import local_mathjax_url

ANSWER = (
    r"Links: $\href{https://example.org/pwned}{a}$ and $\href{/logout}{b}$; "
    r"a box: $\style{padding:321px}{c}$, $\cssId{evilid}{d}$, $\class{MJX-x evilclass}{e}$; honest: $\eta_t^2$; "
    r'$\mmlToken{mi}[href="https://example.org/mml"]{f}$ and &#36;\hr<wbr title="x">ef{https&#58;//example.org/wbr}{g}&#36;'
    r" (references: markdown keeps the tag and links nothing, MathJax joins the name)."
)
# A student's heading over a graded cell: the feedback's contents list names the item with it (two links unless inert).
HEADING = r'# Step $\href{https://example.org/toc}{Sign in again}$ $\mmlToken{mi}[href="https://example.org/tocm"]{x}$'
# What MathJax made of the macros: a link to either address, the box's style, the id, the class (not the heading's
# own anchor, a link within the page whose address holds the heading's text).
MADE = """() => [
    ...document.querySelectorAll('a:not([href^="#"])[href*="example.org"], a[href*="logout"], #evilid, .evilclass'),
    ...[...document.querySelectorAll('[style]')].filter(e => e.getAttribute('style').includes('321px')),
].length"""


def feedback_page_file(tmp_path, name: str) -> str:
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    config = Config()
    sanitize.show_safely(config)
    config.HTMLExporter.template_name = "feedback"  # as nbgrader's feedback sets it, the course's page on top
    config.HTMLExporter.template_file = str(feedback_page.TEMPLATE)
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.HTMLExporter.extra_template_paths = [str(Path(handlers.static_path, "node_modules/bootstrap/dist/css"))]
    config.HTMLExporter.mathjax_url = local_mathjax_url()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(ANSWER), *graded_under(HEADING)])
    resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 1, "late_penalty": 0}}
    page, _ = HTMLExporter(config=config).from_notebook_node(notebook, resources=resources)
    path = tmp_path / f"{name}.html"
    path.write_text(page)
    return path.as_uri()


def graded_under(heading: str) -> list:
    """A student's markdown cell holding `heading`, then a graded test cell, whose item the contents list names."""
    test = nbformat.v4.new_code_cell("assert True")
    grade = {"grade": True, "solution": False, "locked": True, "grade_id": "test_x", "points": 1.0, "score": 1.0}
    test.metadata["nbgrader"] = {**grade, "schema_version": 3}
    return [nbformat.v4.new_markdown_cell(heading), test]


def typeset(browser, url: str) -> tuple[int, int]:
    """(how many of the macros MathJax made into links, ids, classes or styles; how many formulas it typeset)."""
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=60_000)
        page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")  # after the typesetting
        formulas = "() => document.querySelectorAll('script[type^=math]').length"
        return page.evaluate(MADE), page.evaluate(formulas)
    finally:
        page.close()


def test_mathjax_makes_no_link_id_class_or_style_of_a_students_maths(browser, tmp_path, monkeypatch):
    if local_mathjax_url() is None:
        pytest.fail("jupyter_server_mathjax is not installed: the course's environment has it")
    made, formulas = typeset(browser, feedback_page_file(tmp_path, "sanitized"))
    # every formula typeset (the heading's two in the page's body, not in its contents), none made anything
    assert (made, formulas) == (0, 10), (made, formulas)
    monkeypatch.setattr(markup, "MATHJAX_MACROS", set())  # the control: no rewrite
    made, formulas = typeset(browser, feedback_page_file(tmp_path, "control"))
    # the three https links: \href, \mmlToken's and the one split by <wbr title> (Safe drops /logout, id, class, padding),
    # and the heading's two in the body; the contents list's copy of the heading is never typeset (tex2jax_ignore)
    assert made == 5 and formulas == 10, (made, formulas)


# MathJax macros that would make a link, class, id or style in a formula, as a student might write them: with a
# character reference, split by tags MathJax joins (<br>, <wbr>, a comment), in each of the maths' delimiters.
MATHS_ATTACKS = (
    r"$\href{https://example.org/x}{a}$ \(\style{padding:999px}{b}\) $$\class{c}{c}$$ \[\cssId{d}{d}\]",
    r"$\h&#114;ef{javascript:alert(1)}{e}$ $\hr<br>ef{/logout}{f}$ $\hr<wbr>ef{x}{g}$ $\hr<!-- -->ef{x}{h}$",
    r"\begin{equation}\require{HTML}\bbox[margin:-99px]{i}\unicode[x]{x41}\end{equation}",
    # \mmlToken sets any MathML attribute (href, style), also inside a \def; a <wbr> with an attribute nh3 keeps
    r'$\mmlToken{mi}[href="https://example.org/m"]{j}$ $\def\L#1{\mmlToken{mtext}[href="#1"]{k}}\L{https://x.org}$',
    r'$\hr<wbr title="x">ef{https://example.org/w}{l}$ $\hr<br lang="en">ef{x}{m}$',
)
LIVE_MACRO = r"\\(?:href|class|cssid|style|unicode|require|bbox|mmltoken)(?![A-Za-z])"


def live_macros(markup: str, plain: bool = False) -> list[str]:
    """The MathJax macros of MATHS_ATTACKS left in `markup` as MathJax would read its text (tags it joins taken out),
    or in `plain` text (which the templates escape: a tag there is text)."""

    text = markup if plain else re.sub(r"<(?:br|wbr)\b[^>]*>|<!--.*?-->", "", markup, flags=re.S | re.I)
    return re.findall(LIVE_MACRO, text, re.I)


def test_mathjax_macros_that_make_links_or_styles_are_shown_as_text_in_every_place_mathjax_reads():
    """MathJax (formgrader's and the feedback's pages load 2.7 with its Safe extension) makes `\\href` a link in the
    page's own frame (Safe lets http:, https: and file: addresses through) and `\\style` a margin or padding over
    formgrader's own boxes: such macros show as text (`\\ href`) in markdown, HTML and SVG outputs, raw cells and
    LaTeX outputs; honest maths stays as written."""
    for attack in MATHS_ATTACKS:
        assert live_macros(attack), attack  # the attacks hold what the test looks for
        assert live_macros(sanitize.markdown2html(attack)) == [], attack
        assert live_macros(clean_html(f"<p>{attack}</p>")) == [], attack
        assert live_macros(clean_svg(f"<svg><text>{attack}</text></svg>")) == [], attack
        raw = nbformat.v4.new_raw_cell(attack)
        sanitize.safe_cell(raw)
        assert live_macros(raw.source) == [], attack
        output = nbformat.v4.new_output("display_data", data={"text/latex": attack, "text/plain": "x"})
        (kept,) = sanitize.safe_outputs([output])
        assert live_macros(kept["data"]["text/latex"], plain=True) == [], attack
    assert r"\ href{https://example.org/x}{a}" in sanitize.markdown2html(MATHS_ATTACKS[0])
    honest = r"$\eta_t = \eta_0 \gamma^{t}$, $\color{red}{\hat{y}}$ and $\text{lr}\ \hbox{x}$"
    assert sanitize.markdown2html(honest) == f"<p>{honest}</p>\n"


@pytest.mark.parametrize("self_study", [False, True])
def test_the_feedback_contents_show_a_students_heading_maths_as_text(self_study):
    """The feedback's contents list names each graded item with the heading it sits under, taken from the student's
    own markdown: its macros are shown as text as in the body, and MathJax never reads the list (tex2jax_ignore)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    config = Config()
    sanitize.show_safely(config)
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.template_file = str(feedback_page.SELF_STUDY_TEMPLATE if self_study else feedback_page.TEMPLATE)
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.HTMLExporter.extra_template_paths = [str(Path(handlers.static_path, "node_modules/bootstrap/dist/css"))]
    resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 1, "late_penalty": 0}}
    for attack in MATHS_ATTACKS:
        heading = "# " + attack.split(" ")[0]  # one formula: the contents keep 80 characters of a heading
        notebook = nbformat.v4.new_notebook(cells=graded_under(heading))
        page, _ = HTMLExporter(config=config).from_notebook_node(notebook, resources=resources)
        contents = page.split('id="toc">', 1)[1].split("</div>", 1)[0]
        assert "test_x" in contents and " · " in contents  # the item, named with its heading
        assert live_macros(contents, plain=True) == [], (attack, contents)
        assert re.search(r'<div (?=[^>]*\bid="toc")[^>]*\bclass="tex2jax_ignore"', page), "MathJax reads the contents"
