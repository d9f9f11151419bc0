#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-man-warnings.sh PAGE...: fails if man/groff warn about any page
# (unbreakable lines, bad escapes, macros scdoc did not close...).
set -u
rc=0
for page in "$@"; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    if [ -n "$out" ]; then
        printf '%s:\n%s\n' "$page" "$out"
        rc=1
    else
        echo "ok: $page"
    fi
done
exit $rc
