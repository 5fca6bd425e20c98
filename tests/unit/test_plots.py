"""Pictures of a key: PNG files drawn without a display, and their wiring."""

from __future__ import annotations

import datetime as dt
import logging
import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kronos import lifecycle, plots
from kronos.config import Columns, Settings
from kronos.series import prepare_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Return the width and height of a PNG, after checking its signature."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


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


def test_plot_execution_writes_a_png_with_both_panels(tmp_path):
    past = history()
    actual = past.tail(14)
    predicted = actual.rename(columns={"y": "yhat"}).assign(yhat=lambda f: f.yhat + 1)

    path = plots.plot_execution(
        past,
        actual,
        predicted,
        forecast(),
        tmp_path / "execution.png",
        title="meter_01",
        winner="naive_1",
    )

    assert path == str(tmp_path / "execution.png")
    width, height = png_size(tmp_path / "execution.png")
    assert width > 0 and height > width / 2


def test_plot_execution_without_a_test_window_still_draws(tmp_path):
    plots.plot_execution(
        history(), None, None, forecast(band=False), tmp_path / "predict.png"
    )

    assert png_size(tmp_path / "predict.png")[0] > 0


@pytest.mark.parametrize("band", [True, False])
def test_plot_forecast_writes_a_png(tmp_path, band):
    plots.plot_forecast(history(), forecast(band=band), tmp_path / "f.png", title="k")

    assert os.path.getsize(tmp_path / "f.png") > 1000
    assert png_size(tmp_path / "f.png")[0] > 0


def test_plot_forecast_accepts_dates_and_an_empty_history(tmp_path):
    future = forecast()
    future["ds"] = future["ds"].dt.date
    empty = pd.DataFrame({"ds": pd.Series([], dtype=object), "y": []})

    plots.plot_forecast(empty, future, tmp_path / "f.png")

    assert png_size(tmp_path / "f.png")[0] > 0


def test_a_band_of_nulls_is_not_drawn(tmp_path):
    future = forecast()
    future["yhat_lower"] = np.nan
    future["yhat_upper"] = np.nan

    assert not plots._has_band(future)
    plots.plot_forecast(history(), future, tmp_path / "f.png")
    assert png_size(tmp_path / "f.png")[0] > 0


def test_a_frame_without_its_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"forecast lacks column\(s\) \['yhat'\]"):
        plots.plot_forecast(history(), pd.DataFrame({"ds": []}), tmp_path / "f.png")


def test_a_title_in_a_script_the_font_lacks_draws_without_warnings(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.plot_forecast(history(), forecast(), tmp_path / "f.png", title="東京")

    assert png_size(tmp_path / "f.png")[0] > 0


def test_drawing_leaves_the_global_backend_alone(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    plots.plot_forecast(history(), forecast(), tmp_path / "f.png")

    assert matplotlib.get_backend() == before


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
