/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

int bus_introspect_print(const char *interface, FILE *f);
