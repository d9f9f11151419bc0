/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the
 * checksum of iSCSI (RFC 3720), ext4 and btrfs. We use it for every log
 * record, log header and checkpoint: SSE4.2 computes it at several GB/s,
 * so checksumming never shows up next to an fdatasync.
 *
 * crc32c(0, buf, n) is the standard CRC32C of buf (initial value and final
 * xor ~0 applied inside), and crc32c(crc32c(0, a, n), b, m) continues it
 * over the concatenation a|b.
 */
#include <stdint.h>
#include <string.h>

#include "engine-internal.h"

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static bool crc32c_have_hw;

static void crc32c_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                crc32c_table[0][i] = c;
        }
        /* Slicing-by-8: table k holds the CRC of byte i followed by k zero bytes. */
        for (uint32_t i = 0; i < 256; i++)
                for (int k = 1; k < 8; k++)
                        crc32c_table[k][i] =
                                (crc32c_table[k - 1][i] >> 8) ^ crc32c_table[0][crc32c_table[k - 1][i] & 0xff];
#if defined(__x86_64__)
        __builtin_cpu_init();
        crc32c_have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t n) {
        const uint8_t *p = buf;

        (void) pthread_once(&crc32c_once, crc32c_init);
        crc = ~crc;
        for (; n >= 8; n -= 8, p += 8) {
                uint64_t w;
                memcpy(&w, p, 8);
                w ^= crc; /* little-endian host, see engine-internal.h */
                crc = crc32c_table[7][w & 0xff] ^ crc32c_table[6][(w >> 8) & 0xff] ^
                      crc32c_table[5][(w >> 16) & 0xff] ^ crc32c_table[4][(w >> 24) & 0xff] ^
                      crc32c_table[3][(w >> 32) & 0xff] ^ crc32c_table[2][(w >> 40) & 0xff] ^
                      crc32c_table[1][(w >> 48) & 0xff] ^ crc32c_table[0][w >> 56];
        }
        while (n--)
                crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
        return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t n) {
        const uint8_t *p = buf;
        uint64_t c = ~crc;

        for (; n >= 8; n -= 8, p += 8) {
                uint64_t w;
                memcpy(&w, p, 8);
                c = __builtin_ia32_crc32di(c, w);
        }
        uint32_t c32 = (uint32_t) c;
        while (n--)
                c32 = __builtin_ia32_crc32qi(c32, *p++);
        return ~c32;
}
#endif

bool crc32c_hw_available(void) {
        (void) pthread_once(&crc32c_once, crc32c_init);
        return crc32c_have_hw;
}

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t n) {
#if defined(__x86_64__)
        if (crc32c_hw_available())
                return crc32c_sse42(crc, buf, n);
#endif
        return crc32c_sw(crc, buf, n);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t n) {
        return crc32c_hw(crc, buf, n);
}
