/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRC32C against the test vectors of RFC 3720 appendix B.4, for both the
 * hardware (SSE4.2) and the table implementation, plus split-buffer
 * continuation and agreement of the two on odd lengths and alignments.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "check-run.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static const crc_fn impls[] = { crc32c_sw, crc32c_hw };

static void check_vectors(crc_fn f) {
        uint8_t buf[48];

        memset(buf, 0, 32);
        ck_assert_uint_eq(f(0, buf, 32), 0x8A9136AAu);
        memset(buf, 0xff, 32);
        ck_assert_uint_eq(f(0, buf, 32), 0x62A8AB43u);
        for (int i = 0; i < 32; i++)
                buf[i] = (uint8_t) i;
        ck_assert_uint_eq(f(0, buf, 32), 0x46DD794Eu);
        for (int i = 0; i < 32; i++)
                buf[i] = (uint8_t) (31 - i);
        ck_assert_uint_eq(f(0, buf, 32), 0x113FDB5Cu);
        static const uint8_t pdu[48] = {
                0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
                0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        ck_assert_uint_eq(f(0, pdu, sizeof(pdu)), 0xD9963A56u);
        ck_assert_uint_eq(f(0, "123456789", 9), 0xE3069283u);
        ck_assert_uint_eq(f(0, "", 0), 0);
        /* Continuation: crc(a|b) == crc(crc(a), b) at every split point. */
        for (size_t k = 0; k <= sizeof(pdu); k++)
                ck_assert_uint_eq(f(f(0, pdu, k), pdu + k, sizeof(pdu) - k), 0xD9963A56u);
}

START_TEST(test_rfc3720_vectors) {
        check_vectors(impls[_i]);
}
END_TEST

START_TEST(test_implementations_agree) {
        uint8_t buf[1031];
        uint64_t x = 88172645463325252u;
        for (size_t i = 0; i < sizeof(buf); i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (uint8_t) x;
        }
        for (size_t off = 0; off < 8; off++)
                for (size_t n = 0; n + off <= sizeof(buf); n += 97)
                        ck_assert_uint_eq(crc32c_sw(7, buf + off, n), crc32c_hw(7, buf + off, n));
        ck_assert_uint_eq(crc32c(0, buf, sizeof(buf)), crc32c_sw(0, buf, sizeof(buf)));
}
END_TEST

static Suite *crc_suite(void) {
        Suite *s = suite_create("engine-crc32c");
        TCase *tc = tcase_create("Core");
        tcase_set_timeout(tc, 20);
        tcase_add_loop_test(tc, test_rfc3720_vectors, 0, 2);
        tcase_add_test(tc, test_implementations_agree);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(crc_suite());
}
