"""nbconvert's filters whose time grew faster than what a student wrote, replaced by ones that stay linear in it.

Who trusts whom: formgrader renders a submission inside the instructor's Jupyter server, in its one request loop,
so a page that takes an hour holds the whole server (JupyterLab, kernels, formgrader) for that hour; a grading
worker renders the feedback inside the student's time budget, and a run that ends there repeats at every
`lrcourse grade`. The submission's code, markdown and outputs are the student's, so every filter that reads them
must cost time in proportion to their length:

- code cells: IPython's lexer takes time quadratic in one long line (64 kB of `1.e` took 138 s), and nbconvert
  picks the lexer from the notebook's and the cell's metadata (a student could name any of Pygments' lexers).
  Here the course's language always, with Pygments' Python 3 lexer, and a long cell as plain text;
- fenced code in markdown: the same (the fence's word named the lexer);
- ANSI colours in outputs: nbconvert's converter copies the rest of the text at each escape code and takes the
  numbers of a code from the front of a list, quadratic in either (1 MB of codes: a minute). Text with a bounded
  number of plain codes still goes through it, colours and all; other text is shown with its codes taken out;
- maths in markdown: nbconvert's patterns for `\\[`, `\\(` and `\begin{...}` scan from each opener to the end of
  the paragraph when it is never closed (75 kB of `\\[` held a page 100 s); here a body never holds an opener of
  its kind, so each scan stops at the next one;
- nbconvert's `clean_html`, which the templates run on every highlighted code cell and raw cell, is bleach, pure
  Python (8 s for one highlighted 16 kB cell): the same allow-list with nh3 here, links opening in a new tab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bleach
import markupsafe
import nh3
from nbconvert.filters.ansi import ansi2html as nbconvert_ansi2html
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathBlockParser, MathInlineParser
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers.python import Python3Lexer

from lrcourse.grading.browser.markup import DEPTH_LIMIT, as_text, depth, inert_maths

CODE_LIMIT = 16 << 10  # characters of code highlighted (the course's longest code cell: under 4 kB)
CSS_CLASS = " highlight hl-ipython3"  # what nbconvert's templates and their style sheet expect of a code cell
PYTHON_FENCES = {"python", "python3", "py", "ipython", "ipython3"}
# An ECMA-48 control sequence as terminals read it: parameter bytes, intermediate bytes, one final byte.
CONTROL_SEQUENCE = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
ANSI_TEXT_LIMIT = 64 << 10  # characters of coloured text given to nbconvert's converter
ANSI_CODES_LIMIT = 1000  # escape codes in it (a long traceback: about 200)
ANSI_PARAMETERS_LIMIT = 64  # characters of one code's parameters (`1;38;5;208`: 10)
PLAIN = "lrcourse_plain"  # a code cell's metadata key: past the page's budget, shown as plain text
TAG = re.compile(r"<[A-Za-z/!?]")
BUDGET = "lrcourse_page_budget"  # the key of a page's `PageBudget` in nbconvert's resources


def plain_code(source: str) -> str:
    return f'<div class="{CSS_CLASS}"><pre>{markupsafe.escape(source)}</pre></div>'


@dataclass
class PageBudget:
    """What one page may still spend on what costs time per tag. After the templates, nbconvert's HTMLExporter
    reads the whole page again with Python's HTML parser (BeautifulSoup), a fraction of a millisecond per tag: a
    highlighted code cell is a tag per token, a coloured output a tag per code. Within these, an honest chapter
    (42 kB of code, a few tags of HTML outputs, a few hundred codes of tracebacks) shows as always; past them, the
    rest as plain text."""

    code: int = 64 << 10  # characters of code highlighted
    tags: int = 10_000  # tags of HTML and SVG outputs and raw cells
    colours: int = 5_000  # ANSI codes turned into colours
    markdown: int = 64 << 10  # characters of markdown outputs rendered as markdown (30 s a megabyte)
    # Markdown rendered by the templates' filter (cells, outputs, comments): its characters (mistune's time) and the
    # tags and entities it becomes, up to one per character (`*` lines, tables). The longest chapter: 21 kB, 960.
    prose: int = 64 << 10
    prose_nodes: int = 5_000
    escaped: int = 256 << 10  # characters of output text that become entities (<, >, &, quotes): each one a node
    outputs: int = 2_000  # outputs shown (a million empty ones pass the output caps at 100 bytes each)
    # Characters of images markdown embeds (a pasted image, `attachment:`, or a data: address): the renderer writes
    # the whole image at every reference, so one 1 MB attachment named 300 times made a 300 MB page. Chapters embed
    # none; a few pasted screenshots fit.
    images: int = 8 << 20

    def highlight(self, cell) -> None:
        """Mark a code cell past the budget to be shown plain (`highlight_code` reads the mark)."""
        self.code -= len(cell.source)
        cell.metadata[PLAIN] = self.code < 0

    def fits_markup(self, markup: str) -> bool:
        self.tags -= len(TAG.findall(markup))
        return self.tags >= 0

    def fits_markdown(self, markdown: str) -> bool:
        self.markdown -= len(markdown)
        return self.markdown >= 0

    def fits_prose(self, source: str) -> bool:
        self.prose -= len(source)
        return self.prose >= 0

    def fits_rendered(self, rendered: str) -> bool:
        """Whether markdown rendered as `rendered` fits the page: its tags and entities, each a node of the page."""
        self.prose_nodes -= rendered.count("<") + rendered.count("&")
        return self.prose_nodes >= 0

    def fits_image(self, size: int) -> bool:
        self.images -= size
        return self.images >= 0

    def coloured(self, text: str) -> str:
        """`text` as it is while the budget lasts; past it, with its escape codes taken out."""
        self.colours -= text.count("\x1b")
        return text if self.colours >= 0 else CONTROL_SEQUENCE.sub("", text).replace("\x1b", "")

    def shown_text(self, text: str, what: str = "output") -> str:
        """An output's text as the page shows it: its colours within the budget, and all of it while the budget of
        escaped characters lasts (the templates escape quotes too); past that, a note in its place."""
        text = self.coloured(text)
        self.escaped -= sum(text.count(character) for character in "<>&\"'")
        if self.escaped >= 0:
            return text
        return f"[lrcourse: {len(text)} characters of {what} not shown here, past what one page shows; the graded notebook holds them]\n"

    def takes_output(self) -> bool:
        self.outputs -= 1
        return self.outputs >= 0


def page_budget(resources) -> PageBudget:
    """The budget of the page being rendered, kept in its `resources` (the preprocessor's and the templates' filters
    share it); a fresh one where there are none."""
    if not isinstance(resources, dict):
        return PageBudget()
    return resources.setdefault(BUDGET, PageBudget())


def highlight_code(source, language=None, metadata=None, **options) -> str:
    """nbconvert's `highlight_code` filter for a code cell, whatever language or lexer the notebook names."""
    source = str(source) or " "
    if len(source) > CODE_LIMIT or (isinstance(metadata, dict) and metadata.get(PLAIN) is True):
        return plain_code(source)
    return highlight(source, Python3Lexer(), HtmlFormatter(cssclass=CSS_CLASS))


# nbconvert's maths patterns with bodies that cannot hold an opener of their kind (an environment: any \begin).
DISPLAY_LATEX = r"(?s:(?<!\\)\\\\\[(?P<math_block_latex>(?:(?!\\\\\[).)*?)(?<!\\)\\\\\])"
INLINE_LATEX = r"(?s:(?<!\\)\\\\\((?P<math_inline_latex>(?:(?!\\\\\().)*?)(?<!\\)\\\\\))"
ENVIRONMENT = (
    r"\\begin\{(?P<math_env_name>[a-z]*\*?)\}(?P<math_env_body>(?s:(?:(?!\\begin\{).)*?))\\end\{(?P=math_env_name)\}"
)
MULTILINE_MATH = (
    r"(?s:(?<!\\)[$]{2}.*?(?<!\\)[$]{2}"
    r"|\\\\\[(?:(?!\\\\\[).)*?\\\\\]"
    r"|\\begin\{(?P<math_env_name>[a-z]*\*?)\}(?:(?!\\begin\{).)*?\\end\{(?P=math_env_name)\})"
)


class BoundedMathInline(MathInlineParser):
    SPECIFICATION = {
        **MathInlineParser.SPECIFICATION,
        "block_math_latex": DISPLAY_LATEX,
        "inline_math_latex": INLINE_LATEX,
        "latex_environment": ENVIRONMENT,
    }


class BoundedMathBlock(MathBlockParser):
    SPECIFICATION = {**MathBlockParser.SPECIFICATION, "multiline_math": MULTILINE_MATH}


def bounded_markdown(renderer) -> MarkdownWithMath:
    """nbconvert's markdown with maths, its maths patterns bounded (module docstring)."""
    return MarkdownWithMath(renderer=renderer, block=BoundedMathBlock(), inline=BoundedMathInline(hard_wrap=False))


class BoundedRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with fenced code highlighted as `highlight_code` does: Python only, short
    blocks only; any other fence (a lexer a student names, a mermaid diagram) is plain escaped text; and images
    embedded within the page's budget (`PageBudget.images`), past it their alt text in brackets."""

    def __init__(self, *args, budget: PageBudget | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget or PageBudget()

    def image(self, text: str, url: str, title: str | None = None) -> str:
        size = len(url)
        if url.startswith("attachment:") and url[len("attachment:") :] in self.attachments:
            bundle = self.attachments[url[len("attachment:") :]]
            size += max((len(data) for data in bundle.values() if isinstance(data, str)), default=0)
        if not self.budget.fits_image(size):
            return f"[image not shown, past what one page embeds: {markupsafe.escape(text)}]"
        return super().image(text, url, title)

    def block_code(self, code: str, info: str | None = None) -> str:
        words = (info or "").split()
        if words and words[0].lower() in PYTHON_FENCES and len(code) <= CODE_LIMIT:
            return highlight(code, Python3Lexer(), HtmlFormatter())
        return f"<pre><code>{markupsafe.escape(code)}</code></pre>\n"


def ansi2html(text) -> str:
    """nbconvert's `ansi2html` filter where it is cheap (few, short, well-formed codes); elsewhere the text with
    its escape codes taken out, in one pass."""
    text = str(text)
    if plain_colours(text):
        return nbconvert_ansi2html(text)
    return str(markupsafe.escape(CONTROL_SEQUENCE.sub("", text).replace("\x1b", "")))


def plain_colours(text: str) -> bool:
    """Whether nbconvert's converter reads `text` in time linear in it: short, with a bounded number of codes,
    each a well-formed control sequence with short parameters (its pattern then stops at each code's end)."""
    if len(text) > ANSI_TEXT_LIMIT:
        return False
    codes = 0
    for code in CONTROL_SEQUENCE.finditer(text):
        codes += 1
        if codes > ANSI_CODES_LIMIT or len(code[1]) > ANSI_PARAMETERS_LIMIT:
            return False
    return codes == text.count("\x1b")


def clean_html(element) -> str:
    """nbconvert's `clean_html` filter: bleach's allow-list as nbconvert extends it, applied by nh3 in linear time
    (markup nested too deep for that shown as text); a link kept opens in a new tab, as `markup.clean_html`'s."""
    markup = element.decode() if isinstance(element, bytes) else str(element)
    if depth(markup) > DEPTH_LIMIT:
        return as_text(markup)
    tags = {*bleach.ALLOWED_TAGS, "div", "pre", "code", "span", "table", "tr", "td"}
    attributes = {**{tag: set(names) for tag, names in bleach.ALLOWED_ATTRIBUTES.items()}, "*": {"class", "id"}}
    cleaned = nh3.clean(
        markup,
        tags=tags,
        attributes=attributes,
        url_schemes=set(bleach.ALLOWED_PROTOCOLS),
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return inert_maths(cleaned)  # MathJax's links and styles shown as text (`markup.inert_maths`)
