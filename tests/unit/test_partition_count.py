"""How partition_by_key chooses its partition count, without starting Spark."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pyspark.errors import PySparkAttributeError, PySparkException

from kronos.spark import (
    COALESCE_SETTING,
    PARTITIONS_PER_CORE,
    choose_partition_count,
    disable_partition_coalescing,
    partition_by_key,
    session_parallelism,
)


class FakeConf:
    def __init__(self, values: dict[str, str], refuse: bool = False) -> None:
        self.values = dict(values)
        self.refuse = refuse

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def set(self, name: str, value: str) -> None:
        if self.refuse:
            raise PySparkException(f"[CONFIG_NOT_AVAILABLE] {name}")
        self.values[name] = value


class FakeContext:
    def __init__(self, parallelism: int) -> None:
        self.defaultParallelism = parallelism


class FakeSession:
    """A classic session (with parallelism) or a Spark Connect one (without)."""

    def __init__(
        self,
        parallelism: int | None,
        conf: dict[str, str] | None = None,
        refuse: bool = False,
    ) -> None:
        self._parallelism = parallelism
        self.conf = FakeConf(conf or {}, refuse)

    @property
    def sparkContext(self) -> FakeContext:  # noqa: N802 - Spark's name
        if self._parallelism is None:
            raise PySparkAttributeError(
                errorClass="JVM_ATTRIBUTE_NOT_SUPPORTED",
                messageParameters={"attr_name": "sparkContext"},
            )
        return FakeContext(self._parallelism)


class FakeFrame:
    """Just what partition_by_key touches of a DataFrame."""

    def __init__(self, session: FakeSession, n_keys: int) -> None:
        self.sparkSession = session
        self.columns = ["id", "date", "value"]
        self.n_keys = n_keys
        self.counted = 0

    def select(self, *columns: str) -> FakeFrame:
        return self

    def distinct(self) -> FakeFrame:
        return self

    def count(self) -> int:
        self.counted += 1
        return self.n_keys

    def repartition(self, count: int, key: str) -> tuple[int, str]:
        return count, key


@pytest.mark.parametrize(
    ("n_keys", "parallelism", "per_core", "expected"),
    [
        (0, 8, 4, 1),
        (1, 8, 4, 1),
        (20, 8, 4, 20),
        (32, 8, 4, 32),
        (33, 8, 4, 32),
        (100_000, 8, 4, 32),
        (100_000, 64, 2, 128),
        (100_000, 2, 1, 2),
    ],
)
def test_one_partition_per_key_up_to_a_few_per_core(
    n_keys, parallelism, per_core, expected
):
    assert choose_partition_count(n_keys, parallelism, per_core) == expected


def test_default_partitions_per_core_is_the_module_constant():
    assert choose_partition_count(10_000, 3) == 3 * PARTITIONS_PER_CORE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_keys": -1, "parallelism": 2}, "n_keys=-1 is invalid"),
        ({"n_keys": 5, "parallelism": 0}, "parallelism=0 is invalid"),
        ({"n_keys": 5, "parallelism": 2.0}, "parallelism=2.0 is invalid"),
        (
            {"n_keys": 5, "parallelism": 2, "partitions_per_core": True},
            "partitions_per_core=True is invalid",
        ),
    ],
)
def test_invalid_counts_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_partition_count(**kwargs)


def test_classic_session_tells_its_default_parallelism():
    assert session_parallelism(FakeSession(6)) == 6


def test_connect_session_tells_parallelism_only_when_configured():
    assert session_parallelism(FakeSession(None)) is None
    configured = FakeSession(None, {"spark.default.parallelism": "12"})
    assert session_parallelism(configured) == 12


def test_partition_by_key_counts_keys_and_uses_parallelism():
    frame = FakeFrame(FakeSession(2), n_keys=1000)

    assert partition_by_key(frame, "id") == (2 * PARTITIONS_PER_CORE, "id")
    assert frame.counted == 1


def test_few_keys_get_one_partition_each():
    assert partition_by_key(FakeFrame(FakeSession(8), n_keys=5), "id") == (5, "id")


def test_known_key_count_is_not_counted_again():
    frame = FakeFrame(FakeSession(2), n_keys=1000)

    partition_by_key(frame, "id", n_keys=3)

    assert frame.counted == 0


def test_explicit_count_keeps_the_one_partition_per_key_recipe():
    frame = FakeFrame(FakeSession(2), n_keys=1000)

    assert partition_by_key(frame, "id", 1000) == (1000, "id")
    assert frame.counted == 0


def test_connect_session_caps_the_count_by_shuffle_partitions():
    session = FakeSession(None, {"spark.sql.shuffle.partitions": "50"})

    assert partition_by_key(FakeFrame(session, n_keys=1000), "id") == (50, "id")
    assert partition_by_key(FakeFrame(session, n_keys=7), "id") == (7, "id")


def test_partition_by_key_turns_coalescing_off_for_the_session(caplog):
    session = FakeSession(2)

    with caplog.at_level(logging.INFO, logger="kronos.spark"):
        partition_by_key(FakeFrame(session, n_keys=10), "id")

    assert session.conf.values[COALESCE_SETTING] == "false"
    assert f"set {COALESCE_SETTING}=false" in caplog.text


def test_coalescing_is_left_alone_when_asked():
    session = FakeSession(2)

    partition_by_key(FakeFrame(session, n_keys=10), "id", disable_coalescing=False)

    assert COALESCE_SETTING not in session.conf.values


def test_a_session_that_refuses_the_setting_gets_a_warning(caplog):
    session = FakeSession(None, {"spark.sql.shuffle.partitions": "8"}, refuse=True)

    with caplog.at_level(logging.WARNING, logger="kronos.spark"):
        assert disable_partition_coalescing(session) is False

    assert f"could not set {COALESCE_SETTING}=false" in caplog.text


@pytest.mark.parametrize("n_partitions", [0, -3, 2.5, True])
def test_invalid_partition_count_is_named(n_partitions):
    frame = FakeFrame(FakeSession(2), n_keys=10)

    with pytest.raises(ValueError, match=f"n_partitions={n_partitions!r} is invalid"):
        partition_by_key(frame, "id", n_partitions)


def test_unknown_key_column_is_named():
    frame = FakeFrame(FakeSession(2), n_keys=10)

    with pytest.raises(ValueError, match=r"key_col='store' is not a column"):
        partition_by_key(frame, "store")
