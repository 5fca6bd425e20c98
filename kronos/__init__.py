"""Forecast many time series at once on Spark, with the model lifecycle in MLflow."""

from kronos._version import __version__

__all__ = ["__version__", "forecast_udf_gen", "result_schema"]


def __getattr__(name: str):
    # Spark and MLflow are imported only when the public entry points are used,
    # so that ``import kronos`` stays cheap on workers and in unit tests.
    if name == "forecast_udf_gen":
        from kronos.forecast_udf import forecast_udf_gen

        return forecast_udf_gen
    if name == "result_schema":
        from kronos.spark import result_schema

        return result_schema
    raise AttributeError(f"module 'kronos' has no attribute {name!r}")
