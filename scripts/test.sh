#!/usr/bin/env bash
# Bootstrap, check formatting and lint, then run the tests; arguments go to pytest.
#
# Usage: scripts/test.sh [pytest arguments...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
.venv/bin/ruff format --check kronos tests benchmarks
.venv/bin/ruff check kronos tests benchmarks
.venv/bin/python -m pytest -q "$@"
