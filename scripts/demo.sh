#!/usr/bin/env bash
# Bootstrap, then run the kronos demo; arguments go to the demo.
#
# Usage: scripts/demo.sh [demo arguments...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh
exec .venv/bin/python -m kronos.demo "$@"
