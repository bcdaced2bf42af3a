#!/usr/bin/env bash
# Installs everything the project needs to run and to test, idempotently:
#   Debian packages, .venv (Python 3.11, requirements.lock + the project, editable),
#   node_modules (npm ci of package-lock.json), the Node stand-in's node_modules
#   (tests/integration/cutover/app_functions), functions/venv (functions/requirements.txt).
# Each step records a stamp keyed by a hash of its inputs and is skipped while the stamp matches,
# so a second run takes about a second. Safe to run concurrently (one run at a time, via flock).
#
# `bash scripts/bootstrap.sh --lock` first regenerates requirements.lock from pyproject.toml
# (with the dev extra) with a pinned pip-tools; do that after changing a dependency.
set -euo pipefail

PIP_TOOLS_VERSION="7.6.2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# One package per line (branches add theirs without conflicts).
DEB_PACKAGES=(
    libmagic1
    shellcheck
    systemd
    chromium
    nginx-light
    postgresql
)
PYTHON_VERSION="3.11"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# One bootstrap at a time per checkout: engineers and CI may start the scripts concurrently.
LOCK_FILE="${TMPDIR:-/tmp}/superparty-bootstrap-$(printf '%s' "$ROOT" | sha256sum | cut -c1-16).lock"
exec 9>"$LOCK_FILE"
flock 9

hash_files() {
    # Hash of the named files' contents (a missing file hashes as "missing").
    local f
    for f in "$@"; do
        if [[ -f "$f" ]]; then sha256sum "$f"; else echo "missing $f"; fi
    done | sha256sum | cut -c1-32
}

stamp_matches() { [[ -f "$1" ]] && [[ "$(cat "$1")" == "$2" ]]; }

# ---- requirements.lock (on request) ----------------------------------------------------------
if [[ "${1:-}" == "--lock" ]]; then
    tools_venv="${TMPDIR:-/tmp}/superparty-pip-tools-$PIP_TOOLS_VERSION"
    if ! [[ -x "$tools_venv/bin/pip-compile" ]]; then
        python_for_tools="$(command -v "python3.11" || command -v python3)"
        "$python_for_tools" -m venv "$tools_venv"
        "$tools_venv/bin/python" -m pip install -q "pip-tools==$PIP_TOOLS_VERSION"
    fi
    log "regenerating requirements.lock"
    "$tools_venv/bin/pip-compile" --quiet --extra dev --strip-extras --no-emit-find-links \
        --no-emit-index-url --output-file requirements.lock pyproject.toml
fi

# ---- Debian packages --------------------------------------------------------------------------
missing_debs=()
for pkg in "${DEB_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing_debs+=("$pkg")
    fi
done
if ((${#missing_debs[@]})); then
    log "installing Debian packages: ${missing_debs[*]}"
    SUDO=()
    [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
fi

# ---- Python 3.11 ------------------------------------------------------------------------------
find_python() {
    local candidate
    for candidate in "python$PYTHON_VERSION" python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            [[ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$PYTHON_VERSION" ]]; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

venv_is_usable() {
    [[ -x "$1/bin/python" ]] &&
        [[ "$("$1/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$PYTHON_VERSION" ]]
}

ensure_venv() {
    # ensure_venv DIR: a Python 3.11 virtual environment at DIR (recreated if broken).
    local dir="$1" python
    if venv_is_usable "$dir"; then
        return 0
    fi
    python="$(find_python)" || die "Python $PYTHON_VERSION not found on PATH"
    log "creating $dir with $python"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
}

ensure_venv .venv
PY_STAMP=.venv/.superparty-stamp
py_hash="$(hash_files requirements.lock pyproject.toml)"
if ! stamp_matches "$PY_STAMP" "$py_hash" || ! .venv/bin/python -c 'import shared' 2>/dev/null; then
    log "installing Python dependencies into .venv"
    .venv/bin/python -m pip install -q -r requirements.lock
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$py_hash" >"$PY_STAMP"
fi

# ---- npm packages (Firebase emulators, Firestore emulator) ------------------------------------
command -v node >/dev/null 2>&1 || die "node (>= 20) not found on PATH"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "node $(node --version) is too old: firebase-tools needs 20 or newer"
NPM_STAMP=node_modules/.superparty-stamp
npm_hash="$(hash_files package.json package-lock.json)"
if ! stamp_matches "$NPM_STAMP" "$npm_hash"; then
    log "installing npm packages (npm ci)"
    # --omit=optional skips re2 (superstatic's optional regex engine for the Hosting emulator,
    # which we do not run): its prebuilt binary comes from GitHub, unreachable in CI, and
    # compiling it from source took 10+ minutes on 2 cores; without it npm ci takes ~45 s.
    npm ci --omit=optional --no-audit --no-fund --loglevel=error >/dev/null
    echo "$npm_hash" >"$NPM_STAMP"
fi

# ---- the app's Node functions stand-in (tests only: our codebase served beside a Node one) ------
APP_FUNCTIONS=tests/integration/cutover/app_functions
if [[ -f "$APP_FUNCTIONS/package-lock.json" ]]; then
    APP_STAMP="$APP_FUNCTIONS/node_modules/.superparty-stamp"
    app_hash="$(hash_files "$APP_FUNCTIONS/package.json" "$APP_FUNCTIONS/package-lock.json")"
    if ! stamp_matches "$APP_STAMP" "$app_hash"; then
        log "installing npm packages of $APP_FUNCTIONS (npm ci)"
        # optional dependencies included: firebase-admin lists @google-cloud/firestore as one, and
        # the Functions emulator loads it for a Node codebase.
        (cd "$APP_FUNCTIONS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        echo "$app_hash" >"$APP_STAMP"
    fi
fi

# ---- functions/venv (the Firebase CLI runs our Python functions from it) ----------------------
if [[ -f functions/requirements.txt ]]; then
    ensure_venv functions/venv
    FN_STAMP=functions/venv/.superparty-stamp
    fn_hash="$(hash_files functions/requirements.txt)"
    if ! stamp_matches "$FN_STAMP" "$fn_hash"; then
        log "installing functions/requirements.txt into functions/venv"
        (cd functions && venv/bin/python -m pip install -q -r requirements.txt)
        echo "$fn_hash" >"$FN_STAMP"
    fi
fi

log "ready"
