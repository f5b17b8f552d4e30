/*
 * The blob daemon's state and the functions its files share.  Peers:
 *   supervisor  role hooks (common/role.c): start, status, pids, stop
 *   apid        blobd.api (rep, blobd listens): server.c -> upload.c,
 *               download.c
 *   raftd       raftd.api (req, blobd dials): raft.c (proposals, reads),
 *               stream.c (applied-blob long-poll)
 *   other nodes internal download over HTTP(S): fetch.c
 * Everything below runs on the loop thread; pool.c runs the disk work.
 */
#ifndef BLOBD_BLOBD_INT_H
#define BLOBD_BLOBD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <json-c/json.h>

#include "blobd/paths.h"
#include "blobd/pool.h"
#include "common/crypto.h"
#include "common/ipc.h"
#include "common/role.h"
#include "proto/codec.h"
#include "proto/command.h"

#define BLOBD_THREADS 2
/* uploads and downloads open at once */
#define BLOBD_TRANSFERS_MAX 64
#define BLOBD_IDLE_MS 60000
#define BLOBD_API_NCTX (BLOBD_TRANSFERS_MAX + 16)
#define BLOBD_RAFT_CALLS 96
#define BLOBD_PROPOSE_MS 12000
#define BLOBD_READ_MS 5000

struct upload;
struct download;
struct fetchq;
struct repair;

/* answers a request; tests replace ipc_reply with their own */
typedef void (*blobd_reply_fn)(
    struct ipc_rctx *, uint16_t type, const uint8_t *, size_t, void *arg);

struct blobd {
	struct event_base *base;
	struct pool *pool;
	int dirfd; /* the blob directory (the jail) */
	char node_id[CFG_ID_MAX + 1];
	char badge_id[CRYPTO_UUID_LEN + 1];
	const struct cfg *cfg; /* NULL: no fetch sources */
	int64_t max_size; /* config:blobs.max_size, 0 = no limit */
	bool tls; /* nodes are reached over https */
	char root_key[CRYPTO_ROOT_KEY_LEN + 1];
	const char *ca_pem;

	struct ipc *ipc;
	struct ipc_chan *api; /* blobd.api */
	pid_t api_peer;
	struct ipc_chan *raft; /* raftd.api, NULL until dialled */
	char raft_url[256];
	struct event *raft_retry;
	blobd_reply_fn reply_fn; /* NULL: ipc_reply */
	void *reply_arg;

	TAILQ_HEAD(, upload) uploads;
	TAILQ_HEAD(, download) downloads;
	size_t nuploads;
	size_t ndownloads;
	size_t committing; /* uploads between COMMIT and the answer */
	uint64_t next_handle;
	struct event *idle_timer;

	struct fetchq *fetch;
	struct repair *repair;
	struct stream *stream;

	/* blob files and bytes: the last walk's count, adjusted since */
	int64_t blob_count;
	int64_t blob_bytes;
	bool stopping;
	void (*stopped)(void *);
	void *stopped_arg;
	struct event *stop_timer;
	int64_t stop_deadline_ms;
};

/* blobd.c: a blob directory served by this process */
struct blobd *blobd_new(struct event_base *, int dirfd, const char *node_id,
    const char *badge_id, int64_t max_size);
void blobd_free(struct blobd *);
uint64_t blobd_handle(struct blobd *);
int64_t blobd_now_ms(void);
void
blobd_reply(struct blobd *, struct ipc_rctx *, uint16_t type, struct pbuf *);
/* a blob file appeared (+) or went away (-) */
void blobd_account(struct blobd *, int64_t files, int64_t bytes);
/* a repair walk counted what is on disk */
void blobd_counted(struct blobd *, int64_t files, int64_t bytes);
struct json_object *blobd_status_json(struct blobd *);
/* begin a stop; done() runs once nothing is left in flight */
void blobd_stop_begin(struct blobd *, void (*done)(void *), void *arg);

/* upload.c: mkdir <scope>, rename tmp to rel, fsync what changed; errno
 * or 0.  Worker threads only. */
int blobd_place(int dirfd, const char *tmp, const char *rel, const char *scope);

/* server.c: requests of blobd.api */
void blobd_dispatch_apid(struct ipc_chan *, struct ipc_msg *, void *arg);

/* upload.c */
void upload_begin(struct blobd *, struct ipc_rctx *, struct pread *);
void upload_chunk(struct blobd *, struct ipc_rctx *, struct pread *);
void upload_commit(struct blobd *, struct ipc_rctx *, struct pread *);
void upload_abort(struct blobd *, struct ipc_rctx *, struct pread *);
void upload_idle(struct blobd *, int64_t now_ms);
/* stop: every upload not committing is removed */
void upload_stop(struct blobd *);
void upload_free_all(struct blobd *);

/* download.c */
void download_open(struct blobd *, struct ipc_rctx *, struct pread *);
void download_read(struct blobd *, struct ipc_rctx *, struct pread *);
void download_close(struct blobd *, struct ipc_rctx *, struct pread *);
void download_idle(struct blobd *, int64_t now_ms);
void download_stop(struct blobd *);

/* raft.c: calls to raftd; -1 when raftd is not reachable now */
void blobd_raft_start(struct blobd *, const char *url);
/* closes the channel: calls in flight never call back */
void blobd_raft_stop(struct blobd *);
int blobd_propose(struct blobd *, const struct cmd *, ipc_resp_cb, void *);
int blobd_read(struct blobd *, const struct read_req *, int timeout_ms,
    ipc_resp_cb, void *);

/* the record of READ_BLOB_GET / READ_BLOB_SCAN (command.h) */
struct blob_record {
	uint8_t state; /* 0 live, 1 tombstoned */
	int64_t uploaded_at;
	int64_t tombstoned_at;
	char *owner_uuid;
	char *node_id;
	char *node_identity_uuid;
	uint64_t size;
	char *hash;
	char *original_name;
	char *content_type;
};
int blob_record_decode(const uint8_t *, size_t, struct blob_record *);
void blob_record_free(struct blob_record *);

/* stream.c: the applied-blob stream */
void stream_start(struct blobd *);
void stream_stop(struct blobd *);
void stream_free(struct blobd *);

/* fetch.c: copies of blobs from other nodes (API.md §13.6) */
struct fetchq *fetch_new(struct blobd *);
/* origin: the receiving node, NULL or "" when unknown */
void fetch_queue(struct blobd *, const char *scope, const uint8_t *key,
    size_t key_len, uint64_t size, const char *hash, const char *origin);
/* the blob was purged: drop its job */
void fetch_cancel(
    struct blobd *, const char *scope, const uint8_t *key, size_t key_len);
/* cancels calls and timers; jobs on the pool finish in pool_free */
void fetch_stop(struct fetchq *);
size_t fetch_queued(const struct fetchq *);
size_t fetch_running(const struct fetchq *);
void fetch_free(struct fetchq *);

/* repair.c */
struct repair *repair_new(struct blobd *, int64_t interval_ms);
/* run a pass now, or right after the running one */
void repair_request(struct blobd *, const char *why);
bool repair_running(const struct repair *);
void repair_stop(struct repair *);
void repair_free(struct repair *);

/* fetch.c: SHA-256 of the first size bytes, hex; -1 on a read error.
 * Worker threads only. */
int blobd_hash_file(int fd, uint64_t size, char out[65]);

/* purge.c: a purged blob's file goes (missing is fine) */
void blobd_purge(
    struct blobd *, const char *scope, const uint8_t *key, size_t key_len);
/* a temporary file (".tmp/...") to remove in the same batches */
void blobd_unlink_later(struct blobd *, const char *tmp_rel);

#endif
