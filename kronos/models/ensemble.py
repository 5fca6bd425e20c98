"""An ensemble: the mean or median of other models' forecasts.

``models_config`` entry: ``{"model_flavor": "ensemble", "method": "median",
"members": ["prophet_weekly", "ets"]}`` or ``{..., "k": 3}``.

- ``method``: ``"mean"`` (default) or ``"median"``;
- exactly one of ``members``, a list of other model names of the same
  ``models_config``, and ``k``, an integer >= 1 meaning the ``k`` best
  candidates of the series' own competition.

The configuration layer checks that ``members`` name other entries, and the
caller picks the best ``k``; either way the ensemble is built from member
models already constructed, with :meth:`EnsembleModel.from_members`. Fitting
fits every member; forecasting combines their forecasts date by date. Bounds
are combined the same way (the mean or median of the members' bounds) and are
returned only when every member returns them. The ensemble needs as many
points as its most demanding member
(:attr:`EnsembleModel.required_train_length`).

Saved as an MLflow Python-function model whose directory holds each member's
own saved directory under ``members/<i>``. Its input is a frame with a ``ds``
column of dates; it returns ``ds`` and ``yhat`` (plus ``yhat_lower`` and
``yhat_upper`` with ``params={"interval_width": w}``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kronos.models import _mlflow, _validation
from kronos.models.base import (
    ForecastModel,
    ModelConfigError,
    ModelFitError,
    forecast_frame,
)

logger = logging.getLogger(__name__)

_METHODS = ("mean", "median")
_MEMBERS_DIR = "members"
_COMBINE = {"mean": np.mean, "median": np.median}


class EnsembleModel(ForecastModel):
    """Combine the forecasts of member models.

    Build one with :meth:`from_members`; its params record the method and the
    member names in order (and ``k`` when the entry chose members that way).
    """

    flavor = "ensemble"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.members: dict[str, ForecastModel] = {}

    @classmethod
    def from_members(
        cls,
        members: Mapping[str, ForecastModel],
        method: str = "mean",
        *,
        k: int | None = None,
    ) -> EnsembleModel:
        """Build an ensemble of ``members``, fitted or not.

        Parameters
        ----------
        members
            The member models by model name; their order is kept.
        method
            ``"mean"`` or ``"median"``.
        k
            When the entry asked for the best ``k`` candidates, that number,
            recorded in the params.

        Raises
        ------
        ValueError
            When there is no member, the method is unknown, a member is an
            ensemble, or members have different frequencies.
        """
        if not members:
            raise ValueError("an ensemble needs at least one member; pass some")
        if method not in _METHODS:
            raise ValueError(
                f"ensemble method must be one of {_METHODS}, got {method!r}"
            )
        nested = [name for name, model in members.items() if model.flavor == cls.flavor]
        if nested:
            raise ValueError(
                f"ensemble members {nested} are ensembles themselves; list their "
                "own members instead"
            )
        freqs = {model.freq for model in members.values()}
        if len(freqs) != 1:
            raise ValueError(
                f"ensemble members have different frequencies {sorted(freqs)}; "
                "build every member with the series' frequency"
            )
        params: dict[str, Any] = {"method": method, "members": list(members)}
        if k is not None:
            params["k"] = k
        ensemble = cls(params, freq=freqs.pop())
        ensemble.members = dict(members)
        fitted = {model.last_date for model in members.values()}
        if len(fitted) == 1:
            ensemble.last_date = fitted.pop()
        return ensemble

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check ``method`` and that exactly one of ``members`` and ``k`` is given.

        Raises
        ------
        ModelConfigError
            When a key is unknown, ``method`` is not ``mean`` or ``median``,
            both or neither of ``members`` and ``k`` are given, ``members`` is
            not a non-empty list of distinct names, or ``k`` is not an integer
            >= 1.
        """
        _validation.check_known(
            model_name, cls.flavor, params, ("method", "members", "k")
        )
        if "method" in params:
            _validation.check_choice(model_name, "method", params["method"], _METHODS)
        if ("members" in params) == ("k" in params):
            raise ModelConfigError(
                f"models_config[{model_name!r}]: an ensemble needs exactly one of "
                "'members' (a list of model names) and 'k' (the number of best "
                'candidates); write for example "members": ["a", "b"] or "k": 3'
            )
        if "members" in params:
            members = params["members"]
            _validation.check_str_list(model_name, "members", members, '["a", "b"]')
            if not members or len(set(members)) != len(members):
                raise _validation.type_error(
                    model_name,
                    "members",
                    members,
                    "a non-empty list of distinct model names",
                    '["a", "b"]',
                )
            if model_name in members:
                raise ModelConfigError(
                    f"models_config[{model_name!r}]: 'members' lists the ensemble "
                    "itself; list other models only"
                )
        else:
            _validation.check_int(model_name, "k", params["k"], minimum=1, example="3")

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return 1; the members' needs are in :attr:`required_train_length`."""
        return 1

    @property
    def required_train_length(self) -> int:
        """The fewest points every member can be fitted on."""
        return max(
            (model.min_train_length(model.params) for model in self.members.values()),
            default=1,
        )

    def fit(self, history: pd.DataFrame) -> EnsembleModel:
        """Fit every member on ``history``.

        Raises
        ------
        ModelFitError
            When a member fails to fit; the message names it.
        """
        self._check_history(history)
        for name, model in self.members.items():
            try:
                model.fit(history)
            except ModelFitError as exc:
                raise ModelFitError(f"ensemble member {name!r}: {exc}") from exc
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates`` with every member and combine them."""
        self._steps_ahead(dates)
        forecasts = [
            model.predict(dates, interval_width=interval_width)
            for model in self.members.values()
        ]
        combine = _COMBINE[self.params.get("method", "mean")]

        def stacked(column: str) -> np.ndarray:
            return np.vstack([frame[column].to_numpy() for frame in forecasts])

        yhat = combine(stacked("yhat"), axis=0)
        bounded = interval_width is not None and all(
            "yhat_lower" in frame for frame in forecasts
        )
        if not bounded:
            return forecast_frame(dates, yhat)
        lower = combine(stacked("yhat_lower"), axis=0)
        upper = combine(stacked("yhat_upper"), axis=0)
        return forecast_frame(dates, yhat, lower, upper)

    def save(self, path: str) -> None:
        """Write a kronos pyfunc directory with each member saved inside it."""
        flavors = [model.flavor for model in self.members.values()]
        _mlflow.save_pyfunc(self, path, member_flavors=flavors)
        for index, model in enumerate(self.members.values()):
            model.save(os.path.join(path, _MEMBERS_DIR, str(index)))

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> EnsembleModel:
        """Rebuild the ensemble and its members saved at ``path``."""
        from kronos.models import load_model

        base = _mlflow.restore_base(cls, metadata)
        members = {
            name: load_model(os.path.join(path, _MEMBERS_DIR, str(index)))
            for index, name in enumerate(base.params["members"])
        }
        ensemble = cls.from_members(
            members, base.params.get("method", "mean"), k=base.params.get("k")
        )
        ensemble.last_date = base.last_date
        return ensemble
