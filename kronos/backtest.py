"""Rolling-origin windows for backtesting a model on one history.

A backtest refits a model on a growing training history and scores it on the
periods that follow, several times. The test windows do not overlap: the last
one covers the last ``n_test`` observations and each earlier one ends where the
next begins, so with 10 observations, 3 test points and 2 windows::

    window 0: train [0, 4)  test [4, 7)
    window 1: train [0, 7)  test [7, 10)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kronos.series import SeriesError

__all__ = ["Window", "rolling_origin_windows", "window_frames"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """One backtest split of a history, as row positions.

    Attributes
    ----------
    train_end
        The training rows are ``[0, train_end)``.
    test_start
        The first test row.
    test_end
        One past the last test row: the test rows are ``[test_start, test_end)``.
    """

    train_end: int
    test_start: int
    test_end: int

    def __post_init__(self) -> None:
        if not 0 < self.train_end <= self.test_start < self.test_end:
            raise ValueError(
                "a window needs 0 < train_end <= test_start < test_end, got "
                f"train_end={self.train_end}, test_start={self.test_start}, "
                f"test_end={self.test_end}"
            )


def rolling_origin_windows(
    n_obs: int, n_test: int, n_windows: int, min_train: int = 1
) -> list[Window]:
    """Return ``n_windows`` expanding-training windows, oldest first.

    Parameters
    ----------
    n_obs
        The number of observations in the history.
    n_test
        The number of test observations in each window; at least 1.
    n_windows
        The number of windows; at least 1.
    min_train
        The fewest training observations the first window may have; at least 1.

    Returns
    -------
    list of Window
        The last window tests the last ``n_test`` observations; each earlier
        window's test ends where the next one's begins, and every window trains
        on all the observations before its test.

    Raises
    ------
    SeriesError
        When ``n_obs`` is smaller than ``n_windows * n_test + min_train``.
    ValueError
        When ``n_test``, ``n_windows`` or ``min_train`` is not a positive
        integer, or ``n_obs`` is negative.
    """
    _check_int(n_obs, "n_obs", minimum=0)
    _check_int(n_test, "n_test", minimum=1)
    _check_int(n_windows, "n_windows", minimum=1)
    _check_int(min_train, "min_train", minimum=1)

    needed = n_windows * n_test + min_train
    if n_obs < needed:
        raise SeriesError(
            f"the series has {n_obs} observations; {n_windows} backtest "
            f"window{'s' if n_windows > 1 else ''} of {n_test} test points and "
            f"at least {min_train} training points need {needed}"
        )

    windows = []
    for back in range(n_windows - 1, -1, -1):
        test_end = n_obs - back * n_test
        test_start = test_end - n_test
        windows.append(Window(test_start, test_start, test_end))
    logger.debug(
        "%d backtest windows over %d observations, tests from row %d",
        n_windows,
        n_obs,
        windows[0].test_start,
    )
    return windows


def window_frames(
    data: pd.DataFrame, window: Window
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the training rows and the test rows of ``data`` for ``window``.

    Both frames get a fresh integer index.

    Raises
    ------
    ValueError
        When the window reaches past the end of ``data``.
    """
    if window.test_end > len(data):
        raise ValueError(
            f"the window ends at row {window.test_end} but the data has "
            f"{len(data)} rows; build windows with rolling_origin_windows(len(data),"
            " ...)"
        )
    train = data.iloc[: window.train_end].reset_index(drop=True)
    test = data.iloc[window.test_start : window.test_end].reset_index(drop=True)
    return train, test


def _check_int(value: Any, field: str, minimum: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
    ):
        kind = "a positive integer" if minimum == 1 else "an integer of 0 or more"
        raise ValueError(f"{field} must be {kind}, got {value!r}")
