"""A submission made safe to show in the instructor's browser.

Who trusts whom: the instructor's browser trusts every page the Jupyter server sends (one origin, the
instructor's session, which can start kernels and write grades); a submission's outputs, markdown, raw cells
and metadata are the student's. So before formgrader shows a submission or nbgrader writes its feedback,
everything of the student's that a browser would run is taken out, with `nh3` (the binding of Rust's
ammonia) deciding what HTML stays: scripts, event handlers, javascript:/data: URLs, frames, objects, forms,
meta refresh, base, styles; the lab template's raw mermaid outputs too. Output metadata keeps only an image's
width and height, as plain integers (the templates write them into the image's tag unquoted). What was taken
out is shown as text, so the instructor sees that the student tried. An nbconvert preprocessor and a markdown
filter, so nbgrader's own exporters apply it (`show_safely`); `content_policy.py` is the second wall.
"""

from __future__ import annotations

import html
import json
import re

import jinja2
import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode

from lrcourse import cells
from lrcourse.grading.browser.bounded_render import BoundedRenderer, PageBudget, bounded_markdown, page_budget
from lrcourse.grading.browser.markup import (
    DEPTH_LIMIT,
    RASTER_DATA,
    URL_ATTRIBUTES,
    clean_html,
    clean_svg,
    depth,
    inert_maths,
)

HTML_OUTPUTS = ("text/html", "image/svg+xml")
# Output types a browser would run, whatever their content: replaced by a note.
SCRIPT_OUTPUTS = ("application/javascript", "text/javascript")
# Widgets render only with a CDN's renderer and the saved widget state, which a student writes: a plain note.
WIDGET_OUTPUTS = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
# Output types the templates write into the page as they are (the lab template's mermaid diagram): a note too.
RAW_MARKUP_OUTPUTS = ("text/vnd.mermaid",)
NOTED_OUTPUTS = SCRIPT_OUTPUTS + RAW_MARKUP_OUTPUTS
ACTIVE_OUTPUTS = NOTED_OUTPUTS + WIDGET_OUTPUTS
# The only output metadata kept: the templates write an image's width and height into its tag unquoted, so only
# as plain non-negative integers; everything else (filenames, isolated, alt, ...) is dropped.
SIZE_KEYS = ("width", "height")
SIZE_DIGITS = re.compile(r"[0-9]{1,6}")
WIDGET_NOTE = "[An interactive widget is not shown here: widgets run only in a live notebook.]"
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")  # an attachment's data, as nbformat stores it
NO_SCHEME = r"(?![A-Za-z][A-Za-z0-9+.-]*:)"
FILES_URL = re.compile(r"(src|href)=(['\"]?)/?files/" + NO_SCHEME)  # nbconvert's patterns, scheme excepted
# nbconvert's `(.*?)` pairs crossed each other: a few kB of `[a](files/` took minutes. Neither part here can run
# past a bracket or a parenthesis, so each character is read a bounded number of times.
FILES_MARKDOWN = re.compile(r"(!?)\[([^\[\]\n]*)\]\(/?files/" + NO_SCHEME + r"([^()\s]*)\)")
# A cell's grade id (not a student id), as formgrader's page may hold it: stricter than an id's characters
# (intake.ID_CHARACTERS) on purpose, no `.` or `@`: formgrader's script finds a cell's score and comment boxes by
# `$("#" + grade_id)`, where a dot reads as a class and an @ is a selector error (the box would save nothing).
SELECTOR_SAFE_GRADE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
NOTE_LIMIT = 2000  # characters of the removed markup quoted in a note
MARKDOWN_OUTPUT_LIMIT = 64 << 10  # characters of a markdown output rendered as markdown (a lesson's table: 2 kB)
# Markup that shows an attempt to run something, for the note (nh3 decides what stays, not this list).
ACTIVE_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "meta",
    "base",
    "link",
    "style",
    "foreignobject",
    "template",
    "portal",
}


# A tag's name, and each attribute of it with its value, as browsers read them; both patterns match in time linear
# in the text they are given (no nested repetition), and `attempts` gives them one tag at a time.
TAG_NAME = re.compile(r"([A-Za-z][^\s/>]*)")
ATTRIBUTE = re.compile(r"""([^\s"'=<>/`]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
BROWSERS_DROP = re.compile(r"[\x00-\x20]")  # in a URL's scheme: tabs, newlines, spaces, control characters


def attempts(markup: str) -> list[str]:
    """The parts of some markup that try to run something, for the note the instructor reads (nh3 decides what
    stays). Read one tag at a time, each character once: Python 3.11's HTMLParser took time quadratic in some
    malformed markup (35 kB of `<a x="` held a page for 25 s, a megabyte would have held it for hours)."""
    found = []
    for piece in markup.split("<")[1:]:
        tag = piece.split(">", 1)[0]
        name = TAG_NAME.match(tag)
        if name is None:  # a closing tag, a comment, text
            continue
        if name[1].lower() in ACTIVE_TAGS:
            found.append(f"<{name[1].lower()}>")
        for attribute in ATTRIBUTE.finditer(tag, name.end()):
            found += attempted_by(name[1].lower(), attribute[1].lower(), html.unescape(attribute[2] or "").strip("\"'"))
    return list(dict.fromkeys(found))


def attempted_by(tag: str, name: str, value: str) -> list[str]:
    if name.startswith("on"):
        return [f"{name}="]
    if name == "srcdoc":
        return ["srcdoc="]
    scheme = BROWSERS_DROP.sub("", value).lower().split(":", 1)
    if name in URL_ATTRIBUTES and len(scheme) == 2 and scheme[0] in ("javascript", "vbscript", "data"):
        return [] if tag == "img" and RASTER_DATA.match(value.strip()) else [f"{scheme[0]}: URL"]
    return []


def removal_note(what: str, found: list[str], original: str) -> str:
    """Plain text: what was taken out of the student's work, and the original, quoted."""
    quoted = original if len(original) <= NOTE_LIMIT else original[:NOTE_LIMIT] + " [...]"
    return (
        f"[lrcourse removed {what} before showing this submission ({', '.join(found)}): "
        f"nothing a student wrote runs in the grader's browser. The original, as text:]\n{quoted}\n"
    )


def note_html(note: str) -> str:
    return f'<pre class="lrcourse-removed" style="white-space: pre-wrap">{html.escape(note)}</pre>'


def markdown2html(source: str, attachments: dict | None = None, budget: PageBudget | None = None) -> str:
    """The markdown filter of nbconvert's templates, with its HTML cleaned: raw HTML and javascript: links in
    a student's markdown (a written answer, a `display(Markdown(...))`) show as text, maths and text stay; images
    pasted into the cell (`attachment:`) show when they are raster images (`raster_attachments`), within the page's
    budget of embedded images (`budget`'s, or one page's of its own)."""
    renderer = BoundedRenderer(escape=False, attachments=raster_attachments(attachments or {}), budget=budget)
    rendered = bounded_markdown(renderer).render(source)
    found = attempts(rendered)
    note = note_html(removal_note("active markup from this markdown", found, source)) if found else ""
    return note + clean_html(rendered)


@jinja2.pass_context
def cell_markdown2html(context, source: str) -> str:
    """`markdown2html` as the templates' filter: with the attachments of the cell being rendered, as nbconvert's
    own filter reads them (JupyterLab saves a pasted image so; without them the page fails to render), within the
    page's budget of markdown (`PageBudget.prose`); past it, as text."""
    cell, source = context.get("cell") or {}, str(source)
    budget = page_budget(context.get("resources"))
    if not budget.fits_prose(source):
        return plain_markdown(source, budget)
    rendered = markdown2html(source, cell.get("attachments") if isinstance(cell, dict) else None, budget)
    return rendered if budget.fits_rendered(rendered) else plain_markdown(source, budget)


def plain_markdown(source: str, budget: PageBudget) -> str:
    note = "[lrcourse shows this markdown as text: past what one page renders as markdown.]\n"
    text = budget.shown_text(source, "markdown")
    return f'<pre class="lrcourse-removed" style="white-space: pre-wrap">{html.escape(note + text, quote=False)}</pre>'


class _RasterAttachments(dict):
    """A cell's attachments as the renderer may embed them: every name is there (a missing one would stop the
    page from rendering), and each shows as a raster image or an empty one."""

    def __contains__(self, name) -> bool:
        return True

    def __missing__(self, name) -> dict:
        return {"image/png": ""}


def raster_attachments(attachments) -> dict:
    """Of a cell's attachments, the raster images whose data is plain base64 (nbconvert embeds them as a data: URL:
    an SVG one would be script, so it shows as an empty image)."""
    kept = _RasterAttachments()
    for name, bundle in attachments.items() if isinstance(attachments, dict) else []:
        raster = {
            mime: data
            for mime, data in (bundle.items() if isinstance(bundle, dict) else [])
            if mime in ("image/png", "image/jpeg", "image/gif", "image/webp")
            and isinstance(data, str)
            and BASE64.fullmatch(data)
        }
        kept[str(name)] = raster or {"image/png": ""}
    return kept


def strip_files_prefix(text: str) -> str:
    """nbconvert's `strip_files_prefix` (the templates apply it after the markdown filter: `files/x` becomes `x`),
    except where a scheme follows (`/files/javascript:...` would become an active link); and if stripping still
    made anything active (a scheme written with entities), the text as it was."""
    stripped = FILES_URL.sub(r"\1=\2", text)
    stripped = FILES_MARKDOWN.sub(r"\1[\2](\3)", stripped)
    return text if attempts(stripped) else stripped


def text_note(note: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/plain": note}}


def image_size(value) -> int | None:
    """A width or height as a plain non-negative integer (an int, or a string of digits), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**6:
        return value
    if isinstance(value, str) and SIZE_DIGITS.fullmatch(value):
        return int(value)
    return None


def sizes(metadata, where: str, refused: list[str]) -> NotebookNode:
    """The width and height of `metadata` that are plain integers; any other value of theirs goes into `refused`."""
    kept = NotebookNode()
    for key in SIZE_KEYS if isinstance(metadata, dict) else ():
        value, size = metadata.get(key), image_size(metadata.get(key))
        if size is not None:
            kept[key] = size
        elif value is not None:
            refused.append(f"{where}{key}: {value!r}")
    return kept


def safe_metadata(metadata, data: dict, refused: list[str]) -> NotebookNode:
    """An output's metadata rebuilt from the allow-list: sizes at the top and per mimetype of its data."""
    metadata = metadata if isinstance(metadata, dict) else {}
    safe = sizes(metadata, "", refused)
    for mimetype in data:
        kept = sizes(metadata.get(mimetype), f"{mimetype} ", refused)
        if kept:
            safe[mimetype] = kept
    return safe


def safe_outputs(outputs: list, budget: PageBudget | None = None) -> list:
    """Each output with its HTML and SVG cleaned, its scripts, raw markup and widgets replaced by a note, its
    metadata rebuilt from the allow-list, and what costs the page time per tag within the page's `budget`."""
    budget = budget or PageBudget()
    safe, hidden = [], 0
    for output in outputs:
        if not budget.takes_output():
            hidden += 1
            continue
        bound_text(output, budget)
        data = output.get("data")
        if not isinstance(data, dict):
            safe.append(output)
            continue
        for mimetype in [m for m in data if m in NOTED_OUTPUTS]:
            code = data.pop(mimetype)
            safe.append(text_note(removal_note(f"an output of type {mimetype}", [mimetype], str(code))))
        if any(data.pop(mimetype, None) is not None for mimetype in WIDGET_OUTPUTS):
            safe.append(text_note(WIDGET_NOTE))
        markdown = data.get("text/markdown")
        if isinstance(markdown, (str, list)) and not fits_markdown("".join(markdown), budget):
            # rendered inside the instructor's server, about 30 s a megabyte: shown as text beyond this
            data.pop("text/markdown")
            safe.append(text_note(removal_note("a long markdown output", ["shown as text"], "".join(markdown))))
        for mimetype, clean in (("text/html", clean_html), ("image/svg+xml", clean_svg)):
            if isinstance(data.get(mimetype), (str, list)):
                safe += clean_markup(data, mimetype, clean, budget)
        refused: list[str] = []
        output["metadata"] = safe_metadata(output.get("metadata"), data, refused)
        if refused:
            found = ["an image size that is not a plain integer"]
            safe.append(text_note(removal_note("output metadata", found, "\n".join(refused))))
        if data or output.get("output_type") not in ("display_data", "execute_result"):
            safe.append(output)
    if hidden:
        safe.append(
            text_note(f"[lrcourse: {hidden} more outputs of this cell not shown here, past what one page shows]")
        )
    return safe


def fits_markdown(markdown: str, budget: PageBudget) -> bool:
    return len(markdown) <= MARKDOWN_OUTPUT_LIMIT and budget.fits_markdown(markdown)


def clean_markup(data: dict, mimetype: str, clean, budget: PageBudget) -> list[dict]:
    """Clean the output's markup of `mimetype` in place; the notes to show before it. Markup nested too deep (its
    parsing takes time quadratic in the depth) or past the page's tags is taken out, shown as text."""
    markup = "".join(data[mimetype])
    # the tags first: counting them is cheap, and past the budget the depth need not be read
    why = "too many tags for one page" if not budget.fits_markup(markup) else None
    if why is None and depth(markup) > DEPTH_LIMIT:
        why = "nested too deep"
    if why:
        data.pop(mimetype)
        return [text_note(removal_note(f"a {mimetype} output", [why], markup))]
    found = attempts(markup)
    data[mimetype] = clean(markup)
    return [text_note(removal_note(f"active markup from a {mimetype} output", found, markup))] if found else []


def bound_text(output, budget: PageBudget) -> None:
    """The output's text as the page's budget lets it show (`PageBudget.shown_text`)."""
    if isinstance(output.get("text"), str):
        output["text"] = budget.shown_text(output["text"])
    if isinstance(output.get("traceback"), list):
        output["traceback"] = [budget.shown_text(str(line)) for line in output["traceback"]]
    data = output.get("data")
    for mimetype in ("text/plain", "text/latex"):
        if isinstance(data, dict) and isinstance(data.get(mimetype), (str, list)):
            data[mimetype] = budget.shown_text("".join(data[mimetype]))
    if isinstance(data, dict) and isinstance(data.get("text/latex"), str):
        data["text/latex"] = inert_maths(data["text/latex"])  # typeset by MathJax, unlike text/plain (in a <pre>)


def safe_cell(cell, budget: PageBudget | None = None) -> None:
    """A cell the templates can render as they are: outputs cleaned, raw HTML cleaned, and nbgrader metadata
    kept only where its grade id is a plain name (the formgrade template writes it into the page unescaped);
    what costs the page time per tag within the page's `budget`."""
    budget = budget or PageBudget()
    if not SELECTOR_SAFE_GRADE_ID.fullmatch(str(cells.nbgrader_metadata(cell).get("grade_id", "x"))):
        del cell.metadata["nbgrader"]
    drop_mistyped_metadata(cell)
    keep_plain_tags(cell)
    # nbconvert leaves out a cell whose transient metadata says remove_source: the written answer and its score
    # box, or code the grader should read, would be gone from the page
    for key in DROPPED_METADATA:
        cell.get("metadata", {}).pop(key, None)
    if cell.cell_type == "code":
        budget.highlight(cell)
        cell.outputs = safe_outputs(cell.get("outputs", []), budget)
    elif cell.cell_type == "raw" and not budget.fits_markup(cell.source):
        cell.source = note_html(removal_note("a raw cell", ["too many tags for one page"], cell.source))
    elif cell.cell_type == "raw":
        found = attempts(cell.source)
        cell.source = (
            note_html(removal_note("active markup from a raw cell", found, cell.source)) if found else ""
        ) + clean_html(cell.source)


# Cell metadata the templates read that nbformat's schema leaves free, and the type each expects: another type made
# the page fail to render (formgrader could not show that submission; the student got no feedback).
TEMPLATE_METADATA = {"raw_mimetype": str}
# Cell metadata dropped: nbconvert chose a code cell's lexer by it, any of Pygments' (bounded_render ignores it).
DROPPED_METADATA = ("transient", "magics_language")
# A tag as the templates may write it into a cell's class: one word (nbformat allows spaces, and each word of a tag
# became a class of the page's: formgrader's own navigation bar's, or "hidden").
PLAIN_TAG = re.compile(r"[A-Za-z0-9_-]{1,64}")


def keep_plain_tags(cell) -> None:
    metadata = cell.get("metadata", {})
    if "tags" in metadata:
        tags = metadata["tags"] if isinstance(metadata["tags"], list) else []
        metadata["tags"] = [tag for tag in tags if isinstance(tag, str) and PLAIN_TAG.fullmatch(tag)]


def drop_mistyped_metadata(cell) -> None:
    metadata = cell.get("metadata", {})
    for key in [key for key, kind in TEMPLATE_METADATA.items() if not isinstance(metadata.get(key, kind()), kind)]:
        del metadata[key]


class SafeToShow(Preprocessor):
    """nbconvert preprocessor: the whole notebook made safe to show (see the module docstring)."""

    def preprocess(self, nb, resources):
        for name in ("first_name", "last_name", "student"):  # formgrader's template writes them unescaped
            if isinstance(resources.get(name), str):
                resources[name] = html.escape(resources[name])
        nb.metadata.pop("widgets", None)  # saved widget state: the template would load a widget renderer for it
        nb.cells = [known_cell(cell) for cell in nb.cells]
        budget = page_budget(resources)
        for cell in nb.cells:
            safe_cell(cell, budget)
        return nb, resources


def known_cell(cell):
    """`cell`, or a raw cell holding a note in its place when its type is not code, markdown or raw: nbconvert's
    templates write an unknown cell's `type` into the page as it is (a notebook that claims a newer nbformat
    passes validation with any cell type)."""
    if cell.get("cell_type") in ("code", "markdown", "raw"):
        return cell
    original = json.dumps(dict(cell), default=str)
    note = removal_note("a cell of an unknown type", [repr(str(cell.get("cell_type")))[:40]], original)
    return nbformat.v4.new_raw_cell(note_html(note))


def show_safely(config) -> None:
    """Make every HTML page nbconvert's HTMLExporter writes with `config` (formgrader's view, nbgrader's
    feedback) show student work safely: the preprocessor for outputs and cells, the filter for markdown."""
    name = f"{__name__}.SafeToShow"
    preprocessors = list(config.HTMLExporter.get("preprocessors", []))
    if name not in preprocessors and SafeToShow not in preprocessors:
        config.HTMLExporter.preprocessors = preprocessors + [name]
    config.HTMLExporter.filters = {
        **config.HTMLExporter.get("filters", {}),
        "markdown2html": f"{__name__}.cell_markdown2html",
        "strip_files_prefix": f"{__name__}.strip_files_prefix",
        "highlight_code": "lrcourse.grading.browser.bounded_render.highlight_code",
        "ansi2html": "lrcourse.grading.browser.bounded_render.ansi2html",
        "clean_html": "lrcourse.grading.browser.bounded_render.clean_html",
        "inert_maths": "lrcourse.grading.browser.markup.inert_maths",  # the feedback's contents: a student's headings
    }
