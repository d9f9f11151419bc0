#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tools/test.sh [--full]: install dependencies, build with --werror into
# build/, run every suite (unit, integration, system). With --full, or when
# CI=true, also an ASan+UBSan build (build-asan/) running the unit and
# integration suites, and the 'valgrind' suite (memcheck over the client
# library tests) on build/.
#
# Ends with one line "N passed, N failed[, N skipped]" computed from meson's
# testlog JSON files of this run; exits non-zero on any failure. Under
# CI=true a skipped test counts as failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

full=0
[[ "${CI:-}" == true ]] && full=1
for arg in "$@"; do
    case "$arg" in
        --full) full=1 ;;
        -h|--help) sed -n '3,12p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

# python3-dbus is a Debian package: it exists for /usr/bin/python3 only, not
# for a pyenv or virtualenv interpreter that may come first on PATH.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

tools/install-deps.sh || exit 1

logs=()           # testlog JSON files written by this run
build_failures=0  # a build that fails runs no test, so it counts by itself

step() { printf '\n==== %s\n' "$*"; }

# setup DIR [meson options...]: configure (or reconfigure) a build directory.
setup() {
    local dir="$1"; shift
    if [[ -f "$dir/build.ninja" ]]; then
        meson setup --reconfigure "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}

# run_tests DIR LOGBASE [meson test options...]
run_tests() {
    local dir="$1" base="$2"; shift 2
    rm -f "$dir/meson-logs/$base.json"
    meson test -C "$dir" --print-errorlogs --logbase "$base" "$@"
    [[ -f "$dir/meson-logs/$base.json" ]] && logs+=("$dir/meson-logs/$base.json")
}

step "build/: --werror build"
if setup build --werror && meson compile -C build; then
    # Memcheck runs are slow and belong to --full (suite 'valgrind', below).
    step "build/: all suites (unit, integration, system)"
    run_tests build testlog --no-suite valgrind
else
    echo "test.sh: the --werror build failed" >&2
    build_failures=$((build_failures + 1))
fi

if [[ $full -eq 1 ]]; then
    step "build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer"
    if setup build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false && meson compile -C build-asan; then
        # Valgrind cannot run sanitized binaries: its suite runs on build/ below.
        run_tests build-asan testlog --suite unit --suite integration --no-suite valgrind
    else
        echo "test.sh: the sanitizer build failed" >&2
        build_failures=$((build_failures + 1))
    fi

    step "build/: valgrind memcheck on the client library tests (suite 'valgrind')"
    if [[ -f build/build.ninja ]]; then
        if [[ -n "$(meson test -C build --list --suite valgrind 2>/dev/null)" ]]; then
            run_tests build testlog-valgrind --suite valgrind
        else
            echo "test.sh: no tests in suite 'valgrind'" >&2
            build_failures=$((build_failures + 1))
        fi
    fi
fi

# Tests whose skip under CI=true is a property of the machine, not a missing
# install step: the test itself allows it (systest.skip(allowed_in_ci=True)).
ci_allowed_skips="System LVM snapshots under load"

step "summary"
python3 - "$build_failures" "$ci_allowed_skips" "${logs[@]}" <<'PY'
import json, os, sys

build_failures = int(sys.argv[1])
allowed = set(filter(None, sys.argv[2].split("\n")))
ci = os.environ.get("CI") == "true"
passed = failed = skipped = 0
for path in sys.argv[3:]:
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            r = t.get("result")
            name = t.get("name", "").split(" / ", 1)[-1]   # "project:suite / name"
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP" and ci and name not in allowed:
                failed += 1
                print(f"failed: {name} was skipped, and CI=true allows no skip")
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
                print(f"failed: {name} ({r}) in {path}")
failed += build_failures
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
PY
