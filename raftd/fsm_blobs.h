/*
 * Blob metadata (API.md §13) in the blob column family, one record per
 * blob under the user layout <scope> ':' <blob key> (keys.h):
 *
 *   u8 state (FSM_BLOB_LIVE, FSM_BLOB_TOMBSTONED), i64 uploaded_at,
 *   i64 tombstoned_at (0 while live), then the CMD_BLOB_PUT value fields
 *   as proposed (struct fsm_blob_meta)
 *
 * The bytes are blobd's: apply only decides on tombstones, existence and
 * the bytes_on_disk quota (§7.1), and lists the records a purge removed
 * in fsm_result.blobs_removed so that raftd can tell blobd.
 */
#ifndef RAFTD_FSM_BLOBS_H
#define RAFTD_FSM_BLOBS_H

#include <stdbool.h>

#include "raftd/fsm_int.h"

#define FSM_BLOB_LIVE 0
#define FSM_BLOB_TOMBSTONED 1
/* u8 state, i64 uploaded_at, i64 tombstoned_at */
#define FSM_BLOB_HDR 17
/* (scope, key) pairs of one CMD_BLOB_PURGE at most */
#define FSM_BLOB_PURGE_MAX 1024
/* records of one READ_BLOB_SCAN at most */
#define FSM_BLOB_SCAN_MAX 1000

/* bounds of the metadata strings */
#define FSM_BLOB_UUID_MAX 64 /* owner_uuid, node_identity_uuid */
#define FSM_BLOB_NODE_MAX 255 /* node_id */
#define FSM_BLOB_NAME_MAX 8192 /* original_name: a part header holds it */
#define FSM_BLOB_TYPE_MAX 255 /* content_type (§13.1) */
#define FSM_BLOB_HASH_LEN 64 /* lowercase hex SHA-256 */

/* the CMD_BLOB_PUT value fields; pointers into the decoded buffer */
struct fsm_blob_meta {
	const uint8_t *owner, *node_id, *node_uuid, *hash, *name, *type;
	size_t owner_len, node_id_len, node_uuid_len, hash_len, name_len,
	    type_len;
	uint64_t size;
};

struct fsm_blob_rec {
	uint8_t state;
	int64_t uploaded_at;
	int64_t tombstoned_at;
	struct fsm_blob_meta meta;
};

/* 0 when p holds well-formed, bounded value fields; -1 otherwise */
int fsm_blob_meta_decode(const uint8_t *p, size_t len, struct fsm_blob_meta *);
/* 0 when p is a well-formed record; -1 otherwise */
int fsm_blob_rec_decode(const uint8_t *p, size_t len, struct fsm_blob_rec *);

uint16_t
fsm_blobs_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);

/*
 * Key purge (fsm_keys.c): removes up to *budget blob records of the
 * scope, lowering *budget, and lists them in res->blobs_removed.  True
 * when no record of the scope is left.
 */
bool fsm_blobs_purge_scope(
    struct fsm_batch *, const char *scope, int *budget, struct fsm_result *);
/* no blob record of the scope, as the batch sees it */
bool fsm_blobs_scope_empty(struct fsm_batch *, const char *scope);

/* READ_BLOB_GET, READ_BLOB_ITERATE, READ_BLOB_SCAN; answers into out */
void fsm_blobs_read(struct fsm *, const struct read_req *, struct pbuf *out);

/*
 * One bounded step of blob GC: scans at most scan_max records from the
 * key *cursor (empty: the start) and appends each tombstoned one as
 * (str scope, bytes key) to out, at most max.  *cursor becomes the key to
 * resume from, empty once the scan reached the end.  The number appended,
 * or -1 on a storage error.
 */
int fsm_blobs_tombstoned(struct fsm *, struct keybuf *cursor, size_t scan_max,
    size_t max, struct pbuf *out);

#endif
