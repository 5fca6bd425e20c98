"""Forecasting models behind one small interface, one module per flavor.

A ``models_config`` entry names its flavor with ``model_flavor``; the other keys
are that flavor's parameters, described in each flavor's module:

=================  =========================================================
``naive``          :mod:`kronos.models.naive`
``seasonal_naive`` :mod:`kronos.models.seasonal_naive`
``prophet``        :mod:`kronos.models.prophet`
``pmdarima``       :mod:`kronos.models.pmdarima`
``statsforecast``  :mod:`kronos.models.statsforecast`
``sklearn``        :mod:`kronos.models.sklearn`
``ensemble``       :mod:`kronos.models.ensemble`
=================  =========================================================

Nothing from a configuration is evaluated or imported: flavors, estimators and
model classes are looked up in fixed tables. The forecasting libraries are
imported only when a model of their flavor is checked, fitted or loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kronos.models._mlflow import pip_requirements, read_metadata
from kronos.models.base import (
    FLAVOR_METADATA_KEY,
    ForecastModel,
    ModelConfigError,
    ModelFitError,
)
from kronos.models.ensemble import EnsembleModel
from kronos.models.naive import NaiveModel
from kronos.models.pmdarima import PmdarimaModel
from kronos.models.prophet import ProphetModel
from kronos.models.seasonal_naive import SeasonalNaiveModel
from kronos.models.sklearn import SklearnModel
from kronos.models.statsforecast import StatsForecastModel

__all__ = [
    "FLAVORS",
    "FLAVOR_METADATA_KEY",
    "EnsembleModel",
    "ForecastModel",
    "ModelConfigError",
    "ModelFitError",
    "build_model",
    "load_model",
    "pip_requirements",
    "validate_model_entry",
]

logger = logging.getLogger(__name__)

#: The model class of each ``model_flavor``.
FLAVORS: dict[str, type[ForecastModel]] = {
    model.flavor: model
    for model in (
        NaiveModel,
        SeasonalNaiveModel,
        ProphetModel,
        PmdarimaModel,
        StatsForecastModel,
        SklearnModel,
        EnsembleModel,
    )
}


def _flavor_class(model_name: str, entry: Any) -> type[ForecastModel]:
    """Return the class an entry's ``model_flavor`` selects."""
    if not isinstance(entry, Mapping):
        raise ModelConfigError(
            f"models_config[{model_name!r}] must be a mapping with 'model_flavor', "
            f"got {entry!r} ({type(entry).__name__}); write for example "
            '{"model_flavor": "naive"}'
        )
    if "model_flavor" not in entry:
        raise ModelConfigError(
            f"models_config[{model_name!r}] has no 'model_flavor'; add one of "
            f"{', '.join(FLAVORS)}"
        )
    flavor = entry["model_flavor"]
    if not isinstance(flavor, str) or flavor not in FLAVORS:
        raise ModelConfigError(
            f"models_config[{model_name!r}]: 'model_flavor' {flavor!r} is not a "
            f"known flavor; use one of {', '.join(FLAVORS)}"
        )
    return FLAVORS[flavor]


def _params(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "model_flavor"}


def validate_model_entry(model_name: str, entry: Mapping[str, Any]) -> None:
    """Check one ``models_config`` entry without building anything.

    Parameters
    ----------
    model_name
        The entry's name in ``models_config``, used in messages.
    entry
        The entry, including ``model_flavor``.

    Raises
    ------
    ModelConfigError
        When the flavor is missing or unknown, or a parameter is unknown or has
        the wrong type; the message names the model, the field, the bad value
        and what is accepted.
    """
    model_class = _flavor_class(model_name, entry)
    model_class.validate_params(model_name, _params(entry))


def build_model(
    entry: Mapping[str, Any], freq: str = "D", *, model_name: str | None = None
) -> ForecastModel:
    """Return an unfitted model for a ``models_config`` entry.

    Parameters
    ----------
    entry
        The entry, including ``model_flavor``; it is validated again here.
    freq
        The pandas frequency alias of the series.
    model_name
        The entry's name, used in error messages.

    Raises
    ------
    ModelConfigError
        When the entry is invalid (see :func:`validate_model_entry`).
    ValueError
        For an ensemble entry: ensembles are built from their members with
        :meth:`EnsembleModel.from_members`.
    """
    name = model_name or str(entry.get("model_flavor", "model"))
    model_class = _flavor_class(name, entry)
    params = _params(entry)
    model_class.validate_params(name, params)
    if model_class is EnsembleModel:
        raise ValueError(
            f"model {name!r} is an ensemble, which is built from its member "
            "models: build each member with build_model and combine them with "
            "EnsembleModel.from_members(members, method)"
        )
    return model_class(params, freq=freq)


def load_model(path: str) -> ForecastModel:
    """Rebuild a fitted model from an MLflow model directory written by kronos.

    Parameters
    ----------
    path
        A local MLflow model directory, as written by :meth:`ForecastModel.save`.

    Raises
    ------
    ValueError
        When the directory's metadata names no kronos flavor, or an unknown one.
    """
    metadata = read_metadata(path)
    flavor = metadata.get(FLAVOR_METADATA_KEY)
    if flavor not in FLAVORS:
        raise ValueError(
            f"{path} is not a kronos model: its MLmodel metadata has "
            f"{FLAVOR_METADATA_KEY}={flavor!r}; expected one of {', '.join(FLAVORS)}"
        )
    logger.debug("loading %s model from %s", flavor, path)
    return FLAVORS[flavor].load(path, metadata)
