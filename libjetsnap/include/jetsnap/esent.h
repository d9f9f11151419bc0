/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef JETSNAP_ESENT_H
#define JETSNAP_ESENT_H

/*
 * <jetsnap/esent.h> - ESE's OS-snapshot API (JetOSSnapshot*) on Linux.
 *
 * The declarations, type names, constants and semantics are those of
 * Microsoft's esent.h and its documentation, so code written against
 * ESE's snapshot API compiles and runs unchanged:
 *
 *   JET_OSSNAPID snap;
 *   unsigned long n;
 *   JET_INSTANCE_INFO *info;
 *   JET_ERR err = JetOSSnapshotPrepare(&snap, 0);
 *   if (err == JET_errSuccess) err = JetOSSnapshotFreeze(snap, &n, &info, 0);
 *   ... copy info[i].szDatabaseFileName[j] and the log files ...
 *   JetFreeBuffer((char *) info);
 *   JetOSSnapshotThaw(snap, 0);
 *
 * Differences from Windows, all invisible to portable code:
 *  - JET_API and JET_NODSAPI are empty (no calling conventions on Linux);
 *    strings are char (the "A" variants); JET_INSTANCE_INFO is
 *    JET_INSTANCE_INFO_A.
 *  - The instances live in jetsnapd, not in the calling process. This
 *    layer connects to the system bus on first use ($DBUS_SYSTEM_BUS_ADDRESS
 *    is honoured) with one process-global connection, shared by all
 *    threads behind a mutex; calls are therefore serialized. Sessions are
 *    prepared with BindToCaller, so they are aborted if the process exits,
 *    as an in-process ESE snapshot would be. A child after fork() gets
 *    its own connection on its first call (and so cannot continue the
 *    parent's session); do not fork() while another thread is inside a
 *    Jet call.
 *  - A JET_INSTANCE is the instance's Id property (a stable number the
 *    daemon assigns), as returned in JET_INSTANCE_INFO.hInstanceId.
 *  - JetSetSystemParameter() knows only JET_paramOSSnapshotTimeout (82, in
 *    milliseconds, process-global like in ESE; applies to the next
 *    JetOSSnapshotPrepare); every other parameter is JET_errInvalidParameter.
 *  - Freeze info: in addition to the databases, the log and checkpoint
 *    files a backup needs are available through <jetsnap/jetsnap.h>
 *    (jetsnap_get_freeze_info()).
 *
 * Return codes are ESE's: the daemon's D-Bus error names map one to one
 * (design.md §4); an error without an ESE equivalent (the daemon is not
 * running, the bus failed) is JET_errInternalError; a local allocation
 * failure JET_errOutOfMemory; NULL output pointers JET_errInvalidParameter.
 *
 * Every buffer returned by this layer (the JET_INSTANCE_INFO arrays) is one
 * allocation, freed with JetFreeBuffer().
 */

#ifdef __cplusplus
extern "C" {
#endif

#define JET_API
#define JET_NODSAPI

typedef long JET_ERR;
typedef unsigned long JET_GRBIT;
typedef unsigned long JET_API_PTR;      /* ULONG_PTR: pointer-sized on Linux */
typedef JET_API_PTR JET_INSTANCE;
typedef JET_API_PTR JET_SESID;
typedef JET_API_PTR JET_OSSNAPID;
typedef char *JET_PSTR;
typedef const char *JET_PCSTR;

typedef struct {
        JET_INSTANCE hInstanceId;
        JET_PSTR szInstanceName;
        JET_API_PTR cDatabases;
        JET_PSTR *szDatabaseFileName;
        JET_PSTR *szDatabaseDisplayName;
        JET_PSTR *szDatabaseSLVFileName_Obsolete;       /* always NULL entries, as in ESE */
} JET_INSTANCE_INFO_A;

typedef JET_INSTANCE_INFO_A JET_INSTANCE_INFO;

/* JetOSSnapshotPrepare grbits */
#define JET_bitIncrementalSnapshot      0x00000001
#define JET_bitCopySnapshot             0x00000002
#define JET_bitContinueAfterThaw        0x00000004
#define JET_bitExplicitPrepare          0x00000008
/* JetOSSnapshotTruncateLog[Instance] grbit */
#define JET_bitAllDatabasesSnapshot     0x00000001
/* JetOSSnapshotEnd grbit */
#define JET_bitAbortSnapshot            0x00000001

/* System parameters */
#define JET_paramOSSnapshotTimeout      82      /* milliseconds */

/* Errors */
#define JET_errSuccess                          0
#define JET_errInternalError                    -107
#define JET_errOutOfThreads                     -103
#define JET_errInvalidBackup                    -526
#define JET_errMissingFullBackup                -560
#define JET_errMissingFileToBackup              -569
#define JET_errInvalidParameter                 -1003
#define JET_errOutOfMemory                      -1011
#define JET_errDiskIO                           -1022
#define JET_errRecordNotFound                   -1601
#define JET_errAccessDenied                     -1907
#define JET_errOSSnapshotInvalidSequence        -2401
#define JET_errOSSnapshotTimeOut                -2402
#define JET_errOSSnapshotNotAllowed             -2403
#define JET_errOSSnapshotInvalidSnapId          -2404

/*
 * JetOSSnapshotPrepare() - start a snapshot session; *psnapId gets its id.
 * grbit: JET_bitIncrementalSnapshot | JET_bitCopySnapshot |
 * JET_bitContinueAfterThaw | JET_bitExplicitPrepare.
 * Errors: JET_errInvalidParameter (NULL psnapId, unknown bits),
 * JET_errOSSnapshotInvalidSequence (another session exists), JET_errAccessDenied.
 */
JET_ERR JET_API JetOSSnapshotPrepare(JET_OSSNAPID *psnapId, const JET_GRBIT grbit);

/*
 * JetOSSnapshotPrepareInstance() - add an instance to an explicit session.
 * Errors: JET_errInvalidParameter (grbit != 0, unknown instance),
 * JET_errOSSnapshotNotAllowed (not running, already added),
 * JET_errOSSnapshotInvalidSequence, JET_errOSSnapshotInvalidSnapId.
 */
JET_ERR JET_API JetOSSnapshotPrepareInstance(JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit);

/*
 * JetOSSnapshotFreeze() - freeze the session's instances; *paInstanceInfo
 * (one buffer, free with JetFreeBuffer()) describes *pcInstanceInfo instances.
 * Errors: JET_errInvalidParameter (NULL pointers, grbit != 0),
 * JET_errOSSnapshotInvalidSequence, JET_errOSSnapshotInvalidSnapId,
 * JET_errOSSnapshotNotAllowed, JET_errMissingFullBackup, JET_errInvalidBackup,
 * JET_errMissingFileToBackup.
 */
JET_ERR JET_API JetOSSnapshotFreezeA(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                     JET_INSTANCE_INFO_A **paInstanceInfo, const JET_GRBIT grbit);
/* JetOSSnapshotGetFreezeInfo() - the freeze info again (0 instances after a timeout); errors as Freeze. */
JET_ERR JET_API JetOSSnapshotGetFreezeInfoA(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                            JET_INSTANCE_INFO_A **paInstanceInfo, const JET_GRBIT grbit);
#define JetOSSnapshotFreeze JetOSSnapshotFreezeA
#define JetOSSnapshotGetFreezeInfo JetOSSnapshotGetFreezeInfoA

/*
 * JetOSSnapshotThaw() - resume; ends the session unless JET_bitContinueAfterThaw.
 * Errors: JET_errOSSnapshotTimeOut (the freeze expired: discard the copy),
 * JET_errOSSnapshotInvalidSequence, JET_errOSSnapshotInvalidSnapId, JET_errInvalidParameter.
 */
JET_ERR JET_API JetOSSnapshotThaw(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/*
 * JetOSSnapshotTruncateLog() / JetOSSnapshotTruncateLogInstance() - delete
 * logs the snapshot made redundant (grbit JET_bitAllDatabasesSnapshot; 0
 * deletes nothing). Errors: JET_errOSSnapshotInvalidSequence (not thawed,
 * copy snapshot), JET_errOSSnapshotTimeOut, JET_errInvalidParameter,
 * JET_errOSSnapshotInvalidSnapId.
 */
JET_ERR JET_API JetOSSnapshotTruncateLog(const JET_OSSNAPID snapId, const JET_GRBIT grbit);
JET_ERR JET_API JetOSSnapshotTruncateLogInstance(const JET_OSSNAPID snapId, JET_INSTANCE instance,
                                                 const JET_GRBIT grbit);

/* JetOSSnapshotAbort() - end the session, nothing recorded. Errors: JET_errInvalidParameter, JET_errOSSnapshotInvalidSnapId. */
JET_ERR JET_API JetOSSnapshotAbort(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/*
 * JetOSSnapshotEnd() - end the session; grbit 0 records the backup,
 * JET_bitAbortSnapshot does not. Errors: JET_errOSSnapshotInvalidSequence
 * (still frozen), JET_errOSSnapshotTimeOut, JET_errInvalidParameter,
 * JET_errOSSnapshotInvalidSnapId.
 */
JET_ERR JET_API JetOSSnapshotEnd(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/* JetGetInstanceInfo() - every instance of jetsnapd; *paInstanceInfo is one buffer, free with JetFreeBuffer(). */
JET_ERR JET_API JetGetInstanceInfoA(unsigned long *pcInstanceInfo, JET_INSTANCE_INFO_A **paInstanceInfo);
#define JetGetInstanceInfo JetGetInstanceInfoA

/* JetFreeBuffer() - free a buffer returned by this layer; NULL is fine. Always JET_errSuccess. */
JET_ERR JET_API JetFreeBuffer(char *pbBuf);

/*
 * JetSetSystemParameter() - only JET_paramOSSnapshotTimeout (lParam in
 * milliseconds; pinstance and sesid are ignored, szParam must be NULL or
 * unused). Errors: JET_errInvalidParameter for any other paramid.
 */
JET_ERR JET_API JetSetSystemParameterA(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                       JET_API_PTR lParam, JET_PCSTR szParam);
#define JetSetSystemParameter JetSetSystemParameterA

#ifdef __cplusplus
}
#endif

#endif
