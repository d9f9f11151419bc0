/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The log file format: generation files, their headers, records and
 * transaction payloads. The writer thread lives in writer.c, recovery in
 * recovery.c; both use the helpers here, and so do the offline tools.
 *
 * A generation file is
 *
 *     [LogHeader, zero padding to LOG_HEADER_SIZE][record][record]...[END][zeros...]
 *
 * preallocated with real zeros to log_file_size, so that appending a
 * record and fdatasync'ing it never changes file metadata. A record is a
 * LogRecordHeader, its payload and zero padding to LOG_RECORD_ALIGN. Its
 * LSN is (generation << 32) | offset, so a record copied to the wrong place
 * (or a stale one from an earlier use of the same bytes) never checks out.
 *
 * Every write of the log writer is one batch of consecutive records: each
 * carries the offset of the batch's first record, and the batch's last
 * record has LOG_RECORD_FLAG_BATCH_END. That is what lets recovery tell a
 * torn tail (the last write did not fully reach the disk: cut it off) from
 * a damaged record followed by a later, complete write (corruption: refuse).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine-internal.h"

int asprintf_safe(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        if (!ret)
                return 0;
        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

char *log_generation_path(const char *log_dir, uint32_t gen) {
        char *p;

        if (asprintf(&p, "%s/jet%08X.log", log_dir, gen) < 0)
                return NULL;
        return p;
}

void log_header_init(LogHeader *h, const uint8_t signature[16], uint32_t gen, uint32_t prev_checksum) {
        *h = (LogHeader) {
                .version = LOG_FORMAT_VERSION,
                .header_size = LOG_HEADER_SIZE,
                .generation = gen,
                .created_usec = now_usec(),
                .prev_checksum = prev_checksum,
        };
        memcpy(h->magic, LOG_MAGIC, sizeof(h->magic));
        memcpy(h->signature, signature, sizeof(h->signature));
        h->checksum = crc32c(0, h, offsetof(LogHeader, checksum));
}

int log_header_check(const LogHeader *h, const char *file, char **reterr_message) {
        if (memcmp(h->magic, LOG_MAGIC, sizeof(h->magic)) != 0) {
                (void) asprintf_safe(reterr_message, "%s: offset 0: not a jetsnap log file (bad magic)", file);
                return -EBADMSG;
        }
        if (h->checksum != crc32c(0, h, offsetof(LogHeader, checksum))) {
                (void) asprintf_safe(reterr_message, "%s: offset 0: log header checksum mismatch", file);
                return -EBADMSG;
        }
        if (h->version != LOG_FORMAT_VERSION || h->header_size != LOG_HEADER_SIZE) {
                (void) asprintf_safe(reterr_message, "%s: offset 0: unsupported log format version %u", file,
                                     h->version);
                return -EBADMSG;
        }
        return 0;
}

static const uint8_t zeros[64 << 10];

int log_create_generation(Engine *e, const char *path, uint32_t gen, uint32_t prev_checksum, const bool *cancel,
                          int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t page[LOG_HEADER_SIZE] = {};
        LogHeader h;
        ssize_t k;
        int r;

        fd = e->io.open(e->io.userdata, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
                return fd;
        /* Real zeros, not fallocate(): unwritten extents would turn every later append into a metadata update. */
        for (uint64_t off = LOG_HEADER_SIZE; off < e->log_file_size;) {
                size_t n = (size_t) MIN((uint64_t) sizeof(zeros), e->log_file_size - off);
                if (cancel && atomic_flag_get(cancel))
                        return -ECANCELED;
                k = e->io.pwrite(e->io.userdata, fd, zeros, n, off);
                if (k < 0)
                        return (int) k;
                off += n;
        }
        log_header_init(&h, e->signature, gen, prev_checksum);
        memcpy(page, &h, sizeof(h));
        k = e->io.pwrite(e->io.userdata, fd, page, sizeof(page), 0);
        if (k < 0)
                return (int) k;
        r = e->io.fsync(e->io.userdata, fd);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int parse_generation_name(const char *name, uint32_t *ret) {
        uint32_t gen = 0;

        if (strlen(name) != 15 || strncmp(name, "jet", 3) != 0 || strcmp(name + 11, ".log") != 0)
                return -EINVAL;
        for (int i = 3; i < 11; i++) {
                char c = name[i];
                if (c >= '0' && c <= '9')
                        gen = gen << 4 | (uint32_t) (c - '0');
                else if (c >= 'A' && c <= 'F')
                        gen = gen << 4 | (uint32_t) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        if (gen == 0)
                return -EINVAL;
        *ret = gen;
        return 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

int log_list_generations(const char *log_dir, uint32_t **ret, size_t *ret_n, bool *ret_has_current) {
        _cleanup_free_ uint32_t *v = NULL;
        size_t n = 0, alloc = 0;
        bool current = false;
        DIR *d;

        d = opendir(log_dir);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                uint32_t gen;
                if (streq(de->d_name, "jet.log")) {
                        current = true;
                        continue;
                }
                if (parse_generation_name(de->d_name, &gen) < 0)
                        continue;
                if (n == alloc) {
                        alloc = MAX(alloc * 2, 16u);
                        uint32_t *nv = realloc(v, alloc * sizeof(uint32_t));
                        if (!nv) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        v = nv;
                }
                v[n++] = gen;
        }
        closedir(d);
        if (n > 0)
                qsort(v, n, sizeof(uint32_t), cmp_u32);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        if (ret_has_current)
                *ret_has_current = current;
        return 0;
}

size_t log_record_encode(uint8_t *buf, uint16_t type, uint64_t lsn, uint32_t batch_offset, const void *payload,
                         size_t payload_size) {
        LogRecordHeader h = {
                .payload_size = (uint32_t) payload_size,
                .lsn = lsn,
                .batch_offset = batch_offset,
                .type = type,
        };
        size_t size = LOG_RECORD_SIZE(payload_size);

        memcpy(buf, &h, sizeof(h));
        if (payload_size > 0)
                memcpy(buf + sizeof(h), payload, payload_size);
        memset(buf + sizeof(h) + payload_size, 0, size - sizeof(h) - payload_size);
        return size;
}

/* Seals a record in place: the checksum is computed last because the writer sets flags after encoding. */
void log_record_seal(uint8_t *buf) {
        LogRecordHeader h;

        memcpy(&h, buf, sizeof(h));
        h.checksum = crc32c(crc32c(0, (const uint8_t *) &h + 4, sizeof(h) - 4), buf + sizeof(h), h.payload_size);
        memcpy(buf, &h, sizeof(h));
}

int log_item_new(uint16_t type, size_t payload_size, LogItem **ret) {
        LogItem *i = malloc(sizeof(LogItem) + payload_size);
        if (!i)
                return -ENOMEM;
        *i = (LogItem) { .type = type, .payload_size = payload_size };
        *ret = i;
        return 0;
}

int txn_payload_next(const uint8_t *p, size_t n, size_t *offset, LogOpView *op) {
        LogOpHeader h;
        size_t o = *offset;

        if (o == 0)
                o = 8; /* le32 n_ops, le32 reserved */
        if (o + sizeof(h) > n)
                return 0;
        memcpy(&h, p + o, sizeof(h));
        o += sizeof(h);
        size_t total = (size_t) h.database_size + h.table_size + h.key_size + h.value_size;
        if (total > n - o)
                return -EBADMSG;
        *op = (LogOpView) {
                .kind = (char) h.kind,
                .database = (const char *) p + o,
                .database_size = h.database_size,
                .table = (const char *) p + o + h.database_size,
                .table_size = h.table_size,
                .key = p + o + h.database_size + h.table_size,
                .key_size = h.key_size,
                .value = p + o + h.database_size + h.table_size + h.key_size,
                .value_size = h.value_size,
        };
        *offset = o + total;
        return 1;
}

int txn_payload_validate(Engine *e, const uint8_t *p, size_t n, char **reterr_message) {
        uint32_t n_ops, seen = 0;
        size_t offset = 0;
        LogOpView op;
        int r;

        if (n < 8)
                return -EBADMSG;
        memcpy(&n_ops, p, sizeof(n_ops));
        while ((r = txn_payload_next(p, n, &offset, &op)) > 0) {
                if ((op.kind != ENGINE_OP_PUT && op.kind != ENGINE_OP_DELETE) || op.database_size == 0 ||
                    op.table_size == 0 || op.key_size == 0 || op.key_size > ENGINE_KEY_SIZE_MAX)
                        return -EBADMSG;
                if (e) {
                        bool found = false;
                        for (size_t i = 0; i < e->n_databases && !found; i++)
                                found = strlen(e->databases[i].name) == op.database_size &&
                                        memcmp(e->databases[i].name, op.database, op.database_size) == 0;
                        if (!found) {
                                (void) asprintf_safe(reterr_message,
                                                     "the log names database '%.*s', which is not configured",
                                                     (int) op.database_size, op.database);
                                return -EINVAL;
                        }
                }
                seen++;
        }
        if (r < 0 || offset != n || seen != n_ops)
                return -EBADMSG;
        return 0;
}

int log_file_open(const EngineIO *io, const char *path, LogFile *ret, char **reterr_message) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        LogHeader h;
        ssize_t k;
        int r;

        fd = io->open(io->userdata, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
                (void) asprintf_safe(reterr_message, "%s: cannot open: %s", path, strerror(-fd));
                return fd;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        k = io->pread(io->userdata, fd, &h, sizeof(h), 0);
        if (k < 0)
                return (int) k;
        if ((size_t) k < sizeof(h)) {
                (void) asprintf_safe(reterr_message, "%s: offset 0: log header truncated", path);
                return -EBADMSG;
        }
        r = log_header_check(&h, path, reterr_message);
        if (r < 0)
                return r;
        *ret = (LogFile) { .fd = TAKE_FD(fd), .size = (uint64_t) st.st_size, .header = h };
        ret->path = strdup(path);
        if (!ret->path) {
                ret->fd = safe_close(ret->fd);
                return -ENOMEM;
        }
        return 0;
}

void log_file_close(LogFile *f) {
        f->fd = safe_close(f->fd);
        f->path = mfree(f->path);
        f->window = mfree(f->window);
        f->window_size = 0;
}

/* pread() through the read-ahead window; a large payload goes straight into the caller's buffer. */
static ssize_t log_file_pread(const EngineIO *io, LogFile *f, void *buf, size_t n, uint64_t offset) {
        size_t skip;

        if (n > LOG_READ_WINDOW / 2)
                return io->pread(io->userdata, f->fd, buf, n, offset);
        if (!f->window || offset < f->window_offset || offset + n > f->window_offset + f->window_size) {
                if (!f->window) {
                        f->window = malloc(LOG_READ_WINDOW);
                        if (!f->window)
                                return -ENOMEM;
                }
                ssize_t k = io->pread(io->userdata, f->fd, f->window, LOG_READ_WINDOW, offset);
                if (k < 0)
                        return k;
                f->window_offset = offset;
                f->window_size = (size_t) k;
        }
        skip = (size_t) (offset - f->window_offset);
        n = MIN(n, f->window_size - skip); /* short only at the end of the file, like pread() */
        memcpy(buf, f->window + skip, n);
        return (ssize_t) n;
}

static bool all_zero(const void *p, size_t n) {
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

int log_read_record(const EngineIO *io, LogFile *f, uint64_t offset, LogRecordHeader *ret_hdr, uint8_t **buf,
                    size_t *buf_alloc, char **reterr_message) {
        LogRecordHeader h;
        ssize_t k;

        if (offset + sizeof(h) > f->size) {
                if (offset >= f->size)
                        return LOG_READ_EOF;
                (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": record header truncated", f->path,
                                     offset);
                return -EBADMSG;
        }
        k = log_file_pread(io, f, &h, sizeof(h), offset);
        if (k < 0)
                return (int) k;
        if ((size_t) k < sizeof(h)) {
                (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": short read", f->path, offset);
                return -EBADMSG;
        }
        if (all_zero(&h, sizeof(h)))
                return LOG_READ_EOF;
        if (h.lsn != LSN_MAKE(f->header.generation, offset) || h.type < LOG_RECORD_TXN || h.type > LOG_RECORD_END ||
            h.payload_size > f->size - offset - sizeof(h)) {
                (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": bad record header", f->path, offset);
                return -EBADMSG;
        }
        if (*buf_alloc < h.payload_size) {
                size_t n = MAX((size_t) h.payload_size, *buf_alloc * 2);
                uint8_t *nb = realloc(*buf, n);
                if (!nb)
                        return -ENOMEM;
                *buf = nb;
                *buf_alloc = n;
        }
        if (h.payload_size > 0) {
                k = log_file_pread(io, f, *buf, h.payload_size, offset + sizeof(h));
                if (k < 0)
                        return (int) k;
                if ((size_t) k < h.payload_size) {
                        (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": short read", f->path, offset);
                        return -EBADMSG;
                }
        }
        if (h.checksum != crc32c(crc32c(0, (const uint8_t *) &h + 4, sizeof(h) - 4), *buf, h.payload_size)) {
                (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": record checksum mismatch", f->path,
                                     offset);
                return -EBADMSG;
        }
        *ret_hdr = h;
        return LOG_READ_RECORD;
}

int log_find_later_batch(const EngineIO *io, LogFile *f, uint64_t bad_offset) {
        _cleanup_free_ uint8_t *chunk = NULL, *buf = NULL;
        size_t buf_alloc = 0;
        const size_t chunk_size = 1 << 20;

        chunk = malloc(chunk_size);
        if (!chunk)
                return -ENOMEM;
        /* Scan every aligned position after the bad record for a record that checks out (LSN first: cheap). */
        for (uint64_t base = bad_offset + LOG_RECORD_ALIGN; base + sizeof(LogRecordHeader) <= f->size;) {
                ssize_t k = io->pread(io->userdata, f->fd, chunk, chunk_size, base);
                if (k < 0)
                        return (int) k;
                if ((size_t) k < sizeof(LogRecordHeader))
                        break;
                for (size_t o = 0; o + sizeof(LogRecordHeader) <= (size_t) k; o += LOG_RECORD_ALIGN) {
                        uint64_t lsn;
                        LogRecordHeader h;
                        memcpy(&lsn, chunk + o + offsetof(LogRecordHeader, lsn), sizeof(lsn));
                        if (lsn != LSN_MAKE(f->header.generation, base + o))
                                continue;
                        if (log_read_record(io, f, base + o, &h, &buf, &buf_alloc, NULL) != LOG_READ_RECORD)
                                continue;
                        /* A later write completed after the bad record: what is before it was acknowledged. */
                        if (h.batch_offset > bad_offset || (h.flags & LOG_RECORD_FLAG_BATCH_END))
                                return 1;
                }
                base += (uint64_t) k - sizeof(LogRecordHeader) + LOG_RECORD_ALIGN;
                base = base & ~(uint64_t) (LOG_RECORD_ALIGN - 1);
        }
        return 0;
}
