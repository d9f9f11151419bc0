/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Offline tools in the manner of eseutil: dump a checkpoint, the log
 * headers, one log's records; verify every checksum of an instance
 * directory; recover a restored directory without the daemon. All but
 * engine_recover_offline() only read. Output formats are line based,
 * "key: value" or one record per line, and documented in engine.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine-internal.h"

static const char *hex(char buf[static 33], const uint8_t s[16]) {
        for (int i = 0; i < 16; i++)
                sprintf(buf + 2 * i, "%02x", s[i]);
        return buf;
}

static const char *record_type(uint16_t t) {
        return t == LOG_RECORD_TXN ? "txn" : t == LOG_RECORD_BACKUP ? "backup" : t == LOG_RECORD_END ? "end" : "?";
}

static void print_key(FILE *f, const void *k, size_t n) {
        const uint8_t *p = k;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", p[i]);
}

int engine_dump_checkpoint(const char *instance_dir, FILE *f) {
        _cleanup_(checkpoint_done) Checkpoint c = {};
        _cleanup_free_ char *path = NULL, *msg = NULL;
        char buf[33];
        int r;

        if (!instance_dir || !f)
                return -EINVAL;
        if (asprintf(&path, "%s/jet.chk", instance_dir) < 0)
                return -ENOMEM;
        r = checkpoint_read(&engine_io_default, path, &c, &msg);
        if (r < 0) {
                if (msg)
                        fprintf(f, "error: %s\n", msg);
                else
                        fprintf(f, "error: %s: %s\n", path, strerror(-r));
                return r;
        }
        fprintf(f, "file: %s\n", path);
        fprintf(f, "format-version: %u\n", CHECKPOINT_FORMAT_VERSION);
        fprintf(f, "signature: %s\n", hex(buf, c.signature));
        fprintf(f, "checkpoint-lsn: 0x%016" PRIx64 "\n", c.lsn);
        fprintf(f, "checkpoint-generation: %u\n", LSN_GEN(c.lsn));
        fprintf(f, "checkpoint-offset: %u\n", LSN_OFFSET(c.lsn));
        fprintf(f, "created-usec: %" PRIu64 "\n", c.created_usec);
        fprintf(f, "databases: %zu\n", c.n_databases);
        for (size_t i = 0; i < c.n_databases; i++)
                fprintf(f, "database: %s %s\n", c.databases[i].name, c.databases[i].path);
        return 0;
}

/* Lists the generation files of a log directory in order, jet.log last. */
static int list_files(const char *instance_dir, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *log_dir = NULL;
        _cleanup_free_ uint32_t *gens = NULL;
        char **l;
        size_t n;
        bool cur;
        int r;

        if (asprintf(&log_dir, "%s/logs", instance_dir) < 0)
                return -ENOMEM;
        r = log_list_generations(log_dir, &gens, &n, &cur);
        if (r < 0)
                return r;
        l = calloc(n + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = log_generation_path(log_dir, gens[i]))) {
                        strv_free(l);
                        return -ENOMEM;
                }
        if (cur && asprintf(&l[n++], "%s/jet.log", log_dir) < 0) {
                strv_free(l);
                return -ENOMEM;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static bool is_current(const char *path) {
        const char *s = strrchr(path, '/');
        return streq(s ? s + 1 : path, "jet.log");
}

/*
 * Checks headers and their chain, and with `records` every record; prints one line per file. needed_from
 * (0: unknown) is the checkpoint's generation: from there on recovery needs every generation, so a gap is an
 * error, below it a note. Returns -EBADMSG if anything is wrong, another negative errno if a file could not
 * be read at all.
 */
static int check_headers(const char *instance_dir, const uint8_t *signature, uint32_t needed_from, FILE *f,
                         bool records);

typedef struct DumpContext {
        FILE *f;
} DumpContext;

static int dump_record(LogFile *lf, uint64_t offset, const LogRecordHeader *h, const uint8_t *payload,
                       void *userdata, char **reterr_message) {
        DumpContext *c = userdata;

        if (!c->f)
                return h->type == LOG_RECORD_TXN ? txn_payload_validate(NULL, payload, h->payload_size, NULL) : 0;
        fprintf(c->f, "record: lsn=0x%016" PRIx64 " offset=%" PRIu64 " type=%s size=%u batch=%u%s\n", h->lsn, offset,
                record_type(h->type), h->payload_size, h->batch_offset,
                h->flags & LOG_RECORD_FLAG_BATCH_END ? " batch-end" : "");
        if (h->type == LOG_RECORD_TXN) {
                size_t o = 0;
                LogOpView op;
                int r = txn_payload_validate(NULL, payload, h->payload_size, NULL);
                if (r < 0) {
                        (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": malformed transaction", lf->path,
                                             offset);
                        return r;
                }
                while (txn_payload_next(payload, h->payload_size, &o, &op) > 0) {
                        fprintf(c->f, "  %s %.*s/%.*s key=", op.kind == ENGINE_OP_PUT ? "put" : "del",
                                (int) op.database_size, op.database, (int) op.table_size, op.table);
                        print_key(c->f, op.key, op.key_size);
                        if (op.kind == ENGINE_OP_PUT)
                                fprintf(c->f, " value-size=%zu", op.value_size);
                        fputc('\n', c->f);
                }
        } else if (h->type == LOG_RECORD_BACKUP && h->payload_size == sizeof(LogBackupPayload)) {
                LogBackupPayload b;
                memcpy(&b, payload, sizeof(b));
                fprintf(c->f, "  backup kind=%s generations=%u-%u time-usec=%" PRIu64 "\n",
                        engine_backup_kind_to_string((EngineBackupKind) b.kind) ?: "?", b.gen_low, b.gen_high,
                        b.time_usec);
        }
        return 0;
}

static void print_header(FILE *f, const LogFile *lf) {
        char buf[33];
        fprintf(f, "log: %s generation=%u signature=%s created-usec=%" PRIu64 " prev-checksum=0x%08x checksum=0x%08x\n",
                lf->path, lf->header.generation, hex(buf, lf->header.signature), lf->header.created_usec,
                lf->header.prev_checksum, lf->header.checksum);
}

int engine_dump_log(const char *log_file, FILE *f) {
        _cleanup_free_ char *msg = NULL;
        DumpContext c = { .f = f };
        uint64_t end = 0;
        bool closed = false;
        LogFile lf;
        int r;

        if (!log_file || !f)
                return -EINVAL;
        r = log_file_open(&engine_io_default, log_file, &lf, &msg);
        if (r < 0) {
                fprintf(f, "error: %s\n", msg ?: strerror(-r));
                return r;
        }
        print_header(f, &lf);
        r = log_walk_generation(&engine_io_default, &lf, is_current(log_file), dump_record, &c, &end, &closed, &msg);
        if (r < 0)
                fprintf(f, "error: %s\n", msg ?: strerror(-r));
        else if (closed)
                fprintf(f, "end: closed at offset %" PRIu64 "\n", end);
        else
                fprintf(f, "end: open, log ends at offset %" PRIu64 "\n", end);
        log_file_close(&lf);
        return r;
}

static void check_gap(const char *instance_dir, uint32_t from, uint32_t to, uint32_t needed_from, FILE *f,
                      int *result) {
        if (from > to)
                return;
        if (needed_from != 0 && to >= needed_from) {
                fprintf(f, "error: %s/logs: generations %u..%u are missing (recovery needs every generation from "
                        "%u on)\n", instance_dir, MAX(from, needed_from), to, needed_from);
                *result = -EBADMSG;
        } else
                fprintf(f, "note: generations %u..%u are not present\n", from, to);
}

static int check_headers(const char *instance_dir, const uint8_t *signature, uint32_t needed_from, FILE *f,
                         bool records) {
        _cleanup_strv_free_ char **files = NULL;
        uint32_t prev_gen = 0, prev_checksum = 0, first_gen = 0;
        size_t n;
        int r, result = 0;

        r = list_files(instance_dir, &files, &n);
        if (r < 0) {
                fprintf(f, "error: %s/logs: %s\n", instance_dir, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *msg = NULL;
                LogFile lf;

                r = log_file_open(&engine_io_default, files[i], &lf, &msg);
                if (r < 0) {
                        fprintf(f, "error: %s\n", msg ?: strerror(-r));
                        /* Only what we read and found wrong is corruption; a file we cannot read is not. */
                        if (r != -EBADMSG)
                                return r;
                        result = -EBADMSG;
                        prev_gen = 0;
                        continue;
                }
                print_header(f, &lf);
                if (signature && memcmp(signature, lf.header.signature, 16) != 0) {
                        fprintf(f, "error: %s: offset 0: log belongs to another instance\n", files[i]);
                        result = -EBADMSG;
                }
                if (prev_gen != 0 && lf.header.generation == prev_gen + 1 && lf.header.prev_checksum != prev_checksum) {
                        fprintf(f, "error: %s: offset 0: header chain broken\n", files[i]);
                        result = -EBADMSG;
                } else if (prev_gen != 0 && lf.header.generation > prev_gen + 1)
                        check_gap(instance_dir, prev_gen + 1, lf.header.generation - 1, needed_from, f, &result);
                if (first_gen == 0)
                        first_gen = lf.header.generation;
                if (records) {
                        DumpContext c = {};
                        uint64_t end = 0;
                        bool closed = false;
                        r = log_walk_generation(&engine_io_default, &lf, is_current(files[i]), dump_record, &c, &end,
                                                &closed, &msg);
                        if (r < 0) {
                                fprintf(f, "error: %s\n", msg ?: strerror(-r));
                                if (r != -EBADMSG) {
                                        log_file_close(&lf);
                                        return r;
                                }
                                result = -EBADMSG;
                        } else if (!closed)
                                fprintf(f, "note: %s: log ends at offset %" PRIu64 " (open generation)\n", files[i],
                                        end);
                }
                prev_gen = lf.header.generation;
                prev_checksum = lf.header.checksum;
                log_file_close(&lf);
        }
        /* The checkpoint's own generation must be there, except in an instance that never logged a record. */
        if (needed_from > 1 || (needed_from == 1 && n > 0)) {
                if (first_gen == 0 || first_gen > needed_from)
                        check_gap(instance_dir, needed_from, first_gen ? first_gen - 1 : needed_from, needed_from,
                                  f, &result);
        }
        return result;
}

int engine_dump_log_headers(const char *instance_dir, FILE *f) {
        if (!instance_dir || !f)
                return -EINVAL;
        return check_headers(instance_dir, NULL, 0, f, false);
}

static int verify_database(const char *path, const uint8_t signature[16], FILE *f) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_dbi dbi;
        MDB_val v;
        int r;

        r = mdb_env_create(&env);
        if (r == 0)
                r = mdb_env_set_maxdbs(env, ENGINE_TABLES_MAX + 1);
        if (r == 0)
                r = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0);
        if (r == 0)
                r = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        if (r == 0)
                r = mdb_dbi_open(txn, ENGINE_RESERVED_TABLE, 0, &dbi);
        if (r == 0)
                r = mdb_get(txn, dbi, &(MDB_val) { 18, (void *) "instance-signature" }, &v);
        if (r == 0 && (v.mv_size != 16 || memcmp(v.mv_data, signature, 16) != 0)) {
                fprintf(f, "error: %s: reserved table: instance signature mismatch\n", path);
                r = -EBADMSG;
        } else if (r != 0) {
                fprintf(f, "error: %s: %s\n", path, mdb_strerror(r));
                r = -EBADMSG;
        } else
                fprintf(f, "database: %s ok\n", path);
        if (txn)
                mdb_txn_abort(txn);
        mdb_env_close(env);
        return r;
}

/* No jet.chk: an empty (or log-less) directory is not an instance at all; logs without it are damage. */
static int verify_no_checkpoint(const char *instance_dir, const char *chk_path, FILE *f) {
        _cleanup_strv_free_ char **files = NULL;
        size_t n = 0;
        int r;

        r = list_files(instance_dir, &files, &n);
        if (r < 0 && r != -ENOENT) {
                fprintf(f, "error: %s/logs: %s\n", instance_dir, strerror(-r));
                return r;
        }
        if (n == 0) {
                fprintf(f, "error: %s: missing: %s is not a jetsnap instance directory\n", chk_path, instance_dir);
                return -ENOENT;
        }
        fprintf(f, "error: %s: missing, but the log directory has generations\n", chk_path);
        return -EBADMSG;
}

int engine_verify(const char *instance_dir, FILE *f) {
        _cleanup_(checkpoint_done) Checkpoint c = {};
        _cleanup_free_ char *path = NULL, *msg = NULL;
        struct stat st;
        int r, result = 0;

        if (!instance_dir || !f)
                return -EINVAL;
        /* What is not there, or cannot be read, is an error of its own: only damage found is "corrupt". */
        if (stat(instance_dir, &st) < 0) {
                r = -errno;
                fprintf(f, "error: %s: %s\n", instance_dir, strerror(-r));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                fprintf(f, "error: %s: not a directory\n", instance_dir);
                return -ENOTDIR;
        }
        if (asprintf(&path, "%s/jet.chk", instance_dir) < 0)
                return -ENOMEM;
        r = checkpoint_read(&engine_io_default, path, &c, &msg);
        if (r == -ENOENT) {
                r = verify_no_checkpoint(instance_dir, path, f);
                if (r != -EBADMSG)
                        return r;
                result = r;
        } else if (r == -EBADMSG) {
                fprintf(f, "error: %s\n", msg ?: strerror(-r));
                result = r;
        } else if (r < 0) {
                fprintf(f, "error: %s: %s\n", path, strerror(-r));
                return r;
        } else
                fprintf(f, "checkpoint: %s ok (generation %u)\n", path, LSN_GEN(c.lsn));
        r = check_headers(instance_dir, result >= 0 ? c.signature : NULL, result >= 0 ? LSN_GEN(c.lsn) : 0, f,
                          true);
        if (r < 0 && r != -EBADMSG)
                return r;
        if (r < 0)
                result = r;
        for (size_t i = 0; i < c.n_databases; i++) {
                _cleanup_free_ char *p = NULL;
                if (c.databases[i].path[0] == '/')
                        p = strdup(c.databases[i].path);
                else if (asprintf(&p, "%s/%s", instance_dir, c.databases[i].path) < 0)
                        p = NULL;
                if (!p)
                        return -ENOMEM;
                if (verify_database(p, c.signature, f) < 0)
                        result = -EBADMSG;
        }
        fprintf(f, "result: %s\n", result < 0 ? "corrupt" : "ok");
        return result;
}

int engine_recover_offline(const char *instance_dir, const EngineDatabaseConfig *databases, size_t n_databases,
                           FILE *f, char **reterr_message) {
        _cleanup_(checkpoint_done) Checkpoint c = {};
        _cleanup_free_ char *path = NULL;
        EngineDatabaseConfig dbs[ENGINE_DATABASES_MAX] = {};
        char *paths[ENGINE_DATABASES_MAX] = {};
        Engine *e = NULL;
        int r;

        if (!instance_dir || (n_databases > 0 && !databases))
                return -EINVAL;
        if (asprintf(&path, "%s/jet.chk", instance_dir) < 0)
                return -ENOMEM;
        r = checkpoint_read(&engine_io_default, path, &c, reterr_message);
        if (r == -ENOENT)
                /* engine_open() would create a fresh instance here: a restore that lacks jet.chk is no restore. */
                (void) asprintf_safe(reterr_message, "%s: missing: %s is not a jetsnap instance directory", path,
                                     instance_dir);
        else if (r < 0 && r != -EBADMSG)
                (void) asprintf_safe(reterr_message, "%s: %s", path, strerror(-r));
        if (r < 0)
                return r;
        if (c.n_databases == 0) {
                (void) asprintf_safe(reterr_message, "%s: lists no databases", path);
                return -EBADMSG;
        }
        for (size_t i = 0; i < c.n_databases; i++) {
                dbs[i].name = c.databases[i].name;
                if (c.databases[i].path[0] == '/')
                        dbs[i].path = c.databases[i].path;
                else {
                        if (asprintf(&paths[i], "%s/%s", instance_dir, c.databases[i].path) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        dbs[i].path = paths[i];
                }
                for (size_t j = 0; j < n_databases; j++)
                        if (streq_ptr(databases[j].name, dbs[i].name))
                                dbs[i] = databases[j];
        }
        EngineConfig config = {
                .name = "offline-recovery",
                .path = instance_dir,
                .n_databases = c.n_databases,
                .databases = dbs,
        };
        r = engine_open(&config, &e, reterr_message);
        if (r >= 0) {
                EngineInfo info;
                (void) engine_get_info(e, &info);
                e = engine_close(e);
                if (f)
                        fprintf(f, "recovered: %s checkpoint-generation=%u next-generation=%u\n", instance_dir,
                                info.checkpoint_generation, info.current_generation + 1);
        }
finish:
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                free(paths[i]);
        return r;
}
