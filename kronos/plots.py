"""Pictures of one key: its history, its test window and its forecast, as PNG.

Frames follow the package's convention: history and actuals have columns
``ds`` (dates) and ``y``; forecasts have ``ds`` and ``yhat``, and optionally
``yhat_lower`` and ``yhat_upper`` for the interval band.

Matplotlib is imported only when a picture is drawn, and figures are drawn on
their own Agg canvas without ``pyplot``: no window opens, no global backend
changes, and Spark workers may draw in several threads at once.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: History points shown before a forecast unless told otherwise.
DEFAULT_HISTORY_POINTS = 365

_ACTUAL_COLOR = "#1f1f1f"
_FORECAST_COLOR = "#1565c0"
_TEST_COLOR = "#e65100"
_DPI = 100


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
    ImportError
        When matplotlib is not installed.
    ValueError
        When a frame lacks its columns.
    """
    history = _dated(history, ("ds", "y"), "history")
    forecast = _dated(forecast, ("ds", "yhat"), "forecast")
    figure = _new_figure(height=7.5)
    top, bottom = figure.subplots(2, 1)

    if test_actual is not None and test_forecast is not None:
        actual = _dated(test_actual, ("ds", "y"), "test_actual")
        predicted = _dated(test_forecast, ("ds", "yhat"), "test_forecast")
        before = history[history["ds"] < actual["ds"].min()].tail(len(actual))
        top.plot(before["ds"], before["y"], color=_ACTUAL_COLOR, lw=1, alpha=0.5)
        top.plot(actual["ds"], actual["y"], color=_ACTUAL_COLOR, lw=1.2, label="actual")
        top.plot(
            predicted["ds"],
            predicted["yhat"],
            color=_TEST_COLOR,
            lw=1.5,
            marker=".",
            label=f"{winner or 'winner'} on the test window",
        )
        top.axvspan(
            actual["ds"].min(), actual["ds"].max(), color=_TEST_COLOR, alpha=0.07
        )
        top.legend(loc="best", fontsize="small")
    else:
        top.text(
            0.5,
            0.5,
            "no test window in this execution",
            ha="center",
            va="center",
            transform=top.transAxes,
        )
        top.set_xticks([])
        top.set_yticks([])
    top.set_title("test window", fontsize="medium")

    _draw_forecast(bottom, history, forecast, history_points)
    bottom.set_title("forecast", fontsize="medium")
    return _save(figure, path, title)


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
    ImportError
        When matplotlib is not installed.
    ValueError
        When a frame lacks its columns.
    """
    history = _dated(history, ("ds", "y"), "history")
    forecast = _dated(forecast, ("ds", "yhat"), "forecast")
    figure = _new_figure(height=4.5)
    axes = figure.subplots(1, 1)
    _draw_forecast(axes, history, forecast, history_points)
    return _save(figure, path, title)


def _draw_forecast(
    axes: Axes,
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    history_points: int | None,
) -> None:
    shown = history if history_points is None else history.tail(history_points)
    if not shown.empty:
        axes.plot(shown["ds"], shown["y"], color=_ACTUAL_COLOR, lw=1, label="history")
    if _has_band(forecast):
        axes.fill_between(
            forecast["ds"],
            forecast["yhat_lower"].astype(float),
            forecast["yhat_upper"].astype(float),
            color=_FORECAST_COLOR,
            alpha=0.2,
            lw=0,
            label="interval",
        )
    axes.plot(
        forecast["ds"],
        forecast["yhat"].astype(float),
        color=_FORECAST_COLOR,
        lw=1.5,
        label="forecast",
    )
    axes.legend(loc="best", fontsize="small")


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
    frame = frame.assign(ds=pd.to_datetime(frame["ds"]))
    return frame.sort_values("ds").reset_index(drop=True)


def _new_figure(height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "kronos needs matplotlib to draw plots; install it with "
            "'pip install matplotlib'"
        ) from exc
    figure = Figure(figsize=(10, height), dpi=_DPI, layout=None)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.07, hspace=0.35)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | os.PathLike[str], title: str | None) -> str:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if title:
        figure.suptitle(title)
    for axes in figure.axes:
        axes.grid(True, alpha=0.3)
        if axes.get_xticks().size:
            locator = AutoDateLocator()
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    target = os.fspath(path)
    with warnings.catch_warnings():
        # A key in a script the font lacks is drawn with boxes: not a failure.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(target, format="png", pil_kwargs={"compress_level": 1})
    logger.debug("plot written to %s", target)
    return target


__all__ = ["DEFAULT_HISTORY_POINTS", "plot_execution", "plot_forecast"]
