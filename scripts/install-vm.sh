#!/usr/bin/env bash
# Installs the Superparty session daemon on a fresh Debian VM as a systemd service, idempotently:
#   - the system user `superparty` (no login shell, home = the data folder);
#   - folders: /var/lib/superparty (data: store, journal, sessions, media; 0750) with
#     sessions/ (0700: WhatsApp keys), /etc/superparty (0750), /opt/superparty (the venv);
#   - /etc/superparty/daemon.env (0640 root:superparty) with a generated service token; an
#     existing file is never touched (the token stays; edit it by hand, then restart);
#   - /opt/superparty/venv: Python 3.11 venv with requirements.lock and this checkout's package;
#   - /etc/systemd/system/superparty-daemon.service (deploy/systemd/), then enable + start.
# Run it again after `git pull` to upgrade: the venv gets the new code, settings stay.
#
#   sudo bash scripts/install-vm.sh              # the machine itself
#   bash scripts/install-vm.sh --root DIR        # an image of the files under DIR (tests,
#                                                # packaging): no user, no chown, no systemctl
#   options: --no-venv (skip the venv step), --no-start (install, do not enable/start)
#
# Firewall: the daemon listens on HOST:PORT from daemon.env (127.0.0.1:8080 by default). Keep
# it behind the reverse proxy of docs/daemon-exposure.md; if the app must reach it directly,
# open only that port to the app's addresses, e.g. `ufw allow from APP_NET to any port 8080
# proto tcp` (and `ufw deny 8080` for everyone else). /metrics is for your Prometheus only.
#
# Logs: journald (`journalctl -u superparty-daemon`), LOG_FORMAT=json by default here. Rotation
# and retention are journald's: e.g. /etc/systemd/journald.conf.d/superparty.conf with
# `[Journal]` `SystemMaxUse=2G` `MaxRetentionSec=30day`, then `systemctl restart systemd-journald`.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
WITH_VENV=1
START=1
SERVICE_USER="superparty"
UNIT_NAME="superparty-daemon.service"

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
log() { printf '[install] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while (($#)); do
    case "$1" in
        --root) [[ $# -ge 2 ]] || die "--root needs a folder"; ROOT="$(realpath -m "$2")"; shift 2 ;;
        --no-venv) WITH_VENV=0; shift ;;
        --no-start) START=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

ETC_DIR="/etc/superparty"
DATA_DIR="/var/lib/superparty"
OPT_DIR="/opt/superparty"
UNIT_DIR="/etc/systemd/system"

# In --root mode every path is written under ROOT; the files' contents keep the real paths.
at() { printf '%s%s' "$ROOT" "$1"; }

if [[ -z "$ROOT" && "$(id -u)" != 0 ]]; then
    die "run as root (sudo), or pass --root DIR to write an image of the files"
fi

# ---- Debian packages (the machine only) ----------------------------------------------------------
DEB_PACKAGES=(python3.11 python3.11-venv libmagic1 ca-certificates)
if [[ -z "$ROOT" ]]; then
    missing=()
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

# ---- user ---------------------------------------------------------------------------------------
if [[ -z "$ROOT" ]]; then
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        log "creating the system user $SERVICE_USER"
        useradd --system --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin \
            "$SERVICE_USER"
    fi
else
    log "--root: not creating the user $SERVICE_USER nor changing owners"
fi

owned() {
    # owned MODE OWNER:GROUP PATH: set the mode, and the owner outside --root
    chmod "$1" "$3"
    [[ -n "$ROOT" ]] || chown "$2" "$3"
}

# ---- folders ------------------------------------------------------------------------------------
install -d -m 0755 "$(at "$UNIT_DIR")" "$(at "$OPT_DIR")"
for dir in "$ETC_DIR" "$DATA_DIR" "$DATA_DIR/sessions" "$DATA_DIR/media"; do
    mkdir -p "$(at "$dir")"
done
owned 0750 "root:$SERVICE_USER" "$(at "$ETC_DIR")"
owned 0750 "$SERVICE_USER:$SERVICE_USER" "$(at "$DATA_DIR")"
owned 0700 "$SERVICE_USER:$SERVICE_USER" "$(at "$DATA_DIR/sessions")"
owned 0750 "$SERVICE_USER:$SERVICE_USER" "$(at "$DATA_DIR/media")"
# Files put there by root (a restore run with sudo, a copy) must stay the daemon's to write.
[[ -n "$ROOT" ]] || chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"

# ---- environment file (never overwritten: it holds the service token) --------------------------
ENV_FILE="$(at "$ETC_DIR/daemon.env")"
if [[ -e "$ENV_FILE" ]]; then
    log "keeping $ETC_DIR/daemon.env as it is"
else
    # 32 random bytes, URL-safe base64 without padding: 43 characters (256 bits).
    token="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    tmp="$(mktemp "$(at "$ETC_DIR")/.daemon.env.XXXXXX")"
    cat >"$tmp" <<ENV
# Superparty daemon settings (systemd EnvironmentFile). After editing:
#   systemctl restart superparty-daemon
# Every variable is described in README.md, "Running the daemon".
STORE_URL=sqlite:///$DATA_DIR/superparty.db
SESSIONS_PATH=$DATA_DIR/sessions
WHATSAPP_DATA_PATH=$DATA_DIR
WHATSAPP_MEDIA_DIR=$DATA_DIR/media
WHATSAPP_TRANSPORT=neonize
HOST=127.0.0.1
PORT=8080
LOG_FORMAT=json
LOG_LEVEL=INFO
# The service token (the dashboard's sign-in and the proxy's bearer). Keep it secret.
WHATSAPP_DAEMON_TOKEN=$token
ENV
    owned 0640 "root:$SERVICE_USER" "$tmp"
    mv "$tmp" "$ENV_FILE"
    log "wrote $ETC_DIR/daemon.env with a new service token"
fi

# ---- venv -----------------------------------------------------------------------------------------
if ((WITH_VENV)); then
    python="$(command -v python3.11 || true)"
    [[ -n "$python" ]] || die "python3.11 is missing: apt-get install python3.11 python3.11-venv"
    venv="$(at "$OPT_DIR/venv")"
    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$SRC/requirements.lock"
    "$venv/bin/python" -m pip install --quiet --no-deps "$SRC"
    log "installed $("$venv/bin/python" -m pip show superparty | sed -n 's/^Version: //p') into $OPT_DIR/venv"
fi

# ---- systemd unit -----------------------------------------------------------------------------
install -m 0644 "$SRC/deploy/systemd/$UNIT_NAME" "$(at "$UNIT_DIR/$UNIT_NAME")"
if [[ -z "$ROOT" ]] && ((START)); then
    systemctl daemon-reload
    systemctl enable "$UNIT_NAME" >/dev/null
    systemctl restart "$UNIT_NAME"
    log "started: systemctl status superparty-daemon; journalctl -u superparty-daemon -f"
fi
log "done"
