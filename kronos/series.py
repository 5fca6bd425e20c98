"""One key's data: checks, frequency, duplicates, gaps and the train/test split.

:func:`prepare_series` turns the raw rows of one key into a regular history that
every model accepts: a ``ds`` column of tz-naive ``datetime64[ns]`` dates, one per
period of the series' frequency and none missing, and a ``y`` column of finite
``float64`` values. Everything it changed on the way is listed in
:attr:`Series.notes`, so that a key's run can record what was done to its data.

A problem with one key's data raises :class:`SeriesError`, whose message is the
short reason recorded for that key's fallback. A bad setting (an unknown policy
name or frequency alias) raises a plain :class:`ValueError` instead: it concerns
every key and belongs to configuration.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = [
    "DUPLICATE_POLICIES",
    "GAP_POLICIES",
    "Series",
    "SeriesError",
    "days_between",
    "future_dates",
    "prepare_series",
    "split_train_test",
    "validate_freq",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``duplicates``: what to do with several rows for one date.
DUPLICATE_POLICIES = ("reject", "mean", "sum", "last")

#: Accepted values of ``gaps``: what to do with missing periods and values.
GAP_POLICIES = ("interpolate", "zero", "ffill", "reject")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN")
_MONTHS += ("JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")

# Offsets whose periods are labelled by their first day; every other anchored
# offset labels a period by its last day, as pandas periods do.
_START_ANCHORED = (
    pd.offsets.MonthBegin,
    pd.offsets.QuarterBegin,
    pd.offsets.YearBegin,
    pd.offsets.BusinessMonthBegin,
    pd.offsets.BQuarterBegin,
    pd.offsets.BYearBegin,
    pd.offsets.SemiMonthBegin,
)

_MAX_SHOWN = 40


class SeriesError(ValueError):
    """A data problem of one key; the message is the reason for its fallback."""


@dataclass(frozen=True, eq=False)
class Series:
    """A key's history, regular at its frequency and ready for any model.

    Attributes
    ----------
    data
        Columns ``ds`` (``datetime64[ns]``, tz-naive, on the anchor of ``freq``,
        sorted, one row per period with none missing) and ``y`` (``float64``,
        finite), with a default integer index.
    freq
        The pandas frequency alias of the series, such as ``"D"``, ``"W-SUN"``,
        ``"MS"``, ``"QE"``, ``"YS"`` or ``"h"``.
    last_date
        The last date of ``data``.
    notes
        What was done to the raw rows, in order, one short sentence each.
    """

    data: pd.DataFrame
    freq: str
    last_date: pd.Timestamp
    notes: tuple[str, ...] = ()


def prepare_series(
    frame: pd.DataFrame,
    date_col: str,
    metric_col: str,
    freq: str | None = None,
    duplicates: str = "reject",
    gaps: str = "interpolate",
) -> Series:
    """Check and clean the rows of one key into a regular history.

    The steps, in order:

    1. Dates are parsed: ``datetime.date`` and ``datetime`` objects,
       ``datetime64`` values and date strings are accepted. Time-zone-aware dates
       are converted to UTC and the time zone is dropped. Rows without a date
       are dropped.
    2. The metric is parsed: numbers or numeric strings. NaN, infinite values
       and empty strings are treated as missing values.
    3. Rows are sorted by date and the frequency is set: ``freq`` if given,
       otherwise inferred (see below). A single date gives ``"D"``.
    4. Each date is moved to the anchor of its period: midnight for daily and
       longer frequencies, the first day for ``MS``, ``QS`` and ``YS``, the last
       day for ``ME``, ``QE``, ``YE`` and weekly aliases; for ``h`` and other
       steps shorter than a day the time is cut to the step's unit (the hour
       for ``h``, the minute for ``15min``).
    5. Several rows on one date are handled by ``duplicates``.
    6. Missing values at the start and end of the history are dropped; missing
       periods and values inside it are handled by ``gaps``.

    The frequency is inferred with :func:`pandas.infer_freq` on the unique sorted
    dates. When that fails, usually because periods are missing, the most common
    difference between consecutive dates decides: 1 hour gives ``h`` (and any
    step shorter than a day its fixed alias, such as ``15min``), 1 day ``D``,
    7 days ``W-`` followed by the weekday of the last date, about a month
    ``MS`` or ``ME`` (whether every date is a month start or a month end), and
    likewise about a quarter ``QS``/``QE`` and about a year ``YS``/``YE``.

    Parameters
    ----------
    frame
        The rows of one key; columns other than ``date_col`` and ``metric_col``
        are ignored.
    date_col
        The column holding the dates.
    metric_col
        The column holding the values to forecast.
    freq
        A pandas frequency alias; inferred from the dates when ``None``.
    duplicates
        ``"reject"`` raises when a date has several rows; ``"mean"`` and
        ``"sum"`` aggregate their non-missing values; ``"last"`` keeps the last
        non-missing value in the order of ``frame``.
    gaps
        ``"interpolate"`` fills missing periods and values linearly in time;
        ``"zero"`` fills them with 0; ``"ffill"`` repeats the last known value;
        ``"reject"`` raises when any is missing.

    Returns
    -------
    Series
        The regular history, its frequency, its last date and the notes.

    Raises
    ------
    SeriesError
        When the data of this key cannot be used: a column is missing, a date or
        value cannot be parsed, every value is missing, the frequency cannot be
        inferred, or ``duplicates`` or ``gaps`` is ``"reject"`` and the data has
        duplicates or gaps.
    ValueError
        When ``freq``, ``duplicates`` or ``gaps`` is not an accepted setting.
    """
    _check_policy(duplicates, "duplicates", DUPLICATE_POLICIES)
    _check_policy(gaps, "gaps", GAP_POLICIES)
    given_freq = None if freq is None else validate_freq(freq)
    notes: list[str] = []

    missing = [col for col in (date_col, metric_col) if col not in frame.columns]
    if missing:
        raise SeriesError(
            f"missing column{_plural(len(missing))} {_names(missing)}; "
            f"the data has {_names(list(frame.columns))}"
        )
    if frame.empty:
        raise SeriesError("the series has no rows")

    dates = _parse_dates(frame[date_col], date_col, notes)
    values = _parse_values(frame[metric_col], metric_col, notes)
    rows = pd.DataFrame({"ds": dates, "y": values})

    no_date = int(rows["ds"].isna().sum())
    if no_date:
        rows = rows[rows["ds"].notna()]
        notes.append(f"dropped {no_date} row{_plural(no_date)} without a date")
    if rows.empty:
        raise SeriesError(f"every row has an empty date in column {date_col!r}")
    if not rows["y"].notna().any():
        raise SeriesError(f"every value of column {metric_col!r} is missing")
    rows = rows.sort_values("ds", kind="stable").reset_index(drop=True)

    unique_dates = pd.DatetimeIndex(rows["ds"].unique())
    if given_freq is not None:
        alias = given_freq
    elif len(unique_dates) == 1:
        alias = "D"
    else:
        alias = _infer_freq(unique_dates)
        notes.append(f"inferred frequency {alias}")
    offset = to_offset(alias)

    anchored = _to_anchor(rows["ds"], offset)
    moved = int((anchored != rows["ds"]).sum())
    if moved:
        notes.append(f"moved {moved} date{_plural(moved)} to the {alias} anchor")
    rows["ds"] = anchored

    history = _merge_duplicates(rows, duplicates, alias if moved else None, notes)
    history = _trim_missing_ends(history, notes)
    history = _regularise(history, offset, alias)
    history = _fill_gaps(history, gaps, notes)

    data = pd.DataFrame(
        {
            "ds": history.index.to_numpy(dtype="datetime64[ns]"),
            "y": history.to_numpy(dtype="float64"),
        }
    )
    if notes:
        logger.debug("prepared series: %s", "; ".join(notes))
    return Series(
        data=data,
        freq=alias,
        last_date=pd.Timestamp(data["ds"].iloc[-1]),
        notes=tuple(notes),
    )


def validate_freq(freq: Any, field: str = "freq") -> str:
    """Return the canonical pandas alias of ``freq``.

    Equivalent aliases become one name: ``"W"`` becomes ``"W-SUN"``, quarters
    anchored on January, April, July or October become ``"QS"`` (starts) and
    quarters ending in March, June, September or December ``"QE"``, years
    starting in January ``"YS"`` and ending in December ``"YE"``.

    Parameters
    ----------
    freq
        A pandas frequency alias such as ``"D"``, ``"W-MON"``, ``"MS"`` or
        ``"h"``.
    field
        The setting's name, used in the error message.

    Raises
    ------
    ValueError
        Naming ``field`` and the bad value when pandas does not know the alias.
    """
    if not isinstance(freq, str) or not freq.strip():
        raise ValueError(
            f"{field} must be a pandas frequency alias such as 'D', 'W-SUN', "
            f"'MS' or 'h', got {freq!r}"
        )
    try:
        with warnings.catch_warnings():
            # Deprecated spellings such as "M" still name a valid frequency.
            warnings.simplefilter("ignore", FutureWarning)
            offset = to_offset(freq.strip())
    except ValueError as exc:
        raise ValueError(
            f"{field} must be a pandas frequency alias such as 'D', 'W-SUN', "
            f"'MS' or 'h', got {freq!r}"
        ) from exc
    return _canonical_alias(offset)


def split_train_test(
    data: pd.DataFrame, n_test: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a history into its training rows and its last ``n_test`` rows.

    Parameters
    ----------
    data
        A prepared history, sorted by date.
    n_test
        The number of rows held out at the end; at least 1.

    Returns
    -------
    tuple of pandas.DataFrame
        The training rows and the test rows, each with a fresh integer index.

    Raises
    ------
    SeriesError
        When ``data`` has fewer than ``n_test + 1`` rows, so that no training row
        would be left.
    ValueError
        When ``n_test`` is not a positive integer.
    """
    _check_positive_int(n_test, "n_test")
    if len(data) < n_test + 1:
        raise SeriesError(
            f"the series has {len(data)} row{_plural(len(data))}, fewer than the "
            f"{n_test + 1} needed to hold out {n_test} for testing and train on 1"
        )
    split = len(data) - n_test
    train = data.iloc[:split].reset_index(drop=True)
    test = data.iloc[split:].reset_index(drop=True)
    return train, test


def future_dates(start: Any, periods: int, freq: str) -> pd.DatetimeIndex:
    """Return ``periods`` dates at ``freq``, the first on or after ``start``.

    ``start`` is moved forward to the first anchor of ``freq`` at or after it:
    for ``"MS"`` a mid-month date goes to the next month start, for ``"ME"`` to
    the end of its month, for ``"W-SUN"`` to the next Sunday, and for daily and
    longer frequencies a time of day goes to the next midnight. For ``"h"`` and
    other fixed frequencies ``start`` is rounded up to a whole multiple of the
    frequency. A time-zone-aware ``start`` is converted to UTC and the time zone
    is dropped.

    Parameters
    ----------
    start
        A date, a timestamp or a date string.
    periods
        How many dates to return; 0 gives an empty index.
    freq
        A pandas frequency alias.

    Returns
    -------
    pandas.DatetimeIndex
        The dates, tz-naive, ``datetime64[ns]``.

    Raises
    ------
    ValueError
        When ``periods`` is negative or ``freq`` is not a pandas alias.
    """
    if isinstance(periods, bool) or not isinstance(periods, int | np.integer):
        raise ValueError(f"periods must be an integer of 0 or more, got {periods!r}")
    if periods < 0:
        raise ValueError(f"periods must be an integer of 0 or more, got {periods!r}")
    offset = to_offset(validate_freq(freq))
    first = _naive_utc(pd.Timestamp(start))

    if isinstance(offset, pd.offsets.Tick):
        first = first.ceil(offset)
    else:
        midnight = first.normalize()
        if midnight < first:
            midnight += pd.Timedelta(days=1)
        first = offset.rollforward(midnight)

    index = pd.date_range(first, periods=int(periods), freq=offset)
    return index.astype("datetime64[ns]")


def days_between(later: Any, earlier: Any) -> int:
    """Return the number of calendar days from ``earlier`` to ``later``.

    The times of day are ignored: from any time on 1 March to any time on
    3 March is 2 days. The result is negative when ``later`` is the earlier
    date. Time-zone-aware values are converted to UTC first.
    """
    end = _naive_utc(pd.Timestamp(later)).normalize()
    begin = _naive_utc(pd.Timestamp(earlier)).normalize()
    return int((end - begin).days)


def _check_policy(value: Any, field: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ValueError(
            f"{field} must be one of {_names(list(accepted))}, got {value!r}"
        )


def _check_positive_int(value: Any, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")


def _parse_dates(column: pd.Series, name: str, notes: list[str]) -> pd.Series:
    """Return the dates of ``column`` as tz-naive ``datetime64[ns]`` values."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        raise SeriesError(
            f"column {name!r} holds numbers ({column.dtype}); "
            "pass dates, timestamps or date strings"
        )

    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
    else:
        parsed = _parse_date_objects(column, name)

    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        notes.append("converted time-zone-aware dates to UTC and dropped the zone")
    try:
        return parsed.astype("datetime64[ns]").reset_index(drop=True)
    except (ValueError, OverflowError) as exc:
        raise SeriesError(
            f"column {name!r} holds dates outside the supported range "
            f"{pd.Timestamp.min.year} to {pd.Timestamp.max.year}"
        ) from exc


def _parse_date_objects(column: pd.Series, name: str) -> pd.Series:
    """Parse a column of strings, dates or timestamps, naming a bad sample."""
    present = column.notna() & ~column.map(_is_blank)
    column = column.where(present)
    try:
        with warnings.catch_warnings():
            # Format guesses and mixed zones are handled below, value by value.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            parsed = pd.to_datetime(column)
    except (ValueError, TypeError, OverflowError):
        parsed = None

    if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        # Mixed formats or mixed UTC offsets: parse each value on its own, to UTC
        # when any value carries a zone so that all of them can share one dtype.
        utc = bool(column.map(_has_zone).any())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(column, format="mixed", errors="coerce", utc=utc)

    bad = present & parsed.isna()
    if bad.any():
        raise SeriesError(
            f"column {name!r} has {_count_not(int(bad.sum()), 'a date', 'dates')}, "
            f"such as {_shorten(column[bad].iloc[0])}"
        )
    return parsed


def _parse_values(column: pd.Series, name: str, notes: list[str]) -> pd.Series:
    """Return the metric as ``float64`` with non-finite values set to NaN."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column
    else:
        present = column.notna() & ~column.map(_is_blank)
        numbers = pd.to_numeric(column.where(present), errors="coerce")
        bad = present & numbers.isna() & ~column.map(_is_nan_text)
        if bad.any():
            count = _count_not(int(bad.sum()), "a number", "numbers")
            raise SeriesError(
                f"column {name!r} has {count}, such as {_shorten(column[bad].iloc[0])}"
            )

    values = pd.Series(
        numbers.to_numpy(dtype="float64", na_value=np.nan), dtype="float64"
    )
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        values[infinite] = np.nan
        count = int(infinite.sum())
        notes.append(f"treated {count} infinite value{_plural(count)} as missing")
    return values


def _infer_freq(dates: pd.DatetimeIndex) -> str:
    """Infer the alias of sorted unique ``dates`` (at least two of them)."""
    inferred = None
    if len(dates) >= 3:
        try:
            inferred = pd.infer_freq(dates)
        except (TypeError, ValueError):
            inferred = None
    if inferred is not None:
        return validate_freq(inferred)

    # Periods are missing: the most common step between dates decides.
    steps = pd.Series(dates[1:] - dates[:-1]).map(_step_kind)
    counts = steps.value_counts(sort=False)
    kind = min(counts.index, key=lambda k: (-counts[k], str(k)))
    alias = _alias_for_step(kind, dates)
    if alias is None:
        step = pd.Series(dates[1:] - dates[:-1]).mode().iloc[0]
        raise SeriesError(
            f"cannot infer the frequency of the dates (most common step {step}); "
            "set freq to a pandas alias such as 'D', 'W-SUN', 'MS' or 'h'"
        )
    return validate_freq(alias)


def _step_kind(step: pd.Timedelta) -> str:
    """Name the calendar step a difference between two dates stands for."""
    if pd.Timedelta(0) < step < pd.Timedelta(days=1):
        return "fixed:" + to_offset(step).freqstr
    if step == pd.Timedelta(days=1):
        return "day"
    if step == pd.Timedelta(days=7):
        return "week"
    if step != pd.Timedelta(days=step.days):
        return str(step)
    if 28 <= step.days <= 31:
        return "month"
    if 89 <= step.days <= 92:
        return "quarter"
    if 365 <= step.days <= 366:
        return "year"
    return str(step)


def _alias_for_step(kind: str, dates: pd.DatetimeIndex) -> str | None:
    """Return the alias for a step kind, or ``None`` when the dates do not fit."""
    if kind.startswith("fixed:"):
        return kind.removeprefix("fixed:")
    if kind == "day":
        return "D"
    if kind == "week":
        return f"W-{_WEEKDAYS[dates[-1].weekday()]}"
    if kind not in ("month", "quarter", "year"):
        return None

    if bool(dates.is_month_start.all()):
        suffix, month = "S", int(dates[-1].month)
    elif bool(dates.is_month_end.all()):
        suffix, month = "E", int(dates[-1].month)
    else:
        return None
    if kind == "month":
        return f"M{suffix}"
    if kind == "quarter":
        if len(set(dates.month % 3)) != 1:
            return None
        return f"Q{suffix}-{_MONTHS[month - 1]}"
    if len(set(dates.month)) != 1:
        return None
    return f"Y{suffix}-{_MONTHS[month - 1]}"


def _canonical_alias(offset: pd.offsets.BaseOffset) -> str:
    """Return one name for equivalent quarterly and yearly aliases."""
    prefix = "" if offset.n == 1 else str(offset.n)
    if isinstance(offset, pd.offsets.QuarterBegin):
        first = (offset.startingMonth - 1) % 3 + 1
        tail = "" if first == 1 else f"-{_MONTHS[first - 1]}"
        return f"{prefix}QS{tail}"
    if isinstance(offset, pd.offsets.QuarterEnd):
        last = (offset.startingMonth - 1) % 3 + 10
        tail = "" if last == 12 else f"-{_MONTHS[last - 1]}"
        return f"{prefix}QE{tail}"
    if isinstance(offset, pd.offsets.YearBegin) and offset.month == 1:
        return f"{prefix}YS"
    if isinstance(offset, pd.offsets.YearEnd) and offset.month == 12:
        return f"{prefix}YE"
    return offset.freqstr


def _to_anchor(dates: pd.Series, offset: pd.offsets.BaseOffset) -> pd.Series:
    """Move each date to the label of the period it falls in."""
    if isinstance(offset, pd.offsets.Day):
        return dates.dt.normalize()
    if isinstance(offset, pd.offsets.Tick):
        return dates.dt.floor(offset.base)
    midnight = dates.dt.normalize().to_numpy()
    grid = pd.date_range(
        offset.rollback(midnight.min()), offset.rollforward(midnight.max()), freq=offset
    ).to_numpy()
    if isinstance(offset, _START_ANCHORED):
        labels = grid[np.searchsorted(grid, midnight, side="right") - 1]
    else:
        labels = grid[np.searchsorted(grid, midnight, side="left")]
    return pd.Series(labels, index=dates.index, dtype="datetime64[ns]")


def _merge_duplicates(
    rows: pd.DataFrame, policy: str, aligned_to: str | None, notes: list[str]
) -> pd.Series:
    """Return one value per date, indexed by date, following ``policy``."""
    counts = rows["ds"].value_counts(sort=False)
    repeated = counts[counts > 1]
    series = rows.set_index("ds")["y"]
    if repeated.empty:
        return series

    n_dates = len(repeated)
    if policy == "reject":
        after = f" after moving dates to the {aligned_to} anchor" if aligned_to else ""
        raise SeriesError(
            f"{n_dates} date{_plural(n_dates)} appear more than once{after} "
            f"(first: {_format_date(repeated.index.min())}); set duplicates to "
            "'mean', 'sum' or 'last' to combine them"
        )
    grouped = series.groupby(level=0, sort=True)
    if policy == "mean":
        merged = grouped.mean()
    elif policy == "sum":
        merged = grouped.sum(min_count=1)
    else:
        merged = grouped.last()
    notes.append(f"aggregated {n_dates} duplicate date{_plural(n_dates)} by {policy}")
    return merged


def _trim_missing_ends(history: pd.Series, notes: list[str]) -> pd.Series:
    """Drop the dates before the first and after the last known value."""
    known = np.flatnonzero(history.notna().to_numpy())
    first, last = int(known[0]), int(known[-1])
    leading, trailing = first, len(history) - 1 - last
    if leading:
        notes.append(
            f"dropped {leading} leading date{_plural(leading)} with missing values"
        )
    if trailing:
        notes.append(
            f"dropped {trailing} trailing date{_plural(trailing)} with missing values"
        )
    return history.iloc[first : last + 1]


def _regularise(
    history: pd.Series, offset: pd.offsets.BaseOffset, alias: str
) -> pd.Series:
    """Reindex ``history`` to every period from its first to its last date."""
    grid = pd.date_range(history.index[0], history.index[-1], freq=offset)
    off_grid = history.index.difference(grid)
    if len(off_grid):
        raise SeriesError(
            f"{len(off_grid)} date{_plural(len(off_grid))} do not fall on the "
            f"{alias} steps from {_format_date(history.index[0])} "
            f"(first: {_format_date(off_grid[0])}); set freq to match the dates"
        )
    return history.reindex(grid)


def _fill_gaps(history: pd.Series, policy: str, notes: list[str]) -> pd.Series:
    """Fill the missing values inside ``history`` following ``policy``."""
    missing = history.isna()
    n_missing = int(missing.sum())
    if not n_missing:
        return history

    if policy == "reject":
        first = history.index[missing.to_numpy()][0]
        raise SeriesError(
            f"{n_missing} period{_plural(n_missing)} inside the history "
            f"{'have' if n_missing > 1 else 'has'} no value "
            f"(first: {_format_date(first)}); set gaps to 'interpolate', 'zero' "
            "or 'ffill' to fill them"
        )
    if policy == "interpolate":
        filled = history.interpolate(method="time", limit_area="inside")
        how = "interpolation"
    elif policy == "zero":
        filled = history.fillna(0.0)
        how = "zeros"
    else:
        filled = history.ffill()
        how = "the previous value"
    notes.append(f"filled {n_missing} missing date{_plural(n_missing)} by {how}")
    return filled


def _naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    if stamp is pd.NaT:
        raise ValueError("a date is required, got an empty value")
    if stamp.tzinfo is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _is_blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _is_nan_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("nan", "na", "null")


def _has_zone(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, str):
        text = value.strip()
        return text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]
    return False


def _format_date(stamp: pd.Timestamp) -> str:
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.isoformat(sep=" ")


def _shorten(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        return text[: _MAX_SHOWN - 3] + "..."
    return text


def _names(names: list[Any]) -> str:
    shown = ", ".join(repr(name) for name in names[:10])
    if len(names) > 10:
        shown += f" and {len(names) - 10} more"
    return shown


def _count_not(count: int, one: str, many: str) -> str:
    if count == 1:
        return f"1 value that is not {one}"
    return f"{count} values that are not {many}"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"
