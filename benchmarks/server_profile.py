"""Split an MLflow server's CPU samples by the endpoint being served.

Reads the collapsed stacks that ``py-spy record --format raw`` writes (one
line per distinct stack: frames joined by ``;``, then a sample count) and
gives each sample to the first function of MLflow's request handlers module
(``mlflow/server/handlers.py``) on its stack, past the decorators every
handler has. Samples with no handler on the stack are the HTTP server's own
work (accepting, parsing, writing responses and the access log). Samples
that pass through MLflow's check that a registered model is not a prompt are
counted apart as well.

py-spy is not among kronos's requirements; install it where you profile::

    pip install py-spy
    py-spy record --pid <server worker pid> --nonblocking --format raw \
        --rate 200 -o server.raw
    .venv/bin/python benchmarks/server_profile.py server.raw

It prints a table and, as its last line, a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HANDLERS_FILE = "mlflow/server/handlers.py"
#: Decorators around every handler, not endpoints themselves.
WRAPPERS = frozenset(
    {
        "catch_mlflow_exception.<locals>.wrapper",
        "_disable_if_artifacts_only.<locals>.wrapper",
    }
)
PROMPT_CHECK = "_is_prompt"
OUTSIDE = "(outside the handlers)"


def handler_functions(stack: str) -> list[str]:
    """Return the names of the stack's frames in MLflow's handlers module."""
    frames = stack.split(";")
    return [frame.split(" (")[0] for frame in frames if HANDLERS_FILE in frame]


def split_samples(lines: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """Return samples per endpoint, those of them in the prompt check, the total."""
    by_endpoint: Counter[str] = Counter()
    in_prompt_check: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        names = handler_functions(stack)
        endpoint = next((name for name in names if name not in WRAPPERS), OUTSIDE)
        by_endpoint[endpoint] += count
        if PROMPT_CHECK in names:
            in_prompt_check[endpoint] += count
    return by_endpoint, in_prompt_check, total


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="py-spy's --format raw output")
    args = parser.parse_args(argv)
    if not args.raw.is_file():
        parser.error(f"{args.raw} is not a file; pass the file py-spy wrote with -o")

    lines = args.raw.read_text(encoding="utf-8").splitlines()
    by_endpoint, in_prompt_check, total = split_samples(lines)
    if total == 0:
        parser.error(f"{args.raw} holds no samples")

    def share(count: int) -> float:
        return round(100 * count / total, 1)

    emit("| endpoint handler | % of samples | of which the prompt check |")
    emit("|---|---|---|")
    for endpoint, count in by_endpoint.most_common():
        emit(f"| {endpoint} | {share(count)} | {share(in_prompt_check[endpoint])} |")
    report: dict[str, object] = {
        "samples": total,
        "percent_by_endpoint": {
            name: share(count) for name, count in by_endpoint.most_common()
        },
        "percent_in_prompt_check": share(sum(in_prompt_check.values())),
    }
    emit(json.dumps(report))
    return report


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
