"""lrcourse.png: the panels' PNG writer gives the pixels it was handed, as Pillow reads them."""

from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from lrcourse.png import png


def test_an_opaque_image_is_written_as_rgb_with_the_same_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 4), dtype=np.uint8)
    pixels[:, :, 3] = 255
    image = Image.open(BytesIO(png(pixels, dpi=90)))
    assert image.mode == "RGB" and image.size == (50, 30)
    assert np.array_equal(np.asarray(image), pixels[:, :, :3])
    assert [round(d) for d in image.info["dpi"]] == [90, 90]


def test_a_transparent_pixel_keeps_the_alpha_channel():
    pixels = np.full((4, 3, 4), 255, dtype=np.uint8)
    pixels[1, 2] = (10, 20, 30, 0)
    image = Image.open(BytesIO(png(pixels)))
    assert image.mode == "RGBA" and np.array_equal(np.asarray(image), pixels)


def test_anything_but_rgba_bytes_is_refused():
    with pytest.raises(ValueError, match="RGBA"):
        png(np.zeros((4, 3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="RGBA"):
        png(np.zeros((4, 3, 4), dtype=np.float32))
