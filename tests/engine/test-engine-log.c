/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Log format round trip: what engine_commit() was given comes back,
 * byte for byte and in order, when the generation files are read with the
 * format's own reader; headers chain; every archived generation ends with
 * an END record; LSNs are (generation << 32) | offset.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "engine-test-util.h"
#include "check-run.h"

static TestConfig tc;

static void setup(void) {
        test_dir_setup();
        test_config_init(&tc, NULL);
}

#define N_TXNS 40

typedef struct Expected {
        EngineOp ops[3];
        size_t n_ops;
        uint64_t lsn;
        uint8_t key[ENGINE_KEY_SIZE_MAX];
        char table[ENGINE_NAME_SIZE_MAX + 1];
        uint8_t *value;
} Expected;

static Expected expected[N_TXNS];

typedef struct Reader {
        size_t next;                    /* index into expected[] */
        uint64_t prev_lsn;
        size_t backups;
} Reader;

static int check_record(LogFile *f, uint64_t offset, const LogRecordHeader *h, const uint8_t *payload,
                        void *userdata, char **reterr_message) {
        Reader *r = userdata;

        ck_assert_uint_eq(h->lsn, LSN_MAKE(f->header.generation, offset));
        ck_assert_uint_gt(h->lsn, r->prev_lsn);
        ck_assert_uint_eq(offset % LOG_RECORD_ALIGN, 0);
        r->prev_lsn = h->lsn;
        if (h->type == LOG_RECORD_BACKUP) {
                LogBackupPayload b;
                ck_assert_uint_eq(h->payload_size, sizeof(b));
                memcpy(&b, payload, sizeof(b));
                ck_assert_uint_eq(b.kind, ENGINE_BACKUP_FULL);
                ck_assert_uint_eq(b.gen_low, 3);
                ck_assert_uint_eq(b.gen_high, 7);
                ck_assert_uint_eq(b.time_usec, 99);
                r->backups++;
                return 0;
        }
        ck_assert_uint_eq(h->type, LOG_RECORD_TXN);
        ck_assert_uint_lt(r->next, N_TXNS);
        Expected *x = &expected[r->next++];
        ck_assert_uint_eq(h->lsn, x->lsn);
        ck_assert_int_eq(txn_payload_validate(NULL, payload, h->payload_size, NULL), 0);

        size_t o = 0, i = 0;
        LogOpView op;
        while (txn_payload_next(payload, h->payload_size, &o, &op) > 0) {
                ck_assert_uint_lt(i, x->n_ops);
                const EngineOp *want = &x->ops[i++];
                ck_assert_int_eq(op.kind, want->kind);
                ck_assert_uint_eq(op.database_size, strlen(want->database));
                ck_assert_mem_eq(op.database, want->database, op.database_size);
                ck_assert_uint_eq(op.table_size, strlen(want->table));
                ck_assert_mem_eq(op.table, want->table, op.table_size);
                ck_assert_uint_eq(op.key_size, want->key_size);
                ck_assert_mem_eq(op.key, want->key, op.key_size);
                if (want->kind == ENGINE_OP_PUT) {
                        ck_assert_uint_eq(op.value_size, want->value_size);
                        if (op.value_size > 0)
                                ck_assert_int_eq(memcmp(op.value, want->value, op.value_size), 0);
                } else
                        ck_assert_uint_eq(op.value_size, 0);
        }
        ck_assert_uint_eq(i, x->n_ops);
        return 0;
}

static void on_done(Engine *e, int r, void *userdata) {
        ck_assert_int_eq(r, 0);
        *(bool *) userdata = true;
}

START_TEST(test_round_trip) {
        Engine *e = test_open(&tc.config);

        for (size_t t = 0; t < N_TXNS; t++) {
                Expected *x = &expected[t];
                /* Keys with every byte value (zeros included), sizes from 1 to the maximum. */
                size_t ks = 1 + t * 37 % ENGINE_KEY_SIZE_MAX;
                if (t == 1)
                        ks = ENGINE_KEY_SIZE_MAX;
                for (size_t i = 0; i < ks; i++)
                        x->key[i] = (uint8_t) (t * 31 + i * 7);
                size_t ts = t == 2 ? ENGINE_NAME_SIZE_MAX : 1 + t % 20;
                memset(x->table, 'a' + (char) (t % 26), ts);
                x->table[ts] = 0;
                /* Values from empty to larger than a 64 KiB generation. */
                size_t vs = t == 3 ? 0 : t == 4 ? 100000 : t * 101 % 3000;
                x->value = malloc(vs + 1);
                ck_assert_ptr_nonnull(x->value);
                for (size_t i = 0; i < vs; i++)
                        x->value[i] = (uint8_t) (i ^ t);
                x->ops[0] = (EngineOp) { .kind = ENGINE_OP_PUT, .database = "a", .table = x->table, .key = x->key,
                                         .key_size = ks, .value = x->value, .value_size = vs };
                x->ops[1] = (EngineOp) { .kind = ENGINE_OP_DELETE, .database = "b", .table = "t", .key = x->key,
                                         .key_size = ks };
                x->ops[2] = (EngineOp) { .kind = ENGINE_OP_PUT, .database = "b", .table = "u", .key = "k",
                                         .key_size = 1, .value = x->value, .value_size = MIN(vs, (size_t) 10) };
                x->n_ops = 1 + t % 3;
                ck_assert_int_eq(engine_commit_wait(e, x->ops, x->n_ops, &x->lsn), 0);
                if (t == N_TXNS / 2) {
                        bool done = false;
                        ck_assert_int_eq(engine_record_backup(e, ENGINE_BACKUP_FULL, 3, 7, 99, on_done, &done), 0);
                        dispatch_until(e, &done);
                }
        }
        e = engine_close(e);

        /* Read every generation back: the headers chain, archived ones end with END. */
        _cleanup_free_ char *logs = test_path("inst/logs");
        _cleanup_free_ uint32_t *gens = NULL;
        size_t n;
        bool cur;
        Reader reader = {};
        uint32_t prev_checksum = 0;
        ck_assert_int_eq(log_list_generations(logs, &gens, &n, &cur), 0);
        ck_assert(!cur); /* a clean close archives jet.log */
        ck_assert_uint_ge(n, 3);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = log_generation_path(logs, gens[i]), *msg = NULL;
                LogFile f;
                uint64_t end;
                bool closed;
                ck_assert_uint_eq(gens[i], i + 1);
                ck_assert_int_eq(log_file_open(&engine_io_default, p, &f, &msg), 0);
                ck_assert_uint_eq(f.header.generation, gens[i]);
                ck_assert_uint_eq(f.header.prev_checksum, prev_checksum);
                ck_assert_int_eq(log_walk_generation(&engine_io_default, &f, false, check_record, &reader, &end,
                                                     &closed, &msg),
                                 0);
                ck_assert(closed);
                prev_checksum = f.header.checksum;
                log_file_close(&f);
        }
        ck_assert_uint_eq(reader.next, N_TXNS);
        ck_assert_uint_eq(reader.backups, 1);
        for (size_t t = 0; t < N_TXNS; t++)
                free(expected[t].value);
}
END_TEST

START_TEST(test_record_encoding) {
        uint8_t buf[256];
        const char payload[] = "payload bytes";
        size_t n = log_record_encode(buf, LOG_RECORD_TXN, LSN_MAKE(5, 4096), 4096, payload, sizeof(payload));
        ck_assert_uint_eq(n, LOG_RECORD_SIZE(sizeof(payload)));
        ck_assert_uint_eq(n % LOG_RECORD_ALIGN, 0);
        log_record_seal(buf);
        LogRecordHeader h;
        memcpy(&h, buf, sizeof(h));
        ck_assert_uint_eq(h.checksum, crc32c(crc32c(0, buf + 4, sizeof(h) - 4), payload, sizeof(payload)));
        /* Padding is zero, so a reader that meets it next sees the end of the log. */
        for (size_t i = sizeof(h) + sizeof(payload); i < n; i++)
                ck_assert_uint_eq(buf[i], 0);
}
END_TEST

static Suite *log_suite(void) {
        Suite *s = suite_create("engine-log");
        TCase *tc_core = tcase_create("Format");
        tcase_add_checked_fixture(tc_core, setup, test_dir_teardown);
        tcase_set_timeout(tc_core, 60);
        tcase_add_test(tc_core, test_round_trip);
        tcase_add_test(tc_core, test_record_encoding);
        suite_add_tcase(s, tc_core);
        return s;
}

int main(void) {
        return run_suite(log_suite());
}
