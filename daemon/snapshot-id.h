/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Snapshot ids that are never reused, also across restarts: a high-water
 * mark in $STATE_DIRECTORY/snapshot-id reserves a block of ids at a time,
 * so the main loop writes it once per SNAPSHOT_ID_BLOCK sessions.
 */

#include <stdint.h>

#define SNAPSHOT_ID_BLOCK UINT64_C(1024)

typedef struct SnapshotIds {
        char *path;                     /* the high-water mark file */
        uint64_t next;                  /* the next id to hand out */
        uint64_t reserved;              /* ids below this are reserved on disk */
} SnapshotIds;

int snapshot_ids_open(SnapshotIds *ids, const char *state_dir);
int snapshot_ids_next(SnapshotIds *ids, uint64_t *ret);
void snapshot_ids_done(SnapshotIds *ids);
