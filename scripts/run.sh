#!/usr/bin/env bash
# Installs everything (scripts/bootstrap.sh), then runs the session daemon on the embedded SQLite
# store (./data/superparty.db) with its HTTP API and dashboard on http://127.0.0.1:8080.
# Extra arguments go to `superparty-daemon serve` (see `superparty-daemon serve --help`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate

export STORE_URL="${STORE_URL:-sqlite:///./data/superparty.db}"

exec superparty-daemon serve "$@"
