#!/usr/bin/env bash
# Deploy our Cloud Functions in buckets, one `firebase deploy` at a time (the CLI and Cloud Run
# throttle large deploys). Usage:
#
#   scripts/firebase-deploy-functions-buckets.sh BUCKET --project ID [--dry-run]
#
# Buckets: whatsapp-proxy (every whatsappProxy* + whatsappWhoAmI), whatsapp-stub (whatsapp),
# ai (whatsappExtractEventFromThread, clientCrmAsk), staff (aggregateClientStats), all.
# Every deploy names our codebase (firebase.json) and each function: `--only
# functions:CODEBASE:NAME,...`, never a bare `functions`, so the app's Node functions (codebase
# `default`) are never touched. The project is required (--project or FIREBASE_PROJECT).
# scripts/deploy_preflight.py runs first and stops on a missing secret or setting.
# FIREBASE_DEPLOY_SLEEP (seconds, default 20) pauses between buckets; FIREBASE_BIN overrides the
# CLI (default: node_modules/.bin/firebase). `shared/` is vendored into functions/ first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

bucket_functions() {
    case "$1" in
        whatsapp-proxy)
            echo "whatsappProxyGetAccounts whatsappProxyGetAccountsStaff whatsappProxyAddAccount" \
                "whatsappProxyRegenerateQr whatsappProxyDeleteAccount whatsappProxyBackfillAccount" \
                "whatsappProxyGetInbox whatsappProxyGetThreads whatsappProxySend whatsappWhoAmI" ;;
        whatsapp-stub) echo "whatsapp" ;;
        ai) echo "whatsappExtractEventFromThread clientCrmAsk" ;;
        staff) echo "aggregateClientStats" ;;
        *) return 1 ;;
    esac
}

# `bucket_functions` is the one list of our names: scripts/cutover.py reads it from here.
if [[ "${1:-}" == "--list" ]]; then
    for bucket in whatsapp-stub whatsapp-proxy ai staff; do
        echo "$bucket: $(bucket_functions "$bucket")"
    done
    exit 0
fi

[[ $# -ge 1 ]] || usage
BUCKET="$1"; shift
PROJECT="${FIREBASE_PROJECT:-}"
DRY_RUN=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --project) PROJECT="${2:?--project needs an id}"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done

case "$BUCKET" in
    all) BUCKETS=(whatsapp-proxy whatsapp-stub ai staff) ;;
    whatsapp-proxy|whatsapp-stub|ai|staff) BUCKETS=("$BUCKET") ;;
    *) echo "unknown bucket: $BUCKET (whatsapp-proxy, whatsapp-stub, ai, staff, all)" >&2; exit 2 ;;
esac

SLEEP_S="${FIREBASE_DEPLOY_SLEEP:-20}"
[[ "$SLEEP_S" =~ ^[0-9]+$ ]] || { echo "FIREBASE_DEPLOY_SLEEP must be whole seconds" >&2; exit 2; }

if [[ -n "${FIREBASE_BIN:-}" ]]; then
    read -r -a FIREBASE <<<"$FIREBASE_BIN"
else
    FIREBASE=(node_modules/.bin/firebase)
fi
export FIREBASE_BIN="${FIREBASE[*]}"

PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3

# Nothing is vendored or deployed before every check passed.
preflight=("$PYTHON" scripts/deploy_preflight.py --functions --project "$PROJECT")
[[ $DRY_RUN -eq 1 ]] && preflight+=(--dry-run)
"${preflight[@]}" || exit 1
CODEBASE="$("$PYTHON" scripts/deploy_preflight.py --print-codebase)"

if [[ $DRY_RUN -eq 1 ]]; then
    echo "would vendor shared/ into functions/shared"
else
    "$PYTHON" scripts/vendor_shared.py functions
fi

first=1
for bucket in "${BUCKETS[@]}"; do
    only=""
    for name in $(bucket_functions "$bucket"); do
        only="${only:+$only,}functions:$CODEBASE:$name"
    done
    if [[ $first -eq 0 && "$SLEEP_S" -gt 0 ]]; then
        echo "sleeping ${SLEEP_S}s before bucket $bucket"
        [[ $DRY_RUN -eq 1 ]] || sleep "$SLEEP_S"
    fi
    first=0
    cmd=("${FIREBASE[@]}" deploy --only "$only" --project "$PROJECT" --non-interactive)
    echo "bucket $bucket: ${cmd[*]}"
    [[ $DRY_RUN -eq 1 ]] || "${cmd[@]}"
done
