"""A small local Spark session for tests, with Delta Lake when its jars are fetched.

``scripts/bootstrap.sh`` puts the Delta Lake jars in ``.cache/jars`` at the root of
the repository, or in the folder that ``KRONOS_JARS_DIR`` names.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

JARS_DIR_ENV = "KRONOS_JARS_DIR"
DEFAULT_JARS_DIR = Path(__file__).resolve().parents[1] / ".cache" / "jars"


def resolve_jars_dir(jars_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of extra jars: the argument, else the env, else the cache."""
    if jars_dir is not None:
        return Path(jars_dir)
    from_env = os.environ.get(JARS_DIR_ENV)
    return Path(from_env) if from_env else DEFAULT_JARS_DIR


def find_delta_jars(jars_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the Delta Lake jars in the jars folder, or [] when one is missing."""
    folder = resolve_jars_dir(jars_dir)
    delta_spark = sorted(folder.glob("delta-spark_*.jar"))
    delta_storage = sorted(folder.glob("delta-storage-*.jar"))
    if not delta_spark or not delta_storage:
        return []
    return delta_spark + delta_storage


def build_local_session(
    app_name: str,
    jars_dir: str | os.PathLike[str] | None = None,
    warehouse_dir: str | os.PathLike[str] | None = None,
) -> SparkSession:
    """Start, or return the running, ``local[2]`` session sized for one machine.

    Every jar in the jars folder goes on the classpath; when the Delta Lake jars
    are among them, the Delta SQL extension and catalog are switched on.
    The driver binds to the loopback address, the UI and progress bars are off,
    and Python workers run the interpreter that runs this code.

    Parameters
    ----------
    app_name
        Name shown in Spark's logs.
    jars_dir
        Folder of extra jars; defaults to ``KRONOS_JARS_DIR``, then ``.cache/jars``.
    warehouse_dir
        Where managed tables go; Spark's default is ``spark-warehouse`` in the
        current directory.

    Returns
    -------
    SparkSession
        The session; its log level is ERROR.
    """
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.pyspark.driver.python", sys.executable)
    )
    if warehouse_dir is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse_dir))

    folder = resolve_jars_dir(jars_dir)
    jars = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    if jars:
        builder = builder.config("spark.jars", ",".join(str(jar) for jar in jars))
    if find_delta_jars(folder):
        builder = (
            builder.config(
                "spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension"
            )
            .config(
                "spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            )
            # Delta rebuilds a table's state in 50 partitions by default, which
            # costs seconds per read on two cores and tiny test tables.
            .config("spark.databricks.delta.snapshotPartitions", "2")
        )

    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
