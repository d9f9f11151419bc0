/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * config_load(): the embedded default, every key of jetsnapd.yaml(5), the
 * shipped example, and one row per rejected input with the exact
 * FILE:LINE:COLUMN it must be reported at.
 */

#include <check.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "macro.h"
#include "check-run.h"

static char tmpdir[] = "/tmp/test-config-XXXXXX";
static char yaml_path[sizeof(tmpdir) + 32];

static void setup(void) {
        strcpy(tmpdir, "/tmp/test-config-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(yaml_path, sizeof(yaml_path), "%s/jetsnapd.yaml", tmpdir);
}

static void teardown(void) {
        (void) unlink(yaml_path);
        ck_assert_int_eq(rmdir(tmpdir), 0);
}

static void write_yaml(const char *text) {
        FILE *f = fopen(yaml_path, "we");

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
}

/* Loads text; on success returns the Config, else asserts the error. */
static Config *load(const char *text, int expect_r, char **ret_err) {
        Config *c = NULL;
        char *err = NULL;
        int r;

        write_yaml(text);
        r = config_load(yaml_path, "/var/lib/test", &c, &err);
        ck_assert_msg(r == expect_r, "config_load() = %d (%s), expected %d", r, err ?: "-", expect_r);
        if (r < 0) {
                ck_assert_ptr_null(c);
                ck_assert_ptr_nonnull(err);
        } else
                ck_assert_ptr_null(err);
        if (ret_err)
                *ret_err = err;
        else
                free(err);
        return c;
}

START_TEST(test_embedded_default) {
        _cleanup_(config_freep) Config *c = NULL;
        char *err = NULL;

        ck_assert_int_eq(config_load(NULL, "/run/x//state/", &c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_uint_eq(c->freeze_timeout_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->session_idle_timeout_usec, 600 * USEC_PER_SEC);
        /* Group "jetsnap" is admitted when it exists (the nspawn test sees the hit). */
        if (getgrnam("jetsnap")) {
                ck_assert_uint_eq(c->n_allowed_gids, 1);
                ck_assert_uint_eq(c->allowed_gids[0], getgrnam("jetsnap")->gr_gid);
        } else
                ck_assert_uint_eq(c->n_allowed_gids, 0);
        ck_assert_uint_eq(c->n_instances, 1);
        ck_assert_str_eq(c->instances[0].name, "default");
        ck_assert_str_eq(c->instances[0].path, "/run/x/state/default");
        ck_assert_uint_eq(c->instances[0].log_file_size, 0);
        ck_assert_int_eq(c->instances[0].circular_logging, false);
        ck_assert_uint_eq(c->instances[0].n_databases, 1);
        ck_assert_str_eq(c->instances[0].databases[0].name, "main");
        ck_assert_str_eq(c->instances[0].databases[0].path, "/run/x/state/default/main.jdb");
        ck_assert_uint_eq(c->instances[0].databases[0].map_size, 0);
}
END_TEST

START_TEST(test_embedded_default_state_dir) {
        _cleanup_(config_freep) Config *c = NULL;
        char *err = NULL;

        ck_assert_int_eq(config_load(NULL, NULL, &c, &err), 0);
        ck_assert_str_eq(c->instances[0].path, "/var/lib/jetsnapd/default");
        ck_assert_str_eq(c->instances[0].databases[0].path, "/var/lib/jetsnapd/default/main.jdb");
        c = config_free(c);

        ck_assert_int_eq(config_load(NULL, "relative/dir", &c, &err), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, "state directory 'relative/dir' is not absolute");
        free(err);
}
END_TEST

START_TEST(test_every_key) {
        _cleanup_(config_freep) Config *c = NULL;

        c = load("snapshot:\n"
                 "  freeze-timeout: 500ms\n"
                 "  session-idle-timeout: 2min\n"
                 "  allowed-groups: [root]\n"
                 "instances:\n"
                 "  - name: mail.v1_x-y\n"
                 "    path: /srv//mail/\n"
                 "    log-file-size: 4MiB\n"
                 "    circular-logging: true\n"
                 "    value-size-max: 64KiB\n"
                 "    access-groups: [root, root]\n"
                 "    databases:\n"
                 "      - name: box\n"
                 "        path: /srv/mail/box.jdb\n"
                 "        map-size: 4GiB\n"
                 "      - {name: index, path: /data/index.jdb}\n"
                 "  - name: other\n"
                 "    path: /srv/other\n"
                 "    databases: [{name: box, path: /srv/other/box.jdb}]\n",
                 0, NULL);
        ck_assert_uint_eq(c->freeze_timeout_usec, 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->session_idle_timeout_usec, 120 * USEC_PER_SEC);
        ck_assert_uint_eq(c->n_allowed_gids, 1);
        ck_assert_uint_eq(c->allowed_gids[0], 0);
        ck_assert_uint_eq(c->n_instances, 2);

        ck_assert_str_eq(c->instances[0].name, "mail.v1_x-y");
        ck_assert_str_eq(c->instances[0].path, "/srv/mail");
        ck_assert_uint_eq(c->instances[0].log_file_size, 4 << 20);
        ck_assert_int_eq(c->instances[0].circular_logging, true);
        ck_assert_uint_eq(c->instances[0].value_size_max, 64 << 10);
        ck_assert_uint_eq(c->instances[0].n_access_gids, 2);
        ck_assert_uint_eq(c->instances[0].access_gids[1], 0);
        ck_assert_uint_eq(c->instances[0].n_databases, 2);
        ck_assert_str_eq(c->instances[0].databases[0].name, "box");
        ck_assert_str_eq(c->instances[0].databases[0].path, "/srv/mail/box.jdb");
        ck_assert_uint_eq(c->instances[0].databases[0].map_size, UINT64_C(4) << 30);
        ck_assert_str_eq(c->instances[0].databases[1].name, "index");
        ck_assert_str_eq(c->instances[0].databases[1].path, "/data/index.jdb");
        ck_assert_uint_eq(c->instances[0].databases[1].map_size, 0);

        ck_assert_str_eq(c->instances[1].name, "other");
        ck_assert_int_eq(c->instances[1].circular_logging, false);
        ck_assert_uint_eq(c->instances[1].n_access_gids, 0);
        ck_assert_str_eq(c->instances[1].databases[0].path, "/srv/other/box.jdb");
}
END_TEST

START_TEST(test_snapshot_only_and_empty) {
        _cleanup_(config_freep) Config *c = NULL;

        /* Without "instances" the embedded default instance is used. */
        c = load("snapshot:\n  freeze-timeout: 5s\n", 0, NULL);
        ck_assert_uint_eq(c->freeze_timeout_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(c->n_instances, 1);
        ck_assert_str_eq(c->instances[0].path, "/var/lib/test/default");
        c = config_free(c);

        c = load("", 0, NULL);
        ck_assert_uint_eq(c->freeze_timeout_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->n_instances, 1);
        c = config_free(c);

        c = load("# only a comment\n---\n", 0, NULL);
        ck_assert_uint_eq(c->n_instances, 1);
}
END_TEST

START_TEST(test_shipped_example) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *path = NULL;
        char *err = NULL;
        const char *src = getenv("JETSNAP_SRC");

        ck_assert_ptr_nonnull(src);
        ck_assert_int_ge(asprintf(&path, "%s/config/jetsnapd.yaml", src), 0);
        ck_assert_int_eq(config_load(path, NULL, &c, &err), 0);
        ck_assert_ptr_null(err);
        /* The example shows every key, so it must configure more than the default. */
        ck_assert_uint_ge(c->n_instances, 2);
        ck_assert_uint_ge(c->n_allowed_gids, 1);
        ck_assert_uint_ne(c->freeze_timeout_usec, 0);
}
END_TEST

START_TEST(test_missing_file) {
        Config *c = NULL;
        char *err = NULL;
        _cleanup_free_ char *expected = NULL;

        ck_assert_int_eq(config_load(yaml_path, NULL, &c, &err), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_int_ge(asprintf(&expected, "%s: No such file or directory", yaml_path), 0);
        ck_assert_str_eq(err, expected);
        free(err);

        /* reterr_message is optional. */
        ck_assert_int_eq(config_load(yaml_path, NULL, &c, NULL), -ENOENT);
}
END_TEST

#define INST "instances:\n  - name: a\n    path: /srv/a\n"
#define DB "    databases: [{name: d, path: /srv/a/d.jdb}]\n"

/* One rejected input per row: where it must be reported and what the message must say. */
static const struct {
        const char *yaml;
        unsigned line, column;
        const char *message;
} bad[] = {
        { "snapshot: [\n", 2, 1, "did not find expected node content" },
        { "snapshot:\n  freeze-timeout: 60s\n   bad: indent\n", 3, 7, "mapping values are not allowed" },
        { "foo: 1\n", 1, 1, "unknown key 'foo' in top level (known keys: snapshot, instances)" },
        { "- a\n", 1, 1, "top level: expected a mapping, got a list" },
        { "snapshot: 1\n", 1, 11, "snapshot: expected a mapping, got a scalar" },
        { "snapshot:\n  freeze-timeout: 60s\n  freeze-timeout: 1s\n", 3, 3, "duplicate key 'freeze-timeout'" },
        { "snapshot:\n  freeze-timeout: 60\n  freeze-timout: 1s\n", 3, 3, "unknown key 'freeze-timout' in snapshot" },
        { "snapshot:\n  freeze-timeout: 60 s\n", 2, 19, "invalid duration '60 s'" },
        { "snapshot:\n  freeze-timeout: 0\n", 2, 19, "invalid duration '0'" },
        { "snapshot:\n  session-idle-timeout: 10mins\n", 2, 25, "invalid duration '10mins'" },
        { "snapshot:\n  freeze-timeout: [1]\n", 2, 19, "duration: expected a scalar, got a list" },
        { "snapshot:\n  allowed-groups: root\n", 2, 19, "groups: expected a list, got a scalar" },
        { "snapshot:\n  allowed-groups: [root, no-such-group-jetsnap]\n", 2, 26, "unknown group 'no-such-group-jetsnap'" },
        { "instances: []\n", 1, 12, "instances: the list must not be empty" },
        { "instances: {}\n", 1, 12, "instances: expected a list, got a mapping" },
        { "instances:\n  - path: /srv/a\n" DB, 2, 5, "instance: missing required key 'name'" },
        { INST, 2, 5, "instance: missing required key 'databases'" },
        { INST "    databases: []\n", 4, 16, "databases: the list must not be empty" },
        { INST DB "    color: red\n", 5, 5, "unknown key 'color' in instance" },
        { "instances:\n  - name: a/b\n", 2, 11, "invalid name 'a/b'" },
        { "instances:\n  - name: ''\n", 2, 11, "invalid name ''" },
        { "instances:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2, 11, "invalid name" },
        { "instances:\n  - name: a\n    path: srv/a\n", 3, 11, "invalid path 'srv/a': must be absolute" },
        { "instances:\n  - name: a\n    path: /srv/../a\n", 3, 11, "invalid path '/srv/../a'" },
        { "instances:\n  - name: a\n    path: //\n", 3, 11, "the root directory cannot be used" },
        { INST "    log-file-size: 1MB\n" DB, 4, 20, "invalid size '1MB'" },
        { INST "    log-file-size: 4KiB\n" DB, 2, 5, "log-file-size must be between 64KiB and 2GiB" },
        { INST "    value-size-max: 1MiB\n" DB, 2, 5, "value-size-max must be smaller than log-file-size" },
        { INST "    circular-logging: yes\n" DB, 4, 23, "invalid boolean 'yes'" },
        { INST "    circular-logging: \"true\"\n" DB, 4, 23, "invalid boolean 'true'" },
        { INST "    access-groups: [no-such-group-jetsnap]\n" DB, 4, 21, "unknown group" },
        { INST "    databases: [{name: d, path: /srv/a/d.jdb, map-size: 4096}]\n", 4, 17, "map-size must be at least 1MiB" },
        { INST "    databases: [{name: d}]\n", 4, 17, "database: missing required key 'path'" },
        { INST "    databases: [{name: d, path: /x/d}, {name: d, path: /x/e}]\n", 4, 40, "duplicate database name 'd'" },
        { INST "    databases: [{name: d, path: /x/d}, {name: e, path: /x//d}]\n", 2, 5, "databases 'd' and 'e' use the same file '/x/d'" },
        { INST "    databases: [{name: d, path: /srv/a/jet.chk}]\n", 2, 5, "collides with the instance's own files" },
        { INST "    databases: [{name: d, path: /srv/a/logs/x}]\n", 2, 5, "collides with the instance's own files" },
        { INST DB "  - name: a\n    path: /srv/b\n    databases: [{name: d, path: /srv/b/d}]\n", 5, 5, "duplicate instance name 'a'" },
        { INST DB "  - name: b\n    path: /srv/a/\n    databases: [{name: d, path: /x/d}]\n", 5, 5, "path '/srv/a' overlaps the path '/srv/a' of instance 'a'" },
        { INST DB "  - name: b\n    path: /srv/a/sub\n    databases: [{name: d, path: /x/d}]\n", 5, 5, "overlaps" },
        { INST DB "  - name: b\n    path: /srv\n    databases: [{name: d, path: /x/d}]\n", 5, 5, "overlaps" },
        { INST DB "  - name: b\n    path: /srv/b\n    databases: [{name: e, path: /srv/a/d.jdb}]\n", 5, 5, "uses the file '/srv/a/d.jdb' of database 'd' of instance 'a'" },
        { INST DB "  - name: b\n    path: /srv/b\n    databases: [{name: e, path: /srv/a/e.jdb}]\n", 5, 5, "lies inside the directory of instance 'a'" },
        { "instances:\n  - name: a\n    path: /srv/a\n    databases: [{name: d, path: /srv/b/d}]\n"
          "  - name: b\n    path: /srv/b\n    databases: [{name: e, path: /srv/b/e}]\n", 5, 5, "its directory contains database 'd' of instance 'a'" },
        { INST "    databases:\n"
          "      [{name: d0, path: /x/0}, {name: d1, path: /x/1}, {name: d2, path: /x/2}, {name: d3, path: /x/3},\n"
          "       {name: d4, path: /x/4}, {name: d5, path: /x/5}, {name: d6, path: /x/6}, {name: d7, path: /x/7},\n"
          "       {name: d8, path: /x/8}, {name: d9, path: /x/9}, {name: da, path: /x/a}, {name: db, path: /x/b},\n"
          "       {name: dc, path: /x/c}, {name: dd, path: /x/d}, {name: de, path: /x/e}, {name: df, path: /x/f},\n"
          "       {name: dg, path: /x/g}]\n", 9, 8, "too many databases (at most 16 per instance)" },
        { "snapshot: {}\n---\nsnapshot: {}\n", 3, 1, "only one YAML document is allowed" },
        { "snapshot: *nope\n", 1, 11, "found undefined alias" },
};

START_TEST(test_bad) {
        _cleanup_free_ char *err = NULL, *prefix = NULL;
        Config *c;

        c = load(bad[_i].yaml, -EINVAL, &err);
        ck_assert_ptr_null(c);
        ck_assert_int_ge(asprintf(&prefix, "%s:%u:%u: ", yaml_path, bad[_i].line, bad[_i].column), 0);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "row %d: got \"%s\", expected prefix \"%s\"",
                      _i, err, prefix);
        ck_assert_msg(strstr(err, bad[_i].message), "row %d: got \"%s\", expected \"%s\"", _i, err, bad[_i].message);
}
END_TEST

START_TEST(test_limits) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t n = 0, size = 0;
        FILE *f = open_memstream(&text, &size);

        /* Exactly 16 databases and 64 instances are fine; one more instance is not. */
        ck_assert_ptr_nonnull(f);
        fputs("instances:\n", f);
        for (int i = 0; i < CONFIG_INSTANCES_MAX + 1; i++) {
                fprintf(f, "  - name: i%d\n    path: /srv/i%d\n    databases:\n", i, i);
                for (int d = 0; d < (i == 0 ? 16 : 1); d++)
                        fprintf(f, "      - {name: d%d, path: /srv/i%d/d%d}\n", d, i, d);
                if (i == CONFIG_INSTANCES_MAX - 1)
                        n = ftell(f);
        }
        ck_assert_int_eq(fclose(f), 0);

        c = load(text, -EINVAL, &err);
        ck_assert_msg(strstr(err, "too many instances (at most 64)"), "%s", err);

        text[n] = 0;
        c = load(text, 0, NULL);
        ck_assert_uint_eq(c->n_instances, CONFIG_INSTANCES_MAX);
        ck_assert_uint_eq(c->instances[0].n_databases, 16);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("Core");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_embedded_default);
        tcase_add_test(tc, test_embedded_default_state_dir);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_snapshot_only_and_empty);
        tcase_add_test(tc, test_shipped_example);
        suite_add_tcase(s, tc);

        tc = tcase_create("Errors");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_missing_file);
        tcase_add_loop_test(tc, test_bad, 0, ELEMENTSOF(bad));
        suite_add_tcase(s, tc);

        tc = tcase_create("Limits");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_limits);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(config_suite());
}
