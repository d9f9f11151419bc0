#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# meson test --wrap: run the first compiled program of the command line under
# valgrind memcheck. A test run through tests/lib/with-daemon has the harness
# (Python) first and the test binary after "--"; only the binary is checked.
set -euo pipefail

valgrind=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
          --track-fds=no --quiet)
# Check forks each test by default, and a forked child's leaks go unreported.
export CK_FORK=no

args=("$@")
for i in "${!args[@]}"; do
    a="${args[$i]}"
    if [[ -f "$a" && -x "$a" && "$(head -c4 "$a" | od -An -c | tr -d ' ')" == '177ELF' ]]; then
        exec "${args[@]:0:$i}" "${valgrind[@]}" "${args[@]:$i}"
    fi
done
exec "$@"
