#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs $JETSNAP_VALGRIND_TARGET under memcheck; 99 (not a jetsnapctl exit code) on any error or leak.
exec valgrind --quiet --error-exitcode=99 --leak-check=full "${JETSNAP_VALGRIND_TARGET:?}" "$@"
