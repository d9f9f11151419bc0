/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Temporary: every entry point of engine.h, so others can link while the engine is written. */
#include "engine.h"
const EngineIO engine_io_default = {};
const char *engine_state_to_string(EngineState s) { return "running"; }
const char *engine_backup_kind_to_string(EngineBackupKind k) { return "full"; }
int engine_open(const EngineConfig *config, Engine **ret, char **reterr_message) { return -EOPNOTSUPP; }
Engine *engine_close(Engine *e) { return NULL; }
int engine_get_event_fd(Engine *e) { return -EOPNOTSUPP; }
int engine_dispatch(Engine *e) { return -EOPNOTSUPP; }
int engine_commit(Engine *e, const EngineOp *ops, size_t n_ops, engine_commit_cb cb, void *userdata) { return -EOPNOTSUPP; }
int engine_commit_wait(Engine *e, const EngineOp *ops, size_t n_ops, uint64_t *ret_lsn) { return -EOPNOTSUPP; }
int engine_get(Engine *e, const char *database, const char *table, const void *key, size_t key_size,
               void **ret_value, size_t *ret_value_size) { return -EOPNOTSUPP; }
int engine_scan(Engine *e, const char *database, const char *table, const void *from, size_t from_size,
                const void *to, size_t to_size, uint32_t limit, EngineRecord **ret, size_t *ret_n) { return -EOPNOTSUPP; }
void engine_records_free(EngineRecord *r, size_t n) {}
int engine_freeze(Engine *e, engine_freeze_cb cb, void *userdata) { return -EOPNOTSUPP; }
int engine_thaw(Engine *e) { return -EOPNOTSUPP; }
int engine_check_backup(Engine *e, EngineBackupKind kind) { return -EOPNOTSUPP; }
int engine_backup_files(Engine *e, EngineBackupKind kind, const EngineFreezeInfo *info, char ***ret) { return -EOPNOTSUPP; }
int engine_truncate_logs(Engine *e, uint32_t below_generation, engine_done_cb cb, void *userdata) { return -EOPNOTSUPP; }
int engine_record_backup(Engine *e, EngineBackupKind kind, uint32_t gen_low, uint32_t gen_high,
                         uint64_t time_usec, engine_done_cb cb, void *userdata) { return -EOPNOTSUPP; }
int engine_get_info(Engine *e, EngineInfo *ret) { return -EOPNOTSUPP; }
size_t engine_get_n_databases(Engine *e) { return 0; }
const char *engine_get_database_name(Engine *e, size_t i) { return NULL; }
const char *engine_get_database_path(Engine *e, size_t i) { return NULL; }
const char *engine_get_log_directory(Engine *e) { return NULL; }
const char *engine_get_name(Engine *e) { return NULL; }
int engine_dump_checkpoint(const char *instance_dir, FILE *f) { return -EOPNOTSUPP; }
int engine_dump_log_headers(const char *instance_dir, FILE *f) { return -EOPNOTSUPP; }
int engine_dump_log(const char *log_file, FILE *f) { return -EOPNOTSUPP; }
int engine_verify(const char *instance_dir, FILE *f) { return -EOPNOTSUPP; }
int engine_recover_offline(const char *instance_dir, const EngineDatabaseConfig *databases, size_t n_databases,
                           FILE *f, char **reterr_message) { return -EOPNOTSUPP; }
uint32_t crc32c(uint32_t crc, const void *buf, size_t n) { return 0; }
