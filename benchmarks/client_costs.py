"""What MLflow's client costs a Spark worker, with and without kronos's shortcuts.

Two costs that every key pays in the worker's own CPU, outside the tracking
server, each measured both ways in one process, in alternating blocks:

- **a request**: MLflow's client runs its Databricks checks before each one;
  off Databricks, each check imports a module that is not installed, unless
  :func:`kronos.tracking.mark_databricks_runtime_absent` recorded it as
  absent. Timed on ``get_experiment_by_name`` against an ``mlflow server``
  started on 127.0.0.1 (gunicorn, SQLite), as client CPU per request.
- **reading a model directory's metadata**: :meth:`mlflow.models.Model.load`
  (pure-Python YAML) against :func:`kronos.models._mlflow.read_metadata`
  (libyaml), on the ``MLmodel`` file of a saved Prophet model.

It prints a table and, as its last line, a JSON object.

Example::

    .venv/bin/python benchmarks/client_costs.py
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_ms_per_call(function: Callable[[], Any], calls: int) -> float:
    """Return the process CPU time of one call of ``function``, in ms."""
    start = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - start) * 1000 / calls


def alternate(
    ways: dict[str, tuple[Callable[[], None], Callable[[], Any]]],
    calls: int,
    blocks: int,
) -> dict[str, float]:
    """Time each way in ``blocks`` blocks of ``calls`` calls, the ways alternating.

    A way is a set-up, run before each of its blocks, and the function timed.
    Returns the median CPU ms per call of each way.
    """
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for block in range(blocks):
        order = list(ways) if block % 2 == 0 else list(reversed(ways))
        for name in order:
            set_up, function = ways[name]
            set_up()
            timings[name].append(cpu_ms_per_call(function, calls))
    return {name: statistics.median(values) for name, values in timings.items()}


def request_costs(calls: int, blocks: int, root: Path) -> dict[str, float]:
    """Client CPU per request, with the Databricks runtime probed or not."""
    from mlflow.tracking import MlflowClient

    from kronos import tracking
    from kronos.local_server import LocalServer

    def probed() -> None:
        sys.modules.pop(tracking.DATABRICKS_RUNTIME_MODULE, None)

    def recorded_absent() -> None:
        tracking.mark_databricks_runtime_absent.cache_clear()
        tracking.mark_databricks_runtime_absent()

    with LocalServer(root / "mlflow", http_server="gunicorn") as server:
        client = MlflowClient(server.tracking_uri)
        client.create_experiment("client-costs")

        def request() -> None:
            client.get_experiment_by_name("client-costs")

        cpu_ms_per_call(request, calls)  # warm-up: imports, first connection
        ways = {
            "runtime probed": (probed, request),
            "runtime recorded absent": (recorded_absent, request),
        }
        return alternate(ways, calls, blocks)


def metadata_costs(calls: int, blocks: int, root: Path) -> dict[str, float]:
    """CPU per read of a saved Prophet model's metadata, both ways."""
    import mlflow.models
    import numpy as np
    import pandas as pd

    from kronos.models import build_model
    from kronos.models._mlflow import read_metadata

    dates = pd.date_range("2024-01-01", periods=400, freq="D")
    values = 10 + np.sin(np.arange(400) * 2 * np.pi / 7)
    history = pd.DataFrame({"ds": dates, "y": values})
    path = str(root / "prophet")
    build_model({"model_flavor": "prophet"}, "D").fit(history).save(path)
    ways = {
        "mlflow Model.load": (_nothing, lambda: mlflow.models.Model.load(path)),
        "kronos read_metadata": (_nothing, lambda: read_metadata(path)),
    }
    return alternate(ways, calls, blocks)


def _nothing() -> None:
    return None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per block")
    parser.add_argument("--reads", type=int, default=200, help="per block")
    parser.add_argument("--blocks", type=int, default=5, help="per way")
    args = parser.parse_args(argv)
    for name in ("requests", "reads", "blocks"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="kronos-client-costs-") as folder:
        root = Path(folder)
        requests = request_costs(args.requests, args.blocks, root)
        reads = metadata_costs(args.reads, args.blocks, root)

    emit(f"| cost | way | CPU ms per call (median of {args.blocks} blocks) |")
    emit("|---|---|---|")
    for cost, figures in (("one request", requests), ("one MLmodel read", reads)):
        for way, value in figures.items():
            emit(f"| {cost} | {way} | {value:.2f} |")
    report = {
        "request_cpu_ms": {k: round(v, 3) for k, v in requests.items()},
        "mlmodel_read_cpu_ms": {k: round(v, 3) for k, v in reads.items()},
        "blocks": args.blocks,
        "requests_per_block": args.requests,
        "reads_per_block": args.reads,
        "server": "mlflow server, gunicorn, SQLite, on 127.0.0.1",
    }
    emit(json.dumps(report))
    return report


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
