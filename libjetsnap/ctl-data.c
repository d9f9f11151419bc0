/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* jetsnapctl put, get, del, scan: the Instance data methods. Keys and values are strings, or hex with --hex. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static bool arg_hex = false;
static const char *arg_from = NULL;
static const char *arg_to = NULL;
static uint32_t arg_limit = 0;

enum {
        OPT_HEX = 0x3000,
        OPT_FROM,
        OPT_TO,
        OPT_LIMIT,
};

static int handle_option(int opt) {
        switch (opt) {
        case OPT_HEX:
                arg_hex = true;
                return 0;
        case OPT_FROM:
                arg_from = optarg;
                return 0;
        case OPT_TO:
                arg_to = optarg;
                return 0;
        case OPT_LIMIT:
                if (ctl_parse_uint32(optarg, &arg_limit) < 0) {
                        fprintf(stderr, "jetsnapctl: invalid --limit '%s'.\n", optarg);
                        return -CTL_EXIT_USAGE;
                }
                return 0;
        default:
                return -CTL_EXIT_USAGE;
        }
}

/* A key or value from the command line: the string itself, or decoded hex. */
typedef struct Bytes {
        void *allocated;
        const void *data;
        size_t size;
} Bytes;

static void bytes_done(Bytes *b) {
        free(b->allocated);
}

static int bytes_from_arg(const char *s, const char *what, Bytes *ret) {
        int r;

        *ret = (Bytes) {};
        if (!s)
                return 0;
        if (!arg_hex) {
                ret->data = s;
                ret->size = strlen(s);
                return 0;
        }
        r = ctl_unhex(s, &ret->allocated, &ret->size);
        if (r < 0) {
                fprintf(stderr, "jetsnapctl: %s '%s' is not valid hex.\n", what, s);
                return r;
        }
        ret->data = ret->allocated;
        return 0;
}

static const struct option hex_option[] = {
        { "hex", no_argument, NULL, OPT_HEX },
        {}
};

static int write_verb(int argc, char *argv[], bool put) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_(bytes_done) Bytes key = {}, value = {};
        jetsnap_op op;
        int r;

        r = ctl_parse_args(argc, argv, hex_option, handle_option,
                           put ? "jetsnapctl put INSTANCE DATABASE TABLE KEY VALUE [--hex]\n\n"
                                 "Store VALUE under KEY (durable when the command returns; waits while frozen).\n\n"
                                 "  --hex   KEY and VALUE are hex-encoded bytes\n"
                               : "jetsnapctl del INSTANCE DATABASE TABLE KEY [--hex]\n\n"
                                 "Delete KEY. Exit status 4 if there was no such key.\n\n"
                                 "  --hex   KEY is hex-encoded bytes\n",
                           put ? 5 : 4, put ? 5 : 4);
        if (r <= 0)
                return -r;
        if (bytes_from_arg(argv[optind + 3], "KEY", &key) < 0 ||
            (put && bytes_from_arg(argv[optind + 4], "VALUE", &value) < 0))
                return CTL_EXIT_USAGE;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;

        if (!put) {
                /* Commit deletes silently; a del of nothing should say so, as ESE's JetDelete would. */
                _cleanup_free_ void *old = NULL;
                size_t n;

                r = jetsnap_get(c, argv[optind], argv[optind + 1], argv[optind + 2], key.data, key.size, &old, &n);
                if (r < 0)
                        return ctl_error(c, r, "del failed");
        }
        op = (jetsnap_op) {
                .kind = put ? JETSNAP_OP_PUT : JETSNAP_OP_DELETE,
                .database = argv[optind + 1],
                .table = argv[optind + 2],
                .key = key.data,
                .key_size = key.size,
                .value = value.data,
                .value_size = value.size,
        };
        r = jetsnap_commit(c, argv[optind], &op, 1, NULL);
        if (r < 0)
                return ctl_error(c, r, "%s failed", put ? "put" : "del");
        return 0;
}

int verb_put(int argc, char *argv[]) {
        return write_verb(argc, argv, true);
}

int verb_del(int argc, char *argv[]) {
        return write_verb(argc, argv, false);
}

int verb_get(int argc, char *argv[]) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_(bytes_done) Bytes key = {};
        _cleanup_free_ void *value = NULL;
        size_t n;
        int r;

        r = ctl_parse_args(argc, argv, hex_option, handle_option,
                           "jetsnapctl get INSTANCE DATABASE TABLE KEY [--hex]\n\n"
                           "Print the value stored under KEY. Exit status 4 if there is none.\n\n"
                           "  --hex   KEY is hex-encoded, and the value is printed in hex\n",
                           4, 4);
        if (r <= 0)
                return -r;
        if (bytes_from_arg(argv[optind + 3], "KEY", &key) < 0)
                return CTL_EXIT_USAGE;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;
        r = jetsnap_get(c, argv[optind], argv[optind + 1], argv[optind + 2], key.data, key.size, &value, &n);
        if (r < 0)
                return ctl_error(c, r, "get failed");
        ctl_print_bytes(stdout, value, n, arg_hex);
        fputc('\n', stdout);
        return 0;
}

int verb_scan(int argc, char *argv[]) {
        static const struct option options[] = {
                { "hex", no_argument, NULL, OPT_HEX },
                { "from", required_argument, NULL, OPT_FROM },
                { "to", required_argument, NULL, OPT_TO },
                { "limit", required_argument, NULL, OPT_LIMIT },
                {}
        };
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_(bytes_done) Bytes from = {}, to = {};
        jetsnap_record *records = NULL;
        size_t n;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           "jetsnapctl scan INSTANCE DATABASE TABLE [--from K] [--to K] [--limit N] [--hex]\n\n"
                           "Print the records with FROM <= key < TO in key order, one per line as\n"
                           "KEY<TAB>VALUE.\n\n"
                           "  --from K   First key (default: the start)\n"
                           "  --to K     Stop before this key (default: the end)\n"
                           "  --limit N  At most N records (default: all)\n"
                           "  --hex      Keys are given, and keys and values printed, in hex\n",
                           3, 3);
        if (r <= 0)
                return -r;
        if (bytes_from_arg(arg_from, "--from", &from) < 0 || bytes_from_arg(arg_to, "--to", &to) < 0)
                return CTL_EXIT_USAGE;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;
        r = jetsnap_scan(c, argv[optind], argv[optind + 1], argv[optind + 2], from.data, from.size, to.data, to.size,
                         arg_limit, &records, &n);
        if (r < 0)
                return ctl_error(c, r, "scan failed");
        for (size_t i = 0; i < n; i++) {
                ctl_print_bytes(stdout, records[i].key, records[i].key_size, arg_hex);
                fputc('\t', stdout);
                ctl_print_bytes(stdout, records[i].value, records[i].value_size, arg_hex);
                fputc('\n', stdout);
        }
        jetsnap_records_free(records, n);
        return 0;
}
