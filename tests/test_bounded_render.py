"""What a page of a student's work costs to render stays linear in what the student wrote (issue 20, thirteenth
review): formgrader renders a submission inside the instructor's server, which answers nothing else meanwhile.

Each attack below took minutes to hours with nbconvert's own filters (a few kB of `[a](files/` in markdown: a
minute; 64 kB of `1.e` on one line of code: 138 s; 200 kB of nested <div>: 19 s; 1 MB of ANSI codes: a minute).
Each is given here at the size the notebook limits let through; the bounds are generous (linear work takes well
under a second for each), a quadratic one would take hours.
"""

from __future__ import annotations

import json
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from lrcourse.grading.browser import bounded_render, sanitize
from lrcourse.grading.browser.markup import DEPTH_LIMIT, clean_html, depth

MB = 1 << 20


def seconds(function, *args) -> float:
    start = time.monotonic()
    function(*args)
    return time.monotonic() - start


def test_the_files_prefix_is_stripped_in_one_pass():
    assert sanitize.strip_files_prefix("![plot](files/a.png) [notes](/files/b.txt)") == "![plot](a.png) [notes](b.txt)"
    assert sanitize.strip_files_prefix("[x](files/javascript:alert(1))") == "[x](files/javascript:alert(1))"
    for text in ("[a](files/" * (MB // 10), "[" * MB, "![[" * (MB // 3), "[a](files/b" * (MB // 11)):
        assert seconds(sanitize.strip_files_prefix, text) < 30, text[:12]


def test_code_is_highlighted_as_python_whatever_the_notebook_names_and_long_code_is_plain():
    highlighted = bounded_render.highlight_code("def f(x):\n    return 1\n", "brainfuck", {"magics_language": "perl"})
    assert '<span class="k">def</span>' in highlighted and 'class=" highlight hl-ipython3"' in highlighted
    long = "1.e" * (MB // 3)  # IPython's lexer: 64 kB of this took 138 s
    assert seconds(bounded_render.highlight_code, long) < 30
    assert bounded_render.highlight_code(long).startswith('<div class=" highlight hl-ipython3"><pre>1.e1.e')
    assert "<span" not in bounded_render.highlight_code("x = 1", metadata={bounded_render.PLAIN: True})
    cell = new_code_cell("x = 1")
    cell.metadata["magics_language"] = "perl"
    sanitize.safe_cell(cell)
    assert "magics_language" not in cell.metadata


def test_fenced_code_in_markdown_names_no_lexer():
    assert "<span>def</span>" in sanitize.markdown2html("```python\ndef f(): pass\n```")
    perl = sanitize.markdown2html("```perl\nmy $x = <b>1</b>;\n```")
    assert "<span" not in perl and "&lt;b&gt;" in perl
    assert seconds(sanitize.markdown2html, "```ipython3\n" + "1.e" * 70_000 + "\n```") < 30


def test_maths_in_markdown_is_found_in_one_pass():
    """nbconvert's maths patterns scanned from each unclosed opener to the paragraph's end: 75 kB of `\\[` held
    a page 100 s. Maths still renders as TeX for MathJax."""
    shown = sanitize.markdown2html(r"a \\(x^2\\) b \\[\int f\\] c \begin{equation}y\end{equation} $z$")
    assert "$x^2$" in shown and "$$\\int f$$" in shown and "\\begin{equation}y\\end{equation}" in shown
    for opener in ("\\\\[", "\\\\(", "\\begin{a}", "\\begin{a}\\begin{b}"):
        assert seconds(sanitize.markdown2html, opener * ((128 << 10) // len(opener))) < 30, opener


def test_colours_are_kept_where_cheap_and_taken_out_where_not():
    assert bounded_render.ansi2html("\x1b[31mred\x1b[0m <b>") == '<span class="ansi-red-fg">red</span> &lt;b&gt;'
    for text in (
        "\x1b[" * (MB // 2),
        "\x1b[" + "1;" * (MB // 2) + "m x",  # one code, half a million numbers taken from a list's front
        "\x1b[0m<" * (MB // 5),
        "\x1b[0;" * (MB // 4),
    ):
        assert seconds(bounded_render.ansi2html, text) < 30, repr(text[:8])
    assert bounded_render.ansi2html("\x1b[31mr\x1b[0m<" * 20_000).startswith("r&lt;r&lt;")  # past the limit


def test_markup_nested_too_deep_is_shown_as_text():
    deep = "<div>" * (MB // 5)
    assert depth(deep) == MB // 5 and depth("<p>a<br><img src=x/></p>" * 1000) == 1
    assert seconds(clean_html, deep) < 30
    assert clean_html(deep).startswith('<pre class="lrcourse-removed"')
    assert clean_html("<div>" * DEPTH_LIMIT + "x") != clean_html("<div>" * (DEPTH_LIMIT + 1) + "x")
    output = new_output("display_data", data={"text/html": "<ul><li>" * 300, "text/plain": "x"})
    (note, kept) = sanitize.safe_outputs([output])
    assert "nested too deep" in note["data"]["text/plain"] and "text/html" not in kept["data"]


def test_a_page_has_a_budget_of_tags_highlighted_code_colours_and_markdown():
    budget = bounded_render.PageBudget()
    cells = [new_code_cell("x = 1\n" * 2700) for _ in range(8)]  # 16 kB each: four fit in 64 kB
    for cell in cells:
        budget.highlight(cell)
    assert [cell.metadata[bounded_render.PLAIN] for cell in cells] == [False] * 4 + [True] * 4
    markup = [new_output("display_data", data={"text/html": "<b></b>" * 2000}) for _ in range(3)]
    shown = sanitize.safe_outputs(markup, budget)
    assert ["text/html" in output["data"] for output in shown] == [True, True, False]  # the third: a note
    assert "too many tags" in shown[2]["data"]["text/plain"]
    streams = [new_output("stream", name="stdout", text="\x1b[31mr\x1b[0m" * 1000) for _ in range(3)]
    shown = sanitize.safe_outputs(streams, budget)
    assert ["\x1b" in output["text"] for output in shown] == [True, True, False]
    escaped = [new_output("stream", name="stdout", text="<" * (100 << 10)) for _ in range(3)]
    shown = sanitize.safe_outputs(escaped, budget)
    assert [len(output["text"]) for output in shown[:2]] == [100 << 10] * 2
    assert shown[2]["text"].startswith("[lrcourse: 102400 characters of output not shown here")
    many = [new_output("display_data", data={"text/plain": ""}) for _ in range(3000)]
    shown = sanitize.safe_outputs(many, bounded_render.PageBudget())
    assert len(shown) == 2001 and "1000 more outputs of this cell not shown" in shown[-1]["data"]["text/plain"]


def test_a_page_of_every_attack_renders_in_time_linear_in_it():
    """One notebook holding each attack at the size the limits let through, through nbconvert's HTMLExporter
    as formgrader and the feedback use it (an honest chapter: about 3 s on a busy machine)."""

    def out(**data):
        cell = new_code_cell("x")
        cell.outputs = [new_output("display_data", data={"text/plain": "x", **data})]
        return cell

    def stream(text):
        cell = new_code_cell("print()")
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        return cell

    notebook = new_notebook(
        cells=[
            new_markdown_cell("[a](files/" * ((64 << 10) // 10)),
            new_markdown_cell("<ul><li>" * ((32 << 10) // 8)),
            *(new_code_cell("1.e" * ((16 << 10) // 3)) for _ in range(16)),
            out(**{"text/html": "<div>" * (MB // 5)}),
            *(out(**{"text/html": "<b></b>" * (MB // 7)}) for _ in range(2)),
            out(**{"image/svg+xml": "<svg>" + "<g>" * (MB // 3)}),
            stream("\x1b[0m<" * (MB // 5)),
            *(out(**{"text/markdown": "*a* " * (16 << 10)}) for _ in range(8)),
            new_markdown_cell("\\\\[" * (40 << 10)),
            *(stream("<" * MB) for _ in range(8)),
            out(),  # and, below, 80,000 empty outputs: what the output caps let through at 100 bytes each
        ]
    )
    notebook.cells[-1].outputs *= 80_000
    config = Config()
    sanitize.show_safely(config)
    from nbconvert import HTMLExporter

    start = time.monotonic()
    page, _ = HTMLExporter(config=config, template_name="lab").from_notebook_node(nbformat.from_dict(notebook))
    assert time.monotonic() - start < 240
    assert "too many tags for one page" in page and "past what one page renders as markdown" in page


def formgrader_page(notebook) -> tuple[str, float]:
    """`notebook` as formgrader's view renders it (nbgrader's formgrade template, the course's filters), and the
    processor time it took (less sensitive than the clock to what else the machine runs)."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    config = Config()
    sanitize.show_safely(config)
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "c", "notebook_id": "n", "submission_id": "s", "index": 0, "total": 1}
    resources |= {"base_url": "", "student": "m", "notebook_path": ""}
    start = time.process_time()
    page, _ = HTMLExporter(config=config).from_notebook_node(nbformat.from_dict(notebook), resources=resources)
    return page, time.process_time() - start


def test_a_pages_markdown_cells_are_rendered_within_its_budget_and_the_rest_shown_as_text(root):
    """Markdown cells (written answers) as the notebook limits let them through, each character a tag (`*` lines,
    tables): without a budget for them the page held 130,000 tags and took 4.5 times an honest chapter's time.
    Within the budget, the first cells render as markdown, the rest show as text, and the page costs no more than
    an honest chapter's (which keeps all its markdown)."""
    from lrcourse.notebook_limits import MAX_MARKDOWN_KB, check_cells

    honest = nbformat.read(root / "solutions" / "05_training" / "training.ipynb", as_version=4)
    honest_page, honest_seconds = formgrader_page(honest)
    assert "past what one page renders as markdown" not in honest_page
    for unit in ("*\n", "|a|a|\n|-|-|\n"):
        size = ((MAX_MARKDOWN_KB << 10) - 64 * 64) // 64 // len(json.dumps(unit)[1:-1])
        notebook = new_notebook(cells=[new_markdown_cell(unit * size) for _ in range(64)])
        check_cells("worst.ipynb", json.loads(json.dumps(notebook)))  # within the notebook limits
        page, seconds = formgrader_page(notebook)
        assert "<li>" in page or "<td>" in page, unit  # the first cells: markdown
        assert page.count("<") < honest_page.count("<"), (unit, page.count("<"), honest_page.count("<"))
        assert page.count("past what one page renders as markdown") > 50, unit  # the rest: text
        assert seconds < 2 * honest_seconds + 1, (unit, seconds, honest_seconds)


def test_markdown_past_the_budget_shows_as_text_and_past_the_escaped_budget_as_a_note():
    budget = bounded_render.PageBudget(prose=100, prose_nodes=10, escaped=50)
    assert budget.fits_prose("a" * 60) and budget.fits_rendered("<p>a</p>" * 5) and not budget.fits_rendered("<b>")
    assert not budget.fits_prose("a" * 41)
    shown = sanitize.plain_markdown('<b>"x"</b>' * 4, budget)  # 24 characters that count as entities
    assert shown.count("&lt;b&gt;") == 4 and '"x"' in shown and "<b>" not in shown
    assert "30 characters of markdown not shown here" in sanitize.plain_markdown('"' * 30, budget)


def test_images_markdown_embeds_are_within_the_pages_budget(root):
    """nbconvert's renderer writes an image whole at every reference: a 1 MB pasted image named 300 times in a
    1 MB notebook made a 300 MB page (and a 300 MB feedback file); a 20 kB data: address defined once and referenced
    5,000 times, 100 MB. The page embeds at most `PageBudget.images` of them; past it, the alt text in brackets.
    One pasted image shows as it always did."""
    from lrcourse.notebook_limits import check_cells

    image = "iVBORw0KGgo" + "A" * (MB - 12)  # base64 of a megabyte, as a pasted image's
    pasted = new_markdown_cell("My plot: ![the loss](attachment:a.png)")
    pasted["attachments"] = {"a.png": {"image/png": image}}
    page, _ = formgrader_page(new_notebook(cells=[pasted]))
    assert page.count(image) == 1 and "image not shown" not in page
    repeated = new_markdown_cell("![x](attachment:a.png) " * 300)
    repeated["attachments"] = {"a.png": {"image/png": image}}
    defined = new_markdown_cell("![y][r] " * 4_990 + f"\n\n[r]: data:image/png;base64,{image[: 20 << 10]}\n")
    for cell in (repeated, defined):
        notebook = new_notebook(cells=[cell])
        check_cells("worst.ipynb", json.loads(json.dumps(notebook)))  # within the notebook limits
        page, seconds = formgrader_page(notebook)
        assert len(page) < bounded_render.PageBudget.images + 4 * MB, len(page)  # without the budget: 152-300 MB
        assert "image not shown, past what one page embeds" in page
        assert seconds < 30, seconds
