"""MLflow plumbing shared by the flavors: metadata, signatures, requirements.

Every directory a kronos model writes carries, in its ``MLmodel`` metadata,
``kronos_flavor``, ``freq``, ``last_date`` (ISO 8601), ``params`` (a JSON
string) and ``kronos_version``, a signature, and an explicit, pinned list of
pip requirements so that MLflow never has to infer them.

Models that MLflow has no flavor for are saved as Python-function models whose
loader is this module: :func:`mlflow.pyfunc.load_model` calls
:func:`_load_pyfunc` with the model directory, which rebuilds the kronos model
with :func:`kronos.models.load_model`. The pyfunc ``predict`` of such a model
takes a frame with a ``ds`` column of dates and returns ``ds`` and ``yhat``,
plus ``yhat_lower`` and ``yhat_upper`` when called with
``params={"interval_width": w}``.

Nothing here imports MLflow at module level: models are fitted and used on
workers that may never save one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from kronos.models.base import FLAVOR_METADATA_KEY, ForecastModel

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=ForecastModel)

#: The module ``mlflow.pyfunc.load_model`` imports to load a kronos model.
LOADER_MODULE = __name__

#: The packages every kronos model needs, whatever its flavor.
_COMMON_PACKAGES = ("numpy", "pandas")

#: The packages each flavor needs on top of :data:`_COMMON_PACKAGES`.
_FLAVOR_PACKAGES: dict[str, tuple[str, ...]] = {
    "naive": (),
    "seasonal_naive": (),
    "prophet": ("prophet",),
    "pmdarima": ("pmdarima",),
    "statsforecast": ("statsforecast",),
    "sklearn": ("scikit-learn", "skops"),
    "ensemble": (),
}


def pip_requirements(flavor: str, *, member_flavors: Iterable[str] = ()) -> list[str]:
    """Return the pinned pip requirements of a saved model of ``flavor``.

    The versions are those installed here, so the directory states exactly
    what it was written with. MLflow adds its own pin.

    Parameters
    ----------
    flavor
        A kronos flavor name.
    member_flavors
        For an ensemble, the flavors of its members, whose packages are added.

    Returns
    -------
    list of str
        Requirements such as ``"prophet==1.5.0"``, sorted, kronos last.

    Raises
    ------
    ValueError
        When a flavor is unknown.
    """
    from kronos import __version__

    packages = set(_COMMON_PACKAGES)
    for name in (flavor, *member_flavors):
        if name not in _FLAVOR_PACKAGES:
            raise ValueError(
                f"unknown flavor {name!r}; pass one of {sorted(_FLAVOR_PACKAGES)}"
            )
        packages.update(_FLAVOR_PACKAGES[name])

    pinned = []
    for package in sorted(packages):
        version = _installed_version(package)
        if version is None:
            # An optional package (skops) that this environment lacks is simply
            # not required: the flavor falls back to a format that needs none.
            logger.debug("package %s is not installed; not required", package)
        else:
            pinned.append(f"{package}=={version}")
    return [*pinned, f"kronos=={__version__}"]


@functools.cache
def _installed_version(package: str) -> str | None:
    """Return the installed version of ``package``, or None; read once."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_metadata(model: ForecastModel) -> dict[str, Any]:
    """Return the metadata stored in the ``MLmodel`` file of a fitted model.

    Raises
    ------
    RuntimeError
        When the model has not been fitted.
    """
    from kronos import __version__

    if model.last_date is None:
        raise RuntimeError(f"{model.flavor} model: fit the model before saving it")
    return {
        FLAVOR_METADATA_KEY: model.flavor,
        "freq": model.freq,
        "last_date": model.last_date.isoformat(),
        "params": json.dumps(model.params, sort_keys=True),
        "kronos_version": __version__,
    }


def _require_fitted(model: ForecastModel) -> None:
    if model.last_date is None:
        raise RuntimeError(f"{model.flavor} model: fit the model before saving it")


def read_metadata(path: str) -> dict[str, Any]:
    """Return the ``metadata`` section of the ``MLmodel`` file in ``path``.

    Read with libyaml's parser when PyYAML has it, several times faster than
    the pure-Python one that :meth:`mlflow.models.Model.load` uses; only this
    section is needed to tell which kronos flavor wrote the directory.

    Raises
    ------
    FileNotFoundError
        When ``path`` has no ``MLmodel`` file.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(os.path.join(path, "MLmodel"), encoding="utf-8") as file:
        content = yaml.load(file, Loader=loader) or {}
    return dict(content.get("metadata") or {})


def restore_base(cls: type[ModelT], metadata: Mapping[str, Any]) -> ModelT:
    """Build an instance of ``cls`` with the params, freq and last date saved."""
    model = cls(json.loads(metadata["params"]), freq=metadata["freq"])
    model.last_date = pd.Timestamp(metadata["last_date"])
    return model


def next_dates(model: ForecastModel, periods: int = 3) -> pd.DatetimeIndex:
    """Return the first ``periods`` dates after the history, for input examples."""
    _require_fitted(model)
    offset = pd.tseries.frequencies.to_offset(model.freq)
    return pd.date_range(model.last_date + offset, periods=periods, freq=model.freq)


def forecast_signature(
    extra_inputs: Iterable[str] = (), *, with_params: bool = True
) -> ModelSignature:
    """Return the signature of a model whose pyfunc takes dates in ``ds``.

    Parameters
    ----------
    extra_inputs
        Names of further numeric input columns (Prophet's ``cap`` and ``floor``).
    with_params
        Whether the pyfunc accepts ``params={"interval_width": w}``.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema(
        [ColSpec("datetime", "ds"), *(ColSpec("double", name) for name in extra_inputs)]
    )
    outputs = Schema(
        [
            ColSpec("datetime", "ds"),
            ColSpec("double", "yhat"),
            ColSpec("double", "yhat_lower", required=False),
            ColSpec("double", "yhat_upper", required=False),
        ]
    )
    params = (
        ParamSchema([ParamSpec("interval_width", "double", None)])
        if with_params
        else None
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


@contextlib.contextmanager
def quiet_mlflow_save() -> Iterator[None]:
    """Hide MLflow's INFO lines while a model is saved, for this block only.

    Saving one model per series would otherwise repeat the same line (the
    input example checked against the signature) thousands of times. MLflow's
    warnings still show.
    """
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(max(level, logging.WARNING))
    try:
        with _requirements_trusted():
            yield
    finally:
        mlflow_logger.setLevel(level)


@contextlib.contextmanager
def _requirements_trusted() -> Iterator[None]:
    """Skip MLflow's check of the requirements against this environment.

    kronos pins every requirement to the version installed in this process
    (:func:`pip_requirements`) and MLflow pins its own, so the check, which
    reads each package's metadata from disk again on every save, cannot find
    a mismatch; it cost about half of the time of saving a model. Nothing
    else of MLflow's save is changed.
    """
    import mlflow.utils.environment as environment

    name = "warn_dependency_requirement_mismatches"
    check = getattr(environment, name, None)
    if check is None or check is _no_requirement_check:
        yield
        return
    setattr(environment, name, _no_requirement_check)
    try:
        yield
    finally:
        setattr(environment, name, check)


def _no_requirement_check(requirements: list[str]) -> None:
    logger.debug("requirements pinned from this environment: %s", requirements)


def save_pyfunc(
    model: ForecastModel,
    path: str,
    *,
    metadata: Mapping[str, Any] | None = None,
    member_flavors: Iterable[str] = (),
) -> None:
    """Write ``path`` as a Python-function model loaded by this module.

    The caller writes its own state files into ``path`` afterwards; they are
    read back by the flavor's ``load``.
    """
    import mlflow.pyfunc

    with quiet_mlflow_save():
        mlflow.pyfunc.save_model(
            path,
            loader_module=LOADER_MODULE,
            signature=forecast_signature(),
            input_example=pd.DataFrame({"ds": next_dates(model)}),
            metadata=dict(metadata or model_metadata(model)),
            pip_requirements=pip_requirements(
                model.flavor, member_flavors=member_flavors
            ),
        )
    logger.debug("saved %s model as a kronos pyfunc model at %s", model.flavor, path)


def use_kronos_pyfunc(path: str) -> None:
    """Point the ``python_function`` flavor of a saved directory at this module.

    Used for native MLflow flavors whose own pyfunc cannot forecast dates
    (a scikit-learn regressor needs the recursive forecaster around it).
    """
    from mlflow.models import Model
    from mlflow.pyfunc import FLAVOR_NAME

    mlmodel_path = os.path.join(path, "MLmodel")
    mlflow_model = Model.load(mlmodel_path)
    conf = mlflow_model.flavors[FLAVOR_NAME]
    for key in ("model_path", "data", "predict_fn"):
        conf.pop(key, None)
    conf["loader_module"] = LOADER_MODULE
    mlflow_model.save(mlmodel_path)


def check_unpickle_allowed(path: str) -> None:
    """Refuse to unpickle when MLflow's deserialization switch is off.

    kronos follows the same switch as MLflow's own flavors, the environment
    variable ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``.
    """
    from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION

    if not MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get():
        raise RuntimeError(
            f"loading {path} needs unpickling, which is disabled because "
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION is not 'true'; set it to 'true' "
            "if the model comes from a trusted source"
        )


class PyfuncForecaster:
    """The object :func:`mlflow.pyfunc.load_model` wraps for a kronos model.

    Parameters
    ----------
    model
        The fitted kronos model.
    """

    def __init__(self, model: ForecastModel) -> None:
        self.model = model

    def get_raw_model(self) -> ForecastModel:
        """Return the kronos model (what ``unwrap_python_model`` would give)."""
        return self.model

    def predict(
        self, model_input: pd.DataFrame, params: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Forecast the dates in the ``ds`` column of ``model_input``.

        Parameters
        ----------
        model_input
            A frame with a ``ds`` column of dates after the history.
        params
            Optionally ``{"interval_width": w}`` with ``w`` in ``(0, 1)``.

        Raises
        ------
        ValueError
            When ``model_input`` has no ``ds`` column.
        """
        if "ds" not in model_input:
            raise ValueError(
                "the input has no 'ds' column; pass a frame with the dates to "
                f"forecast in 'ds' (columns given: {list(model_input.columns)})"
            )
        interval_width = (params or {}).get("interval_width")
        dates = pd.DatetimeIndex(pd.to_datetime(model_input["ds"]))
        return self.model.predict(dates, interval_width=interval_width)


def _load_pyfunc(data_path: str) -> PyfuncForecaster:
    """Load a kronos model directory for :func:`mlflow.pyfunc.load_model`."""
    from kronos.models import load_model

    return PyfuncForecaster(load_model(data_path))
