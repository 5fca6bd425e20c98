"""partition_by_key on local Spark: the same rows as one partition per key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kronos.spark import COALESCE_SETTING, partition_by_key

pytestmark = pytest.mark.integration

KEYS = [f"key_{i}" for i in range(7)]
SCHEMA = "id string, date date, fcst double, partition int"


def make_panel(days: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    dates = pd.date_range("2024-01-01", periods=days, freq="D").date
    return pd.DataFrame(
        {
            "id": np.repeat(KEYS, days),
            "date": np.tile(dates, len(KEYS)),
            "value": rng.normal(100, 10, days * len(KEYS)),
        }
    )


def make_seasonal_naive():
    # Spark's workers cannot import this module: a function defined inside
    # another one travels to them by value.
    def seasonal_naive(frame: pd.DataFrame) -> pd.DataFrame:
        from pyspark import TaskContext

        context = TaskContext.get()
        frame = frame.sort_values("date")
        last = pd.Timestamp(frame["date"].iloc[-1])
        horizon = 5
        return pd.DataFrame(
            {
                "id": frame["id"].iloc[0],
                "date": pd.date_range(
                    last + pd.Timedelta(days=1), periods=horizon
                ).date,
                "fcst": list(frame["value"].iloc[-7:])[:horizon],
                "partition": context.partitionId() if context else -1,
            }
        )

    return seasonal_naive


seasonal_naive = make_seasonal_naive()


@pytest.fixture
def restore_coalescing(spark):
    before = spark.conf.get(COALESCE_SETTING)
    yield
    spark.conf.set(COALESCE_SETTING, before)


def forecast(df) -> pd.DataFrame:
    result = df.groupby("id").applyInPandas(seasonal_naive, schema=SCHEMA).toPandas()
    return result.sort_values(["id", "date"], ignore_index=True)


def test_partition_by_key_returns_the_rows_of_one_partition_per_key(
    spark, restore_coalescing
):
    panel = make_panel()
    df = spark.createDataFrame(panel)
    n_keys = df.select("id").distinct().count()

    seed = forecast(df.repartition(n_keys, "id"))
    helper = forecast(partition_by_key(df, "id"))
    from_pandas = pd.concat(
        [seasonal_naive(rows) for _, rows in panel.groupby("id")], ignore_index=True
    )

    columns = ["id", "date", "fcst"]
    pd.testing.assert_frame_equal(helper[columns], seed[columns])
    pd.testing.assert_frame_equal(
        helper[columns],
        from_pandas[columns].sort_values(["id", "date"], ignore_index=True),
    )
    assert sorted(helper["id"].unique()) == KEYS


def test_partition_by_key_makes_a_few_partitions_per_core(spark, restore_coalescing):
    df = spark.createDataFrame(make_panel())
    parallelism = spark.sparkContext.defaultParallelism

    partitioned = partition_by_key(df, "id", partitions_per_core=2)

    assert partitioned.rdd.getNumPartitions() == min(len(KEYS), 2 * parallelism)
    assert spark.conf.get(COALESCE_SETTING) == "false"
    # Every key is whole in one task.
    result = forecast(partitioned)
    assert (result.groupby("id")["partition"].nunique() == 1).all()


def test_explicit_count_is_kept(spark, restore_coalescing):
    df = spark.createDataFrame(make_panel())

    partitioned = partition_by_key(df, "id", len(KEYS))

    assert partitioned.rdd.getNumPartitions() == len(KEYS)
