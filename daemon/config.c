/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapd.yaml loader (design.md §6, man page jetsnapd.yaml(5)).
 *
 * The file is loaded as one libyaml document and walked with one key table
 * per mapping (snapshot, instance, database), in the spirit of systemd's
 * ConfigTableItem: each key names its parser and where its value goes.
 * Validation is strict because a config mistake in a storage daemon is
 * cheaper to report at start than to discover at restore time: unknown
 * keys, wrong types, duplicate keys and names, overlapping paths, bad sizes
 * and durations are all errors, reported once as "FILE:LINE:COLUMN: message"
 * with libyaml's 0-based marks turned 1-based.
 *
 * Cross-object checks (duplicate names, overlapping paths) run when an
 * instance is complete, against the instances before it, so every error
 * points at the later of the two conflicting nodes.
 */

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "engine/engine.h"
#include "macro.h"
#include "parse-util.h"

#define NAME_LENGTH_MAX 64
#define MAP_SIZE_MIN (UINT64_C(1) << 20)

typedef struct Parser {
        const char *path;               /* shown in messages */
        yaml_document_t *doc;
        char *error;                    /* the first error, "FILE:LINE:COLUMN: message" */
} Parser;

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

typedef int (*KeyParser)(Parser *p, yaml_node_t *value, void *field);

typedef struct KeyTable {
        const char *key;
        KeyParser parse;
        size_t offset;                  /* of the field in the target object */
        bool required;
} KeyTable;

_printf_(3, 4)
static int fail(Parser *p, const yaml_node_t *n, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        free(p->error);
        if (asprintf(&p->error, "%s:%zu:%zu: %s", p->path,
                     n->start_mark.line + 1, n->start_mark.column + 1, msg) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static const char *node_type_name(const yaml_node_t *n) {
        switch (n->type) {
        case YAML_SCALAR_NODE:
                return "a scalar";
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        default:
                return "nothing";
        }
}

/* The scalar's text in *ret (borrowed from the document), or a reported type error. */
static int scalar(Parser *p, yaml_node_t *n, const char *what, const char **ret) {
        if (n->type != YAML_SCALAR_NODE)
                return fail(p, n, "%s: expected a scalar, got %s", what, node_type_name(n));
        if (strlen((const char *) n->data.scalar.value) != n->data.scalar.length)
                return fail(p, n, "%s: value contains a NUL byte", what);
        *ret = (const char *) n->data.scalar.value;
        return 0;
}

static int expect_type(Parser *p, yaml_node_t *n, yaml_node_type_t type, const char *what) {
        static const yaml_node_t fake_seq = { .type = YAML_SEQUENCE_NODE }, fake_map = { .type = YAML_MAPPING_NODE };

        if (n->type == type)
                return 0;
        return fail(p, n, "%s: expected %s, got %s", what,
                    node_type_name(type == YAML_SEQUENCE_NODE ? &fake_seq : &fake_map), node_type_name(n));
}

/*
 * Walks a mapping: every key must be a known, non-repeated scalar, and every
 * required key must be there. Values are handed to the table's parsers.
 */
static int parse_mapping(Parser *p, yaml_node_t *n, const char *what, const KeyTable *table, size_t n_table,
                         void *object) {
        bool seen[16] = {};
        int r;

        assert(n_table <= ELEMENTSOF(seen));

        r = expect_type(p, n, YAML_MAPPING_NODE, what);
        if (r < 0)
                return r;

        for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
                const char *key = NULL;
                size_t i;

                r = scalar(p, k, what, &key);
                if (r < 0)
                        return r;

                for (i = 0; i < n_table; i++)
                        if (streq(table[i].key, key))
                                break;
                if (i >= n_table) {
                        char expected[256] = "";

                        for (size_t j = 0; j < n_table; j++) {
                                strncat(expected, j > 0 ? ", " : "", sizeof(expected) - strlen(expected) - 1);
                                strncat(expected, table[j].key, sizeof(expected) - strlen(expected) - 1);
                        }
                        return fail(p, k, "unknown key '%s' in %s (known keys: %s)", key, what, expected);
                }
                if (seen[i])
                        return fail(p, k, "duplicate key '%s' in %s", key, what);
                seen[i] = true;

                r = table[i].parse(p, v, (uint8_t *) object + table[i].offset);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < n_table; i++)
                if (table[i].required && !seen[i])
                        return fail(p, n, "%s: missing required key '%s'", what, table[i].key);
        return 0;
}

/* Names become bus object path components and file names in messages: keep them boring. */
static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > NAME_LENGTH_MAX)
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int parse_name(Parser *p, yaml_node_t *n, void *field) {
        char **ret = field;
        const char *s = NULL;
        int r;

        r = scalar(p, n, "name", &s);
        if (r < 0)
                return r;
        if (!name_is_valid(s))
                return fail(p, n, "invalid name '%s': 1 to %d characters from A-Z a-z 0-9 _ . -",
                            s, NAME_LENGTH_MAX);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/*
 * Absolute, without "." or ".." components, with "//" collapsed and any
 * trailing "/" dropped, so that overlap checks can compare strings.
 */
static int path_normalize(const char *s, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t o = 0;

        if (s[0] != '/')
                return -EINVAL;
        if (strlen(s) >= PATH_MAX)
                return -ENAMETOOLONG;

        out = malloc(strlen(s) + 1);
        if (!out)
                return -ENOMEM;

        for (const char *c = s; *c;) {
                size_t len;

                c += strspn(c, "/");
                len = strcspn(c, "/");
                if (len == 0)
                        break;
                if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
                out[o++] = '/';
                memcpy(out + o, c, len);
                o += len;
                c += len;
        }
        if (o == 0)
                out[o++] = '/';
        out[o] = 0;

        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_path(Parser *p, yaml_node_t *n, void *field) {
        char **ret = field;
        const char *s = NULL;
        int r;

        r = scalar(p, n, "path", &s);
        if (r < 0)
                return r;
        r = path_normalize(s, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(p, n, "invalid path '%s': must be absolute, without '.' or '..' components", s);
        if (streq(*ret, "/"))
                return fail(p, n, "invalid path '%s': the root directory cannot be used", s);
        return 0;
}

static int parse_size_field(Parser *p, yaml_node_t *n, void *field) {
        const char *s = NULL;
        uint64_t v;
        int r;

        r = scalar(p, n, "size", &s);
        if (r < 0)
                return r;
        r = parse_size(s, &v);
        if (r < 0 || v == 0)
                return fail(p, n, "invalid size '%s': expected a positive number with an optional unit "
                            "(KiB, MiB, GiB, TiB)", s);
        *(uint64_t *) field = v;
        return 0;
}

static int parse_duration_field(Parser *p, yaml_node_t *n, void *field) {
        const char *s = NULL;
        uint64_t v;
        int r;

        r = scalar(p, n, "duration", &s);
        if (r < 0)
                return r;
        r = parse_duration(s, &v);
        if (r < 0 || v == 0)
                return fail(p, n, "invalid duration '%s': expected a positive number with an optional unit "
                            "(us, ms, s, min, h; default s)", s);
        *(uint64_t *) field = v;
        return 0;
}

static int parse_bool_field(Parser *p, yaml_node_t *n, void *field) {
        const char *s = NULL;
        int r;

        r = scalar(p, n, "boolean", &s);
        if (r < 0)
                return r;
        /* Only YAML 1.2's spelling: "no" meaning false surprises people. */
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && streq(s, "true"))
                *(bool *) field = true;
        else if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && streq(s, "false"))
                *(bool *) field = false;
        else
                return fail(p, n, "invalid boolean '%s': expected true or false", s);
        return 0;
}

static int group_resolve(const char *name, gid_t *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 1024;
        struct group gr, *result;
        int r;

        for (;;) {
                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                r = getgrnam_r(name, &gr, buf, size, &result);
                if (r != ERANGE)
                        break;
                if (size > 1024 * 1024)
                        return -ERANGE;
                size *= 2;
        }
        if (r != 0)
                return -r;
        if (!result)
                return -ESRCH;
        *ret = result->gr_gid;
        return 0;
}

/* A list of group names, resolved now: a typo must fail the start, not deny a backup at 3 a.m. */
static int parse_groups(Parser *p, yaml_node_t *n, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *gids = NULL;
        size_t n_gids = 0;
        int r;

        r = expect_type(p, n, YAML_SEQUENCE_NODE, "groups");
        if (r < 0)
                return r;

        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *g = yaml_document_get_node(p->doc, *it);
                const char *name = NULL;
                gid_t *a;

                r = scalar(p, g, "group", &name);
                if (r < 0)
                        return r;
                if (n_gids >= CONFIG_GROUPS_MAX)
                        return fail(p, g, "too many groups (at most %d)", CONFIG_GROUPS_MAX);

                a = reallocarray(gids, n_gids + 1, sizeof(gid_t));
                if (!a)
                        return -ENOMEM;
                gids = a;

                r = group_resolve(name, &gids[n_gids]);
                if (r == -ENOMEM)
                        return r;
                if (r == -ESRCH)
                        return fail(p, g, "unknown group '%s'", name);
                if (r < 0)
                        return fail(p, g, "cannot look up group '%s': %s", name, strerror(-r));
                n_gids++;
        }

        free(*ret);
        *ret = TAKE_PTR(gids);
        *ret_n = n_gids;
        return 0;
}

static int parse_allowed_groups(Parser *p, yaml_node_t *n, void *field) {
        Config *c = field;
        return parse_groups(p, n, &c->allowed_gids, &c->n_allowed_gids);
}

static int parse_access_groups(Parser *p, yaml_node_t *n, void *field) {
        ConfigInstance *i = field;
        return parse_groups(p, n, &i->access_gids, &i->n_access_gids);
}

static const KeyTable database_table[] = {
        { "name", parse_name, offsetof(ConfigDatabase, name), true },
        { "path", parse_path, offsetof(ConfigDatabase, path), true },
        { "map-size", parse_size_field, offsetof(ConfigDatabase, map_size), false },
};

/* "a/b" in new memory, or NULL. */
static char *path_join(const char *a, const char *b) {
        size_t na = strlen(a), nb = strlen(b);
        char *s = malloc(na + 1 + nb + 1);

        if (!s)
                return NULL;
        memcpy(s, a, na);
        s[na] = '/';
        memcpy(s + na + 1, b, nb + 1);
        return s;
}

/* "a is b or lies below b", on normalized paths. */
static bool path_is_below_or_equal(const char *a, const char *b) {
        size_t n = strlen(b);

        return strncmp(a, b, n) == 0 && (a[n] == 0 || a[n] == '/');
}

static int parse_database(Parser *p, yaml_node_t *n, ConfigInstance *inst) {
        ConfigDatabase *d;
        int r;

        d = &inst->databases[inst->n_databases - 1];
        r = parse_mapping(p, n, "database", database_table, ELEMENTSOF(database_table), d);
        if (r < 0)
                return r;
        if (d->map_size != 0 && d->map_size < MAP_SIZE_MIN)
                return fail(p, n, "database '%s': map-size must be at least 1MiB", d->name);

        for (size_t i = 0; i + 1 < inst->n_databases; i++)
                if (streq(inst->databases[i].name, d->name))
                        return fail(p, n, "duplicate database name '%s' in instance", d->name);
        return 0;
}

static int parse_databases(Parser *p, yaml_node_t *n, void *field) {
        ConfigInstance *inst = field;
        int r;

        r = expect_type(p, n, YAML_SEQUENCE_NODE, "databases");
        if (r < 0)
                return r;
        if (n->data.sequence.items.top == n->data.sequence.items.start)
                return fail(p, n, "databases: the list must not be empty");

        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *dn = yaml_document_get_node(p->doc, *it);

                if (inst->n_databases >= ENGINE_DATABASES_MAX)
                        return fail(p, dn, "too many databases (at most %d per instance)", ENGINE_DATABASES_MAX);
                if (!inst->databases) {
                        inst->databases = calloc(ENGINE_DATABASES_MAX, sizeof(ConfigDatabase));
                        if (!inst->databases)
                                return -ENOMEM;
                }
                inst->n_databases++;
                r = parse_database(p, dn, inst);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const KeyTable instance_table[] = {
        { "name", parse_name, offsetof(ConfigInstance, name), true },
        { "path", parse_path, offsetof(ConfigInstance, path), true },
        { "log-file-size", parse_size_field, offsetof(ConfigInstance, log_file_size), false },
        { "circular-logging", parse_bool_field, offsetof(ConfigInstance, circular_logging), false },
        { "value-size-max", parse_size_field, offsetof(ConfigInstance, value_size_max), false },
        { "access-groups", parse_access_groups, 0, false },
        { "databases", parse_databases, 0, true },
};

/* Checks the just parsed instance c->instances[n-1] against itself and every instance before it. */
static int instance_verify(Parser *p, yaml_node_t *n, const Config *c) {
        const ConfigInstance *inst = &c->instances[c->n_instances - 1];
        uint64_t log_size = inst->log_file_size ?: ENGINE_LOG_FILE_SIZE_DEFAULT;

        if (log_size < ENGINE_LOG_FILE_SIZE_MIN || log_size > ENGINE_LOG_FILE_SIZE_MAX)
                return fail(p, n, "instance '%s': log-file-size must be between 64KiB and 2GiB", inst->name);
        /* A value must fit one log record, and a record one generation. */
        if (inst->value_size_max >= log_size)
                return fail(p, n, "instance '%s': value-size-max must be smaller than log-file-size", inst->name);

        for (size_t d = 0; d < inst->n_databases; d++) {
                const ConfigDatabase *db = &inst->databases[d];
                _cleanup_free_ char *logs = path_join(inst->path, "logs"), *chk = path_join(inst->path, "jet.chk");

                if (!logs || !chk)
                        return -ENOMEM;
                if (streq(db->path, inst->path) || streq(db->path, chk) || path_is_below_or_equal(db->path, logs))
                        return fail(p, n, "instance '%s': database '%s' at '%s' collides with the instance's "
                                    "own files (the directory itself, jet.chk, logs/)", inst->name, db->name, db->path);
                for (size_t e = 0; e < d; e++)
                        if (streq(inst->databases[e].path, db->path))
                                return fail(p, n, "instance '%s': databases '%s' and '%s' use the same file '%s'",
                                            inst->name, inst->databases[e].name, db->name, db->path);
        }

        for (size_t i = 0; i + 1 < c->n_instances; i++) {
                const ConfigInstance *o = &c->instances[i];

                if (streq(o->name, inst->name))
                        return fail(p, n, "duplicate instance name '%s'", inst->name);
                if (path_is_below_or_equal(inst->path, o->path) || path_is_below_or_equal(o->path, inst->path))
                        return fail(p, n, "instance '%s': path '%s' overlaps the path '%s' of instance '%s'",
                                    inst->name, inst->path, o->path, o->name);

                for (size_t d = 0; d < inst->n_databases; d++)
                        for (size_t e = 0; e < o->n_databases; e++)
                                if (streq(inst->databases[d].path, o->databases[e].path))
                                        return fail(p, n, "instance '%s': database '%s' uses the file '%s' of "
                                                    "database '%s' of instance '%s'", inst->name,
                                                    inst->databases[d].name, inst->databases[d].path,
                                                    o->databases[e].name, o->name);
                /* One instance's recovery must never replay into another's files. */
                for (size_t d = 0; d < inst->n_databases; d++)
                        if (path_is_below_or_equal(inst->databases[d].path, o->path))
                                return fail(p, n, "instance '%s': database '%s' lies inside the directory of "
                                            "instance '%s'", inst->name, inst->databases[d].name, o->name);
                for (size_t e = 0; e < o->n_databases; e++)
                        if (path_is_below_or_equal(o->databases[e].path, inst->path))
                                return fail(p, n, "instance '%s': its directory contains database '%s' of "
                                            "instance '%s'", inst->name, o->databases[e].name, o->name);
        }
        return 0;
}

static int parse_instances(Parser *p, yaml_node_t *n, void *field) {
        Config *c = field;
        int r;

        r = expect_type(p, n, YAML_SEQUENCE_NODE, "instances");
        if (r < 0)
                return r;
        if (n->data.sequence.items.top == n->data.sequence.items.start)
                return fail(p, n, "instances: the list must not be empty (omit the key for the default instance)");

        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *in = yaml_document_get_node(p->doc, *it);

                if (c->n_instances >= CONFIG_INSTANCES_MAX)
                        return fail(p, in, "too many instances (at most %d)", CONFIG_INSTANCES_MAX);
                if (!c->instances) {
                        c->instances = calloc(CONFIG_INSTANCES_MAX, sizeof(ConfigInstance));
                        if (!c->instances)
                                return -ENOMEM;
                }
                c->n_instances++;
                r = parse_mapping(p, in, "instance", instance_table, ELEMENTSOF(instance_table),
                                  &c->instances[c->n_instances - 1]);
                if (r < 0)
                        return r;
                r = instance_verify(p, in, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const KeyTable snapshot_table[] = {
        { "freeze-timeout", parse_duration_field, offsetof(Config, freeze_timeout_usec), false },
        { "session-idle-timeout", parse_duration_field, offsetof(Config, session_idle_timeout_usec), false },
        { "allowed-groups", parse_allowed_groups, 0, false },
};

static int parse_snapshot(Parser *p, yaml_node_t *n, void *field) {
        return parse_mapping(p, n, "snapshot", snapshot_table, ELEMENTSOF(snapshot_table), field);
}

static const KeyTable top_table[] = {
        { "snapshot", parse_snapshot, 0, false },
        { "instances", parse_instances, 0, false },
};

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < c->n_instances; i++) {
                ConfigInstance *inst = &c->instances[i];

                for (size_t d = 0; d < inst->n_databases; d++) {
                        free(inst->databases[d].name);
                        free(inst->databases[d].path);
                }
                free(inst->databases);
                free(inst->access_gids);
                free(inst->name);
                free(inst->path);
        }
        free(c->instances);
        free(c->allowed_gids);
        free(c);
        return NULL;
}

static Config *config_new(void) {
        Config *c = calloc(1, sizeof(Config));

        if (!c)
                return NULL;
        *c = (Config) CONFIG_NULL;
        return c;
}

/* The embedded default instance: "default" at STATE_DIR/default with database "main". */
static int config_add_default_instance(Config *c, const char *state_dir) {
        ConfigInstance *inst;
        _cleanup_free_ char *dir = NULL;
        int r;

        r = path_normalize(state_dir ?: CONFIG_DEFAULT_STATE_DIRECTORY, &dir);
        if (r < 0)
                return r;

        c->instances = calloc(1, sizeof(ConfigInstance));
        if (!c->instances)
                return -ENOMEM;
        c->n_instances = 1;
        inst = &c->instances[0];

        inst->databases = calloc(1, sizeof(ConfigDatabase));
        if (!inst->databases)
                return -ENOMEM;
        inst->n_databases = 1;

        inst->name = strdup("default");
        inst->databases[0].name = strdup("main");
        if (!inst->name || !inst->databases[0].name)
                return -ENOMEM;
        /* "/" + "/default" would give "//default". */
        inst->path = path_join(streq(dir, "/") ? "" : dir, "default");
        if (!inst->path)
                return -ENOMEM;
        inst->databases[0].path = path_join(inst->path, "main.jdb");
        return inst->databases[0].path ? 0 : -ENOMEM;
}

static int config_parse_file(FILE *f, const char *path, Config *c, char **reterr) {
        _cleanup_(yaml_parser_delete) yaml_parser_t parser = {};
        _cleanup_(yaml_document_delete) yaml_document_t doc = {};
        yaml_document_t extra = {};
        Parser p = { .path = path, .doc = &doc };
        yaml_node_t *root;
        bool more;
        int r;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_file(&parser, f);

        if (!yaml_parser_load(&parser, &doc)) {
                if (parser.error == YAML_MEMORY_ERROR)
                        return -ENOMEM;
                if (asprintf(reterr, "%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                             parser.problem_mark.column + 1, parser.problem ?: "syntax error",
                             parser.context ? " " : "", parser.context ?: "") < 0)
                        *reterr = NULL;
                return -EINVAL;
        }

        /* A second document would be silently ignored otherwise. */
        if (!yaml_parser_load(&parser, &extra)) {
                if (asprintf(reterr, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                             parser.problem_mark.column + 1, parser.problem ?: "syntax error") < 0)
                        *reterr = NULL;
                return -EINVAL;
        }
        more = yaml_document_get_root_node(&extra) != NULL;
        if (more) {
                r = fail(&p, yaml_document_get_root_node(&extra), "only one YAML document is allowed");
                yaml_document_delete(&extra);
                *reterr = TAKE_PTR(p.error);
                return r;
        }
        yaml_document_delete(&extra);

        root = yaml_document_get_root_node(&doc);
        /* An empty file is an empty mapping: all defaults. */
        if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
                r = parse_mapping(&p, root, "top level", top_table, ELEMENTSOF(top_table), c);
                if (r < 0) {
                        *reterr = TAKE_PTR(p.error);
                        return r;
                }
        }
        return 0;
}

int config_load(const char *path, const char *state_dir, Config **ret, char **reterr_message) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        assert(ret);

        if (state_dir && state_dir[0] != '/') {
                if (reterr_message && asprintf(reterr_message, "state directory '%s' is not absolute", state_dir) < 0)
                        *reterr_message = NULL;
                return -EINVAL;
        }

        c = config_new();
        if (!c)
                return -ENOMEM;

        if (path) {
                _cleanup_(fclosep) FILE *f = fopen(path, "re");

                if (!f) {
                        r = negative_errno();
                        if (reterr_message && asprintf(reterr_message, "%s: %s", path, strerror(-r)) < 0)
                                *reterr_message = NULL;
                        return r;
                }
                r = config_parse_file(f, path, c, &err);
                if (r < 0) {
                        if (reterr_message)
                                *reterr_message = TAKE_PTR(err);
                        return r;
                }
        }

        if (c->n_instances == 0) {
                r = config_add_default_instance(c, state_dir);
                if (r < 0)
                        return r;
        }

        /*
         * Without a file, members of group "jetsnap" (made by our sysusers.d
         * file) may run snapshots, as the shipped setup promises; a file
         * says exactly which groups it wants.
         */
        if (!path) {
                gid_t gid;

                if (group_resolve("jetsnap", &gid) >= 0) {
                        c->allowed_gids = malloc(sizeof(gid_t));
                        if (!c->allowed_gids)
                                return -ENOMEM;
                        c->allowed_gids[0] = gid;
                        c->n_allowed_gids = 1;
                }
        }

        *ret = TAKE_PTR(c);
        return 0;
}
