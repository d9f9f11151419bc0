/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/*
 * Strict parsers for the config file and the command line. Both accept
 * only what they document and return -EINVAL for anything else, -ERANGE on
 * overflow; *ret is untouched on failure.
 */

/* "4096", "512KiB", "1MiB", "4GiB", "1TiB" (also "K"/"M"/"G"/"T"). Units are powers of 1024. */
int parse_size(const char *s, uint64_t *ret);

/* "250ms", "60s", "10min", "2h", "1500us"; a bare number means seconds. Result in microseconds. */
int parse_duration(const char *s, uint64_t *ret_usec);

/* Formats usec as the shortest exact form parse_duration() accepts ("60s", "250ms"). */
const char *format_duration(char *buf, size_t size, uint64_t usec);
