#!/usr/bin/env bash
# Installs everything (scripts/bootstrap.sh), then runs the whole check: ruff lint, ruff format
# check, mypy, and the full pytest suite. Every step runs; the exit code is non-zero if any failed.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/contract -x`).
# SUPERPARTY_TEST_STEPS picks steps (default "lint format types pytest"), e.g. "pytest".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

bash scripts/bootstrap.sh || exit 1
# shellcheck disable=SC1091
source .venv/bin/activate

failed=()
step() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    local started=$SECONDS
    "$@"
    local rc=$?
    printf '==> %s: exit %d in %ds\n' "$name" "$rc" "$((SECONDS - started))"
    if [[ $rc -ne 0 ]]; then failed+=("$name"); fi
    return 0
}

# mypy: our Python code only, in one run (pyproject's exclude drops functions/venv and
# functions/shared). functions/ is the root of its modules (`main`, `superparty_functions`), as
# deployed and as the tests import them (pyproject: mypy_path, pytest pythonpath).
mypy_targets=()
for dir in shared session_daemon functions tests bench; do
    [[ -d "$dir" ]] && mypy_targets+=("$dir")
done
while IFS= read -r -d '' file; do mypy_targets+=("$file"); done \
    < <(find scripts -maxdepth 2 -name '*.py' -print0 2>/dev/null)

run_mypy() {
    mypy "${mypy_targets[@]}"
}

run_pytest() {
    # -rs: every skip with its reason (the Firestore emulator gaps among them); the slowest tests.
    # The bootstrap above installed every tool, so a test that finds one missing fails here
    # instead of skipping (tests/conftest.py: missing_tool).
    SUPERPARTY_REQUIRE_TOOLS=1 pytest -rs --durations=10 "$@"
    local rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "pytest collected no tests: treated as a failure" >&2
    fi
    return $rc
}

steps=" ${SUPERPARTY_TEST_STEPS:-lint format types pytest} "
[[ "$steps" == *" lint "* ]] && step "ruff check" ruff check .
[[ "$steps" == *" format "* ]] && step "ruff format --check" ruff format --check .
[[ "$steps" == *" types "* ]] && step "mypy" run_mypy
[[ "$steps" == *" pytest "* ]] && step "pytest" run_pytest "$@"

if ((${#failed[@]})); then
    printf '\nFAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\nall checks passed\n'
