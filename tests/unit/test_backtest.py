import itertools

import pandas as pd
import pytest

from kronos.backtest import Window, rolling_origin_windows, window_frames
from kronos.series import SeriesError


@pytest.mark.parametrize(
    ("n_obs", "n_test", "n_windows", "expected"),
    [
        (10, 3, 1, [Window(7, 7, 10)]),
        (10, 3, 2, [Window(4, 4, 7), Window(7, 7, 10)]),
        (10, 3, 3, [Window(1, 1, 4), Window(4, 4, 7), Window(7, 7, 10)]),
        (5, 1, 4, [Window(1, 1, 2), Window(2, 2, 3), Window(3, 3, 4), Window(4, 4, 5)]),
        (2, 1, 1, [Window(1, 1, 2)]),
    ],
)
def test_windows_are_placed_back_from_the_end_oldest_first(
    n_obs, n_test, n_windows, expected
):
    assert rolling_origin_windows(n_obs, n_test, n_windows) == expected


def test_test_windows_tile_the_end_without_overlap():
    windows = rolling_origin_windows(100, 7, 5)

    assert windows[-1].test_end == 100
    for earlier, later in itertools.pairwise(windows):
        assert earlier.test_end == later.test_start
        assert later.train_end == earlier.train_end + 7
    assert all(w.test_end - w.test_start == 7 for w in windows)
    assert all(w.train_end == w.test_start for w in windows)


def test_the_first_window_may_train_on_exactly_min_train_points():
    windows = rolling_origin_windows(14, 3, 3, min_train=5)

    assert windows[0] == Window(5, 5, 8)


@pytest.mark.parametrize(
    ("n_obs", "n_test", "n_windows", "min_train", "message"),
    [
        (
            9,
            3,
            3,
            1,
            "the series has 9 observations; 3 backtest windows of 3 test points "
            "and at least 1 training points need 10",
        ),
        (
            13,
            3,
            3,
            5,
            "the series has 13 observations; 3 backtest windows .* need 14",
        ),
        (3, 3, 1, 1, "1 backtest window of 3 test points .* need 4"),
        (0, 1, 1, 1, "the series has 0 observations"),
    ],
)
def test_too_short_a_series_is_a_series_error(
    n_obs, n_test, n_windows, min_train, message
):
    with pytest.raises(SeriesError, match=message):
        rolling_origin_windows(n_obs, n_test, n_windows, min_train=min_train)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_test": 0}, "n_test must be a positive integer, got 0"),
        ({"n_windows": -1}, "n_windows must be a positive integer, got -1"),
        ({"min_train": 0}, "min_train must be a positive integer, got 0"),
        ({"n_test": 2.0}, "n_test must be a positive integer, got 2.0"),
        ({"n_windows": True}, "n_windows must be a positive integer, got True"),
        ({"n_obs": -5}, "n_obs must be an integer of 0 or more, got -5"),
    ],
)
def test_bad_settings_are_rejected_by_name(kwargs, message):
    arguments = {"n_obs": 20, "n_test": 2, "n_windows": 2, **kwargs}

    with pytest.raises(ValueError, match=message) as info:
        rolling_origin_windows(**arguments)
    assert not isinstance(info.value, SeriesError)


@pytest.mark.parametrize(
    ("train_end", "test_start", "test_end"),
    [(0, 0, 3), (4, 3, 6), (3, 3, 3)],
)
def test_a_window_out_of_order_is_rejected(train_end, test_start, test_end):
    with pytest.raises(ValueError, match="a window needs 0 < train_end"):
        Window(train_end, test_start, test_end)


def test_window_frames_cut_the_rows_of_the_window():
    data = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=10), "y": range(10)})
    window = rolling_origin_windows(10, 3, 2)[0]

    train, test = window_frames(data, window)

    assert train["y"].tolist() == [0, 1, 2, 3]
    assert test["y"].tolist() == [4, 5, 6]
    assert list(test.index) == [0, 1, 2]
    assert test["ds"].iloc[0] == pd.Timestamp("2024-01-05")


def test_window_frames_reject_a_window_past_the_data():
    data = pd.DataFrame({"y": range(5)})

    with pytest.raises(ValueError, match="the window ends at row 10 but the data"):
        window_frames(data, Window(7, 7, 10))
