"""An Agg canvas that keeps the text it has laid out and the glyphs it has rendered, for figures drawn again and again.

A slider panel draws the same words on every move (a legend's entries, a title that changes by a few digits), and
matplotlib (3.11) lays each string out and has FreeType render each glyph anew every time: most of a move's drawing.
Here a string's layout is kept by its font, size, text and shaping options, and a glyph's bitmap by its font, size,
index, transform and sub-pixel position: FreeType renders a glyph moved by whole pixels into the same bitmap, moved
by those pixels, so the drawn pixels are those of `FigureCanvasAgg` (tests/test_plots_widgets.py compares them).
The glyphs are still blended into the canvas one by one, in the same order and colour. Mathtext and TeX go through
matplotlib's own path; text on curves or with effects is drawn by its artist as usual.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.ft2font import RenderMode

LAYOUTS, GLYPHS = 2_000, 20_000  # kept, least recently used dropped first (a glyph is a few hundred bytes)


class _Kept(OrderedDict):
    """A dict of bounded size that drops the least recently used entry."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make, *args):
        """The value kept for `key`, else `make(*args)`, kept."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make(*args)
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class GlyphRenderer(RendererAgg):
    """`RendererAgg` with its text layouts and glyph bitmaps kept across draws (see the module's docstring)."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self.layouts, self.glyphs = _Kept(LAYOUTS), _Kept(GLYPHS)

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        font = self._prepare_font(prop)
        size = prop.get_size_in_points()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        flags = get_hinting_flag()
        key = (font.fname, hash(prop), size, self.dpi, s, flags, _hashable(features), _hashable(language))
        items = self.layouts.get_or(key, _layout, font, s, flags, features, language)
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, ((ft_object, size, index, 0, 1, dx, dy) for ft_object, index, dx, dy in items), []
        )

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        """matplotlib's own (backend_agg, 3.11), with each glyph's bitmap kept by its sub-pixel position."""
        if boxes:  # mathtext's rules: matplotlib draws them
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        flags = get_hinting_flag()
        mode = RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO
        matrices = {}  # by (slant, extend): the same for every glyph of a string
        for font, size, index, slant, extend, dx, dy in glyphs:  # dy is upwards
            matrix = matrices.get((slant, extend))
            if matrix is None:
                rotated = 0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]
                matrix = matrices[slant, extend] = tuple(int(v) for v in rotated.round().ravel())
            # the glyph's origin in FreeType's 26.6 units (y upwards): whole pixels apart, the same bitmap
            ox = round(0x40 * (x + dx * cos - dy * sin))
            oy = round(0x40 * (self.height - y + dx * sin + dy * cos))
            key = (font.fname, size, self.dpi, index, matrix, ox % 0x40, oy % 0x40, flags, mode)
            buffer, left, top = self.glyphs.get_or(
                key, _render, font, size, self.dpi, index, matrix, ox % 0x40, oy % 0x40, flags, mode
            )
            # draw_text_image's y is downwards and the bitmap's bottom side
            self._renderer.draw_text_image(
                buffer, left + ox // 0x40, int(self.height) - (top + oy // 0x40) + buffer.shape[0], 0, gc
            )


def _layout(font, s, flags, features, language) -> list[tuple]:
    """Each glyph of `s` laid out: its font (a fallback's where the font lacks it), index and offset."""
    items = font._layout(s, flags=flags, features=features, language=language)
    return [(item.ft_object, item.glyph_index, item.x, item.y) for item in items]


def _render(font, size, dpi, index, matrix, ox, oy, flags, mode) -> tuple[np.ndarray, int, int]:
    """A glyph's bitmap drawn at the sub-pixel origin (`ox`, `oy`) (26.6 units), with its left and top edges."""
    font.set_size(size, dpi)
    font._set_transform(np.array(matrix).reshape(2, 2), [ox, oy])
    bitmap = font._render_glyph(index, flags, mode)
    buffer = np.array(bitmap.buffer)  # a copy: the font reuses its bitmap
    if mode == RenderMode.MONO:
        buffer *= 0xFF
    return buffer, bitmap.left, bitmap.top


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


class GlyphCanvas(FigureCanvasAgg):
    """A `FigureCanvasAgg` whose renderer keeps its text layouts and glyphs (`GlyphRenderer`)."""

    def get_renderer(self):
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:
            self.renderer = GlyphRenderer(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer
