"""Pictures of one key: its history, its test window and its forecast, as PNG.

Frames follow the package's convention: history and actuals have columns
``ds`` (dates) and ``y``; forecasts have ``ds`` and ``yhat``, and optionally
``yhat_lower`` and ``yhat_upper`` for the interval band.

The pictures are drawn with Pillow alone, on images and fonts made for each
call: nothing is shared between calls and nothing global changes, so Spark
workers may draw in several threads at once. Text uses the font shipped inside
Pillow; characters it lacks (most non-Latin scripts) are drawn as empty boxes.
Shapes are drawn without smoothing in the colors of a small palette, text is
smoothed in greys, and the PNG is written as a palette image with light
compression: a picture takes a few milliseconds.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

#: History points shown before a forecast unless told otherwise.
DEFAULT_HISTORY_POINTS = 365

_ACTUAL_COLOR = "#1f1f1f"
_FORECAST_COLOR = "#1565c0"
_TEST_COLOR = "#e65100"

_WIDTH = 1000
_EXECUTION_HEIGHT = 750
_FORECAST_HEIGHT = 450

_RGB = tuple[int, int, int]
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _rgb(color: str) -> _RGB:
    red, green, blue = ImageColor.getrgb(color)[:3]
    return red, green, blue


def _blend(color: str, alpha: float) -> _RGB:
    """Return ``color`` seen with opacity ``alpha`` over white."""
    red, green, blue = (round(alpha * c + (1 - alpha) * 255) for c in _rgb(color))
    return red, green, blue


# The picture is drawn in palette indices: these colors first, then unused
# entries, then the greys of the text, from white to black, at the very end.
_WHITE, _INK, _ACTUAL, _FORECAST, _TEST, _FAINT, _BAND, _SHADE, _GRID, _EDGE = range(10)
_COLORS: tuple[_RGB, ...] = (
    (255, 255, 255),
    (0, 0, 0),
    _rgb(_ACTUAL_COLOR),
    _rgb(_FORECAST_COLOR),
    _rgb(_TEST_COLOR),
    _blend(_ACTUAL_COLOR, 0.5),
    _blend(_FORECAST_COLOR, 0.2),
    _blend(_TEST_COLOR, 0.07),
    _blend("#b0b0b0", 0.3),
    _rgb("#cccccc"),
)
_GREYS = 32
#: Colors a legend may cover: they carry no data.
_BACKGROUND = frozenset({_WHITE, _GRID, _SHADE})

_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_SECOND = 10**9
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
#: Date steps from the finest to the coarsest, as (kind, step, mean length in
#: ns): "fixed" steps count from 1970-01-01, "monthday" steps fall on the days
#: 1, 8, 15, 22 (step 7) or 1, 15 (step 14) of each month, "month" and "year"
#: steps on the months or years that the step divides.
_DATE_STEPS: tuple[tuple[str, int, float], ...] = (
    *(("fixed", s * _SECOND, s * _SECOND) for s in (1, 2, 5, 10, 15, 30)),
    *(("fixed", m * _MINUTE, m * _MINUTE) for m in (1, 2, 5, 10, 15, 30)),
    *(("fixed", h * _HOUR, h * _HOUR) for h in (1, 2, 3, 6, 12)),
    *(("fixed", d * _DAY, d * _DAY) for d in (1, 2)),
    ("monthday", 7, 7 * _DAY),
    ("monthday", 14, 15 * _DAY),
    *(("month", m, m * 30.44 * _DAY) for m in (1, 2, 3, 6)),
    *(
        ("year", y, y * 365.25 * _DAY)
        for y in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    ),
)


def plot_execution(
    history: pd.DataFrame,
    test_actual: pd.DataFrame | None,
    test_forecast: pd.DataFrame | None,
    forecast: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    winner: str | None = None,
    history_points: int | None = DEFAULT_HISTORY_POINTS,
) -> str:
    """Draw an execution of one key as a PNG of two panels.

    The upper panel shows the winner's forecast of the test window against the
    actuals, after a stretch of the history as long as the window; the lower
    panel shows the final forecast after the history, with its interval band
    when the forecast has bounds.

    Parameters
    ----------
    history
        The key's series (``ds``, ``y``).
    test_actual
        The actuals of the test window (``ds``, ``y``), or None when the
        execution scored nothing (the upper panel then says so).
    test_forecast
        The winner's forecast of the same dates (``ds``, ``yhat``), or None.
    forecast
        The final forecast (``ds``, ``yhat``, optional bounds).
    path
        The PNG file to write; its folder must exist.
    title
        The figure's title, such as the key.
    winner
        The winner's name, shown in the legend of the upper panel.
    history_points
        The last points of history shown in the lower panel; None shows all.

    Returns
    -------
    str
        ``path``, as a string.

    Raises
    ------
    ValueError
        When a frame lacks its columns.
    """
    history = _dated(history, ("ds", "y"), "history")
    forecast = _dated(forecast, ("ds", "yhat"), "forecast")

    top = _Panel("test window")
    if test_actual is not None and test_forecast is not None:
        actual = _dated(test_actual, ("ds", "y"), "test_actual")
        predicted = _dated(test_forecast, ("ds", "yhat"), "test_forecast")
        before = history[history["ds"] < actual["ds"].min()].tail(len(actual))
        top.add_line(before, "y", _FAINT, width=1)
        top.add_line(actual, "y", _ACTUAL, width=1, label="actual")
        top.add_line(
            predicted,
            "yhat",
            _TEST,
            width=2,
            label=f"{winner or 'winner'} on the test window",
            markers=True,
        )
        dates = _dates(actual)
        if np.isfinite(dates).any():
            top.shades.append((float(np.nanmin(dates)), float(np.nanmax(dates))))
    else:
        top.message = "no test window in this execution"

    bottom = _forecast_panel(history, forecast, history_points, "forecast")
    return _render([top, bottom], _EXECUTION_HEIGHT, title, path)


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    history_points: int | None = DEFAULT_HISTORY_POINTS,
) -> str:
    """Draw a key's history followed by its forecast as a PNG.

    Parameters
    ----------
    history
        The key's series (``ds``, ``y``); it may be empty.
    forecast
        The forecast (``ds``, ``yhat``, and optionally ``yhat_lower`` and
        ``yhat_upper``, drawn as a band when present and not all null).
    path
        The PNG file to write; its folder must exist.
    title
        The figure's title, such as the key.
    history_points
        The last points of history shown; None shows all.

    Returns
    -------
    str
        ``path``, as a string.

    Raises
    ------
    ValueError
        When a frame lacks its columns.
    """
    history = _dated(history, ("ds", "y"), "history")
    forecast = _dated(forecast, ("ds", "yhat"), "forecast")
    panel = _forecast_panel(history, forecast, history_points, None)
    return _render([panel], _FORECAST_HEIGHT, title, path)


# --------------------------------------------------------------------------
# What a panel shows
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    x: np.ndarray
    y: np.ndarray
    color: int
    width: int
    markers: bool


@dataclass(frozen=True)
class _Band:
    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass
class _Panel:
    """The content of one panel, in data units: dates as ns, values as floats."""

    title: str | None
    lines: list[_Line] = field(default_factory=list)
    bands: list[_Band] = field(default_factory=list)
    shades: list[tuple[float, float]] = field(default_factory=list)
    #: (label, palette index, kind) with kind "line", "marker" or "patch".
    legend: list[tuple[str, int, str]] = field(default_factory=list)
    message: str | None = None

    def add_line(
        self,
        frame: pd.DataFrame,
        column: str,
        color: int,
        *,
        width: int,
        label: str | None = None,
        markers: bool = False,
    ) -> None:
        self.lines.append(
            _Line(_dates(frame), _values(frame[column]), color, width, markers)
        )
        if label is not None:
            self.legend.append((label, color, "marker" if markers else "line"))

    def x_values(self) -> np.ndarray:
        parts = [line.x[np.isfinite(line.y)] for line in self.lines]
        parts += [band.x[np.isfinite(band.lower + band.upper)] for band in self.bands]
        parts += [np.asarray(shade, dtype=float) for shade in self.shades]
        return _finite(parts)

    def y_values(self) -> np.ndarray:
        parts = [line.y[np.isfinite(line.x)] for line in self.lines]
        parts += [band.lower for band in self.bands]
        parts += [band.upper for band in self.bands]
        return _finite(parts)


def _forecast_panel(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    history_points: int | None,
    title: str | None,
) -> _Panel:
    panel = _Panel(title)
    shown = history if history_points is None else history.tail(history_points)
    if not shown.empty:
        panel.add_line(shown, "y", _ACTUAL, width=1, label="history")
    if _has_band(forecast):
        lower, upper = _values(forecast["yhat_lower"]), _values(forecast["yhat_upper"])
        panel.bands.append(_Band(_dates(forecast), lower, upper))
        panel.legend.append(("interval", _BAND, "patch"))
    panel.add_line(forecast, "yhat", _FORECAST, width=2, label="forecast")
    return panel


def _has_band(forecast: pd.DataFrame) -> bool:
    if "yhat_lower" not in forecast or "yhat_upper" not in forecast:
        return False
    lower = pd.to_numeric(forecast["yhat_lower"], errors="coerce")
    upper = pd.to_numeric(forecast["yhat_upper"], errors="coerce")
    return bool(np.isfinite(lower).any() and np.isfinite(upper).any())


def _dated(frame: Any, needed: tuple[str, ...], name: str) -> pd.DataFrame:
    """Check the columns of ``frame`` and return it sorted, with real dates."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"{name} must be a pandas DataFrame with columns {list(needed)}, "
            f"got {type(frame).__name__}"
        )
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {missing}; it has {list(frame.columns)}. "
            f"Rename its columns to {list(needed)}"
        )
    dates = frame["ds"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    frame = frame.assign(ds=dates)
    if not dates.is_monotonic_increasing:
        frame = frame.sort_values("ds")
    return frame.reset_index(drop=True)


def _dates(frame: pd.DataFrame) -> np.ndarray:
    """Return the wall-clock dates of ``frame`` as float ns, NaN for no date."""
    dates = frame["ds"]
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    stamps = dates.to_numpy(dtype="datetime64[ns]")
    return np.where(np.isnat(stamps), np.nan, stamps.astype(np.int64).astype(float))


def _values(column: pd.Series) -> np.ndarray:
    """Return ``column`` as floats, NaN for anything not a number of an axis.

    Beyond 1e300 in size, a value is as missing: no axis spans such numbers.
    """
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(numbers) <= 1e300, numbers, np.nan)


def _finite(parts: list[np.ndarray]) -> np.ndarray:
    values = np.concatenate([np.ravel(part) for part in parts]) if parts else []
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


# --------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------


def _nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Return 4 to ``most`` round values that cover ``low`` to ``high``.

    The step is 1, 2, 2.5 or 5 times a power of ten, the smallest such step
    that covers the range with at most ``most`` ticks; the first and last
    ticks enclose the range. An empty range is widened by a tenth of its
    value (or by 1 around zero).
    """
    low, high = min(low, high), max(low, high)
    if high == low:
        pad = abs(low) / 10 or 1.0
        low, high = low - pad, high + pad
    base = math.floor(math.log10((high - low) / most))
    for exponent in range(base - 1, base + 3):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0**exponent
            first = math.floor(low / step + 1e-9)
            last = math.ceil(high / step - 1e-9)
            if last - first + 1 <= most:
                digits = max(0, -exponent) + (mantissa == 2.5)
                return [round(k * step, digits) for k in range(first, last + 1)]
    raise AssertionError("unreachable: a step of 10**(base + 2) always fits")


def _value_labels(ticks: list[float]) -> list[str]:
    """Label ``ticks`` compactly: ``2.5k``, ``12M``, ``0.05``, never ``-0``."""
    biggest = max((abs(t) for t in ticks), default=0.0)
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else biggest or 1.0
    scale, suffix = 1.0, ""
    if biggest >= 1e4:
        power = min(int(math.log10(biggest) // 3), 4)
        scale, suffix = 1000.0**power, " kMGT"[power]
    digits = _decimals(step / scale)
    labels = []
    for tick in ticks:
        if tick == 0:
            labels.append("0")
        elif digits > 6:
            labels.append(f"{tick:.3g}")
        else:
            text = f"{tick / scale + 0.0:.{digits}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            labels.append(text + suffix)
    return labels


def _decimals(step: float) -> int:
    """Return how many decimals print ``step`` exactly (at most 10)."""
    for digits in range(10):
        if abs(round(step, digits) - step) <= 1e-9 * step:
            return digits
    return 10


def _date_ticks(start: Any, end: Any, most: int = 8) -> list[tuple[pd.Timestamp, str]]:
    """Return round dates between ``start`` and ``end`` with their labels.

    The step is the finest of seconds, minutes, hours, days, weeks, months or
    years that gives at most ``most`` ticks. Labels say only what changes:
    ``06:00`` with the day (``8 Jan``) when it changes, ``8 Jan`` with the
    year on the first tick and when it changes, ``Feb`` with the year on the
    first tick and on each January, or the year alone.
    """
    first, last = sorted((pd.Timestamp(start).value, pd.Timestamp(end).value))
    for kind, step, length in _DATE_STEPS:
        if last - first > length * (most + 1):
            continue
        ticks = _date_steps(kind, step, first, last)
        if len(ticks) <= most:
            return _date_labels(kind, step, ticks)
    return []


def _date_steps(kind: str, step: int, first: int, last: int) -> np.ndarray:
    """Return the dates of one kind of step between ``first`` and ``last`` ns."""
    low, high = np.datetime64(first, "ns"), np.datetime64(last, "ns")
    if kind == "fixed":
        ticks = np.arange(-(-first // step) * step, last + 1, step)
        return ticks.astype("datetime64[ns]")
    if kind == "year":
        years = np.arange(low.astype("datetime64[Y]"), high.astype("datetime64[Y]") + 1)
        ticks = years[(years.astype(np.int64) + 1970) % step == 0]
    else:
        months = np.arange(
            low.astype("datetime64[M]"), high.astype("datetime64[M]") + 1
        )
        if kind == "month":
            ticks = months[months.astype(np.int64) % step == 0]
        else:
            days = np.arange(0, 28, step)
            ticks = (months.astype("datetime64[D]")[:, None] + days).ravel()
    ticks = ticks.astype("datetime64[ns]")
    return ticks[(ticks >= low) & (ticks <= high)]


def _date_labels(
    kind: str, step: int, ticks: np.ndarray
) -> list[tuple[pd.Timestamp, str]]:
    labels: list[tuple[pd.Timestamp, str]] = []
    previous: pd.Timestamp | None = None
    for stamp in pd.DatetimeIndex(ticks):
        month = _MONTHS[stamp.month - 1]
        day = f"{stamp.day} {month}"
        if kind == "year":
            text = str(stamp.year)
        elif kind == "month":
            new_year = previous is None or stamp.month == 1
            text = f"{month} {stamp.year}" if new_year else month
        elif kind == "monthday" or step >= _DAY:
            new_year = previous is None or stamp.year != previous.year
            text = f"{day} {stamp.year}" if new_year else day
        else:
            clock = stamp.strftime("%H:%M:%S" if step < _MINUTE else "%H:%M")
            if previous is not None and stamp.normalize() == previous.normalize():
                text = clock
            elif stamp == stamp.normalize():
                text = day
            else:
                text = f"{day} {clock}"
        labels.append((stamp, text))
        previous = stamp
    return labels


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    title: _Font
    panel: _Font
    tick: _Font

    @classmethod
    def load(cls) -> _Fonts:
        """Load the font shipped inside Pillow at the sizes of a picture."""
        return cls(*(ImageFont.load_default(size=size) for size in (16, 14, 12)))


@dataclass(frozen=True)
class _Scale:
    """Where a panel's data fall: the limits of both axes and their ticks."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]

    @classmethod
    def of(cls, panel: _Panel) -> _Scale | None:
        """Return the scale of ``panel``, or None when it has nothing to draw."""
        xs, ys = panel.x_values(), panel.y_values()
        if panel.message is not None or not xs.size or not ys.size:
            return None
        x_low, x_high = float(xs.min()), float(xs.max())
        pad = (x_high - x_low) * 0.02 or float(_DAY)
        x_low, x_high = x_low - pad, x_high + pad
        dates = _date_ticks(pd.Timestamp(int(x_low)), pd.Timestamp(int(x_high)))
        values = _nice_ticks(float(ys.min()), float(ys.max()))
        return cls(
            x_low,
            x_high,
            values[0],
            values[-1],
            [(float(stamp.value), text) for stamp, text in dates],
            list(zip(values, _value_labels(values), strict=True)),
        )


class _Canvas:
    """A picture being drawn: shapes in palette indices, text as coverage.

    Shapes are drawn without smoothing, so each pixel holds exactly one color
    of the palette. Text is drawn apart, smoothed, and laid over the shapes at
    the end in the palette's greys: it is meant for white ground.
    """

    def __init__(self, height: int) -> None:
        self.shapes = Image.new("L", (_WIDTH, height), _WHITE)
        self.draw = ImageDraw.Draw(self.shapes)
        self._text = Image.new("L", (_WIDTH, height), 0)
        self._writer = ImageDraw.Draw(self._text)
        self.fonts = _Fonts.load()

    def text(
        self, xy: tuple[float, float], text: str, font: _Font, anchor: str
    ) -> None:
        """Write ``text`` at ``xy``, placed by a Pillow ``anchor`` such as "mm"."""
        self._writer.text(xy, text, font=font, fill=255, anchor=anchor)

    def width(self, text: str, font: _Font) -> float:
        """Return how many pixels ``text`` takes in ``font``."""
        return self._writer.textlength(text, font=font)

    def save(self, path: str) -> None:
        """Lay the text over the shapes and write the PNG to ``path``."""
        # The greys take the last indices of the palette, above every color of
        # the shapes, and no text is index 0: the larger index of the two
        # images is the text's grey where there is text, the shape elsewhere.
        first = 256 - _GREYS
        greys = [0] + [first + round(v * (_GREYS - 1) / 255) for v in range(1, 256)]
        picture = ImageChops.lighter(self.shapes, self._text.point(greys))
        palette = [channel for color in _COLORS for channel in color]
        palette += [255] * 3 * (first - len(_COLORS))
        for step in range(_GREYS):
            palette += [255 - round(step * 255 / (_GREYS - 1))] * 3
        picture.putpalette(palette)
        picture.save(path, format="PNG", compress_level=1)


def _render(
    panels: list[_Panel],
    height: int,
    title: str | None,
    path: str | os.PathLike[str],
) -> str:
    """Draw ``panels`` one above the other under ``title`` and write the PNG."""
    canvas = _Canvas(height)
    fonts = canvas.fonts
    if title:
        text = _fit(canvas, title, fonts.title, _WIDTH - 24)
        canvas.text((_WIDTH / 2, 10), text, fonts.title, "ma")

    # The panels share a left edge wide enough for every value label.
    scales = [_Scale.of(panel) for panel in panels]
    labels = [text for scale in scales if scale for _, text in scale.y_ticks]
    label_width = max((canvas.width(text, fonts.tick) for text in labels), default=0)
    left, right = 16 + math.ceil(label_width) + 8, _WIDTH - 20
    top, slot = 40, (height - 40 - 6) / len(panels)
    for index, (panel, scale) in enumerate(zip(panels, scales, strict=True)):
        upper = top + index * slot + (26 if panel.title else 6)
        lower = top + (index + 1) * slot - 30
        box = (left, round(upper), right, round(lower))
        _draw_panel(canvas, panel, scale, box)

    target = os.fspath(path)
    canvas.save(target)
    logger.debug("plot written to %s", target)
    return target


def _draw_panel(
    canvas: _Canvas,
    panel: _Panel,
    scale: _Scale | None,
    box: tuple[int, int, int, int],
) -> None:
    draw, fonts = canvas.draw, canvas.fonts
    left, top, right, bottom = box
    middle = (left + right) / 2
    if panel.title:
        canvas.text((middle, top - 6), panel.title, fonts.panel, "md")
    if scale is None:
        message = panel.message or "nothing to draw"
        canvas.text((middle, (top + bottom) / 2), message, fonts.panel, "mm")
        draw.rectangle(box, outline=_INK)
        return

    # Data units to pixels; values keep 5 px off the frame's top and bottom.
    x_ratio = (right - left) / (scale.x_high - scale.x_low)
    y_ratio = (bottom - top - 10) / (scale.y_high - scale.y_low)

    def at_x(x: Any) -> np.ndarray:
        return np.rint(left + (np.asarray(x) - scale.x_low) * x_ratio)

    def at_y(y: Any) -> np.ndarray:
        return np.rint(bottom - 5 - (np.asarray(y) - scale.y_low) * y_ratio)

    for start, end in panel.shades:
        draw.rectangle((at_x(start), top, at_x(end), bottom), fill=_SHADE)
    for band in panel.bands:
        _draw_band(draw, at_x(band.x), at_y(band.lower), at_y(band.upper))
    for value, _ in scale.y_ticks:
        draw.line((left, at_y(value), right, at_y(value)), fill=_GRID)
    for line in panel.lines:
        _draw_line(draw, at_x(line.x), at_y(line.y), line)
    draw.rectangle(box, outline=_INK)

    for value, text in scale.y_ticks:
        y = float(at_y(value))
        draw.line((left - 4, y, left - 1, y), fill=_INK)
        canvas.text((left - 7, y), text, fonts.tick, "rm")

    # Date labels, each skipped when it would overlap the one before.
    end = -math.inf
    for value, text in scale.x_ticks:
        x = float(at_x(value))
        draw.line((x, bottom + 1, x, bottom + 4), fill=_INK)
        width = canvas.width(text, fonts.tick)
        start = min(max(x - width / 2, 2), _WIDTH - 2 - width)
        if start >= end + 8:
            canvas.text((start, bottom + 7), text, fonts.tick, "la")
            end = start + width

    if panel.legend:
        _draw_legend(canvas, panel.legend, box)


def _runs(mask: np.ndarray) -> np.ndarray:
    """Return the (start, stop) index pairs of the runs of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return edges.reshape(-1, 2)


def _draw_line(
    draw: ImageDraw.ImageDraw, xs: np.ndarray, ys: np.ndarray, line: _Line
) -> None:
    """Draw ``line``, broken where a value or a date is missing."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    for start, stop in _runs(finite):
        points = np.column_stack((xs[start:stop], ys[start:stop])).ravel().tolist()
        if stop - start > 1:
            draw.line(points, fill=line.color, width=line.width)
        elif not line.markers:
            x, y = points
            draw.rectangle((x - 2, y - 2, x + 2, y + 2), fill=line.color)
    if line.markers:
        for x, y in zip(xs[finite].tolist(), ys[finite].tolist(), strict=True):
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=line.color)


def _draw_band(
    draw: ImageDraw.ImageDraw, xs: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> None:
    """Fill between ``lower`` and ``upper``, broken where a bound is missing."""
    finite = np.isfinite(xs) & np.isfinite(lower) & np.isfinite(upper)
    for start, stop in _runs(finite):
        if stop - start == 1:
            x, high, low = xs[start], upper[start], lower[start]
            draw.rectangle((x - 1, min(high, low), x + 1, max(high, low)), fill=_BAND)
            continue
        run = slice(start, stop)
        edge = np.concatenate(
            (
                np.column_stack((xs[run], upper[run])),
                np.column_stack((xs[run], lower[run]))[::-1],
            )
        )
        draw.polygon(edge.ravel().tolist(), fill=_BAND)


def _draw_legend(
    canvas: _Canvas, entries: list[tuple[str, int, str]], box: tuple[int, int, int, int]
) -> None:
    """Draw the legend in the corner of ``box`` that hides the least data."""
    draw, font = canvas.draw, canvas.fonts.tick
    left, top, right, bottom = box
    text_width = max(canvas.width(label, font) for label, _, _ in entries)
    width, height = round(8 + 26 + 6 + text_width + 8), 6 + 18 * len(entries)
    corners = [
        (right - 8 - width, top + 8),
        (left + 8, top + 8),
        (left + 8, bottom - 8 - height),
        (right - 8 - width, bottom - 8 - height),
    ]
    x, y = min(
        corners, key=lambda c: _ink(canvas.shapes, (*c, c[0] + width, c[1] + height))
    )
    draw.rectangle((x, y, x + width, y + height), fill=_WHITE, outline=_EDGE)
    for row, (label, color, kind) in enumerate(entries):
        middle = y + 3 + 18 * row + 9
        if kind == "patch":
            draw.rectangle((x + 8, middle - 5, x + 34, middle + 5), fill=color)
        else:
            draw.line((x + 8, middle, x + 34, middle), fill=color, width=2)
        if kind == "marker":
            draw.ellipse((x + 18, middle - 3, x + 24, middle + 3), fill=color)
        canvas.text((x + 40, middle), label, font, "lm")


def _ink(shapes: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Count the pixels in ``box`` that show data rather than background."""
    region = shapes.crop(box)
    colors = region.getcolors(256) or []
    return sum(count for count, color in colors if color not in _BACKGROUND)


def _fit(canvas: _Canvas, text: str, font: _Font, width: float) -> str:
    """Shorten ``text`` with an ellipsis until it is at most ``width`` wide."""
    full = canvas.width(text, font)
    if full <= width:
        return text
    text = text[: int(len(text) * width / full) + 1]
    while text and canvas.width(text + "...", font) > width:
        text = text[:-1]
    return text + "..."


__all__ = ["DEFAULT_HISTORY_POINTS", "plot_execution", "plot_forecast"]
