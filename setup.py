"""Packaging for kronos; the version lives in kronos/_version.py alone."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    """Return the version string assigned in kronos/_version.py."""
    text = (HERE / "kronos" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.MULTILINE)
    if match is None:
        raise RuntimeError("kronos/_version.py does not assign __version__")
    return match.group(1)


def read_long_description() -> str:
    """Return README.md, or an empty text while the file does not exist yet."""
    readme = HERE / "README.md"
    return readme.read_text(encoding="utf-8") if readme.exists() else ""


setup(
    name="kronos",
    version=read_version(),
    description=(
        "Forecast many time series at once on Spark, "
        "with the model lifecycle in MLflow."
    ),
    long_description=read_long_description(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["kronos", "kronos.*"]),
    python_requires=">=3.11",
    # pyspark is not required: Databricks runtimes and Databricks Connect bring
    # their own, which a pyspark from PyPI would shadow. Elsewhere, install the
    # "spark" extra (and "delta" for Delta Lake tables).
    install_requires=[
        "pandas>=2.0",
        "numpy>=1.24",
        "mlflow>=2.16",
        "prophet>=1.1.5",
        "pmdarima>=2.0.4",
        "statsforecast>=1.7",
        "scikit-learn>=1.3",
        "skops>=0.9",
        "pyarrow>=11.0",
        "pillow>=10.1",
        "pyyaml>=6.0",
    ],
    extras_require={
        "spark": ["pyspark>=3.5"],
        "delta": ["pyspark>=3.5", "delta-spark>=3.2"],
        "dev": [
            "pyspark>=3.5",
            "delta-spark>=3.2",
            "pytest>=8.0",
            "ruff>=0.6",
            "twine>=5.0",
            "build>=1.0",
            "psutil>=5.9",
            "psycopg2-binary>=2.9",
        ],
    },
    entry_points={"console_scripts": ["kronos=kronos.cli:console_main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Operating System :: OS Independent",
        "Topic :: Scientific/Engineering :: Information Analysis",
    ],
)
