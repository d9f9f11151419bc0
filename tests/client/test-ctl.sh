#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# jetsnapctl against a real jetsnapd (run through tests/lib/with-daemon with
# client.yaml): snapshot success and abort paths with their exit codes, the
# low-level steps, the data verbs and the usage errors.
set -eu

ctl="${JETSNAPCTL:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE CMD...: runs CMD, checks its exit status.
expect() {
        want=$1; shift
        set +e
        "$@" >"$JETSNAP_TEST_DIR/out" 2>"$JETSNAP_TEST_DIR/err"
        got=$?
        set -e
        [ "$got" -eq "$want" ] || fail "$* exited $got, expected $want; stdout: $(cat "$JETSNAP_TEST_DIR/out"); stderr: $(cat "$JETSNAP_TEST_DIR/err")"
}
active_id() { busctl get-property org.jetsnap1 /org/jetsnap1 org.jetsnap1.Manager ActiveSnapshotId; }
last_full() { busctl get-property org.jetsnap1 "/org/jetsnap1/instance/$1" org.jetsnap1.Instance LastFullBackup; }

# --- usage errors ---
expect 2 "$ctl"
expect 2 "$ctl" no-such-verb
expect 2 "$ctl" snapshot
expect 2 "$ctl" thaw not-a-number
expect 2 "$ctl" snapshot --btrfs /tmp -- true
expect 2 "$ctl" prepare --timeout bogus
expect 0 "$ctl" --help
grep -q "72 the freeze timed out" "$JETSNAP_TEST_DIR/out" || fail "--help does not document the exit codes"
for verb in status instances prepare prepare-instance freeze freeze-info thaw truncate-log abort end snapshot \
            put get del scan dump-checkpoint dump-logs dump-log verify recover; do
        expect 0 "$ctl" "$verb" --help
done

# --- status ---
expect 0 "$ctl" status
grep -q "^alpha " "$JETSNAP_TEST_DIR/out" || fail "status lists no alpha: $(cat "$JETSNAP_TEST_DIR/out")"
expect 0 "$ctl" instances --json
grep -q '"name":"beta"' "$JETSNAP_TEST_DIR/out" || fail "instances --json: $(cat "$JETSNAP_TEST_DIR/out")"

# --- snapshot: COMMAND fails -> aborted, COMMAND's status, no backup recorded ---
before=$(last_full alpha)
expect 1 "$ctl" snapshot -- false
[ "$(active_id)" = "t 0" ] || fail "session left behind after 'snapshot -- false': $(active_id)"
[ "$(last_full alpha)" = "$before" ] || fail "a failed snapshot recorded a backup"
expect 3 "$ctl" snapshot -- sh -c 'exit 3'
expect 127 "$ctl" snapshot -- /nonexistent/command
[ "$(active_id)" = "t 0" ] || fail "session left behind after exec failure"

# --- snapshot: success, with the environment COMMAND needs ---
expect 0 "$ctl" snapshot -- sh -c 'test -n "$JETSNAP_FILES"'
[ "$(active_id)" = "t 0" ] || fail "session left behind after success"
[ "$(last_full alpha)" != "$before" ] || fail "a successful snapshot recorded no backup"
expect 0 "$ctl" snapshot --instance beta -- sh -c '
        test "$JETSNAP_INSTANCES" = beta || exit 10
        test -n "$JETSNAP_SNAPSHOT_ID" || exit 11
        echo "$JETSNAP_FILES" | grep -q "/beta/one.jdb$" || exit 12
        echo "$JETSNAP_FILES" | grep -q "/beta/two.jdb$" || exit 13
        echo "$JETSNAP_FILES" | while read -r f; do test -e "$f" || exit 14; done'
expect 0 "$ctl" snapshot --incremental -- true
expect 0 "$ctl" snapshot --copy --timeout 30s -- true

# --- snapshot: timeout -> 72, and the session is gone ---
expect 72 "$ctl" snapshot --timeout 1ms -- sh -c \
        'while [ "$(busctl get-property org.jetsnap1 /org/jetsnap1 org.jetsnap1.Manager ActiveSnapshotState)" != "s \"timed-out\"" ]; do sleep 0.01; done'
[ "$(active_id)" = "t 0" ] || fail "session left behind after timeout"

# --- snapshot while another session exists -> 70, the other one untouched ---
expect 0 "$ctl" prepare
id=$(cat "$JETSNAP_TEST_DIR/out")
expect 70 "$ctl" snapshot -- true
grep -q "prepare" "$JETSNAP_TEST_DIR/err" || fail "no step named: $(cat "$JETSNAP_TEST_DIR/err")"
[ "$(active_id)" = "t $id" ] || fail "snapshot touched the other session"

# --- the low-level steps ---
expect 1 "$ctl" thaw "$id"
grep -q "thaw $id failed" "$JETSNAP_TEST_DIR/err" || fail "thaw error: $(cat "$JETSNAP_TEST_DIR/err")"
expect 0 "$ctl" end "$id"
expect 1 "$ctl" end "$id"
expect 0 "$ctl" prepare --explicit --continue-after-thaw --timeout 1min
id=$(cat "$JETSNAP_TEST_DIR/out")
expect 1 "$ctl" prepare-instance "$id" no-such-instance
expect 0 "$ctl" prepare-instance "$id" alpha
expect 0 "$ctl" freeze "$id"
grep -q "instance alpha" "$JETSNAP_TEST_DIR/out" || fail "freeze output: $(cat "$JETSNAP_TEST_DIR/out")"
expect 0 "$ctl" freeze-info "$id" --json
grep -q '"name":"alpha"' "$JETSNAP_TEST_DIR/out" || fail "freeze-info --json: $(cat "$JETSNAP_TEST_DIR/out")"
expect 0 "$ctl" thaw "$id"
expect 0 "$ctl" truncate-log "$id" --all-databases --instance alpha
expect 0 "$ctl" truncate-log "$id" --all-databases
expect 0 "$ctl" end "$id"
expect 0 "$ctl" prepare
id=$(cat "$JETSNAP_TEST_DIR/out")
expect 0 "$ctl" freeze "$id"
expect 0 "$ctl" end "$id" --abort
expect 0 "$ctl" prepare
expect 0 "$ctl" abort "$(cat "$JETSNAP_TEST_DIR/out")"
[ "$(active_id)" = "t 0" ] || fail "session left behind by the low-level steps"

# --- data ---
expect 0 "$ctl" put alpha main t k1 "hello world"
expect 0 "$ctl" get alpha main t k1
[ "$(cat "$JETSNAP_TEST_DIR/out")" = "hello world" ] || fail "get: $(cat "$JETSNAP_TEST_DIR/out")"
expect 0 "$ctl" put beta two t 00ff 0102 --hex
expect 0 "$ctl" get beta two t 00ff --hex
[ "$(cat "$JETSNAP_TEST_DIR/out")" = "0102" ] || fail "get --hex: $(cat "$JETSNAP_TEST_DIR/out")"
expect 2 "$ctl" get beta two t 0g --hex
expect 0 "$ctl" put alpha main t k2 v2
expect 0 "$ctl" put alpha main t k3 v3
expect 0 "$ctl" scan alpha main t --from k2 --limit 1
[ "$(cat "$JETSNAP_TEST_DIR/out")" = "$(printf 'k2\tv2')" ] || fail "scan: $(cat "$JETSNAP_TEST_DIR/out")"
expect 0 "$ctl" del alpha main t k1
expect 4 "$ctl" get alpha main t k1
expect 4 "$ctl" del alpha main t k1
expect 1 "$ctl" put alpha nope t k v
grep -q "put failed: " "$JETSNAP_TEST_DIR/err" || fail "put error: $(cat "$JETSNAP_TEST_DIR/err")"

# --- connection options ---
expect 0 "$ctl" --address "$DBUS_SYSTEM_BUS_ADDRESS" status
expect 0 "$ctl" status --address "$DBUS_SYSTEM_BUS_ADDRESS"
expect 1 "$ctl" --address unix:path=/nonexistent/socket status
expect 2 "$ctl" --user status --address "$DBUS_SYSTEM_BUS_ADDRESS"

# --- offline tools, on the files of a stopped daemon ---
expect 1 "$ctl" verify /nonexistent/instance
kill -TERM "$JETSNAPD_PID"
while busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s org.jetsnap1 |
      grep -q true; do
        sleep 0.01
done
dir="$JETSNAP_TEST_DIR/alpha"
expect 0 "$ctl" verify "$dir"
expect 0 "$ctl" dump-checkpoint "$dir"
[ -s "$JETSNAP_TEST_DIR/out" ] || fail "dump-checkpoint printed nothing"
expect 0 "$ctl" dump-logs "$dir"
log=$(ls "$dir"/logs/*.log | head -n 1)
expect 0 "$ctl" dump-log "$log"
expect 2 "$ctl" recover "$dir" --database main
expect 0 "$ctl" recover "$dir" --database "main=$dir/main.jdb"

echo "jetsnapctl: all checks passed"
