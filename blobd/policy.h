/*
 * The decisions of replication and repair (API.md §13.6), apart from the
 * code that acts on them.  Pure: unit-tested alone.
 */
#ifndef BLOBD_POLICY_H
#define BLOBD_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* failed fetch rounds are retried after 1, 2, 4, 8, 16 s */
#define FETCH_RETRIES 5
/* bytes re-hashed per repair pass */
#define REPAIR_REHASH_BYTES (256ull * 1024 * 1024)
/* temporary files older than this are left-overs */
#define REPAIR_TMP_AGE_S 3600
/* files this young may belong to a blob committed during the pass */
#define REPAIR_YOUNG_S 10

/* delay before retry `failed` (1-based count of failed rounds), ms;
 * -1 when the job is left to the repair pass */
int64_t policy_fetch_backoff_ms(int failed);

/* what the repair pass knows of one blob file */
struct repair_file {
	bool has_meta; /* a record (live or tombstoned) names it */
	bool live;
	uint64_t meta_size;
	bool exists;
	uint64_t size;
	bool hashed; /* re-hashed in this pass */
	bool hash_ok;
	time_t ctime; /* last status change: renames set it */
	/* no metadata in the previous pass either */
	bool orphan_before;
};

enum repair_action {
	REPAIR_KEEP = 0,
	REPAIR_FETCH, /* missing or wrong size: fetch replaces it */
	REPAIR_DELETE_FETCH, /* corrupt: delete, then fetch */
	/* no metadata: remembered, deleted if the next pass agrees */
	REPAIR_SUSPECT,
	REPAIR_DELETE, /* no metadata in two passes in a row */
};

/*
 * started: when the pass began reading metadata.  A file without
 * metadata that changed since may belong to a blob committed after the
 * scan read its range: keep it for the next pass.  Nor is one pass
 * enough to delete: raftd may still be replaying its log after a
 * restart, so its state can briefly lag the files.
 */
enum repair_action policy_repair(const struct repair_file *, time_t started);
/* a temporary file last changed at mtime is a left-over at now */
bool policy_tmp_expired(time_t mtime, time_t now);

#endif
