/*
 * raftd's RocksDB database: opening it with its column families (layout in
 * raftd/keys.h), point reads and the applied-index record.  Writes go
 * through WriteBatches built by the log writer (rlog.c, synced) and the
 * state machine (fsm.c, unsynced: the state is rebuilt from the log).
 */
#ifndef RAFTD_STORE_H
#define RAFTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

enum store_cf {
	STORE_CF_DEFAULT = 0,
	STORE_CF_LOG,
	STORE_CF_RAFT,
	STORE_CF_KV,
	STORE_CF_CACHE,
	STORE_CF_META,
	STORE_CF_BLOB,
	STORE_CF_COUNT
};

struct store {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_column_family_handle_t *cf[STORE_CF_COUNT];
	rocksdb_readoptions_t *ro;
	rocksdb_writeoptions_t *wo_sync;
	rocksdb_writeoptions_t *wo_nosync;
};

/* opens or creates the database; NULL with a logged reason on failure */
struct store *store_open(const char *path);
void store_close(struct store *);

/*
 * 1 and a malloc'd value (free with rocksdb_free) when present, 0 when
 * absent, -1 on a storage error (logged)
 */
int store_get(struct store *, enum store_cf, const void *key, size_t klen,
    char **val, size_t *vlen);

/* index and term of the last applied entry, 0/0 for a new database */
void store_applied(struct store *, uint64_t *index, uint64_t *term);

/* approximate bytes of the whole database: SST files and memtables */
uint64_t store_size_bytes(struct store *);

#endif
