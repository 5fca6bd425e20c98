"""Alias writes that collide with another writer's are repeated, others are not."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from kronos.registry import _retry_conflict

CONFLICT = (
    "BAD_REQUEST: UPDATE statement on table 'registered_model_aliases' expected "
    "to update 1 row(s); 0 were matched."
)


def test_an_alias_write_that_conflicts_with_another_writer_is_repeated():
    calls = []

    def write(name: str, alias: str) -> str:
        calls.append((name, alias))
        if len(calls) < 3:
            raise MlflowException(CONFLICT)
        return "done"

    assert _retry_conflict(write, "m", "production") == "done"
    assert calls == [("m", "production")] * 3


def test_a_conflict_that_persists_is_raised_after_the_last_attempt():
    calls = []

    def write() -> None:
        calls.append(1)
        raise MlflowException(CONFLICT)

    with pytest.raises(MlflowException, match="0 were matched"):
        _retry_conflict(write)
    assert len(calls) == 4


def test_an_alias_write_that_fails_otherwise_is_not_repeated():
    calls = []

    def write() -> None:
        calls.append(1)
        raise MlflowException("permission denied")

    with pytest.raises(MlflowException, match="permission denied"):
        _retry_conflict(write)
    assert calls == [1]
