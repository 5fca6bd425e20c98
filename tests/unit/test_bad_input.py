"""Bad input, case by case: each test is one row of docs/reliability.md.

Configuration mistakes raise at factory time, naming the field, the value and
the fix. Data problems give the key the naive fallback with its reason, on the
outcome and on the run. Every key still gets ``forecast_horizon`` rows, and a
forecast either comes from a tested model or carries a fallback reason.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import pandas as pd
import pytest
from _udf import key_rows, udf_arguments
from mlflow.tracking import MlflowClient

from kronos import tracking
from kronos.forecast_udf import forecast_udf_gen
from kronos.lifecycle import KeyResult, forecast_key

DAY = dt.date(2024, 3, 1)
PREFIX = f"bad-input-{uuid.uuid4().hex[:6]}"
MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "weekly": {"model_flavor": "seasonal_naive", "season_length": 7},
}
HORIZON = 5


def factory_arguments(client: MlflowClient) -> dict:
    return udf_arguments(
        client,
        MODELS,
        current_date=DAY,
        forecast_horizon=HORIZON,
        experiment_name_template=f"{PREFIX}/{{key}}",
        model_name_template=f"{PREFIX}_{{key}}",
        with_outcome=True,
    )


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server) -> MlflowClient:
    tracking.quiet_mlflow()
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


@pytest.fixture(scope="module")
def settings(client):
    return forecast_udf_gen(**factory_arguments(client)).settings


def key_frame(key: str, n: int = 60, values=None, **columns) -> pd.DataFrame:
    dates = pd.date_range(end=DAY - dt.timedelta(days=1), periods=n, freq="D")
    if values is None:
        values = 10 + 3 * np.sin(2 * np.pi * np.arange(n) / 7)
    return key_rows(key, dates, values).assign(**columns)


def expected_dates() -> list[dt.date]:
    return [DAY + dt.timedelta(days=i) for i in range(HORIZON)]


def assert_fallback(
    result: KeyResult, client: MlflowClient, reason: str, value: float | None
) -> None:
    """The key got the naive forecast of ``value`` (NaN when None) and why."""
    outcome = result.outcome
    assert reason in (outcome.fallback_reason or "")
    assert list(result.forecast["date"]) == expected_dates()
    if value is None:
        assert result.forecast["fcst"].isna().all()
    else:
        assert np.allclose(result.forecast["fcst"], value)
    assert outcome.registered_version is None
    assert outcome.forecast_version is None
    if outcome.run_id is not None:
        tags = client.get_run(outcome.run_id).data.tags
        assert reason in tags["kronos.fallback_reason"]


def assert_trained(result: KeyResult) -> None:
    """The key went through the lifecycle and forecast with a tested model."""
    outcome = result.outcome
    assert outcome.fallback_reason is None
    assert outcome.unit_test == "passed"
    assert outcome.promoted
    assert outcome.forecast_version == outcome.registered_version
    assert list(result.forecast["date"]) == expected_dates()
    assert np.isfinite(result.forecast["fcst"]).all()


# --------------------------------------------------------------------------
# Configuration: raised at factory time
# --------------------------------------------------------------------------


def test_malformed_models_config_json_raises_at_factory_time(client):
    arguments = factory_arguments(client)
    arguments["models_config"] = '{"naive_1": {"model_flavor": "naive"'
    with pytest.raises(ValueError, match="models_config is not valid JSON"):
        forecast_udf_gen(**arguments)


def test_unknown_flavor_raises_at_factory_time(client):
    arguments = factory_arguments(client)
    arguments["models_config"] = json.dumps({"m": {"model_flavor": "os.system"}})
    with pytest.raises(ValueError, match=r"os\.system"):
        forecast_udf_gen(**arguments)


def test_unknown_model_parameter_raises_at_factory_time(client):
    arguments = factory_arguments(client)
    arguments["models_config"] = {
        "w": {"model_flavor": "seasonal_naive", "season_lenght": 7}
    }
    with pytest.raises(ValueError, match="season_lenght"):
        forecast_udf_gen(**arguments)


@pytest.mark.parametrize("field", ["n_test", "n_unit_test", "forecast_horizon"])
@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_counts_raise_at_factory_time(client, field, value):
    arguments = {**factory_arguments(client), field: value}
    with pytest.raises(ValueError, match=f"{field}={value} is invalid; pass a pos"):
        forecast_udf_gen(**arguments)


def test_a_missing_key_column_stops_the_job_naming_key_col(client):
    udf = forecast_udf_gen(**factory_arguments(client))
    with pytest.raises(KeyError, match="key_col='id' is not a column"):
        udf(key_frame("no_key").drop(columns="id"))


# --------------------------------------------------------------------------
# Data: the key gets the fallback with its reason, or is cleaned and trains
# --------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["date", "value"])
def test_a_missing_date_or_metric_column_gives_an_empty_fallback(
    client, settings, column
):
    frame = key_frame(f"missing_{column}").drop(columns=column)
    result = forecast_key(frame, settings)
    assert_fallback(result, client, f"missing column '{column}'", None)


@pytest.mark.parametrize("column", ["quality", "action", "models"])
def test_a_missing_attribute_column_gives_the_fallback(client, settings, column):
    frame = key_frame(f"missing_{column}").drop(columns=column)
    result = forecast_key(frame, settings)
    last = frame["value"].iloc[-1]
    assert_fallback(result, client, f"missing column(s) ['{column}']", last)


def test_values_that_are_not_numbers_give_the_naive_fallback_of_the_last_number(
    client, settings
):
    values = [str(v) for v in range(1, 60)] + ["n/a"]
    values[-2] = "many"
    result = forecast_key(key_frame("text_values", values=values), settings)
    assert_fallback(result, client, "values that are not numbers", 58.0)


def test_dates_that_are_numbers_give_the_fallback(client, settings):
    frame = key_frame("numeric_dates").assign(date=lambda f: np.arange(len(f)))
    result = forecast_key(frame, settings)
    assert_fallback(result, client, "column 'date' holds numbers", None)


def test_unparseable_date_strings_give_the_fallback(client, settings):
    frame = key_frame("bad_date_strings")
    frame["date"] = frame["date"].astype(str)
    frame.loc[10, "date"] = "the tenth"
    result = forecast_key(frame, settings)
    assert_fallback(result, client, "value that is not a date", frame["value"].iloc[-1])


def test_nan_and_infinite_values_are_filled_and_the_key_trains(settings):
    values = 10 + 3 * np.sin(2 * np.pi * np.arange(60) / 7)
    values[[5, 20]] = np.nan
    values[[11, 33]] = [np.inf, -np.inf]
    result = forecast_key(key_frame("nan_inf", values=values), settings)
    assert_trained(result)
    notes = " ".join(result.outcome.notes)
    assert "treated 2 infinite values as missing" in notes
    assert "filled 4 missing dates by interpolation" in notes


def test_duplicate_dates_are_averaged_and_the_key_trains(settings):
    frame = key_frame("duplicates")
    extra = frame.iloc[[-1]].assign(value=frame["value"].iloc[-1] + 2.0)
    result = forecast_key(pd.concat([frame, extra]), settings)
    assert_trained(result)
    assert "aggregated 1 duplicate date by mean" in result.outcome.notes


def test_duplicate_dates_give_the_fallback_when_rejected(client):
    arguments = {**factory_arguments(client), "duplicates": "reject"}
    settings = forecast_udf_gen(**arguments).settings
    frame = key_frame("duplicates_rejected")
    result = forecast_key(pd.concat([frame, frame.iloc[[3]]]), settings)
    assert_fallback(result, client, "appear more than once", frame["value"].iloc[-1])


def test_unsorted_rows_give_the_forecast_of_the_sorted_rows(settings):
    ordered = forecast_key(key_frame("sorted_rows"), settings)
    shuffled_frame = key_frame("unsorted_rows").sample(frac=1.0, random_state=1)
    shuffled = forecast_key(shuffled_frame, settings)
    assert_trained(shuffled)
    np.testing.assert_allclose(shuffled.forecast["fcst"], ordered.forecast["fcst"])


def test_gaps_are_interpolated_and_the_key_trains(settings):
    frame = key_frame("gaps").drop(index=[10, 11, 12, 40])
    result = forecast_key(frame, settings)
    assert_trained(result)
    assert "filled 4 missing dates by interpolation" in result.outcome.notes


def test_gaps_give_the_fallback_when_rejected(client):
    arguments = {**factory_arguments(client), "gaps": "reject"}
    settings = forecast_udf_gen(**arguments).settings
    frame = key_frame("gaps_rejected").drop(index=[10])
    result = forecast_key(frame, settings)
    assert_fallback(result, client, "1 period inside", frame["value"].iloc[-1])


def test_one_row_gives_the_naive_forecast_of_that_row(client, settings):
    result = forecast_key(key_frame("one_row", n=1, values=[4.5]), settings)
    assert_fallback(result, client, "the series has 1 observations", 4.5)


def test_a_series_shorter_than_n_test_gives_the_fallback(client, settings):
    frame = key_frame("shorter_than_n_test", n=settings.n_test - 1)
    result = forecast_key(frame, settings)
    last = frame["value"].iloc[-1]
    assert_fallback(result, client, "the series has 6 observations", last)


def test_a_constant_series_trains_and_forecasts_the_constant(settings):
    result = forecast_key(key_frame("constant", values=np.full(60, 3.25)), settings)
    assert_trained(result)
    assert (result.forecast["fcst"] == 3.25).all()


def test_all_values_missing_gives_an_empty_fallback(client, settings):
    result = forecast_key(key_frame("all_missing", values=np.nan), settings)
    assert_fallback(result, client, "every value of column 'value' is missing", None)
    assert result.forecast["days"].isna().all()


def test_negative_values_are_forecast_as_they_are(settings):
    values = -50 + 3 * np.sin(2 * np.pi * np.arange(60) / 7)
    result = forecast_key(key_frame("negative", values=values), settings)
    assert_trained(result)
    assert (result.forecast["fcst"] < 0).all()


@pytest.mark.parametrize(
    ("key", "escaped"),
    [
        ("store/item", "store%2Fitem"),
        ("a key with spaces", "a key with spaces"),
        ('o\'brien "quoted"', 'o\'brien "quoted"'),
        ("città-東京", "città-東京"),
    ],
)
def test_keys_with_unusual_characters_train_under_escaped_names(
    client, settings, key, escaped
):
    result = forecast_key(key_frame(key), settings)
    assert_trained(result)
    assert set(result.forecast["id"]) == {key}
    experiment = client.get_experiment_by_name(f"{PREFIX}/{escaped}")
    assert experiment is not None
    assert client.get_run(result.outcome.run_id).data.tags["kronos.key"] == key
    version = client.get_model_version_by_alias(f"{PREFIX}_{escaped}", "champion")
    assert version.version == result.outcome.registered_version


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("k" * 300, "more than the 256 the registry keeps"),
        ("..", "only dots"),
        ("line\nbreak", "control character"),
        (None, "the key is null"),
    ],
)
def test_keys_that_cannot_be_named_safely_are_refused(client, settings, key, reason):
    frame = key_frame("placeholder", values=np.arange(60.0)).assign(id=key)
    result = forecast_key(frame, settings)
    assert_fallback(result, client, reason, 59.0)
    assert result.outcome.fallback_reason.startswith("key refused: ")
    assert result.outcome.run_id is None
    assert list(result.forecast["id"].unique()) == [key]


@pytest.mark.parametrize(
    ("column", "values"),
    [("quality", ["good", "bad"]), ("action", ["competition", "predict"])],
)
def test_quality_or_action_not_constant_gives_the_fallback(
    client, settings, column, values
):
    frame = key_frame(f"varying_{column}", values=np.arange(60.0))
    frame[column] = [values[i % 2] for i in range(len(frame))]
    result = forecast_key(frame, settings)
    assert_fallback(result, client, f"column '{column}' must hold one value", 59.0)


@pytest.mark.parametrize(
    ("column", "value"), [("quality", "excellent"), ("action", "retrain")]
)
def test_unknown_quality_or_action_gives_the_fallback(client, settings, column, value):
    frame = key_frame(f"unknown_{column}", values=np.arange(60.0), **{column: value})
    result = forecast_key(frame, settings)
    assert_fallback(result, client, f"{column} '{value}' is unknown", 59.0)


def test_an_unknown_model_name_in_models_col_gives_the_fallback(client, settings):
    frame = key_frame("unknown_model", values=np.arange(60.0), models="naive_1,arima")
    result = forecast_key(frame, settings)
    assert_fallback(result, client, "unknown model name(s) ['arima']", 59.0)


def test_fcst_first_date_before_the_last_observation_gives_the_fallback(
    client, settings
):
    frame = key_frame("future_rows", n=65, values=np.arange(65.0))
    frame["date"] = pd.date_range(end=DAY + dt.timedelta(days=4), periods=65).date
    result = forecast_key(frame, settings)
    assert_fallback(result, client, "after the first forecast date 2024-03-01", 64.0)


def test_time_zone_aware_timestamps_are_converted_to_utc(settings):
    frame = key_frame("time_zones")
    frame["date"] = pd.date_range(
        end="2024-03-01 00:30", periods=60, freq="D", tz="Europe/Rome"
    )
    result = forecast_key(frame, settings)
    assert_trained(result)
    assert (
        "converted time-zone-aware dates to UTC and dropped the zone"
        in result.outcome.notes
    )
    # 00:30 in Rome is 23:30 UTC the day before: the last observation is 29 Feb.
    assert set(result.forecast["days"]) == {1}


def test_dates_given_as_strings_are_parsed(settings):
    frame = key_frame("string_dates")
    frame["date"] = frame["date"].astype(str)
    result = forecast_key(frame, settings)
    assert_trained(result)
