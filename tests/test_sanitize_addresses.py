"""Addresses in a student's markup that the instructor's browser would follow or fetch (`markup`): links to this
machine or within the page, and SVG paints by address. tests/test_sanitize.py has the sanitizer's other rules."""

from __future__ import annotations

import html

from lrcourse.grading.markup import clean_html, clean_svg


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
