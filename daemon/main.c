/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapd(8): the ESE-style snapshot writer daemon. argv goes into
 * arg_* globals, run() does the work and main() maps it to an exit status.
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-introspect.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

#define DEFAULT_CONFIG_PATH SYSCONFDIR "/jetsnapd/jetsnapd.yaml"

static const char *arg_config = NULL;
static const char *arg_bus_introspect = NULL;
static bool arg_user = false;
static bool arg_check_config = false;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "ESE-style OS snapshot writer daemon for storage-engine instances.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --config=PATH          Configuration file (default: %s if it exists,\n"
               "                            else the embedded default)\n"
               "     --check-config         Check the configuration and exit\n"
               "     --user                 Run on the session bus, state in $XDG_STATE_HOME/jetsnapd\n"
               "     --bus-introspect=INTERFACE\n"
               "                            Print the introspection XML of org.jetsnap1.Manager,\n"
               "                            org.jetsnap1.Instance or org.jetsnap1.Snapshot and exit\n"
               "\nClients must use a method-call timeout longer than the freeze timeout:\n"
               "Commit replies wait while an instance is frozen.\n",
               program_invocation_short_name, DEFAULT_CONFIG_PATH);
}

/* Return: 1 to go on, 0 to exit successfully (--help), negative on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_CHECK_CONFIG, ARG_USER, ARG_BUS_INTROSPECT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "user", no_argument, NULL, ARG_USER },
                { "bus-introspect", required_argument, NULL, ARG_BUS_INTROSPECT },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("jetsnapd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_BUS_INTROSPECT:
                        arg_bus_introspect = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "%s takes no positional arguments.\n", program_invocation_short_name);
                return -EINVAL;
        }
        return 1;
}

/* $STATE_DIRECTORY (first entry) else /var/lib/jetsnapd; --user: $XDG_STATE_HOME/jetsnapd, ~/.local/state/jetsnapd. */
static int state_directory(char **ret) {
        const char *e = getenv("STATE_DIRECTORY");

        if (!isempty(e)) {
                *ret = strndup(e, strcspn(e, ":"));
                return *ret ? 0 : -ENOMEM;
        }
        if (!arg_user) {
                *ret = strdup(CONFIG_DEFAULT_STATE_DIRECTORY);
                return *ret ? 0 : -ENOMEM;
        }
        e = getenv("XDG_STATE_HOME");
        if (!isempty(e) && e[0] == '/')
                return asprintf(ret, "%s/jetsnapd", e) < 0 ? -ENOMEM : 0;
        e = getenv("HOME");
        if (isempty(e) || e[0] != '/')
                return -ENXIO;
        return asprintf(ret, "%s/.local/state/jetsnapd", e) < 0 ? -ENOMEM : 0;
}

/* The config file in use: --config, else the default path if it exists, else NULL (the embedded default). */
static const char *config_path(void) {
        if (arg_config)
                return arg_config;
        return access(DEFAULT_CONFIG_PATH, F_OK) == 0 ? DEFAULT_CONFIG_PATH : NULL;
}

static int load_config(const char *state_dir, Config **ret) {
        _cleanup_free_ char *message = NULL;
        const char *path = config_path();
        int r;

        r = config_load(path, state_dir, ret, &message);
        if (r < 0) {
                if (message)
                        fprintf(stderr, "%s\n", message);
                else
                        fprintf(stderr, "%s: %s\n", path ?: "(embedded default)", strerror(-r));
        }
        return r;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_free_ char *state_dir = NULL;
        size_t n_databases = 0;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        log_setup();

        if (arg_bus_introspect) {
                r = bus_introspect_print(arg_bus_introspect, stdout);
                if (r == -EINVAL)
                        fprintf(stderr, "Unknown interface '%s'; known: %s, %s, %s\n", arg_bus_introspect,
                                MANAGER_INTERFACE, INSTANCE_INTERFACE, SNAPSHOT_INTERFACE);
                else if (r < 0)
                        fprintf(stderr, "Failed to introspect %s: %s\n", arg_bus_introspect, strerror(-r));
                return r;
        }

        r = state_directory(&state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to determine the state directory: %m");
        r = load_config(state_dir, &config);
        if (r < 0)
                return r;

        if (arg_check_config) {
                for (size_t k = 0; k < config->n_instances; k++)
                        n_databases += config->instances[k].n_databases;
                printf("%s: OK, %zu instance(s), %zu database(s)\n", config_path() ?: "(embedded default)",
                       config->n_instances, n_databases);
                return 0;
        }

        r = manager_new(config, state_dir, arg_user, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up: %m");
        TAKE_PTR(config);
        r = manager_start(m);
        if (r < 0)
                return log_error_errno(r, "Failed to start: %m");
        r = manager_run(m);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r == 0 ? 0 : -EIO;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
