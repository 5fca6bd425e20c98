#!/usr/bin/env bash
# Bootstrap, check formatting and lint, then run the tests; arguments go to pytest.
#
# Usage: scripts/test.sh [pytest arguments...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
lint_paths=(kronos tests)
[ -d benchmarks ] && lint_paths+=(benchmarks)
.venv/bin/ruff format --check "${lint_paths[@]}"
.venv/bin/ruff check "${lint_paths[@]}"
.venv/bin/python -m pytest -q "$@"
