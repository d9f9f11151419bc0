/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Raw sd-bus calls to jetsnapd (design.md §4), so the benchmarks measure
 * the daemon and the bus, not a client library. The bus is the system bus
 * of $DBUS_SYSTEM_BUS_ADDRESS (the runner's private dbus-daemon).
 */

#include <systemd/sd-bus.h>

#include "bench-util.h"

/* The rows of the benchmarks go to this database and table of every instance. */
#define BENCH_DATABASE "main"
#define BENCH_TABLE "bench"

typedef struct BusCommitArg {
        char **instance_paths;  /* object paths; worker w commits to instance w % n */
        size_t n_instances;
} BusCommitArg;

/* One connection per worker; each transaction is one Commit of one 100-byte row, waiting for its reply. */
extern const BenchWorkerOps bus_commit_ops;
/* The same connections and path, but org.freedesktop.DBus.Peer.Ping: the round trip through the bus, no engine. */
extern const BenchWorkerOps bus_ping_ops;

int bus_open(sd_bus **ret);

/* Names and object paths of every instance (ListInstances), NULL-terminated, caller frees both (strv). */
int bus_list_instances(sd_bus *bus, char ***ret_names, char ***ret_paths, size_t *ret_n);

int bus_prepare_instance(sd_bus *bus, uint64_t id, const char *name);

int bus_prepare(sd_bus *bus, uint32_t flags, uint64_t *ret_id);
int bus_freeze(sd_bus *bus, uint64_t id);
int bus_thaw(sd_bus *bus, uint64_t id);
int bus_abort(sd_bus *bus, uint64_t id);
