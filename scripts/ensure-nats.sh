#!/usr/bin/env bash
# Makes sure a NATS server answers on 127.0.0.1:4222 (cluster mode's messaging;
# the cluster tests start private nats-server processes of their own from the
# same binary). Idempotent; run by `npm test` (pretest) and by .ci/run.
#
#   1. Something answers on 127.0.0.1:4222 with NATS's INFO line: nothing to do.
#   2. Otherwise install Debian's nats-server if /usr/sbin/nats-server is
#      missing, start it on 127.0.0.1:4222 in the background, and wait for it,
#      at most WAIT_SECONDS.
#
# Prints one summary line on success; exits 1 with a reason on failure.
set -euo pipefail

readonly HOST=127.0.0.1
readonly PORT=4222
readonly DAEMON=/usr/sbin/nats-server
readonly PID_FILE=/tmp/rmm-ensure-nats.pid
readonly LOG_FILE=/tmp/rmm-ensure-nats.log
readonly WAIT_SECONDS=20

actions=()

log() { echo "ensure-nats: $*" >&2; }
fail() {
  echo "ensure-nats: FAILED: $*" >&2
  exit 1
}

# True when a NATS server greets on HOST:PORT (its first line starts with INFO).
answers() {
  local line
  exec 3<>"/dev/tcp/$HOST/$PORT" 2>/dev/null || return 1
  IFS= read -r -t 2 line <&3 || line=""
  exec 3>&-
  [[ "$line" == INFO* ]]
}

install_server() {
  [[ "$(id -u)" -eq 0 ]] || fail "nats-server is not installed and installing it needs root: run 'sudo apt-get install nats-server' (or start NATS on $HOST:$PORT yourself)"
  command -v apt-get >/dev/null || fail "$DAEMON is missing and apt-get is not available to install nats-server"
  log "installing nats-server from Debian's packages"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server
  [[ -x "$DAEMON" ]] || fail "apt-get installed nats-server but $DAEMON is still missing"
  actions+=("installed nats-server")
}

main() {
  [[ -x "$DAEMON" ]] || install_server
  if answers; then
    echo "ensure-nats: NATS already answers on $HOST:$PORT; ${actions[*]:-nothing to do}"
    return
  fi
  log "starting $DAEMON on $HOST:$PORT"
  start-stop-daemon --start --background --make-pidfile --pidfile "$PID_FILE" --output "$LOG_FILE" \
    --exec "$DAEMON" -- -a "$HOST" -p "$PORT"
  actions+=("started $DAEMON")
  local start=$SECONDS
  until answers; do
    ((SECONDS - start < WAIT_SECONDS)) || fail "NATS did not answer on $HOST:$PORT within ${WAIT_SECONDS}s; see $LOG_FILE"
    sleep 0.5
  done
  echo "ensure-nats: NATS answers on $HOST:$PORT (${actions[*]})"
}

main "$@"
