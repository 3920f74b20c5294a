"""Which of a student's HTML and SVG stays in a page the instructor opens: `nh3` (the binding of Rust's ammonia)
with the course's rules for addresses. `sanitize` applies it to a submission's outputs, markdown and raw cells.

An address in a student's markup is a request the instructor's browser makes with the instructor's session: an
image's as soon as the page opens, a link's on one click. So images are kept only as embedded raster data (a
plot), and links only to another page by its full http(s) address or to a mail address: a relative link can only
lead into the instructor's own server (/logout, a notebook that starts a kernel), and no honest answer needs one;
nor one to this machine's loopback (`http://127.0.0.1:8888/logout`, `localhost`, `0x7f.1`, `[::1]`, the
unspecified `0.0.0.0`: a grader's local formgrader), nor one whose host is not ASCII (browsers map such a host by
rules no Python codec follows; an honest one is written in its xn-- form). The machine's own hostname and its
other addresses are kept: a link by those reaches the server only if the instructor browses it by that name. A
link within the page (`#...`) is dropped too: ids are, so it would lead nowhere. A kept link opens in a new tab
(`target="_blank"`, no opener, no Referer: jupyter_server refuses its /files/ and /nbconvert/ pages a request without
one): followed inside JupyterLab's formgrader panel, another site's page would sit in the panel's frame, whose messages
nbgrader's lab extension runs as lab commands (a console, code run as the instructor); a frame without 'allow-popups'
opens no tab at all.
"""

from __future__ import annotations

import html
import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit

import nh3

URL_SCHEMES = {"http", "https", "mailto"}  # never javascript: or vbscript:; data: only as below
RASTER_DATA = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]", re.I)  # an <img> of these runs nothing
SVG_TAGS = {
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "defs",
    "clipPath",
    "linearGradient",
    "radialGradient",
    "stop",
    "title",
    "desc",
}
SVG_ATTRIBUTES = {
    "d",
    "x",
    "y",
    "x1",
    "x2",
    "y1",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "width",
    "height",
    "points",
    "transform",
    "fill",
    "stroke",
    "stroke-width",
    "opacity",
    "fill-opacity",
    "stroke-opacity",
    "viewBox",
    "xmlns",
    "version",
    "font-size",
    "font-family",
    "text-anchor",
    "offset",
    "stop-color",
    "clip-path",
    "id",
}
# A paint or clip in an SVG the browser reads as CSS: `url(http://...)` is fetched as the page opens (F5), and CSS
# escapes spell `url` many ways (`\\75 rl(`), so a value must be one of these, whole: a colour, or a place in the
# image itself with an optional fallback colour; anything else is dropped
PAINT_ATTRIBUTES = {"fill", "stroke", "clip-path", "stop-color"}
_COLOUR = r"(#[0-9a-f]{3,8}|[a-z]+|(rgb|rgba|hsl|hsla)\([0-9.,%\s/+-]*\))"
SAFE_PAINT = re.compile(
    rf"\s*({_COLOUR}|url\(\s*(?P<quote>['\"]?)#[\w.:-]+(?P=quote)\s*\)(\s+{_COLOUR})?)\s*", re.I | re.A
)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background", "srcset"}
URL_ATTRIBUTES |= {"cite", "longdesc"}  # addresses browsers never load, checked all the same
SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
# WHATWG's special schemes: in these (and in an address without a scheme) a backslash is a slash
SPECIAL_SCHEMES = {"http", "https", "ws", "wss", "ftp", "file"}
# the upper 96 bits of IPv6 addresses whose lower 32 are an IPv4 address: compatible, mapped, translated, NAT64
EMBEDDING_PREFIXES = {0, 0xFFFF, 0xFFFF_0000, 0x0064_FF9B << 64}
# Where a kept link may lead: another page by its full address (a host after the two slashes, so "http:logout", a
# path on the same server, is not one), a mail address.
LINK_TARGET = re.compile(r"(https?://[^/\\\s]|mailto:[^/\\])", re.I)
# ammonia's parser (html5ever) takes time quadratic in how deep tags nest (200 kB of <div>: 19 s, inside the
# instructor's server); markup nested deeper than this is shown as text (browsers stop nesting at 512).
DEPTH_LIMIT = 256
OPENING_TAG = re.compile(r"[A-Za-z][^\s/>]*")
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# MathJax typesets the maths in a page's text (formgrader's and the feedback's pages load 2.7 with its Safe extension).
# Safe keeps javascript: out of `\href` but makes links of http:, https: and file: addresses, opening in the page's own
# frame (tests/test_mathjax.py), and filters `\class`, `\cssId`, `\style` by lists of its own. These macros and
# those that load code or set fonts are shown as text: `\href` becomes `\ href`, a space then letters. `\mmlToken`
# (TeX core) sets any MathML attribute, href and style included. MathJax joins the text around a <br> or <wbr>
# (with or without attributes) or a comment into one formula, so a name split by them is one too. Names are ASCII
# letters (re.ASCII: with re.I alone, [A-Za-z] also matches the Kelvin sign and the long s).
MATHJAX_MACROS = {"href", "class", "cssid", "style", "unicode", "require", "bbox", "html", "data", "mmltoken"}
MACRO = re.compile(r"\\((?:[A-Za-z]|<(?:br|wbr)\b[^>]*>)+)", re.I | re.A)


def inert_maths(text: str) -> str:
    """`text` (markup or plain) with every MathJax macro of MATHJAX_MACROS shown as text, in time linear in it."""
    return MACRO.sub(_inert_macro, text)


def _inert_macro(found: re.Match) -> str:
    name = re.sub(r"<[^>]*>", "", found[1]).lower()
    return "\\ " + found[1] if name in MATHJAX_MACROS else found[0]


def depth(markup: str) -> int:
    """How deep the tags of `markup` nest at most, counted in one pass over it (never less than a browser would
    nest them: a tag a browser closes by itself counts as open)."""
    deepest = level = 0
    for piece in markup.split("<")[1:]:
        if piece.startswith("/"):
            level = max(level - 1, 0)
        elif (name := OPENING_TAG.match(piece)) and name[0].lower() not in VOID_TAGS:
            if not piece.split(">", 1)[0].endswith("/"):
                level += 1
                deepest = max(deepest, level)
    return deepest


def as_text(markup: str) -> str:
    note = f"[lrcourse shows this markup as text: its tags nest more than {DEPTH_LIMIT} deep.]\n"
    return f'<pre class="lrcourse-removed" style="white-space: pre-wrap">{html.escape(note + markup)}</pre>'


def clean_html(markup: str) -> str:
    """HTML with nothing a browser would run: ammonia's allow-list, links only to other pages by their full http(s)
    address, mail addresses and places in the page, each opening in a new tab; as text if nested too deep."""
    if depth(markup) > DEPTH_LIMIT:
        return as_text(markup)
    cleaned = nh3.clean(
        markup,
        url_schemes=URL_SCHEMES | {"data"},
        clean_content_tags={"script", "style"},
        attribute_filter=_raster_images_only,
        # no Referer on a link a student wrote: jupyter_server refuses /files/ and /nbconvert/ a request without one
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},  # never in the frame of the page it is on
    )
    return inert_maths(cleaned)  # after nh3, which turns character references into the characters


def _raster_images_only(tag: str, attribute: str, value: str) -> str | None:
    """An image's source only as a data: URL of a raster format (an embedded plot), data: nowhere else, and no
    address that browsers read as another host's without a scheme (two slashes, either a backslash) or as this
    machine, judged as browsers read it (as_browsers_read)."""
    if attribute not in URL_ATTRIBUTES:
        return value
    address = as_browsers_read(value)
    if address is None:
        return None
    if tag == "img" and attribute == "src":
        return value if RASTER_DATA.match(address) else None
    if attribute == "href":  # <a>, and <area> too: a link leads only to another page by its full address
        return value if LINK_TARGET.match(address) and not on_this_machine(address) else None
    if address.lower().startswith("data:") or address.startswith("//"):
        return None
    scheme = SCHEME.match(address)  # nh3 checks the schemes of the attributes it knows as URLs only (not cite)
    if scheme and scheme[1].lower() not in URL_SCHEMES:
        return None
    return None if scheme and on_this_machine(address) else value


def as_browsers_read(value: str) -> str | None:
    """An attribute's address as browsers parse it (WHATWG URL): without the tabs and newlines they drop and the
    spaces and NULs around it, with every backslash a slash (browsers read `\\` as `/` in http(s) addresses and
    in relative ones, so `http://127.0.0.1:8888\\a@evil.com/../logout` is this machine's /logout, where Python's
    urlsplit sees the host evil.com); None if a control character is left, which no honest address holds."""
    address = re.sub(r"[\t\n\r]", "", value).strip("\x00 ")
    if any(ord(character) < 0x20 for character in address):
        return None
    scheme = SCHEME.match(address)
    if scheme is None or scheme[1].lower() in SPECIAL_SCHEMES:
        address = address.replace("\\", "/")
    return address


def on_this_machine(address: str) -> bool:
    """Whether a full http(s) address (as as_browsers_read gives it) names this machine: localhost, a loopback or
    unspecified address, in any spelling browsers accept (`127.1`, `0x7f.0.0.1`, `[::1]`), also an IPv4 one
    inside an IPv6 address (`[::ffff:127.0.0.1]`, which a dual-stack socket connects to 127.0.0.1). A host that
    is not ASCII once unquoted counts as this machine: browsers map it by UTS 46 with current Unicode, which no
    Python codec does (Chromium reads `ₗₒᶜₐₗₕₒₛₜ` as localhost, segmented digits `🯱🯲🯷` as 127, and drops
    characters such as variation selectors inside a host; Python's idna codec, IDNA 2003, keeps them), so an
    honest link to an international name is written in its xn-- form. A NUL or other control character in a
    host is no honest link either (socket.inet_aton refuses it with a ValueError)."""
    try:
        host = unquote(urlsplit(address).hostname or "")
    except ValueError:  # an unbalanced [ in the host: no honest link
        return True
    if not host.isascii() or any(ord(character) < 0x20 or ord(character) == 0x7F for character in host):
        return True
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return any(_local(ip) for ip in _with_embedded_ipv4(ipaddress.ip_address(host)))
    except ValueError:
        pass
    try:  # the IPv4 forms browsers still parse (hex, octal, fewer parts), as inet_aton does
        first = socket.inet_aton(host)[0]
    except (OSError, ValueError):  # not an IPv4 address; ValueError for a NUL, which the check above keeps out
        return False
    return first in (0, 127)


def _local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback or unspecified; for IPv4 all of 0/8 and 127/8, as the inet_aton forms are judged."""
    return ip.packed[0] in (0, 127) if ip.version == 4 else ip.is_loopback or ip.is_unspecified


def _with_embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """`ip` and the IPv4 addresses an IPv6 one carries: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
    translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 and both of Teredo's."""
    if ip.version == 4:
        return [ip]
    found = [ip, ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if int(ip) >> 32 in EMBEDDING_PREFIXES:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in found if address is not None]


def clean_svg(markup: str) -> str:
    """An SVG image with its drawing kept and nothing a browser would run (no script, handler, link); an image
    nested too deep is shown as its text."""
    if depth(markup) > DEPTH_LIMIT:
        return as_text(markup)
    attributes = {tag: SVG_ATTRIBUTES for tag in SVG_TAGS}
    cleaned = nh3.clean(
        markup,
        tags=SVG_TAGS,
        attributes=attributes,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style", "foreignObject"},
        attribute_filter=_local_paint_only,
        link_rel=None,
    )
    return inert_maths(cleaned)


def _local_paint_only(tag: str, attribute: str, value: str) -> str | None:
    """A fill, stroke, clip or stop colour only as a colour or a place in the image (SAFE_PAINT)."""
    return value if attribute not in PAINT_ATTRIBUTES or SAFE_PAINT.fullmatch(value) else None
