"""The rows' time landmarks on a photographed page. Lead separators read between the trace rows
(`grid.gap_separators`): a photo's thin separator lines are blurred wider and fainter than its trace, and
on a page whose x bends they lie further from their places than the rows' own search reaches; the gaps
between the rows show them all the same. A row's end is its trace's, not a vertical line beyond it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inference import layout as L
from inference.grid import find_grid, gap_separators, ink_map, pulse_shapes
from training.page_render import render_random_page

BEND = 30.0  # px: how far the middle of the page moves left


def _bend(image: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The page with its x bent (a column at x shows what was at x + BEND sin(pi x / W)), blurred as a
    phone photo blurs it, and where the three separators then lie."""
    h, w = image.shape[:2]
    xs = np.arange(w, dtype=np.float32)
    shift = BEND * np.sin(np.pi * xs / w)
    map_x = np.broadcast_to(xs + shift, (h, w)).astype(np.float32)
    map_y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)).astype(np.float32)
    bent = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    bent = cv2.GaussianBlur(bent, (0, 0), 2.5)
    places = [float(np.interp(s, xs + shift, xs)) for s in L.SEPARATOR_X]
    return bent, places


@pytest.fixture(scope="module")
def bent_page():
    return _bend(render_random_page(3).image)


def test_separators_found_in_the_gaps_far_from_their_places(bent_page):
    page, places = bent_page
    assert min(abs(p - s) for p, s in zip(places, L.SEPARATOR_X)) > 20  # beyond the rows' own search
    lines = gap_separators(page)
    assert all(line is not None for line in lines)
    for line, x in zip(lines, places):
        assert abs(line.x_at(L.BASELINE_Y[1]) - x) < 1.0
        assert abs(line.lean) < 0.005


def test_the_grid_times_each_row_by_them(bent_page):
    """Rows 0-2 get a landmark at each separator where it is on the bent page; the strip, whose own
    start and end are found, keeps its own two."""
    page, places = bent_page
    grid = find_grid(page, ink_map(page))
    for row in range(3):
        marks = dict((round(t, 3), x) for x, t in grid.row_marks[row])
        for k, x in enumerate(places):
            t = round((L.SEPARATOR_X[k] - L.T0_X) / L.PX_PER_S, 3)
            assert abs(marks[t] - x) < 1.5, (row, k)
    sep_t = {round((x - L.T0_X) / L.PX_PER_S, 3) for x in L.SEPARATOR_X}
    assert not sep_t & {round(t, 3) for _, t in grid.row_marks[3]}
    # the time printed at a separator's column comes back as that separator's time
    t_mid = grid.time_of(1, np.array([places[1]]))[0]
    assert abs(t_mid - (L.SEPARATOR_X[1] - L.T0_X) / L.PX_PER_S) < 0.01


def test_no_line_no_separator_and_a_pen_is_not_one(bent_page):
    page, places = bent_page
    blank = page.copy()
    paper = np.median(page[450:500, 300:400].reshape(-1, 3), axis=0).astype(np.uint8)
    for x in places:  # the lines painted out between the rows
        for r in (0, 1):
            ya, yb = int(L.BASELINE_Y[r] + 0.4 * L.PX_PER_MV), int(L.BASELINE_Y[r + 1] - 0.4 * L.PX_PER_MV)
            blank[ya:yb, int(x) - 8:int(x) + 9] = paper
    assert gap_separators(blank) == [None, None, None]
    # a pen lying across both gaps near the first separator's place: dark, but not one vertical line
    pen = blank.copy()
    cv2.line(pen, (int(places[0]) - 60, 380), (int(places[0]) + 60, 720), (40, 40, 60), 3)
    assert gap_separators(pen)[0] is None


def test_a_line_beyond_the_rows_ends_is_not_their_end():
    """On a photo registered a little narrow, the red rectangle round the grid stands a few pixels past
    the rows' ends, inside the window where each row's end is looked for: the trace ends where it does."""
    page = render_random_page(1).image.copy()
    x_end = L.T0_X + L.DURATION_S * L.PX_PER_S
    cv2.line(page, (int(x_end) + 12, 250), (int(x_end) + 12, 1050), (90, 60, 60), 2)
    grid = find_grid(page, ink_map(page))
    for row in range(4):
        assert abs(grid.time_of(row, np.array([x_end]))[0] - L.DURATION_S) < 0.01, row


def _faded_blur(page: np.ndarray, sigma: float) -> np.ndarray:
    """A photo's blur at half the scan's resolution, the ink faded to 60 %."""
    b = cv2.GaussianBlur(page, (0, 0), sigma).astype(np.float32)
    return (255.0 - (255.0 - b) * 0.6).astype(np.uint8)


def _registered_upside_down(page: np.ndarray) -> np.ndarray:
    """The page turned 180 degrees and moved so that its rows lie on the layout's rows and its rows' ends
    where their starts belong: what a photo rectified the wrong way up looks like to the grid."""
    turned = page[::-1, ::-1]  # x -> W - 1 - x, y -> H - 1 - y; then moved by (sx, sy):
    sx = int(round(2 * L.T0_X + L.DURATION_S * L.PX_PER_S - (L.PAGE_W - 1)))  # x -> T0_X + x_end - x
    sy = int(round(L.BASELINE_Y[0] + L.BASELINE_Y[3] - (L.PAGE_H - 1)))  # row r's zero line -> row 3 - r's
    assert sx > 0 and sy > 0
    out = np.full_like(turned, 255)
    out[sy:, sx:] = turned[:-sy, :-sx]
    return out


def test_blurred_pulses_still_show_which_way_up():
    """Pulses blurred until `_pulse` cannot measure them (their strokes run together): their shape still
    stands at every row's start, and on the page registered upside down at the rows' ends, turned."""
    from inference.reading import _pulse_shapes_upright

    page = _faded_blur(render_random_page(2).image, 5.0)
    grid = find_grid(page, ink_map(page))
    assert grid.scale_source != "calibration" and not grid.pulses  # too blurred to measure
    assert pulse_shapes(page) == (4, 0)
    assert _pulse_shapes_upright(page, grid)
    flipped = _registered_upside_down(page)
    upright, turned = pulse_shapes(flipped)
    assert upright == 0 and turned >= 3
    assert not _pulse_shapes_upright(flipped, find_grid(flipped, ink_map(flipped)))


def test_a_faint_photos_flat_strokes_are_followed():
    """Blurred along y (a shaky hand), a page's thin flat strokes fade to a third of the QRS's darkness
    and under the trace mask's level: the rows are followed at the lower level, not refused untraced."""
    import inference.digitize as D

    page = cv2.filter2D(render_random_page(4).image, -1, np.ones((17, 1), np.float32) / 17)
    grid = find_grid(page, ink_map(page))
    assert D._row_cover(D.trace_mask(page[..., 0]), grid) < D.FAINT_COVER
    assert len(D.digitize(page, grid, photo=True).traced_leads) == 12
