# SPDX-License-Identifier: LGPL-2.1-or-later
"""Names and numbers of the bus contract (design.md §4, ese-semantics.md),
shared by the Python suites so that each states them once."""

BUS_NAME = NAME = "org.jetsnap1"
ROOT = "/org/jetsnap1"
MANAGER = "org.jetsnap1.Manager"
INSTANCE = "org.jetsnap1.Instance"
SNAPSHOT = "org.jetsnap1.Snapshot"
PROPS = "org.freedesktop.DBus.Properties"

# Prepare grbits; TruncateLog's AllDatabasesSnapshot; End's AbortSnapshot.
INCREMENTAL, COPY, CONTINUE, EXPLICIT = 0x1, 0x2, 0x4, 0x8
ALL_DATABASES = 0x1
ABORT = 0x1

E = "org.jetsnap1.Error."
INVALID_PARAMETER = E + "InvalidParameter"
INVALID_SEQUENCE = E + "OSSnapshotInvalidSequence"
TIME_OUT = E + "OSSnapshotTimeOut"
NOT_ALLOWED = E + "OSSnapshotNotAllowed"
INVALID_SNAP_ID = E + "OSSnapshotInvalidSnapId"
RECORD_NOT_FOUND = E + "RecordNotFound"
MISSING_FULL_BACKUP = E + "MissingFullBackup"
INVALID_BACKUP = E + "InvalidBackup"
MISSING_FILE_TO_BACKUP = E + "MissingFileToBackup"
OUT_OF_THREADS = E + "OutOfThreads"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

# Commit replies may wait for a whole freeze window.
CALL_TIMEOUT = 120
