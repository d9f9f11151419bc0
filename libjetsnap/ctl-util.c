/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* jetsnapctl: connecting, error messages, argument parsing and output helpers. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const char *arg_host = NULL;
const char *arg_address = NULL;
bool arg_user = false;

int ctl_common_option(int opt) {
        switch (opt) {
        case CTL_OPT_HOST:
                arg_host = optarg;
                return 1;
        case CTL_OPT_ADDRESS:
                arg_address = optarg;
                return 1;
        case CTL_OPT_USER:
                arg_user = true;
                return 1;
        case '?':
                /* getopt printed what was wrong. */
                return -CTL_EXIT_USAGE;
        default:
                return 0;
        }
}

int ctl_connect(jetsnap_client **ret) {
        const char *what;
        int r;

        if (arg_host) {
                what = arg_host;
                r = jetsnap_client_open_remote(arg_host, ret);
        } else if (arg_address) {
                what = arg_address;
                r = jetsnap_client_open_address(arg_address, ret);
        } else if (arg_user) {
                what = "the session bus";
                r = jetsnap_client_open_user(ret);
        } else {
                what = "the system bus";
                r = jetsnap_client_open_system(ret);
        }
        if (r < 0)
                fprintf(stderr, "jetsnapctl: failed to connect to %s: %s\n", what, strerror(-r));
        return r;
}

int ctl_error(jetsnap_client *c, int r, const char *fmt, ...) {
        const char *msg = jetsnap_client_get_error_message(c);
        va_list ap;

        fputs("jetsnapctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        /* The daemon's message says what was wrong; strerror() only names the class. */
        if (msg && !streq(msg, strerror(-r)))
                fprintf(stderr, ": %s (%s)\n", msg, strerror(-r));
        else
                fprintf(stderr, ": %s\n", strerror(-r));
        return r == -ENOENT ? CTL_EXIT_NOT_FOUND : CTL_EXIT_FAILURE;
}

int ctl_parse_id(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int ctl_parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;

        if (ctl_parse_id(s, &v) < 0 || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int unhex_char(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int ctl_unhex(const char *s, void **ret, size_t *ret_size) {
        size_t n = strlen(s);
        uint8_t *b;

        if (n % 2 != 0)
                return -EINVAL;
        b = malloc(n / 2 + 1);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n / 2; i++) {
                int hi = unhex_char(s[2 * i]), lo = unhex_char(s[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                        free(b);
                        return -EINVAL;
                }
                b[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret = b;
        *ret_size = n / 2;
        return 0;
}

void ctl_print_bytes(FILE *f, const void *p, size_t n, bool hex) {
        const uint8_t *b = p;

        if (!hex) {
                fwrite(p, 1, n, f);
                return;
        }
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", b[i]);
}

void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

void ctl_print_freeze_info(const jetsnap_freeze_info *info, bool json) {
        if (json) {
                fputc('[', stdout);
                for (size_t i = 0; i < info->n_instances; i++) {
                        const jetsnap_instance_info *in = &info->instances[i];

                        printf("%s{\"id\":%" PRIu64 ",\"name\":", i ? "," : "", in->id);
                        json_string(stdout, in->name);
                        fputs(",\"databases\":[", stdout);
                        for (size_t d = 0; d < in->n_databases; d++) {
                                printf("%s{\"path\":", d ? "," : "");
                                json_string(stdout, in->databases[d].path);
                                fputs(",\"name\":", stdout);
                                json_string(stdout, in->databases[d].display_name);
                                fputc('}', stdout);
                        }
                        fputs("],\"log_directory\":", stdout);
                        json_string(stdout, in->log_directory);
                        fputs(",\"files\":[", stdout);
                        for (size_t k = 0; k < in->n_files; k++) {
                                if (k)
                                        fputc(',', stdout);
                                json_string(stdout, in->files[k]);
                        }
                        fputs("]}", stdout);
                }
                fputs("]\n", stdout);
                return;
        }
        for (size_t i = 0; i < info->n_instances; i++) {
                const jetsnap_instance_info *in = &info->instances[i];

                printf("instance %s (id %" PRIu64 ")\n  log directory: %s\n", in->name, in->id, in->log_directory);
                for (size_t d = 0; d < in->n_databases; d++)
                        printf("  database %s: %s\n", in->databases[d].display_name, in->databases[d].path);
                for (size_t k = 0; k < in->n_files; k++)
                        printf("  file: %s\n", in->files[k]);
        }
}

int ctl_parse_args(int argc, char *argv[], const struct option *options, int (*handler)(int opt),
                   const char *usage, int min_args, int max_args) {
        /* snapshot's COMMAND keeps its own options: stop at the first positional argument there. */
        const char *shortopts = streq(argv[0], "snapshot") ? "+h" : "h";
        static const struct option common[] = {
                { "help", no_argument, NULL, 'h' },
                CTL_GLOBAL_OPTIONS,
        };
        struct option all[32] = {};
        size_t n = 0;
        int c, r, n_args;

        for (size_t i = 0; i < ELEMENTSOF(common); i++)
                all[n++] = common[i];
        for (const struct option *o = options; o && o->name; o++) {
                assert(n < ELEMENTSOF(all) - 1);
                all[n++] = *o;
        }

        while ((c = getopt_long(argc, argv, shortopts, all, NULL)) >= 0) {
                if (c == 'h') {
                        fputs(usage, stdout);
                        return 0;
                }
                r = ctl_common_option(c);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = handler ? handler(c) : -CTL_EXIT_USAGE;
                if (r < 0)
                        return r;
        }
        if (!!arg_host + !!arg_address + arg_user > 1) {
                fprintf(stderr, "jetsnapctl: --host, --address and --user are mutually exclusive.\n");
                return -CTL_EXIT_USAGE;
        }
        n_args = argc - optind;
        if (n_args < min_args || (max_args >= 0 && n_args > max_args)) {
                fprintf(stderr, "jetsnapctl: %s: wrong number of arguments, see %s --help.\n", argv[0], argv[0]);
                return -CTL_EXIT_USAGE;
        }
        return 1;
}
