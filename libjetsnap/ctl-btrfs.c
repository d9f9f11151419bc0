/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapctl snapshot --btrfs SUBVOLUME --to DIR: a read-only Btrfs
 * snapshot taken while the instances are frozen, through the kernel's
 * BTRFS_IOC_SNAP_CREATE_V2 (no btrfs-progs needed).
 *
 * A Btrfs snapshot covers exactly one subvolume: files in a nested
 * subvolume or on another file system would silently be missing from it.
 * So before anything is frozen, every instance directory and database of
 * the session must resolve (realpath) to a path under SUBVOLUME and lie on
 * its st_dev (nested subvolumes have their own st_dev).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "ctl.h"

/* The inode number of the root directory of every Btrfs subvolume. */
#define BTRFS_SUBVOLUME_ROOT_INO 256

static int check_inside(const BtrfsTarget *t, const char *instance, const char *what, const char *path) {
        _cleanup_free_ char *real = NULL;
        size_t n = strlen(t->subvolume_real);
        struct stat st;

        real = realpath(path, NULL);
        if (!real || stat(real, &st) < 0) {
                int r = -errno;
                fprintf(stderr, "jetsnapctl: instance '%s': cannot resolve %s %s: %s\n", instance, what, path,
                        strerror(-r));
                return r;
        }
        /* "/" as subvolume contains everything; otherwise a prefix must end at a path separator. */
        if (!(streq(t->subvolume_real, "/") ||
              (strncmp(real, t->subvolume_real, n) == 0 && (real[n] == 0 || real[n] == '/'))) ||
            st.st_dev != t->dev) {
                fprintf(stderr,
                        "jetsnapctl: instance '%s': %s %s is not inside Btrfs subvolume %s%s; "
                        "its snapshot would miss it. Refusing.\n",
                        instance, what, real, t->subvolume_real,
                        st.st_dev != t->dev ? " (other file system or nested subvolume)" : "");
                return -EXDEV;
        }
        return 0;
}

static int check_instance(const BtrfsTarget *t, jetsnap_client *c, const char *name, bool only_running) {
        _cleanup_(jetsnap_instance_status_freep) jetsnap_instance_status *s = NULL;
        int r;

        r = jetsnap_get_instance_status(c, name, &s);
        if (r < 0) {
                (void) ctl_error(c, r, "cannot read instance '%s'", name);
                return r;
        }
        /* Without --instance the session holds the running instances only. */
        if (only_running && !streq(s->state, "running"))
                return 0;
        r = check_inside(t, name, "directory", s->path);
        if (r < 0)
                return r;
        for (size_t d = 0; d < s->n_databases; d++) {
                r = check_inside(t, name, "database", s->databases[d].path);
                if (r < 0)
                        return r;
        }
        return 0;
}

int btrfs_target_open(BtrfsTarget *t, jetsnap_client *c, char *const *instances) {
        _cleanup_(jetsnap_strv_freep) char **all = NULL;
        struct statfs sfs;
        struct stat st;
        int r;

        t->subvolume_fd = open(t->subvolume, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->subvolume_fd < 0 || fstatfs(t->subvolume_fd, &sfs) < 0 || fstat(t->subvolume_fd, &st) < 0) {
                r = -errno;
                fprintf(stderr, "jetsnapctl: cannot open %s: %s\n", t->subvolume, strerror(-r));
                return r;
        }
        if (sfs.f_type != BTRFS_SUPER_MAGIC) {
                fprintf(stderr, "jetsnapctl: %s is not on a Btrfs file system.\n", t->subvolume);
                return -EINVAL;
        }
        if (st.st_ino != BTRFS_SUBVOLUME_ROOT_INO) {
                fprintf(stderr, "jetsnapctl: %s is not a Btrfs subvolume (create one with 'btrfs subvolume create').\n",
                        t->subvolume);
                return -EINVAL;
        }
        t->dev = st.st_dev;
        t->subvolume_real = realpath(t->subvolume, NULL);
        if (!t->subvolume_real) {
                r = -errno;
                fprintf(stderr, "jetsnapctl: cannot resolve %s: %s\n", t->subvolume, strerror(-r));
                return r;
        }

        t->to_fd = open(t->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->to_fd < 0) {
                r = -errno;
                fprintf(stderr, "jetsnapctl: cannot open --to directory %s: %s\n", t->to, strerror(-r));
                return r;
        }
        t->to_real = realpath(t->to, NULL);
        if (!t->to_real)
                return -errno;
        if (fstatfs(t->to_fd, &sfs) < 0 || sfs.f_type != BTRFS_SUPER_MAGIC) {
                fprintf(stderr, "jetsnapctl: --to %s is not on a Btrfs file system.\n", t->to);
                return -EINVAL;
        }

        if (instances && *instances) {
                for (char *const *i = instances; *i; i++) {
                        r = check_instance(t, c, *i, false);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        r = jetsnap_list_instances(c, &all);
        if (r < 0) {
                (void) ctl_error(c, r, "cannot list instances");
                return r;
        }
        for (char **i = all; *i; i++) {
                r = check_instance(t, c, *i, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

int btrfs_target_snapshot(BtrfsTarget *t, uint64_t id) {
        struct btrfs_ioctl_vol_args_v2 args = {
                .fd = t->subvolume_fd,
                .flags = BTRFS_SUBVOL_RDONLY,
        };
        char stamp[32];
        struct tm tm;
        time_t now = time(NULL);
        int r;

        if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        /*
         * Two daemons (other state directories) can hand out the same id in
         * the same second: on a clash add a counter rather than fail while
         * the instances are frozen.
         */
        for (unsigned attempt = 0;; attempt++) {
                if (attempt == 0)
                        snprintf(args.name, sizeof(args.name), "jetsnap-%s-%" PRIu64, stamp, id);
                else
                        snprintf(args.name, sizeof(args.name), "jetsnap-%s-%" PRIu64 "-%u", stamp, id, attempt);
                if (ioctl(t->to_fd, BTRFS_IOC_SNAP_CREATE_V2, &args) >= 0)
                        break;
                if (errno == EEXIST && attempt < 100)
                        continue;
                r = -errno;
                fprintf(stderr, "jetsnapctl: creating Btrfs snapshot %s/%s failed: %s%s\n", t->to, args.name,
                        strerror(-r), r == -EXDEV ? " (--to must be on the same Btrfs file system)" : "");
                return r;
        }
        t->created_name = strdup(args.name);
        if (!t->created_name || asprintf(&t->created, "%s/%s", t->to_real, args.name) < 0) {
                t->created = NULL;
                return -ENOMEM;
        }
        return 0;
}

void btrfs_target_discard(BtrfsTarget *t) {
        struct btrfs_ioctl_vol_args args = {};

        if (!t->created_name)
                return;
        /* A snapshot of a session that then failed (e.g. timed out) may be inconsistent: never leave it behind. */
        strncpy(args.name, t->created_name, sizeof(args.name) - 1);
        if (ioctl(t->to_fd, BTRFS_IOC_SNAP_DESTROY, &args) < 0)
                fprintf(stderr, "jetsnapctl: failed to delete the unusable snapshot %s: %m; delete it by hand.\n",
                        t->created ?: t->created_name);
        else
                fprintf(stderr, "jetsnapctl: deleted the unusable snapshot %s.\n", t->created ?: t->created_name);
}

void btrfs_target_done(BtrfsTarget *t) {
        t->subvolume_fd = safe_close(t->subvolume_fd);
        t->to_fd = safe_close(t->to_fd);
        free(t->subvolume_real);
        free(t->to_real);
        free(t->created);
        free(t->created_name);
        t->subvolume_real = t->to_real = t->created = t->created_name = NULL;
}
