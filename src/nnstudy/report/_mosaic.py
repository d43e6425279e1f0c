"""A grid of small images (weights, samples) drawn on one axes: one ``imshow`` per tile in its own cell and
its title as text above it. It looks like a grid of subplots but costs one axes instead of one per tile
(64 subplots took about a second of constrained layout and tick set-up per figure)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

GAP = 0.1  # between cells, in tile widths
LINE = 0.14  # one title line at fontsize 7, in tile widths of CELL inches
CELL = 1.3  # inches per tile width
TOP = 0.4  # inches for the figure's title
TITLE_LINE = 0.17  # inches per further line of the title (fontsize 9)


@dataclass(frozen=True)
class Tile:
    image: np.ndarray  # (h, w) or (h, w, 3|4)
    title: str = ""
    cmap: str | None = None  # None for an RGB image
    vmin: float | None = None
    vmax: float | None = None


def mosaic_figure(tiles: list[Tile], cols: int, title: str, dpi: int, cell: float = CELL) -> Figure:
    """Tiles left to right, top to bottom, ``cols`` per row, each cell ``cell`` inches wide, under ``title``;
    the figure is sized to the grid."""
    cols = max(1, min(cols, len(tiles)))
    rows = -(-len(tiles) // cols)
    aspect = max((t.image.shape[0] / t.image.shape[1] for t in tiles), default=1.0)
    head = LINE * max((t.title.count("\n") + 1 for t in tiles if t.title), default=0)
    row_h = head + aspect + GAP
    width, height = cols * (1 + GAP), rows * row_h  # in tile widths
    title = wrap_title(title, 0.95 * width * cell)
    top = TOP + TITLE_LINE * title.count("\n")
    fig = Figure(figsize=(width * cell, height * cell + top), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, height * cell / (height * cell + top)))
    ax.set_axis_off()
    for n, t in enumerate(tiles):
        r, c = divmod(n, cols)
        x0, y0 = c * (1 + GAP) + GAP / 2, r * row_h + head
        ax.imshow(t.image, cmap=t.cmap, vmin=t.vmin, vmax=t.vmax, interpolation="nearest",
                  extent=(x0, x0 + 1, y0 + t.image.shape[0] / t.image.shape[1], y0))
        if t.title:
            ax.text(x0 + 0.5, y0 - 0.02, t.title, ha="center", va="bottom", fontsize=7, linespacing=1.1)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # the first row on top
    ax.set_aspect("auto")
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / (height * cell + top))
    return fig


def wrap_title(title: str, inches: float) -> str:
    """Each line of the title broken to be no wider than ``inches`` at fontsize 9 (a narrow grid of a few tiles
    cut a long title off at both sides)."""
    lines = []
    for line in title.split("\n"):
        width_pt = TextToPath().get_text_width_height_descent(line, FontProperties(size=9), ismath=False)[0]
        chars = len(line) if width_pt <= inches * 72 else max(12, int(len(line) * inches * 72 / width_pt))
        lines += textwrap.wrap(line, chars) or [line]
    return "\n".join(lines)
