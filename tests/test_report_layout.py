"""Figures as a careful author would publish them: nothing cut off, nothing covering the data."""

import numpy as np

from nnstudy.report._mosaic import Tile, mosaic_figure


def _inside(fig, text) -> bool:
    box, page = text.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    return box.x0 >= page.x0 and box.x1 <= page.x1 and box.y0 >= page.y0 and box.y1 <= page.y1


def test_a_long_title_over_a_few_tiles_is_wrapped_inside_the_figure():
    tiles = [Tile(np.zeros((28, 28)), f"unit {i}") for i in range(4)]
    title = "first-layer weights, best configuration: activation=sigmoid, norm=none (seed 0)"
    fig = mosaic_figure(tiles, 2, title, 100)
    assert fig._suptitle.get_text() == ("first-layer weights, best configuration:\n"
                                        "activation=sigmoid, norm=none (seed 0)")
    assert _inside(fig, fig._suptitle)
    wide = mosaic_figure(tiles * 4, 8, title, 100)  # room enough: one line, as before
    assert wide._suptitle.get_text() == title and _inside(wide, wide._suptitle)
