/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The ESE layer (<jetsnap/esent.h>): JetOSSnapshot* on top of the native
 * API, with one process-global client behind a mutex.
 *
 * Error codes come from the D-Bus error *name* of the failure
 * (jetsnap_bus_error_name_to_jet_err()), not from the errno: -ETIMEDOUT is
 * both "freeze timed out" and "no reply", and only the name tells them
 * apart.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-errors.h"
#include "client-internal.h"
#include "jetsnap/esent.h"

static pthread_mutex_t ese_lock = PTHREAD_MUTEX_INITIALIZER;
static jetsnap_client *ese_client;                      /* guarded by ese_lock */
static pid_t ese_client_pid;                            /* the process that opened ese_client */
static uint64_t ese_timeout_usec = JETSNAP_TIMEOUT_DEFAULT; /* guarded by ese_lock */

/* Frees the connection at exit (or dlclose), so leak checkers see a clean process. */
static void __attribute__((destructor)) ese_fini(void) {
        ese_client = jetsnap_client_unref(ese_client);
}

static void ese_unlockp(pthread_mutex_t **m) {
        if (*m)
                pthread_mutex_unlock(*m);
}
#define ESE_LOCKED_SCOPE \
        _cleanup_(ese_unlockp) pthread_mutex_t *_ese_locked_ = (pthread_mutex_lock(&ese_lock), &ese_lock)

/* Returns the global client, (re)connecting if the bus connection is gone. Call with ese_lock held. */
static int ese_get_client(jetsnap_client **ret) {
        int r;

        /*
         * After fork() the connection belongs to the parent: sd-bus refuses
         * to use it in the child (-ECHILD) and unref there only frees the
         * child's copy and closes the child's copy of the socket, which the
         * parent keeps. So drop it and connect anew. Likewise when the bus
         * went away (e.g. dbus-daemon restarted) rather than fail forever.
         */
        if (ese_client && (ese_client_pid != getpid() || sd_bus_is_open(ese_client->bus) <= 0))
                ese_client = jetsnap_client_unref(ese_client);
        if (!ese_client) {
                r = jetsnap_client_open_system(&ese_client);
                if (r < 0)
                        return r;
                ese_client_pid = getpid();
        }
        *ret = ese_client;
        return 0;
}

static JET_ERR jet_err_from_errno(int r) {
        switch (r) {
        case -ENOMEM:
                return JET_errOutOfMemory;
        case -EINVAL:
                return JET_errInvalidParameter;
        case -EIO:
                return JET_errDiskIO;
        default:
                return JET_errInternalError;
        }
}

/* The ESE code of a native result; the name of the daemon's error wins over the errno. */
static JET_ERR jet_err(jetsnap_client *c, int r) {
        const char *name;

        if (r >= 0)
                return JET_errSuccess;
        name = c ? jetsnap_client_get_error_name(c) : NULL;
        if (name)
                return jetsnap_bus_error_name_to_jet_err(name, JET_errInternalError);
        return jet_err_from_errno(r);
}

/* The name of the instance whose Id property is @instance. Call with ese_lock held. */
static int instance_name_by_id(jetsnap_client *c, JET_INSTANCE instance, char **ret) {
        _cleanup_(jetsnap_strv_freep) char **names = NULL;
        int r;

        r = jetsnap_list_instances(c, &names);
        if (r < 0)
                return r;
        for (char **n = names; *n; n++) {
                _cleanup_(jetsnap_instance_status_freep) jetsnap_instance_status *s = NULL;

                r = jetsnap_get_instance_status(c, *n, &s);
                if (r < 0)
                        return r;
                if (s->id == (uint64_t) instance) {
                        *ret = strdup(*n);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        /* As the daemon says for an unknown name: InvalidParameter. */
        client_reset_error(c);
        return -EINVAL;
}

/* A source for one JET_INSTANCE_INFO: the same shape whether from a freeze or from the instance list. */
typedef struct InfoSource {
        uint64_t id;
        const char *name;
        size_t n_databases;
        const jetsnap_database *databases;
} InfoSource;

/*
 * Packs @n sources into one allocation: the structs, then per instance its
 * three pointer arrays, then the strings. JetFreeBuffer() frees it.
 */
static int pack_instance_info(const InfoSource *src, size_t n, JET_INSTANCE_INFO_A **ret) {
        size_t n_pointers = 0, n_bytes = 0, size;
        JET_INSTANCE_INFO_A *info;
        JET_PSTR *p;
        char *s;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                n_pointers += 3 * src[i].n_databases;
                n_bytes += strlen(src[i].name) + 1;
                for (size_t d = 0; d < src[i].n_databases; d++)
                        n_bytes += strlen(src[i].databases[d].path) + 1 +
                                   strlen(src[i].databases[d].display_name) + 1;
        }
        size = n * sizeof(JET_INSTANCE_INFO_A) + n_pointers * sizeof(JET_PSTR) + n_bytes;
        info = calloc(1, size);
        if (!info)
                return -ENOMEM;
        p = (JET_PSTR *) (info + n);
        s = (char *) (p + n_pointers);

#define PACK(dst, str) do { size_t _l = strlen(str) + 1; memcpy(s, (str), _l); (dst) = s; s += _l; } while (0)
        for (size_t i = 0; i < n; i++) {
                info[i].hInstanceId = (JET_INSTANCE) src[i].id;
                PACK(info[i].szInstanceName, src[i].name);
                info[i].cDatabases = src[i].n_databases;
                info[i].szDatabaseFileName = p;
                info[i].szDatabaseDisplayName = p + src[i].n_databases;
                /* ESE fills this obsolete array with NULLs; calloc already did. */
                info[i].szDatabaseSLVFileName_Obsolete = p + 2 * src[i].n_databases;
                for (size_t d = 0; d < src[i].n_databases; d++) {
                        PACK(info[i].szDatabaseFileName[d], src[i].databases[d].path);
                        PACK(info[i].szDatabaseDisplayName[d], src[i].databases[d].display_name);
                }
                p += 3 * src[i].n_databases;
        }
#undef PACK
        *ret = info;
        return 0;
}

static int pack_freeze_info(const jetsnap_freeze_info *f, JET_INSTANCE_INFO_A **ret) {
        _cleanup_free_ InfoSource *src = NULL;

        src = calloc(f->n_instances ?: 1, sizeof(InfoSource));
        if (!src)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_instances; i++)
                src[i] = (InfoSource) {
                        .id = f->instances[i].id,
                        .name = f->instances[i].name,
                        .n_databases = f->instances[i].n_databases,
                        .databases = f->instances[i].databases,
                };
        return pack_instance_info(src, f->n_instances, ret);
}

_public_ JET_ERR JetOSSnapshotPrepare(JET_OSSNAPID *psnapId, const JET_GRBIT grbit) {
        ESE_LOCKED_SCOPE;
        jetsnap_client *c = NULL;
        uint64_t id;
        int r;

        if (!psnapId || grbit > UINT32_MAX)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = jetsnap_prepare_with_options(c, (uint32_t) grbit, ese_timeout_usec, /* bind_to_caller= */ 1, &id);
        if (r < 0)
                return jet_err(c, r);
        *psnapId = (JET_OSSNAPID) id;
        return JET_errSuccess;
}

_public_ JET_ERR JetOSSnapshotPrepareInstance(JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit) {
        ESE_LOCKED_SCOPE;
        _cleanup_free_ char *name = NULL;
        jetsnap_client *c = NULL;
        int r;

        /* Argument errors come before the id, as in ESE. */
        if (grbit != 0)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = instance_name_by_id(c, instance, &name);
        if (r >= 0)
                r = jetsnap_prepare_instance(c, snapId, name, (uint32_t) grbit);
        return jet_err(c, r);
}

typedef int (*freeze_call)(jetsnap_client *c, uint64_t id, uint32_t flags, jetsnap_freeze_info **ret);

static JET_ERR freeze_info_common(freeze_call call, JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                  JET_INSTANCE_INFO_A **paInstanceInfo, JET_GRBIT grbit) {
        ESE_LOCKED_SCOPE;
        _cleanup_(jetsnap_freeze_info_freep) jetsnap_freeze_info *f = NULL;
        JET_INSTANCE_INFO_A *info;
        jetsnap_client *c = NULL;
        int r;

        if (!pcInstanceInfo || !paInstanceInfo || grbit > UINT32_MAX)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = call(c, snapId, (uint32_t) grbit, &f);
        if (r < 0)
                return jet_err(c, r);
        r = pack_freeze_info(f, &info);
        if (r < 0)
                return jet_err_from_errno(r);
        *pcInstanceInfo = f->n_instances;
        *paInstanceInfo = info;
        return JET_errSuccess;
}

_public_ JET_ERR JetOSSnapshotFreezeA(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                      JET_INSTANCE_INFO_A **paInstanceInfo, const JET_GRBIT grbit) {
        return freeze_info_common(jetsnap_freeze, snapId, pcInstanceInfo, paInstanceInfo, grbit);
}

_public_ JET_ERR JetOSSnapshotGetFreezeInfoA(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                             JET_INSTANCE_INFO_A **paInstanceInfo, const JET_GRBIT grbit) {
        return freeze_info_common(jetsnap_get_freeze_info, snapId, pcInstanceInfo, paInstanceInfo, grbit);
}

typedef int (*simple_call)(jetsnap_client *c, uint64_t id, uint32_t flags);

static JET_ERR simple_common(simple_call call, JET_OSSNAPID snapId, JET_GRBIT grbit) {
        ESE_LOCKED_SCOPE;
        jetsnap_client *c = NULL;
        int r;

        if (grbit > UINT32_MAX)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = call(c, snapId, (uint32_t) grbit);
        return jet_err(c, r);
}

_public_ JET_ERR JetOSSnapshotThaw(const JET_OSSNAPID snapId, const JET_GRBIT grbit) {
        return simple_common(jetsnap_thaw, snapId, grbit);
}

_public_ JET_ERR JetOSSnapshotTruncateLog(const JET_OSSNAPID snapId, const JET_GRBIT grbit) {
        return simple_common(jetsnap_truncate_log, snapId, grbit);
}

_public_ JET_ERR JetOSSnapshotAbort(const JET_OSSNAPID snapId, const JET_GRBIT grbit) {
        return simple_common(jetsnap_abort, snapId, grbit);
}

_public_ JET_ERR JetOSSnapshotEnd(const JET_OSSNAPID snapId, const JET_GRBIT grbit) {
        return simple_common(jetsnap_end, snapId, grbit);
}

_public_ JET_ERR JetOSSnapshotTruncateLogInstance(const JET_OSSNAPID snapId, JET_INSTANCE instance,
                                                  const JET_GRBIT grbit) {
        ESE_LOCKED_SCOPE;
        _cleanup_free_ char *name = NULL;
        jetsnap_client *c = NULL;
        int r;

        if (grbit > UINT32_MAX)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = instance_name_by_id(c, instance, &name);
        if (r >= 0)
                r = jetsnap_truncate_log_instance(c, snapId, name, (uint32_t) grbit);
        return jet_err(c, r);
}

static void status_array_free(jetsnap_instance_status **s, size_t n) {
        for (size_t i = 0; i < n; i++)
                jetsnap_instance_status_free(s[i]);
        free(s);
}

_public_ JET_ERR JetGetInstanceInfoA(unsigned long *pcInstanceInfo, JET_INSTANCE_INFO_A **paInstanceInfo) {
        ESE_LOCKED_SCOPE;
        _cleanup_(jetsnap_strv_freep) char **names = NULL;
        _cleanup_free_ InfoSource *src = NULL;
        jetsnap_instance_status **status = NULL;
        JET_INSTANCE_INFO_A *info = NULL;
        jetsnap_client *c = NULL;
        size_t n = 0, n_names = 0;
        int r;

        if (!pcInstanceInfo || !paInstanceInfo)
                return JET_errInvalidParameter;
        r = ese_get_client(&c);
        if (r >= 0)
                r = jetsnap_list_instances(c, &names);
        if (r < 0)
                return jet_err(c, r);
        while (names[n_names])
                n_names++;
        status = calloc(n_names ?: 1, sizeof(*status));
        src = calloc(n_names ?: 1, sizeof(*src));
        if (!status || !src) {
                free(status);
                return JET_errOutOfMemory;
        }
        for (size_t i = 0; i < n_names; i++) {
                jetsnap_instance_status *s;

                r = jetsnap_get_instance_status(c, names[i], &s);
                if (r < 0) {
                        status_array_free(status, n);
                        return jet_err(c, r);
                }
                status[n] = s;
                /* ESE lists the instances that are initialized: here those running (or frozen by a snapshot). */
                if (!streq(s->state, "running") && !streq(s->state, "frozen")) {
                        jetsnap_instance_status_free(s);
                        continue;
                }
                src[n++] = (InfoSource) {
                        .id = s->id,
                        .name = s->name,
                        .n_databases = s->n_databases,
                        .databases = s->databases,
                };
        }
        r = pack_instance_info(src, n, &info);
        status_array_free(status, n);
        if (r < 0)
                return jet_err_from_errno(r);
        *pcInstanceInfo = n;
        *paInstanceInfo = info;
        return JET_errSuccess;
}

_public_ JET_ERR JetFreeBuffer(char *pbBuf) {
        free(pbBuf);
        return JET_errSuccess;
}

_public_ JET_ERR JetSetSystemParameterA(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                        JET_API_PTR lParam, JET_PCSTR szParam) {
        ESE_LOCKED_SCOPE;

        if (paramid != JET_paramOSSnapshotTimeout)
                return JET_errInvalidParameter;
        /* Milliseconds, like ESE; the daemon counts microseconds. */
        if ((uint64_t) lParam > UINT64_MAX / USEC_PER_MSEC)
                return JET_errInvalidParameter;
        ese_timeout_usec = (uint64_t) lParam * USEC_PER_MSEC;
        return JET_errSuccess;
}

/* ESE's DLL also exports the unsuffixed names (the A variants); so do we, for dlsym() users. */
#undef JetOSSnapshotFreeze
#undef JetOSSnapshotGetFreezeInfo
#undef JetGetInstanceInfo
#undef JetSetSystemParameter
_public_ JET_ERR JetOSSnapshotFreeze(const JET_OSSNAPID, unsigned long *, JET_INSTANCE_INFO_A **, const JET_GRBIT)
        __attribute__((alias("JetOSSnapshotFreezeA")));
_public_ JET_ERR JetOSSnapshotGetFreezeInfo(const JET_OSSNAPID, unsigned long *, JET_INSTANCE_INFO_A **,
                                            const JET_GRBIT) __attribute__((alias("JetOSSnapshotGetFreezeInfoA")));
_public_ JET_ERR JetGetInstanceInfo(unsigned long *, JET_INSTANCE_INFO_A **) __attribute__((alias("JetGetInstanceInfoA")));
_public_ JET_ERR JetSetSystemParameter(JET_INSTANCE *, JET_SESID, unsigned long, JET_API_PTR, JET_PCSTR)
        __attribute__((alias("JetSetSystemParameterA")));
