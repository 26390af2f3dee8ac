#!/usr/bin/env bash
# Makes sure MariaDB answers on 127.0.0.1:3306 as root with an empty password,
# and that database `test` exists. Idempotent; run by `npm test` (pretest) and
# by .ci/run.
#
#   1. root can already log in over TCP: nothing to start.
#   2. Otherwise start /usr/sbin/mariadbd (installing Debian's mariadb-server
#      first if it is missing) and wait for it, at most WAIT_SECONDS.
#   3. If the server answers but refuses root over TCP (a fresh Debian install
#      authenticates root@localhost by unix_socket only), log in through the
#      socket as the OS root user and allow an empty password over TCP.
#   4. CREATE DATABASE IF NOT EXISTS test.
#
# Prints one summary line on success; exits 1 with a reason on failure.
set -euo pipefail

readonly HOST=127.0.0.1
readonly PORT=3306
readonly DAEMON=/usr/sbin/mariadbd
readonly RUN_DIR=/run/mysqld
# A fresh data directory can take a while on slow CI disks; 60 s is ample.
readonly WAIT_SECONDS=60
# Per-probe connect timeout, so a probe never hangs on a dead port.
readonly CONNECT_TIMEOUT_SECONDS=2

# Server errors that mean "up, but this login is refused": 1045
# ER_ACCESS_DENIED_ERROR, 1698 ER_ACCESS_DENIED_NO_PASSWORD_ERROR, 1130
# ER_HOST_NOT_PRIVILEGED (no root@127.0.0.1 under skip-name-resolve). The
# 10.11 client may wrap them in a 2002 ("Received error packet before
# completion of TLS handshake ... 1130 - Host ..."), so match both forms.
readonly REFUSED_PATTERN='ERROR (1045|1698|1130)|[^0-9](1045|1698|1130) - '

actions=()

log() { echo "ensure-mariadb: $*" >&2; }
fail() {
  echo "ensure-mariadb: FAILED: $*" >&2
  exit 1
}

find_client() {
  command -v mariadb || command -v mysql || true
}

CLIENT="$(find_client)"

# Prints "ok" (root logs in over TCP with an empty password), "denied" (the
# server answers but refuses that login) or "down" (nothing answers).
tcp_state() {
  [[ -n "$CLIENT" ]] || { echo down; return; }
  local out
  # --password= forces an empty password even if a ~/.my.cnf sets one.
  if out="$("$CLIENT" --protocol=TCP -h"$HOST" -P"$PORT" -uroot --password= \
    --connect-timeout="$CONNECT_TIMEOUT_SECONDS" -e 'select 1' 2>&1)"; then
    echo ok
  elif [[ "$out" =~ $REFUSED_PATTERN ]]; then
    echo denied
  else
    echo down
  fi
}

# Runs SQL as root through the unix socket (works for the OS root user when
# root@localhost is identified via unix_socket).
socket_sql() {
  "$CLIENT" --protocol=SOCKET -uroot --connect-timeout="$CONNECT_TIMEOUT_SECONDS" -e "$1"
}

socket_up() {
  [[ -n "$CLIENT" ]] && socket_sql 'select 1' >/dev/null 2>&1
}

install_server() {
  [[ "$(id -u)" -eq 0 ]] || fail "mariadb-server is not installed and installing it needs root: run 'sudo apt-get install mariadb-server' (or start MariaDB on $HOST:$PORT yourself)"
  command -v apt-get >/dev/null || fail "$DAEMON is missing and apt-get is not available to install mariadb-server"
  log "installing mariadb-server from Debian's packages"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server
  [[ -x "$DAEMON" ]] || fail "apt-get installed mariadb-server but $DAEMON is still missing"
  CLIENT="$(find_client)"
  actions+=("installed mariadb-server")
}

# mariadbd refuses to run as root unless told which user to switch to.
# Debian's own config may or may not say `user = mysql`, so add it only when
# root would otherwise start it without one.
daemon_args() {
  local defaults
  defaults="$(my_print_defaults --mysqld 2>/dev/null || true)"
  if [[ "$(id -u)" -eq 0 ]] && ! grep -q '^--user=' <<<"$defaults"; then
    echo "--user=mysql"
  fi
}

# The machine's server is told apart by its pid file: tests start private
# mariadbd processes of their own, and `--exec` alone would take any of them
# for the machine's server and start nothing.
pid_file() {
  local path
  path="$( (my_print_defaults --mysqld 2>/dev/null || true) | sed -n 's/^--pid-file=//p' | tail -n1)"
  echo "${path:-$RUN_DIR/mysqld.pid}"
}

start_server() {
  if [[ "$(id -u)" -eq 0 ]]; then
    # /run is a tmpfs in containers, so the socket/pid directory may be gone.
    install -d -o mysql -g mysql -m 0755 "$RUN_DIR"
  fi
  local extra
  extra="$(daemon_args)"
  log "starting $DAEMON"
  if [[ -n "$extra" ]]; then
    start-stop-daemon --start --oknodo --background --pidfile "$(pid_file)" --exec "$DAEMON" -- "$extra"
  else
    start-stop-daemon --start --oknodo --background --pidfile "$(pid_file)" --exec "$DAEMON"
  fi
  actions+=("started $DAEMON")
}

log_error_hint() {
  local path
  path="$( (my_print_defaults --mysqld 2>/dev/null || true) | sed -n 's/^--log-error=//p' | tail -n1)"
  if [[ -n "$path" ]]; then
    echo "see $path"
  else
    echo "run $DAEMON in the foreground to see why"
  fi
}

# start-stop-daemon --status: 0 running, 1 or 3 not running, 4 cannot tell
# (for example without permission to inspect the process); only a definite
# "not running" ends the wait early.
daemon_exited() {
  local rc=0
  start-stop-daemon --status --pidfile "$(pid_file)" --exec "$DAEMON" || rc=$?
  [[ $rc -eq 1 || $rc -eq 3 ]]
}

wait_for_server() {
  local start=$SECONDS state
  while true; do
    state="$(tcp_state)"
    [[ "$state" != down ]] && return 0
    local elapsed=$((SECONDS - start))
    if ((elapsed >= WAIT_SECONDS)); then
      if socket_up; then
        fail "MariaDB answers on its unix socket but not on $HOST:$PORT after ${WAIT_SECONDS}s: check bind-address, port and skip-networking in its config"
      fi
      fail "MariaDB did not answer on $HOST:$PORT within ${WAIT_SECONDS}s; $(log_error_hint)"
    fi
    if ((elapsed >= 2)) && daemon_exited; then
      fail "$DAEMON exited during startup; $(log_error_hint)"
    fi
    if ((elapsed % 5 == 0)); then
      log "waiting for MariaDB on $HOST:$PORT (${elapsed}s/${WAIT_SECONDS}s)"
    fi
    sleep 1
  done
}

enable_root_tcp_login() {
  socket_up || fail "MariaDB on $HOST:$PORT refuses root with an empty password, and root cannot log in through the unix socket to fix it (run this as the OS root user, or grant root@$HOST an empty password yourself)"
  log "allowing root to log in over TCP with an empty password"
  # MariaDB 10.4+ syntax: several authentication rules joined by OR; the
  # native-password rule comes first so TCP clients with no password match it,
  # and unix_socket stays so the OS root user keeps socket access.
  # root@127.0.0.1 matters when the server runs with skip-name-resolve.
  socket_sql "
    ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
    CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
    ALTER USER root@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
    GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;"
  [[ "$(tcp_state)" == ok ]] || fail "changed root's authentication, but root still cannot log in over TCP on $HOST:$PORT"
  actions+=("enabled empty-password TCP login for root")
}

ensure_test_database() {
  local exists
  exists="$("$CLIENT" --protocol=TCP -h"$HOST" -P"$PORT" -uroot --password= -N \
    -e "select count(*) from information_schema.schemata where schema_name = 'test'")"
  if [[ "$exists" != 1 ]]; then
    "$CLIENT" --protocol=TCP -h"$HOST" -P"$PORT" -uroot --password= -e 'CREATE DATABASE IF NOT EXISTS test'
    actions+=("created database test")
  fi
}

main() {
  local state
  state="$(tcp_state)"
  if [[ "$state" == down ]]; then
    [[ -x "$DAEMON" ]] || install_server
    [[ -n "$CLIENT" ]] || fail "no mariadb or mysql client on PATH to talk to the server (install mariadb-client)"
    # Installing may have started the server already (the package's init script).
    if [[ "$(tcp_state)" == down ]]; then
      start_server
      wait_for_server
    fi
    state="$(tcp_state)"
  fi
  if [[ "$state" == denied ]]; then
    enable_root_tcp_login
  fi
  ensure_test_database

  if ((${#actions[@]} == 0)); then
    echo "ensure-mariadb: MariaDB already answers on $HOST:$PORT as root with database test; nothing to do"
  else
    local joined
    joined="$(printf '%s; ' "${actions[@]}")"
    echo "ensure-mariadb: MariaDB answers on $HOST:$PORT as root with database test (${joined%; })"
  fi
}

main "$@"
