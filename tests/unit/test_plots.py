"""Pictures of a key: PNG files drawn without a display, and their wiring."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from kronos import lifecycle, plots
from kronos.config import Columns, Settings
from kronos.series import prepare_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXECUTION_SIZE = (1000, 750)
FORECAST_SIZE = (1000, 450)
FORECAST_BLUE = (0x15, 0x65, 0xC0)
BAND_BLUE = (208, 224, 242)
TEST_ORANGE = (0xE6, 0x51, 0x00)


def picture(path: Path | str) -> Image.Image:
    """Open a PNG after checking that it is a whole, non-empty PNG file."""
    assert os.path.getsize(path) > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
    return image


def colors_of(path: Path | str) -> set[tuple[int, int, int]]:
    rgb = picture(path).convert("RGB")
    return {color for _, color in rgb.getcolors(rgb.width * rgb.height)}


def history(days: int = 90) -> pd.DataFrame:
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(days) / 7)
    return pd.DataFrame({"ds": dates, "y": values})


def forecast(start: str = "2024-03-31", band: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"ds": pd.date_range(start, periods=14, freq="D"), "yhat": 50.0}
    )
    if band:
        frame["yhat_lower"] = 45.0
        frame["yhat_upper"] = 55.0
    return frame


def window_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    actual = history().tail(14)
    predicted = actual.rename(columns={"y": "yhat"}).assign(yhat=lambda f: f.yhat + 1)
    return actual, predicted


# --------------------------------------------------------------------------
# The pictures
# --------------------------------------------------------------------------


def test_plot_execution_writes_a_png_with_both_panels(tmp_path):
    actual, predicted = window_frames()

    path = plots.plot_execution(
        history(),
        actual,
        predicted,
        forecast(),
        tmp_path / "execution.png",
        title="meter_01",
        winner="naive_1",
    )

    assert path == str(tmp_path / "execution.png")
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    assert picture(path).size == EXECUTION_SIZE
    assert {FORECAST_BLUE, BAND_BLUE, TEST_ORANGE} <= colors_of(path)


def test_plot_execution_without_a_test_window_still_draws(tmp_path):
    plots.plot_execution(
        history(), None, None, forecast(band=False), tmp_path / "predict.png"
    )

    assert picture(tmp_path / "predict.png").size == EXECUTION_SIZE
    assert TEST_ORANGE not in colors_of(tmp_path / "predict.png")


@pytest.mark.parametrize("band", [True, False])
def test_plot_forecast_writes_a_png(tmp_path, band):
    plots.plot_forecast(history(), forecast(band=band), tmp_path / "f.png", title="k")

    assert os.path.getsize(tmp_path / "f.png") > 1000
    assert picture(tmp_path / "f.png").size == FORECAST_SIZE
    assert (BAND_BLUE in colors_of(tmp_path / "f.png")) is band


def test_the_same_frames_give_the_same_bytes(tmp_path):
    first = plots.plot_forecast(history(), forecast(), tmp_path / "a.png", title="k")
    second = plots.plot_forecast(history(), forecast(), tmp_path / "b.png", title="k")

    assert Path(first).read_bytes() == Path(second).read_bytes()


def test_pictures_drawn_in_threads_at_once_equal_one_drawn_alone(tmp_path):
    alone = Path(plots.plot_forecast(history(), forecast(), tmp_path / "alone.png"))

    def draw(index: int) -> bytes:
        path = tmp_path / f"thread_{index}.png"
        return Path(plots.plot_forecast(history(), forecast(), path)).read_bytes()

    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(draw, range(8)))

    assert drawn == [alone.read_bytes()] * 8


def test_drawing_needs_no_matplotlib(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys

        import pandas as pd

        from kronos import plots

        sys.modules["matplotlib"] = None  # any import of it now fails
        dates = pd.date_range("2024-01-01", periods=3)
        past = pd.DataFrame({{"ds": dates, "y": [1.0, 2.0, 3.0]}})
        future = pd.DataFrame({{"ds": dates + pd.Timedelta(days=3), "yhat": 3.0}})
        plots.plot_forecast(past, future, {str(tmp_path / "f.png")!r})
        print(sorted(name for name in sys.modules if name.startswith("matplotlib.")))
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert picture(tmp_path / "f.png").size == FORECAST_SIZE


# --------------------------------------------------------------------------
# What the panels hold
# --------------------------------------------------------------------------


@pytest.fixture
def panels(monkeypatch) -> list[list[plots._Panel]]:
    """Record the panels each picture is drawn from, instead of drawing them."""
    drawn: list[list[plots._Panel]] = []

    def record(panels, height, title, path):
        drawn.append(panels)
        return os.fspath(path)

    monkeypatch.setattr(plots, "_render", record)
    return drawn


def legend_of(panel: plots._Panel) -> list[str]:
    return [label for label, _, _ in panel.legend]


def test_the_execution_shows_the_test_window_then_the_forecast(tmp_path, panels):
    actual, predicted = window_frames()

    plots.plot_execution(
        history(), actual, predicted, forecast(), tmp_path / "e.png", winner="naive_1"
    )

    [[top, bottom]] = panels
    assert (top.title, bottom.title) == ("test window", "forecast")
    assert legend_of(top) == ["actual", "naive_1 on the test window"]
    assert legend_of(bottom) == ["history", "interval", "forecast"]
    # The faint history before the window is as long as the window.
    assert [len(line.x) for line in top.lines] == [14, 14, 14]
    assert top.shades == [
        (float(actual["ds"].min().value), float(actual["ds"].max().value))
    ]


def test_a_test_window_without_a_winner_name_says_winner(tmp_path, panels):
    actual, predicted = window_frames()

    plots.plot_execution(history(), actual, predicted, forecast(), tmp_path / "e.png")

    assert legend_of(panels[0][0])[-1] == "winner on the test window"


def test_an_execution_without_a_test_window_says_so(tmp_path, panels):
    plots.plot_execution(history(), None, None, forecast(), tmp_path / "e.png")

    [[top, _]] = panels
    assert top.message == "no test window in this execution"
    assert top.lines == []


@pytest.mark.parametrize(("points", "shown"), [(30, 30), (None, 90), (500, 90)])
def test_the_forecast_panel_shows_the_last_history_points(
    tmp_path, panels, points, shown
):
    plots.plot_forecast(
        history(), forecast(), tmp_path / "f.png", history_points=points
    )

    [[panel]] = panels
    assert panel.title is None
    assert len(panel.lines[0].x) == shown
    assert panel.lines[0].x[-1] == float(pd.Timestamp("2024-03-30").value)


# --------------------------------------------------------------------------
# Frames at the edges
# --------------------------------------------------------------------------


def edge_case(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a history and a forecast that make drawing awkward."""
    past, future = history(), forecast()
    if name == "empty history":
        past = pd.DataFrame({"ds": pd.Series([], dtype=object), "y": []})
        future["ds"] = future["ds"].dt.date
    elif name == "nothing at all":
        past = pd.DataFrame({"ds": [], "y": []})
        future = pd.DataFrame({"ds": [], "yhat": []})
    elif name == "a single point":
        past = past.head(1)
        future = future.head(1).drop(columns=["yhat_lower", "yhat_upper"])
    elif name == "a constant series":
        past["y"] = 7.0
        future[["yhat", "yhat_lower", "yhat_upper"]] = 7.0
    elif name == "missing values":
        past.loc[10:20, "y"] = np.nan
        future.loc[3:5, "yhat"] = np.nan
        future.loc[8, "yhat_upper"] = np.nan
    elif name == "only missing values":
        past["y"] = np.nan
        future[["yhat", "yhat_lower", "yhat_upper"]] = np.nan
    elif name == "a band of nulls":
        future[["yhat_lower", "yhat_upper"]] = None
    elif name == "infinite and text values":
        past["y"] = past["y"].astype(object)
        past.loc[3, "y"] = "n/a"
        past.loc[4, "y"] = np.inf
        future.loc[2, "yhat"] = -np.inf
    elif name == "dates with a time zone":
        past["ds"] = past["ds"].dt.tz_localize("Europe/Paris")
        future["ds"] = future["ds"].dt.tz_localize("Europe/Paris")
    elif name == "hourly dates":
        past["ds"] = pd.date_range("2024-03-01", periods=len(past), freq="h")
        future["ds"] = pd.date_range(past["ds"].iloc[-1], periods=15, freq="h")[1:]
    elif name == "unsorted dates":
        past = past.sample(frac=1.0, random_state=0)
    elif name == "huge and tiny values":
        past["y"] = past["y"] * 1e12
        future[["yhat", "yhat_lower", "yhat_upper"]] = 1e-12
    return past, future


EDGE_CASES = [
    "empty history",
    "nothing at all",
    "a single point",
    "a constant series",
    "missing values",
    "only missing values",
    "a band of nulls",
    "infinite and text values",
    "dates with a time zone",
    "hourly dates",
    "unsorted dates",
    "huge and tiny values",
]


@pytest.mark.parametrize("case", EDGE_CASES)
def test_an_awkward_forecast_still_draws(tmp_path, case):
    past, future = edge_case(case)

    plots.plot_forecast(past, future, tmp_path / "f.png", title=case)

    assert picture(tmp_path / "f.png").size == FORECAST_SIZE


@pytest.mark.parametrize("case", EDGE_CASES)
def test_an_awkward_execution_still_draws(tmp_path, case):
    past, future = edge_case(case)
    actual = past.tail(5)
    predicted = actual.rename(columns={"y": "yhat"})

    plots.plot_execution(past, actual, predicted, future, tmp_path / "e.png")

    assert picture(tmp_path / "e.png").size == EXECUTION_SIZE


def test_a_band_of_nulls_is_not_drawn(tmp_path):
    _, future = edge_case("a band of nulls")

    assert not plots._has_band(future)
    plots.plot_forecast(history(), future, tmp_path / "f.png")
    assert BAND_BLUE not in colors_of(tmp_path / "f.png")


def test_a_missing_value_breaks_the_line():
    image = Image.new("L", (100, 20), 0)
    xs = np.arange(10, 100, 10, dtype=float)
    ys = np.array([10, 10, 10, np.nan, np.nan, 10, 10, 10, 10], dtype=float)
    line = plots._Line(xs, ys, color=255, width=1, markers=False)

    plots._draw_line(ImageDraw.Draw(image), xs, ys, line)

    inked = np.flatnonzero(np.asarray(image)[10] == 255)
    assert (inked.min(), inked.max()) == (10, 90)
    assert not set(range(31, 60)) & set(inked.tolist())


@pytest.mark.parametrize(
    ("mask", "runs"),
    [
        ([True, True, False, True], [[0, 2], [3, 4]]),
        ([False, False], []),
        ([True], [[0, 1]]),
        ([False, True, True, True, False], [[1, 4]]),
    ],
)
def test_runs_are_the_stretches_without_a_gap(mask, runs):
    assert plots._runs(np.array(mask)).tolist() == runs


def test_a_title_in_a_script_the_font_lacks_draws_without_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.plot_forecast(history(), forecast(), tmp_path / "f.png", title="東京")

    assert picture(tmp_path / "f.png").size == FORECAST_SIZE


def test_a_title_too_long_for_the_picture_is_shortened(tmp_path):
    plots.plot_forecast(history(), forecast(), tmp_path / "f.png", title="k" * 500)

    assert picture(tmp_path / "f.png").size == FORECAST_SIZE


# --------------------------------------------------------------------------
# Frames that are refused
# --------------------------------------------------------------------------


def test_a_frame_without_its_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"forecast lacks column\(s\) \['yhat'\]"):
        plots.plot_forecast(history(), pd.DataFrame({"ds": []}), tmp_path / "f.png")


@pytest.mark.parametrize(
    ("argument", "frame", "message"),
    [
        ("history", pd.DataFrame({"ds": []}), r"history lacks column\(s\) \['y'\]"),
        (
            "test_actual",
            pd.DataFrame({"date": [], "value": []}),
            r"test_actual lacks column\(s\) \['ds', 'y'\]; it has \['date', 'value'\]",
        ),
        (
            "test_forecast",
            pd.DataFrame({"ds": [], "y": []}),
            r"test_forecast lacks column\(s\) \['yhat'\]; it has \['ds', 'y'\]. "
            r"Rename its columns to \['ds', 'yhat'\]",
        ),
        (
            "forecast",
            [1, 2, 3],
            r"forecast must be a pandas DataFrame with columns \['ds', 'yhat'\], "
            r"got list",
        ),
    ],
)
def test_an_execution_frame_without_its_columns_is_refused(
    tmp_path, argument, frame, message
):
    actual, predicted = window_frames()
    frames = {
        "history": history(),
        "test_actual": actual,
        "test_forecast": predicted,
        "forecast": forecast(),
    }
    frames[argument] = frame

    with pytest.raises(ValueError, match=message):
        plots.plot_execution(**frames, path=tmp_path / "e.png")

    assert not (tmp_path / "e.png").exists()


# --------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.1, 10.1, [0, 2.5, 5, 7.5, 10, 12.5]),
        (10.1, 0.1, [0, 2.5, 5, 7.5, 10, 12.5]),
        (40.1, 60.9, [40, 45, 50, 55, 60, 65]),
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (-3.2, 7.9, [-5, 0, 5, 10]),
        (1234, 98765, [0, 20000, 40000, 60000, 80000, 100000]),
        (-0.003, -0.001, [-0.003, -0.0025, -0.002, -0.0015, -0.001]),
        (50, 50, [45, 47.5, 50, 52.5, 55]),
        (0, 0, [-1, -0.5, 0, 0.5, 1]),
    ],
)
def test_value_ticks_are_round_and_enclose_the_values(low, high, ticks):
    assert plots._nice_ticks(low, high) == ticks


@pytest.mark.parametrize("seed", range(20))
def test_value_ticks_are_four_to_six_even_steps(seed):
    rng = np.random.default_rng(seed)
    low = rng.normal(0, 10.0 ** rng.integers(-4, 8))
    high = low + 10.0 ** rng.uniform(-5, 9)

    ticks = plots._nice_ticks(low, high)

    assert 4 <= len(ticks) <= 6
    assert ticks[0] <= low and ticks[-1] >= high
    steps = np.diff(ticks)
    assert np.allclose(steps, steps.mean(), rtol=1e-4)
    mantissa = steps.mean() / 10 ** np.floor(np.log10(steps.mean()))
    assert any(np.isclose(mantissa, m, rtol=1e-4) for m in (1, 2, 2.5, 5, 10))


@pytest.mark.parametrize(
    ("ticks", "labels"),
    [
        ([45, 47.5, 50, 52.5, 55], ["45", "47.5", "50", "52.5", "55"]),
        ([-1, -0.5, 0, 0.5, 1], ["-1", "-0.5", "0", "0.5", "1"]),
        ([0, 2500, 5000, 7500, 10000], ["0", "2.5k", "5k", "7.5k", "10k"]),
        ([0, 20000, 40000, 60000], ["0", "20k", "40k", "60k"]),
        (
            [900000, 1000000, 1100000, 1200000],
            ["0.9M", "1M", "1.1M", "1.2M"],
        ),
        ([-0.003, -0.0025, -0.002], ["-0.003", "-0.0025", "-0.002"]),
        ([2e9, 4e9, 6e9], ["2G", "4G", "6G"]),
    ],
)
def test_value_labels_are_compact(ticks, labels):
    assert plots._value_labels(ticks) == labels


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            "2023-01-01",
            "2024-02-04",
            [
                ("2023-01-01", "Jan 2023"),
                ("2023-03-01", "Mar"),
                ("2023-05-01", "May"),
                ("2023-07-01", "Jul"),
                ("2023-09-01", "Sep"),
                ("2023-11-01", "Nov"),
                ("2024-01-01", "Jan 2024"),
            ],
        ),
        (
            "2023-12-20",
            "2024-02-10",
            [
                ("2023-12-22", "22 Dec 2023"),
                ("2024-01-01", "1 Jan 2024"),
                ("2024-01-08", "8 Jan"),
                ("2024-01-15", "15 Jan"),
                ("2024-01-22", "22 Jan"),
                ("2024-02-01", "1 Feb"),
                ("2024-02-08", "8 Feb"),
            ],
        ),
        (
            # Two-day steps count from 1970-01-01: 2024-01-01 is day 19723.
            "2024-01-01",
            "2024-01-10",
            [
                ("2024-01-02", "2 Jan 2024"),
                ("2024-01-04", "4 Jan"),
                ("2024-01-06", "6 Jan"),
                ("2024-01-08", "8 Jan"),
                ("2024-01-10", "10 Jan"),
            ],
        ),
        (
            # Three-hour steps would give 9 ticks, one too many.
            "2024-01-01",
            "2024-01-02",
            [
                ("2024-01-01 00:00", "1 Jan"),
                ("2024-01-01 06:00", "06:00"),
                ("2024-01-01 12:00", "12:00"),
                ("2024-01-01 18:00", "18:00"),
                ("2024-01-02 00:00", "2 Jan"),
            ],
        ),
        (
            "2024-01-01 05:00",
            "2024-01-01 23:00",
            [
                ("2024-01-01 06:00", "1 Jan 06:00"),
                ("2024-01-01 09:00", "09:00"),
                ("2024-01-01 12:00", "12:00"),
                ("2024-01-01 15:00", "15:00"),
                ("2024-01-01 18:00", "18:00"),
                ("2024-01-01 21:00", "21:00"),
            ],
        ),
        (
            "2001-06-01",
            "2030-01-01",
            [(f"{year}-01-01", str(year)) for year in range(2005, 2031, 5)],
        ),
        ("2024-01-01", "2024-01-01", [("2024-01-01", "1 Jan")]),
    ],
)
def test_date_ticks_fall_on_round_dates_with_short_labels(start, end, expected):
    ticks = plots._date_ticks(pd.Timestamp(start), pd.Timestamp(end))

    assert ticks == [(pd.Timestamp(stamp), label) for stamp, label in expected]


@pytest.mark.parametrize("days", [0.01, 0.5, 3, 20, 75, 400, 1500, 9000, 60000])
def test_date_ticks_are_at_most_eight_and_in_order(days):
    start = pd.Timestamp("1999-12-31 13:17")
    end = start + pd.Timedelta(days=days)

    stamps = [stamp for stamp, _ in plots._date_ticks(start, end)]

    assert 2 <= len(stamps) <= 8
    assert stamps == sorted(stamps)
    assert start <= stamps[0] and stamps[-1] <= end


# --------------------------------------------------------------------------
# The run's artifact
# --------------------------------------------------------------------------


def settings(**overrides) -> Settings:
    columns = Columns(
        key="id",
        date="date",
        metric="value",
        quality="quality",
        action="action",
        models="models",
        fcst="fcst",
        dt_creation="dt_creation",
        dt_reference="dt_reference",
        days_from_last_obs="days_from_last_obs",
        fcst_lower="fcst_lower",
        fcst_upper="fcst_upper",
    )
    values = {
        "columns": columns,
        "models_config": {"naive_1": {"model_flavor": "naive"}},
        "current_date": dt.date(2024, 3, 31),
        "fcst_first_date": dt.date(2024, 3, 31),
        "n_test": 14,
        "n_unit_test": 7,
        "forecast_horizon": 14,
        "tracking_uri": "sqlite:///unused.db",
        "registry_uri": "sqlite:///unused.db",
        "execution_timestamp": "2024-03-31T00:00:00+00:00",
    }
    values.update(overrides)
    return Settings(**values)


class ArtifactRecorder:
    """Stands in for tracking.log_directory: remembers what it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.logged: list[tuple[str, str, list[str], bytes]] = []

    def __call__(self, client, run_id: str, local_dir: str, artifact_path: str):
        if self.fail:
            raise ConnectionError("tracking server unreachable")
        names = sorted(os.listdir(local_dir))
        first = Path(local_dir, names[0]).read_bytes()
        self.logged.append((run_id, artifact_path, names, first))


@pytest.fixture
def recorder(monkeypatch) -> ArtifactRecorder:
    recorder = ArtifactRecorder()
    monkeypatch.setattr(lifecycle.tracking, "log_directory", recorder)
    return recorder


def series_of(days: int = 90):
    frame = history(days).rename(columns={"ds": "date", "y": "value"})
    return prepare_series(frame, "date", "value")


def test_the_execution_plot_is_logged_as_plots_forecast_png(recorder):
    outcome = lifecycle.KeyOutcome(key="k", winner="naive_1", run_id="run-1")
    outcome.test_forecast = np.full(14, 50.0)

    lifecycle.log_execution_plot(None, outcome, series_of(), forecast(), settings())

    [(run_id, folder, names, content)] = recorder.logged
    assert (run_id, folder, names) == ("run-1", "plots", ["forecast.png"])
    assert content[:8] == PNG_SIGNATURE


def test_a_plot_that_cannot_be_logged_does_not_fail_the_key(recorder, caplog):
    recorder.fail = True
    outcome = lifecycle.KeyOutcome(key="k", winner=None, run_id="run-1")

    with caplog.at_level(logging.WARNING, logger="kronos.lifecycle"):
        lifecycle.log_execution_plot(None, outcome, series_of(), forecast(), settings())

    assert "key k: plot not logged: tracking server unreachable" in caplog.text


def test_a_plot_that_cannot_be_drawn_does_not_fail_the_key(
    recorder, caplog, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(plots, "plot_execution", broken)
    outcome = lifecycle.KeyOutcome(key="k", run_id="run-1")

    with caplog.at_level(logging.WARNING, logger="kronos.lifecycle"):
        lifecycle.log_execution_plot(None, outcome, series_of(), forecast(), settings())

    assert recorder.logged == []
    assert "no fonts" in caplog.text


@pytest.mark.parametrize("log_plots", [True, False])
def test_forecast_udf_gen_passes_the_plot_setting_on(log_plots):
    from mlflow.tracking import MlflowClient

    from kronos.forecast_udf import forecast_udf_gen

    client = MlflowClient(
        tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9"
    )
    function = forecast_udf_gen(
        client,
        "id",
        "date",
        "value",
        "quality",
        "action",
        "models",
        {"naive_1": {"model_flavor": "naive"}},
        "days_from_last_obs",
        "2024-03-31",
        "2024-03-31",
        14,
        7,
        14,
        "dt_creation",
        "dt_reference",
        log_plots=log_plots,
    )

    assert function.settings.log_plots is log_plots
