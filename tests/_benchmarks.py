"""Run a script of ``benchmarks/`` the way a user does, for the smoke tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(
    script: str,
    arguments: list[str],
    workdir: Path,
    *,
    timeout: float = 900,
    isolate_tmp: bool = True,
) -> dict[str, Any]:
    """Run ``benchmarks/<script>`` and return the JSON object of its last line.

    It runs in ``workdir`` with the test's interpreter; with ``isolate_tmp``
    its temporary files go to ``workdir`` too. A failed run fails the test
    with the tail of its standard error.
    """
    environment = dict(os.environ)
    if isolate_tmp:
        environment["TMPDIR"] = str(workdir)
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS_DIR / script), *arguments],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
