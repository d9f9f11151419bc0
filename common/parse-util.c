/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"

struct unit {
        const char *suffix;
        uint64_t factor;
};

/* Parses "<digits><suffix>" with a suffix from table; "" must be in the table to allow a bare number. */
static int parse_with_units(const char *s, const struct unit *units, size_t n_units, uint64_t *ret) {
        const char *p = s;
        uint64_t v = 0;

        if (isempty(s) || !isdigit((unsigned char) *s))
                return -EINVAL;

        while (isdigit((unsigned char) *p)) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                p++;
        }

        for (size_t i = 0; i < n_units; i++) {
                if (!streq(p, units[i].suffix))
                        continue;
                if (units[i].factor != 0 && v > UINT64_MAX / units[i].factor)
                        return -ERANGE;
                *ret = v * units[i].factor;
                return 0;
        }
        return -EINVAL;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct unit units[] = {
                { "", 1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
                { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 },
                { "TiB", UINT64_C(1) << 40 },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), ret);
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct unit units[] = {
                { "", USEC_PER_SEC },
                { "us", 1 },
                { "ms", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), ret_usec);
}

const char *format_duration(char *buf, size_t size, uint64_t usec) {
        if (usec != 0 && usec % (3600 * USEC_PER_SEC) == 0)
                snprintf(buf, size, "%" PRIu64 "h", usec / (3600 * USEC_PER_SEC));
        else if (usec != 0 && usec % (60 * USEC_PER_SEC) == 0)
                snprintf(buf, size, "%" PRIu64 "min", usec / (60 * USEC_PER_SEC));
        else if (usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else
                snprintf(buf, size, "%" PRIu64 "us", usec);
        return buf;
}
