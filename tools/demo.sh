#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tools/demo.sh: install dependencies, build into build/, and run the demo
# (tools/demo.py): a consistent copy of a live jetsnapd instance taken with
# `jetsnapctl snapshot -- cp -a` under concurrent writes, then recovered by
# a second jetsnapd and checked. Works as root and as an ordinary user;
# everything runs on a private bus in a temporary directory.
set -euo pipefail

cd "$(dirname "$0")/.."
# python3-dbus belongs to Debian's python3, not to a pyenv/venv one earlier on PATH.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

tools/install-deps.sh

echo "== build into build/"
if [[ -f build/build.ninja ]]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
meson compile -C build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/jetsnap-demo-XXXXXX")
pid=
cleanup() {
    # demo.py stops its own processes; this covers being killed before it could.
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export JETSNAPD="$PWD/build/daemon/jetsnapd"
export JETSNAPCTL="$PWD/build/libjetsnap/jetsnapctl"
export PYTHONPATH="$PWD/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

echo "== demo"
/usr/bin/python3 tools/demo.py "$work" &
pid=$!
wait "$pid"
