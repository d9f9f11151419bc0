#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs inside the booted container (jetsnap-selftest.service) as root: the
# installed files, a full snapshot sequence with busctl on the real system
# bus, authorization (bus policy and daemon) for users outside and inside
# group "jetsnap", the journal entries of each step, the sandbox of
# jetsnapd.service and bus activation. Writes /results/rc last.
set -uo pipefail

failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

M=(org.jetsnap1 /org/jetsnap1 org.jetsnap1.Manager)
I=(org.jetsnap1 /org/jetsnap1/instance/default org.jetsnap1.Instance)

# call DESCRIPTION busctl-args...: must succeed; stdout in $out.
call() {
    local what="$1"; shift
    if out=$(busctl call "$@" 2>&1); then
        pass "$what: $out"
    else
        fail "$what: $out"
    fi
}

# call_fails DESCRIPTION PATTERN busctl-args...: must fail with PATTERN in the message.
call_fails() {
    local what="$1" pattern="$2"; shift 2
    if out=$(busctl call "$@" 2>&1); then
        fail "$what: succeeded: $out"
    elif grep -q -- "$pattern" <<<"$out"; then
        pass "$what: $out"
    else
        fail "$what: expected '$pattern', got: $out"
    fi
}

# journal_has STEP MESSAGE_ID SNAPSHOT_ID: the step was logged for that session.
journal_has() {
    local n
    for _ in $(seq 50); do
        n=$(journalctl -o json "MESSAGE_ID=$2" "JETSNAP_SNAPSHOT_ID=$3" 2>/dev/null | grep -c '"MESSAGE_ID"')
        if [[ $n -ge 1 ]]; then
            pass "journal: $1 (MESSAGE_ID=$2) for snapshot $3"
            return
        fi
        sleep 0.1   # journald handles the datagram asynchronously
    done
    fail "journal: no $1 entry (MESSAGE_ID=$2) for snapshot $3"
}

echo "== jetsnapd.service"
systemctl --no-pager status jetsnapd.service
if systemctl is-active -q jetsnapd.service; then pass "jetsnapd.service is active"; else fail "jetsnapd.service is not active"; fi

echo "== installed files"
for f in /usr/sbin/jetsnapd /usr/bin/jetsnapctl /lib/systemd/system/jetsnapd.service \
         /usr/share/dbus-1/system.d/org.jetsnap1.conf /usr/share/dbus-1/system-services/org.jetsnap1.service \
         /usr/lib/sysusers.d/jetsnap.conf /etc/jetsnapd/jetsnapd.yaml.example \
         /usr/include/jetsnap/jetsnap.h /usr/include/jetsnap/esent.h \
         /usr/share/man/man8/jetsnapd.8 /usr/share/man/man5/org.jetsnap1.5 /usr/share/man/man3/libjetsnap.3; do
    if [[ -e $f ]]; then pass "$f"; else fail "$f is missing"; fi
done
if compgen -G "/usr/lib/*/pkgconfig/libjetsnap.pc" >/dev/null; then pass "libjetsnap.pc"; else fail "libjetsnap.pc is missing"; fi
if jetsnapctl --version >/dev/null; then pass "jetsnapctl runs (libjetsnap.so.1 found)"; else fail "jetsnapctl does not run"; fi
if jetsnapd --check-config; then pass "jetsnapd --check-config"; else fail "jetsnapd --check-config"; fi
if getent group jetsnap >/dev/null; then pass "group jetsnap exists (sysusers.d)"; else fail "group jetsnap is missing"; fi

echo "== sandbox"
pid=$(systemctl show -P MainPID jetsnapd.service)
capbnd=$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
if [[ $capbnd == 0000000000000000 ]]; then pass "jetsnapd runs without capabilities"; else fail "CapBnd of jetsnapd is '$capbnd'"; fi
if [[ $(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status" 2>/dev/null) == 1 ]]; then pass "NoNewPrivs"; else fail "NoNewPrivs is not set"; fi

echo "== data as root"
call "Commit" "${I[@]}" Commit 'a(yssayay)' 1 112 main t 1 107 5 104 101 108 108 111
call "Get" "${I[@]}" Get ssay main t 1 107
[[ $out == 'ay 5 104 101 108 108 111' ]] || fail "Get returned '$out'"

echo "== snapshot session with ContinueAfterThaw: Prepare 4, Freeze, Thaw, TruncateLog 1, End 0"
call "Prepare" "${M[@]}" Prepare u 4
id=$(awk '{print $2}' <<<"$out")
call "Freeze" "${M[@]}" Freeze tu "$id" 0
grep -q '"default"' <<<"$out" || fail "freeze info does not name instance default: $out"
call "ActiveSnapshotState" org.jetsnap1 /org/jetsnap1 org.freedesktop.DBus.Properties Get ss org.jetsnap1.Manager ActiveSnapshotState
call "Thaw" "${M[@]}" Thaw tu "$id" 0
call "TruncateLog" "${M[@]}" TruncateLog tu "$id" 1
call "End" "${M[@]}" End tu "$id" 0
call_fails "End again" "no snapshot with id" "${M[@]}" End tu "$id" 0

journal_has prepare e7c3bc5791ae43bcad48435ed7569f32 "$id"
journal_has freeze-start 21fc347d43264f9382798cd5684783e5 "$id"
journal_has frozen 41b11ce01d2843f7add6f9fe036005e1 "$id"
journal_has thaw bca8b7a3b4ae4871aaff93b553d9430b "$id"
if journalctl -o json "MESSAGE_ID=7959a357ba144a149f78186cee5d9366" "JETSNAP_SNAPSHOT_ID=$id" | grep -q . ||
   journalctl -o json "MESSAGE_ID=191e27953900422b9b9ed9881cbbe599" "JETSNAP_SNAPSHOT_ID=$id" | grep -q .; then
    pass "journal: truncate for snapshot $id"
else
    fail "journal: no truncate entry for snapshot $id"
fi
journal_has end 4b7a1544d1ec4867b7241a90673f3cff "$id"

echo "== snapshot session without ContinueAfterThaw: Prepare 0, Freeze, Thaw ends it"
call "Prepare" "${M[@]}" Prepare u 0
id2=$(awk '{print $2}' <<<"$out")
[[ $id2 -gt $id ]] || fail "snapshot ids do not go up: $id then $id2"
call "Freeze" "${M[@]}" Freeze tu "$id2" 0
call "Thaw" "${M[@]}" Thaw tu "$id2" 0
call_fails "TruncateLog after the session ended" "no snapshot with id" "${M[@]}" TruncateLog tu "$id2" 1
call "Commit after thaw" "${I[@]}" Commit 'a(yssayay)' 1 112 main t 1 108 1 120

echo "== jetsnapctl on the system bus"
if out=$(jetsnapctl status 2>&1); then pass "jetsnapctl status"; else fail "jetsnapctl status: $out"; fi
echo "$out"
if out=$(jetsnapctl snapshot -- cp -a /var/lib/jetsnapd/default /root/copy 2>&1); then
    pass "jetsnapctl snapshot -- cp -a"
else
    fail "jetsnapctl snapshot -- cp -a: $out"
fi
if out=$(jetsnapctl verify /root/copy 2>&1); then pass "jetsnapctl verify of the copy"; else fail "jetsnapctl verify: $out"; fi

echo "== authorization: a user in no allowed group"
outsider_uid=$(id -u outsider)
# busctl shows "Access denied" for both walls; dbus-daemon logs its own
# refusals ("Rejected send message"), the daemon logs MESSAGE_ID=eb24....
policy_rejected() {
    local member="$1"
    for _ in $(seq 50); do
        if journalctl -o cat SYSLOG_IDENTIFIER=dbus-daemon 2>/dev/null |
           grep "Rejected send message" | grep "(uid=$outsider_uid " | grep -q "member=\"$member\""; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
# The contract's methods pass the bus policy; the daemon checks the groups of
# jetsnapd.yaml (snapshot.allowed-groups, access-groups), which the policy cannot see.
for call in "Prepare:${M[*]} Prepare u 0" "Commit:${I[*]} Commit a(yssayay) 1 112 main t 1 109 1 120"; do
    member=${call%%:*}
    read -r -a args <<<"${call#*:}"
    if out=$(runuser -u outsider -- busctl call "${args[@]}" 2>&1); then
        fail "outsider $member succeeded: $out"
    elif [[ $out == *"Access denied"* ]] && ! policy_rejected "$member"; then
        pass "outsider $member passed the bus policy and was denied by the daemon: $out"
    else
        fail "outsider $member: expected a denial by the daemon, got: $out"
    fi
done
n=$(journalctl -o json MESSAGE_ID=eb24ebe7d0134be8bac630f41f04931f | grep -c '"MESSAGE_ID"')
if [[ $n -ge 2 ]]; then pass "journal: access denied entries"; else fail "journal: $n access denied entries, expected 2"; fi
# Anything outside the contract is the policy's to refuse, e.g. setting a property.
if out=$(runuser -u outsider -- busctl set-property "${M[@]}" Version s x 2>&1); then
    fail "outsider Properties.Set succeeded: $out"
elif policy_rejected Set; then
    pass "outsider Properties.Set refused by the bus policy: $out"
else
    fail "outsider Properties.Set: expected a refusal by dbus-daemon's policy, got: $out"
fi
if out=$(runuser -u outsider -- busctl get-property "${M[@]}" Version 2>&1); then
    pass "outsider reads Version: $out"
else
    fail "outsider cannot read Version: $out"
fi
if out=$(runuser -u outsider -- busctl call "${M[@]}" ListInstances 2>&1); then
    pass "outsider ListInstances: $out"
else
    fail "outsider ListInstances: $out"
fi
echo "== authorization: a member of group jetsnap (snapshot.allowed-groups)"
usermod -aG jetsnap backupop
if out=$(runuser -u backupop -- busctl call "${M[@]}" Prepare u 0 2>&1); then
    pass "backupop Prepare: $out"
    id3=$(awk '{print $2}' <<<"$out")
    if out=$(runuser -u backupop -- busctl call "${M[@]}" Abort tu "$id3" 0 2>&1); then
        pass "backupop Abort $id3"
        journal_has abort 4200e4f6816e4e70982046ee53378aee "$id3"
    else
        fail "backupop Abort: $out"
    fi
else
    fail "backupop Prepare: $out"
fi

echo "== clean stop"
systemctl stop jetsnapd.service
result=$(systemctl show -P Result jetsnapd.service)
if [[ $result == success ]]; then pass "jetsnapd stopped cleanly"; else fail "jetsnapd stop result: $result"; fi

echo "== bus activation (org.jetsnap1.service -> SystemdService=jetsnapd.service)"
call "ListInstances activates jetsnapd" "${M[@]}" ListInstances
if systemctl is-active -q jetsnapd.service; then pass "jetsnapd.service was activated by the bus"; else fail "jetsnapd.service is not active after a call"; fi
systemctl stop jetsnapd.service

journalctl -b --no-pager -o short-monotonic > /results/journal.txt 2>&1
echo "== $failures failure(s)"
echo "$failures" > /results/rc
exit 0
