import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kronos.series import (
    Series,
    SeriesError,
    days_between,
    future_dates,
    prepare_series,
    split_train_test,
    validate_freq,
)


def frame(dates, values=None) -> pd.DataFrame:
    dates = list(dates)
    if values is None:
        values = np.arange(len(dates), dtype="float64")
    return pd.DataFrame({"date": dates, "sales": list(values)})


def prepare(dates, values=None, **kwargs) -> Series:
    return prepare_series(frame(dates, values), "date", "sales", **kwargs)


# --- the result ---------------------------------------------------------------


def test_result_has_ds_and_y_with_fixed_dtypes():
    result = prepare(pd.date_range("2024-01-01", periods=4, freq="D"), [1, 2, 3, 4])

    assert list(result.data.columns) == ["ds", "y"]
    assert result.data["ds"].dtype == "datetime64[ns]"
    assert result.data["y"].dtype == "float64"
    assert list(result.data.index) == [0, 1, 2, 3]
    assert result.last_date == pd.Timestamp("2024-01-04")


def test_result_is_frozen():
    result = prepare(pd.date_range("2024-01-01", periods=3, freq="D"))

    with pytest.raises(AttributeError):
        result.freq = "W-SUN"  # type: ignore[misc]


def test_extra_columns_are_ignored():
    data = frame(pd.date_range("2024-01-01", periods=3, freq="D"))
    data["store"] = "A"

    result = prepare_series(data, "date", "sales")

    assert list(result.data.columns) == ["ds", "y"]


def test_clean_regular_series_has_only_the_inference_note():
    result = prepare(pd.date_range("2024-01-01", periods=5, freq="D"))

    assert result.notes == ("inferred frequency D",)


def test_given_freq_leaves_no_note_on_clean_data():
    result = prepare(pd.date_range("2024-01-01", periods=5, freq="D"), freq="D")

    assert result.notes == ()


def test_constant_series_passes_unchanged():
    result = prepare(pd.date_range("2024-01-01", periods=6, freq="D"), [5.0] * 6)

    assert result.data["y"].tolist() == [5.0] * 6


def test_single_row_defaults_to_daily():
    result = prepare([pd.Timestamp("2024-03-05")], [7.0])

    assert result.freq == "D"
    assert result.data["y"].tolist() == [7.0]
    assert result.last_date == pd.Timestamp("2024-03-05")


def test_single_row_keeps_the_given_freq_and_moves_to_its_anchor():
    result = prepare([pd.Timestamp("2024-03-05")], [7.0], freq="MS")

    assert result.freq == "MS"
    assert result.last_date == pd.Timestamp("2024-03-01")


def test_unsorted_rows_are_sorted_by_date():
    dates = pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02"])

    result = prepare(dates, [3.0, 1.0, 2.0])

    assert result.data["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
    assert result.data["y"].tolist() == [1.0, 2.0, 3.0]


# --- columns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_col", "metric_col", "message"),
    [
        ("day", "sales", "missing column 'day'; the data has 'date', 'sales'"),
        ("date", "units", "missing column 'units'; the data has 'date', 'sales'"),
        ("day", "units", "missing columns 'day', 'units'"),
    ],
)
def test_missing_columns_are_named(date_col, metric_col, message):
    data = frame(pd.date_range("2024-01-01", periods=3))

    with pytest.raises(SeriesError, match=message):
        prepare_series(data, date_col, metric_col)


def test_empty_frame_is_rejected():
    with pytest.raises(SeriesError, match="the series has no rows"):
        prepare([], [])


# --- dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "dates",
    [
        [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
        [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3)],
        ["2024-01-01", "2024-01-02", "2024-01-03"],
        ["01/01/2024", "01/02/2024", "01/03/2024"],
        ["2024-01-01", "2 Jan 2024", "2024/01/03"],
        list(np.array(["2024-01-01", "2024-01-02", "2024-01-03"], "datetime64[D]")),
    ],
    ids=["date", "datetime", "iso-string", "us-string", "mixed-strings", "np64"],
)
def test_date_types_are_accepted(dates):
    result = prepare(dates)

    assert result.data["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
    assert result.freq == "D"


def test_tz_aware_dates_are_converted_to_utc_and_made_naive():
    dates = pd.date_range("2024-01-01 09:00", periods=3, freq="h", tz="Europe/Paris")

    result = prepare(dates)

    assert result.data["ds"].dt.tz is None
    assert result.data["ds"].tolist() == list(
        pd.date_range("2024-01-01 08:00", periods=3, freq="h")
    )
    assert "converted time-zone-aware dates to UTC and dropped the zone" in (
        result.notes
    )


def test_strings_with_different_utc_offsets_are_converted_to_utc():
    dates = ["2024-01-01T02:00:00+02:00", "2024-01-01T06:00:00+05:00"]

    result = prepare(dates, freq="h")

    assert result.data["ds"].tolist() == [
        pd.Timestamp("2024-01-01 00:00"),
        pd.Timestamp("2024-01-01 01:00"),
    ]


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (
            ["2024-01-01", "not a date", "2024-01-03"],
            "column 'date' has 1 value that is not a date, such as 'not a date'",
        ),
        (
            ["2024-01-01", "2024-13-45", "soon"],
            "column 'date' has 2 values that are not dates, such as '2024-13-45'",
        ),
    ],
)
def test_unparseable_dates_are_rejected_with_a_sample(dates, message):
    with pytest.raises(SeriesError, match=message):
        prepare(dates)


def test_a_long_bad_date_is_shortened_in_the_message():
    dates = ["2024-01-01", "x" * 200]

    with pytest.raises(SeriesError) as info:
        prepare(dates)

    assert len(str(info.value)) < 120


def test_numeric_dates_are_rejected():
    with pytest.raises(SeriesError, match=r"column 'date' holds numbers \(int64\)"):
        prepare([20240101, 20240102, 20240103])


def test_rows_without_a_date_are_dropped_with_a_note():
    result = prepare(["2024-01-01", None, "2024-01-02", "2024-01-03"])

    assert len(result.data) == 3
    assert "dropped 1 row without a date" in result.notes


def test_dates_are_normalised_to_midnight_for_daily_data():
    dates = ["2024-01-01 10:00", "2024-01-02 11:30", "2024-01-03 09:15"]

    result = prepare(dates, freq="D")

    assert result.data["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
    assert "moved 3 dates to the D anchor" in result.notes


# --- values -------------------------------------------------------------------


def test_numeric_strings_are_parsed():
    result = prepare(pd.date_range("2024-01-01", periods=3), ["1.5", " 2 ", "3e1"])

    assert result.data["y"].tolist() == [1.5, 2.0, 30.0]


def test_nullable_integers_are_accepted():
    data = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=3),
            "sales": pd.array([1, None, 3], dtype="Int64"),
        }
    )

    result = prepare_series(data, "date", "sales")

    assert result.data["y"].tolist() == [1.0, 2.0, 3.0]


def test_non_numeric_values_are_rejected_with_a_sample():
    values = ["1", "lots", "3"]

    with pytest.raises(
        SeriesError,
        match="column 'sales' has 1 value that is not a number, such as 'lots'",
    ):
        prepare(pd.date_range("2024-01-01", periods=3), values)


@pytest.mark.parametrize(
    "missing", [np.nan, np.inf, -np.inf, None, "", "nan", "inf"], ids=repr
)
def test_missing_and_non_finite_values_are_filled_as_gaps(missing):
    dates = pd.date_range("2024-01-01", periods=3)

    result = prepare(dates, [1.0, missing, 3.0])

    assert result.data["y"].tolist() == [1.0, 2.0, 3.0]
    assert "filled 1 missing date by interpolation" in result.notes


def test_infinite_values_are_noted():
    result = prepare(pd.date_range("2024-01-01", periods=4), [1, np.inf, -np.inf, 4])

    assert "treated 2 infinite values as missing" in result.notes


@pytest.mark.parametrize("missing", [np.nan, np.inf, None])
def test_series_without_any_value_is_rejected(missing):
    with pytest.raises(SeriesError, match="every value of column 'sales' is missing"):
        prepare(pd.date_range("2024-01-01", periods=3), [missing] * 3)


# --- frequency ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pandas_freq", "expected"),
    [
        ("D", "D"),
        ("W", "W-SUN"),
        ("W-WED", "W-WED"),
        ("MS", "MS"),
        ("ME", "ME"),
        ("QS", "QS"),
        ("QE", "QE"),
        ("QS-FEB", "QS-FEB"),
        ("QE-NOV", "QE-NOV"),
        ("YS", "YS"),
        ("YE", "YE"),
        ("YS-JUL", "YS-JUL"),
        ("h", "h"),
        ("15min", "15min"),
    ],
)
def test_frequency_is_inferred_from_regular_dates(pandas_freq, expected):
    dates = pd.date_range("2021-01-01", periods=10, freq=pandas_freq)

    result = prepare(dates)

    assert result.freq == expected
    assert f"inferred frequency {expected}" in result.notes
    assert result.data["ds"].tolist() == list(dates)


@pytest.mark.parametrize(
    ("pandas_freq", "expected"),
    [
        ("D", "D"),
        ("W", "W-SUN"),
        ("W-WED", "W-WED"),
        ("MS", "MS"),
        ("ME", "ME"),
        ("QS", "QS"),
        ("QE", "QE"),
        ("YS", "YS"),
        ("YE", "YE"),
        ("h", "h"),
    ],
)
def test_frequency_is_inferred_from_the_usual_step_when_periods_are_missing(
    pandas_freq, expected
):
    full = pd.date_range("2021-01-06", periods=10, freq=pandas_freq)
    dates = full.delete([2, 3, 6])

    result = prepare(dates, np.arange(len(dates), dtype="float64"))

    assert result.freq == expected
    assert result.data["ds"].tolist() == list(full)
    assert "filled 3 missing dates by interpolation" in result.notes


def test_two_dates_a_week_apart_give_the_weekday_of_the_last_date():
    result = prepare(["2024-01-03", "2024-01-10"])

    assert result.freq == "W-WED"


def test_monthly_steps_off_month_boundaries_cannot_be_inferred():
    dates = ["2024-01-15", "2024-02-15", "2024-04-15", "2024-05-15"]

    with pytest.raises(SeriesError, match=r"cannot infer the frequency.*set freq"):
        prepare(dates)


def test_irregular_dates_cannot_be_inferred():
    dates = ["2024-01-01", "2024-01-04", "2024-01-14", "2024-02-20"]

    with pytest.raises(SeriesError, match="cannot infer the frequency"):
        prepare(dates)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("W", "W-SUN"), ("QS-JAN", "QS"), ("QS-OCT", "QS"), ("YE-DEC", "YE")],
)
def test_given_freq_is_returned_under_its_canonical_name(given, expected):
    dates = pd.date_range("2021-01-01", periods=4, freq=given)

    result = prepare(dates, freq=given)

    assert result.freq == expected


@pytest.mark.parametrize(
    ("dates", "freq", "expected"),
    [
        (["2024-01-15", "2024-02-20"], "MS", ["2024-01-01", "2024-02-01"]),
        (["2024-01-15", "2024-02-20"], "ME", ["2024-01-31", "2024-02-29"]),
        (["2024-02-10", "2024-05-01"], "QS", ["2024-01-01", "2024-04-01"]),
        (["2024-02-10", "2024-05-01"], "QE", ["2024-03-31", "2024-06-30"]),
        (["2023-06-10", "2024-03-01"], "YS", ["2023-01-01", "2024-01-01"]),
        (["2024-01-03", "2024-01-10"], "W-SUN", ["2024-01-07", "2024-01-14"]),
        (
            ["2024-01-01 10:20", "2024-01-01 11:59"],
            "h",
            ["2024-01-01 10:00", "2024-01-01 11:00"],
        ),
    ],
)
def test_dates_are_moved_to_the_anchor_of_their_period(dates, freq, expected):
    result = prepare(dates, freq=freq)

    assert result.data["ds"].tolist() == list(pd.to_datetime(expected))


def test_dates_off_a_multi_step_grid_are_rejected():
    dates = ["2024-01-01", "2024-01-03", "2024-01-04"]

    with pytest.raises(SeriesError, match="1 date do not fall on the 2D steps"):
        prepare(dates, freq="2D")


@pytest.mark.parametrize("freq", ["fortnightly", "", 7])
def test_unknown_freq_is_a_setting_error(freq):
    with pytest.raises(ValueError, match="freq must be a pandas frequency alias"):
        prepare(pd.date_range("2024-01-01", periods=3), freq=freq)


def test_unknown_freq_error_is_not_a_series_error():
    with pytest.raises(ValueError) as info:
        prepare(pd.date_range("2024-01-01", periods=3), freq="fortnightly")

    assert not isinstance(info.value, SeriesError)


def test_validate_freq_names_the_field():
    with pytest.raises(ValueError, match=r"settings\.freq must be .* got 'Q-XYZ'"):
        validate_freq("Q-XYZ", "settings.freq")


# --- duplicates ---------------------------------------------------------------

DUPLICATED = ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"]
DUPLICATED_VALUES = [1.0, 2.0, 4.0, 5.0, np.nan]


def test_duplicates_are_rejected_by_default():
    with pytest.raises(
        SeriesError,
        match=r"2 dates appear more than once \(first: 2024-01-02\); "
        "set duplicates to 'mean', 'sum' or 'last'",
    ):
        prepare(DUPLICATED, DUPLICATED_VALUES)


def test_duplicates_made_by_the_anchor_say_so():
    with pytest.raises(SeriesError, match="after moving dates to the MS anchor"):
        prepare(["2024-01-01", "2024-01-15", "2024-02-01"], freq="MS")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("mean", [1.0, 3.0, 5.0]),
        ("sum", [1.0, 6.0, 5.0]),
        ("last", [1.0, 4.0, 5.0]),
    ],
)
def test_duplicates_are_combined_by_policy_ignoring_missing_values(policy, expected):
    result = prepare(DUPLICATED, DUPLICATED_VALUES, duplicates=policy)

    assert result.data["y"].tolist() == expected
    assert f"aggregated 2 duplicate dates by {policy}" in result.notes


def test_last_follows_the_order_of_the_rows_not_their_values():
    dates = ["2024-01-02", "2024-01-01", "2024-01-02"]

    result = prepare(dates, [9.0, 1.0, 3.0], duplicates="last")

    assert result.data["y"].tolist() == [1.0, 3.0]


def test_daily_rows_can_be_summed_into_months():
    dates = pd.date_range("2024-01-01", "2024-03-31", freq="D")

    result = prepare(dates, [1.0] * len(dates), freq="MS", duplicates="sum")

    assert result.data["y"].tolist() == [31.0, 29.0, 31.0]


@pytest.mark.parametrize("policy", ["max", None, "MEAN"])
def test_unknown_duplicates_policy_is_a_setting_error(policy):
    with pytest.raises(ValueError, match="duplicates must be one of 'reject', 'mean'"):
        prepare(DUPLICATED, duplicates=policy)


# --- gaps ---------------------------------------------------------------------

GAPPY = ["2024-01-01", "2024-01-02", "2024-01-05"]
GAPPY_VALUES = [1.0, 2.0, 5.0]


@pytest.mark.parametrize(
    ("policy", "expected", "how"),
    [
        ("interpolate", [1.0, 2.0, 3.0, 4.0, 5.0], "interpolation"),
        ("zero", [1.0, 2.0, 0.0, 0.0, 5.0], "zeros"),
        ("ffill", [1.0, 2.0, 2.0, 2.0, 5.0], "the previous value"),
    ],
)
def test_missing_dates_are_filled_by_policy(policy, expected, how):
    result = prepare(GAPPY, GAPPY_VALUES, freq="D", gaps=policy)

    assert result.data["ds"].tolist() == list(pd.date_range("2024-01-01", periods=5))
    assert result.data["y"].tolist() == expected
    assert f"filled 2 missing dates by {how}" in result.notes


def test_interpolation_is_linear_in_time():
    dates = ["2024-01-01", "2024-02-01", "2024-04-01"]

    result = prepare(dates, [0.0, 31.0, 91.0], freq="MS")

    assert result.data["y"].tolist() == [0.0, 31.0, 60.0, 91.0]


def test_gaps_are_rejected_when_asked():
    with pytest.raises(
        SeriesError,
        match=r"2 periods inside the history have no value \(first: 2024-01-03\); "
        "set gaps to 'interpolate', 'zero' or 'ffill'",
    ):
        prepare(GAPPY, GAPPY_VALUES, freq="D", gaps="reject")


def test_missing_values_count_as_gaps_for_reject():
    with pytest.raises(SeriesError, match="1 period inside the history has no value"):
        prepare(pd.date_range("2024-01-01", periods=3), [1, None, 3], gaps="reject")


@pytest.mark.parametrize("policy", ["interpolate", "zero", "ffill", "reject"])
def test_missing_values_at_the_ends_are_dropped_whatever_the_policy(policy):
    dates = pd.date_range("2024-01-01", periods=6)

    result = prepare(dates, [None, None, 1.0, 2.0, 3.0, np.nan], gaps=policy)

    assert result.data["ds"].tolist() == list(pd.date_range("2024-01-03", periods=3))
    assert result.data["y"].tolist() == [1.0, 2.0, 3.0]
    assert "dropped 2 leading dates with missing values" in result.notes
    assert "dropped 1 trailing date with missing values" in result.notes
    assert result.last_date == pd.Timestamp("2024-01-05")


@pytest.mark.parametrize("policy", ["linear", "bfill"])
def test_unknown_gaps_policy_is_a_setting_error(policy):
    with pytest.raises(ValueError, match="gaps must be one of 'interpolate', 'zero'"):
        prepare(GAPPY, gaps=policy)


# --- split_train_test ---------------------------------------------------------


def test_split_holds_out_the_last_rows():
    data = prepare(pd.date_range("2024-01-01", periods=5)).data

    train, test = split_train_test(data, 2)

    assert train["y"].tolist() == [0.0, 1.0, 2.0]
    assert test["y"].tolist() == [3.0, 4.0]
    assert list(test.index) == [0, 1]


def test_split_needs_one_training_row():
    data = prepare(pd.date_range("2024-01-01", periods=3)).data

    train, _ = split_train_test(data, 2)
    assert len(train) == 1
    with pytest.raises(
        SeriesError, match="the series has 3 rows, fewer than the 4 needed"
    ):
        split_train_test(data, 3)


@pytest.mark.parametrize("n_test", [0, -1, 1.5, True])
def test_split_needs_a_positive_integer(n_test):
    data = prepare(pd.date_range("2024-01-01", periods=3)).data

    with pytest.raises(ValueError, match="n_test must be a positive integer"):
        split_train_test(data, n_test)


# --- future_dates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "freq", "expected"),
    [
        ("2024-01-15", "D", ["2024-01-15", "2024-01-16", "2024-01-17"]),
        ("2024-01-15 06:00", "D", ["2024-01-16", "2024-01-17", "2024-01-18"]),
        ("2024-01-15", "MS", ["2024-02-01", "2024-03-01", "2024-04-01"]),
        ("2024-02-01", "MS", ["2024-02-01", "2024-03-01", "2024-04-01"]),
        ("2024-01-15", "ME", ["2024-01-31", "2024-02-29", "2024-03-31"]),
        ("2024-01-15", "W-SUN", ["2024-01-21", "2024-01-28", "2024-02-04"]),
        ("2024-02-10", "QS", ["2024-04-01", "2024-07-01", "2024-10-01"]),
        ("2024-02-10", "QE", ["2024-03-31", "2024-06-30", "2024-09-30"]),
        ("2024-02-10", "YS", ["2025-01-01", "2026-01-01", "2027-01-01"]),
        ("2024-02-10", "YE", ["2024-12-31", "2025-12-31", "2026-12-31"]),
        (
            "2024-01-15 10:30",
            "h",
            ["2024-01-15 11:00", "2024-01-15 12:00", "2024-01-15 13:00"],
        ),
    ],
)
def test_future_dates_start_at_the_first_anchor_on_or_after_start(
    start, freq, expected
):
    dates = future_dates(start, 3, freq)

    assert list(dates) == list(pd.to_datetime(expected))
    assert dates.dtype == "datetime64[ns]"


def test_future_dates_accept_tz_aware_start():
    start = pd.Timestamp("2024-01-15 01:00", tz="Europe/Paris")

    assert list(future_dates(start, 1, "D")) == [pd.Timestamp("2024-01-15")]


def test_zero_future_dates_is_empty():
    assert len(future_dates("2024-01-15", 0, "D")) == 0


@pytest.mark.parametrize("periods", [-1, 2.0])
def test_future_dates_need_a_non_negative_integer(periods):
    with pytest.raises(ValueError, match="periods must be an integer of 0 or more"):
        future_dates("2024-01-15", periods, "D")


# --- days_between -------------------------------------------------------------


@pytest.mark.parametrize(
    ("later", "earlier", "expected"),
    [
        ("2024-03-03", "2024-03-01", 2),
        ("2024-03-03 01:00", "2024-03-01 23:00", 2),
        (dt.date(2024, 3, 1), pd.Timestamp("2024-02-01"), 29),
        ("2024-03-01", "2024-03-03", -2),
        ("2024-03-01", "2024-03-01", 0),
    ],
)
def test_days_between_counts_calendar_days(later, earlier, expected):
    assert days_between(later, earlier) == expected
