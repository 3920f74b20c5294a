"""Addresses in a student's markup that the instructor's browser would follow or fetch (`markup`): links to this
machine or within the page, and SVG paints by address. tests/test_sanitize.py has the sanitizer's other rules."""

from __future__ import annotations

import html

from lrcourse.grading.browser import sanitize
from lrcourse.grading.browser.markup import clean_html, clean_svg, on_this_machine

from support import hostile_html as hostile


def test_links_to_this_machine_and_within_the_page_are_dropped():
    """F6: a kept `http://127.0.0.1:<port>/logout` logged the instructor out in one click; `#...` links opened the
    whole submission again in a new tab (ids are dropped, so they led nowhere). Links to other sites stay."""
    here = ["http://127.0.0.1:8888/logout", "http://localhost:8888/formgrader", "http://0x7f.1:8888/lab?reset"]
    here += ["http://127.1/", "http://[::1]:8888/", "http://0.0.0.0:8888/", "http://%6c%6fcalhost/", "#top"]
    here += ["http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:8888/logout", "http://app.localhost/"]
    for address in here:
        assert "href" not in clean_html(f'<a href="{address}">x</a>'), address
    for address in ["https://pytorch.org/docs", "http://10.0.0.5/notes", "mailto:ta@example.org"]:
        assert f'href="{address}"' in clean_html(f'<a href="{address}">x</a>'), address


def test_a_link_to_this_machine_is_judged_as_browsers_read_it():
    """Browsers read a backslash as a slash in an http(s) address (WHATWG), so `http://127.0.0.1:8888\\a@evil/..`
    is this machine's server, which Python's urlsplit reads as evil's (F7 logged an instructor out with one such
    click); an IPv6 address holding 127.0.0.1 is loopback too. Gone from a link and from every other address
    attribute; another site's address with a backslash in its path, or an IPv6 one holding another IPv4, stays."""
    for name, href in hostile.LOCAL_LINKS.items():
        for markup in (f'<a href="{href}">x</a>', f'<blockquote cite="{href}">x</blockquote>'):
            assert "127" not in clean_html(markup) and "localhost" not in clean_html(markup), (name, markup)
        assert "href" not in sanitize.markdown2html(f'<a href="{href}">x</a>'), name
    for href in ("https://evil.example\\@127.0.0.1/", "http://[::ffff:8.8.8.8]/a", "https://example.org/a\\b"):
        assert f'href="{href}"' in clean_html(f'<a href="{href}">x</a>'), href
    assert not on_this_machine("http://[2001:db8::7f00:1]/")  # no embedding prefix: another host


def test_a_host_that_is_not_ascii_is_dropped_from_every_address_attribute():
    """F10: Chromium maps a host by UTS 46 with current Unicode, Python's idna codec by IDNA 2003: subscript
    letters (localhost), segmented digits (127), a variation selector or a soft hyphen inside the host, kept by
    the sanitizer, were this machine to the browser. Every host that is not ASCII (also percent-encoded) is
    dropped now; an international name in its xn-- form stays. A NUL in a host (`%00`) is dropped without an
    error inside nh3's filter (socket.inet_aton raised ValueError)."""
    hosts = ["\U0001fbf1\U0001fbf2\U0001fbf7.0.0.1", "\u2097\u2092\u1d9c\u2090\u2097\u2095\u2092\u209b\u209c"]
    hosts += ["local\ufe0fhost", "local\U000e0100host", "loc\u00adalhost", "b\u00fccher.example", "%c3%bc.example"]
    hosts += ["a%00b", "127.0.0.1%00.evil.example"]
    for host in hosts:
        href = f"http://{host}:8888/logout"
        assert on_this_machine(href), host
        for markup in (f'<a href="{href}">x</a>', f'<blockquote cite="{href}">x</blockquote>'):
            assert "href=" not in clean_html(markup) and "cite=" not in clean_html(markup), (host, markup)
    for href in ("http://xn--bcher-kva.example/", "https://pytorch.org/docs"):
        assert not on_this_machine(href) and f'href="{href}"' in clean_html(f'<a href="{href}">x</a>'), href


def test_svg_paints_only_with_colours_and_places_in_the_image_never_an_address():
    """Chromium fetched `fill="url(http://...)"` (and stroke, clip-path) as the page opened (F5); CSS escapes
    spell url() in many ways, so a paint is kept only when it is a colour or `url(#id)` with a fallback colour."""
    kept = ["red", "#1f77b4", "rgb(0, 114, 178)", "none", "currentColor", "url(#fade)", "url('#fade') blue"]
    dropped = ["url(http://evil.example/f.svg)", "url( //evil.example/f )", "\\75 rl(http://evil.example/)"]
    dropped += ["url(#a) url(http://evil.example/)", "rgb(1,2,3) url(data:image/svg+xml,x)", "u\\rl(x)"]
    for attribute in ("fill", "stroke", "clip-path", "stop-color"):
        for value in kept:
            cleaned = clean_svg(f'<svg><rect {attribute}="{value}"/></svg>')
            assert html.unescape(cleaned).count(f'{attribute}="{value}"') == 1, (attribute, value, cleaned)
        for value in dropped:
            assert attribute not in clean_svg(f"<svg><rect {attribute}='{value}'/></svg>"), (attribute, value)
