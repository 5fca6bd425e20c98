"""Reading inputs and writing forecasts with real Delta Lake on local Spark."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pandas as pd
import pytest

import kronos
from kronos.delta import read_input, write_forecasts, write_parquet

pytestmark = pytest.mark.integration

DAY_1 = dt.date(2024, 3, 1)
DAY_2 = DAY_1 + dt.timedelta(days=1)
SCHEMA = kronos.result_schema()
ORDER = ["dt_reference", "id", "date"]


@pytest.fixture(scope="module", autouse=True)
def delta_enabled(spark):
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    if "DeltaSparkSessionExtension" not in extensions:
        pytest.fail("the Delta Lake jars are missing: run scripts/bootstrap.sh")


def forecasts(
    keys: list[str], day: dt.date, horizon: int = 3, level: float = 1.0
) -> pd.DataFrame:
    """Rows as the forecasting function returns them for one processing day."""
    rows = [
        {
            "id": key,
            "date": day + dt.timedelta(days=step),
            "fcst": level + index + step / 10,
            "dt_creation": day,
            "dt_reference": day,
            "days_from_last_obs": 1,
        }
        for index, key in enumerate(keys)
        for step in range(horizon)
    ]
    return pd.DataFrame(rows)


def table_path(tmp_path) -> str:
    return str(tmp_path / f"forecasts_{uuid.uuid4().hex[:8]}")


def write(spark, frame: pd.DataFrame, target: str) -> dict[str, int]:
    return write_forecasts(spark, spark.createDataFrame(frame, SCHEMA), target)


def read_sorted(spark, target: str) -> pd.DataFrame:
    frame = read_input(spark, target).toPandas()
    return frame.sort_values(ORDER, ignore_index=True)


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    expected = expected.sort_values(ORDER, ignore_index=True)
    pd.testing.assert_frame_equal(
        actual[list(expected.columns)], expected, check_dtype=False, atol=1e-6
    )


def test_first_write_creates_a_delta_table_that_reads_back(spark, tmp_path):
    target = table_path(tmp_path)
    day_1 = forecasts(["a", "b"], DAY_1)

    counts = write(spark, day_1, target)

    assert os.path.isdir(os.path.join(target, "_delta_log"))
    assert counts["num_inserted_rows"] == len(day_1)
    assert_same_rows(read_sorted(spark, target), day_1)


def test_rerun_of_the_same_day_replaces_its_rows(spark, tmp_path):
    target = table_path(tmp_path)
    write(spark, forecasts(["a", "b"], DAY_1, level=1.0), target)
    rerun = forecasts(["a", "b"], DAY_1, level=50.0)

    counts = write(spark, rerun, target)

    assert counts == {
        "num_inserted_rows": 0,
        "num_updated_rows": len(rerun),
        "num_deleted_rows": 0,
    }
    assert_same_rows(read_sorted(spark, target), rerun)


def test_next_day_adds_rows_and_leaves_the_earlier_day_unchanged(spark, tmp_path):
    target = table_path(tmp_path)
    day_1 = forecasts(["a", "b"], DAY_1, level=1.0)
    day_2 = forecasts(["a", "b"], DAY_2, level=9.0)
    write(spark, day_1, target)

    counts = write(spark, day_2, target)

    assert counts["num_inserted_rows"] == len(day_2)
    assert counts["num_updated_rows"] == counts["num_deleted_rows"] == 0
    assert_same_rows(read_sorted(spark, target), pd.concat([day_1, day_2]))


def test_rerun_with_a_shorter_horizon_drops_the_rows_it_no_longer_has(spark, tmp_path):
    target = table_path(tmp_path)
    write(spark, forecasts(["a", "b"], DAY_1, horizon=4), target)
    shorter = forecasts(["a", "b"], DAY_1, horizon=2, level=7.0)

    counts = write(spark, shorter, target)

    assert counts["num_deleted_rows"] == 4
    assert_same_rows(read_sorted(spark, target), shorter)


def test_rerun_of_some_keys_keeps_the_other_keys_of_that_day(spark, tmp_path):
    target = table_path(tmp_path)
    first = forecasts(["a", "b"], DAY_1, level=1.0)
    write(spark, first, target)
    only_b = forecasts(["b"], DAY_1, horizon=2, level=30.0)

    write(spark, only_b, target)

    expected = pd.concat([first[first["id"] == "a"], only_b])
    assert_same_rows(read_sorted(spark, target), expected)


def test_a_table_name_is_created_then_merged(spark):
    name = f"forecasts_{uuid.uuid4().hex[:8]}"
    first = forecasts(["a"], DAY_1, level=1.0)
    rerun = forecasts(["a"], DAY_1, level=2.0)

    write(spark, first, name)
    write(spark, rerun, name)

    assert spark.catalog.tableExists(name)
    assert_same_rows(read_sorted(spark, name), rerun)


def test_writing_runs_the_forecasting_function_once_per_key(spark, tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    calls_dir = str(calls)
    panel = spark.createDataFrame(
        pd.DataFrame({"id": ["a", "a", "b", "c"], "value": [1.0, 2.0, 3.0, 4.0]})
    )

    rows = forecasts(["a", "b", "c"], DAY_1)

    # Runs on Spark's workers, which cannot import this module: it uses only
    # local names. Each call leaves a file behind.
    def forecast_key(frame: pd.DataFrame) -> pd.DataFrame:
        key = frame["id"].iloc[0]
        open(os.path.join(calls_dir, f"{key}-{uuid.uuid4().hex}"), "w").close()
        return rows[rows["id"] == key]

    df_pred = panel.groupby("id").applyInPandas(forecast_key, schema=SCHEMA)
    target = table_path(tmp_path)

    write_forecasts(spark, df_pred, target)
    write_forecasts(spark, df_pred, target)

    # Two writes, each computing the forecasts once: two calls per key.
    assert sorted(name.split("-")[0] for name in os.listdir(calls)) == [
        "a",
        "a",
        "b",
        "b",
        "c",
        "c",
    ]


def test_missing_match_column_is_named(spark, tmp_path):
    df_pred = spark.createDataFrame(forecasts(["a"], DAY_1), SCHEMA).drop("date")

    with pytest.raises(ValueError, match=r"lack column\(s\) \['date'\]"):
        write_forecasts(spark, df_pred, table_path(tmp_path))


def test_parquet_rerun_replaces_its_day_and_keeps_the_others(spark, tmp_path):
    target = str(tmp_path / "forecasts.parquet")
    day_1 = forecasts(["a", "b"], DAY_1, level=1.0)
    day_2 = forecasts(["a", "b"], DAY_2, level=2.0)
    rerun_2 = forecasts(["a"], DAY_2, level=3.0)

    for frame in (day_1, day_2, rerun_2):
        write_parquet(spark.createDataFrame(frame, SCHEMA), target)

    result = read_sorted(spark, target)
    assert_same_rows(result, pd.concat([day_1, rerun_2]))


@pytest.mark.parametrize("kind", ["delta", "parquet", "csv"])
def test_read_input_infers_the_format_from_the_path(spark, tmp_path, kind):
    frame = pd.DataFrame(
        {"id": ["a", "b"], "date": ["2024-01-01", "2024-01-02"], "value": [1.5, 2.5]}
    )
    suffix = "" if kind == "delta" else f".{kind}"
    path = str(tmp_path / f"input{suffix}")
    writer = spark.createDataFrame(frame).write.format(kind)
    if kind == "csv":
        writer = writer.option("header", "true")
    writer.save(path)

    result = read_input(spark, path).toPandas().sort_values("id", ignore_index=True)

    assert result["id"].tolist() == ["a", "b"]
    assert result["value"].tolist() == [1.5, 2.5]


def test_read_input_reads_a_table_by_name(spark):
    name = f"input_{uuid.uuid4().hex[:8]}"
    spark.createDataFrame(pd.DataFrame({"id": ["a"], "value": [1.0]})).write.format(
        "delta"
    ).saveAsTable(name)

    assert read_input(spark, name).count() == 1


def test_read_input_refuses_a_path_that_is_no_delta_table(spark, tmp_path):
    with pytest.raises(ValueError, match="no _delta_log folder"):
        read_input(spark, str(tmp_path / "nothing_here"))


def test_read_input_refuses_an_unknown_format(spark):
    with pytest.raises(ValueError, match=r"format='orc' is not supported"):
        read_input(spark, "db.table", format="orc")
