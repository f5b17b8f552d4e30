/*
 * Blob routes (API.md §13, §18.1): upload (blobs.c), download and the
 * internal download (blob_get.c), delete and iterate (blobs.c), over the
 * blobd.api channel of proto/msg.h.
 */
#ifndef APID_BLOBS_H
#define APID_BLOBS_H

#include "apid/server.h"

/* non-file parts of an upload, all together */
#define BLOB_NONFILE_MAX (64 * 1024)
#define BLOB_CALL_MS 10000
#define BLOB_COMMIT_MS (APID_WRITE_WAIT_MS + 5000)
#define BLOBD_CALLS 1024

/* dials blobd.api and samples its status every second */
void apid_blobs_start(struct apid *);
apid_handler apid_blobs_handler(enum route_id);
/* insidb_blob_replication_queue from blobd's last status, when fresh */
void apid_blobs_metrics(struct pbuf *);

/* blob_set.c, blob_get.c */
void apid_blob_set(struct areq *);
void apid_blob_get(struct areq *);
void apid_blob_download(struct areq *);

/*
 * A call to blobd (or raftd: ch) that does not hold on to a request: the
 * callback always runs, with err 0 and the reply, or an errno.
 */
typedef void (*blob_ipc_cb)(void *arg, int err, const uint8_t *, size_t);
void blob_ipc(struct ipc_chan *ch, uint16_t type, const struct pbuf *,
    int timeout_ms, blob_ipc_cb, void *arg);
/* the blobd.api channel, NULL until dialled */
struct ipc_chan *apid_blobd(void);
/* a fire-and-forget MSG_BLOB_DOWN_CLOSE / MSG_BLOB_UP_ABORT */
void blob_release_handle(uint16_t type, uint64_t handle);
/* X-Insidb-... style 503 for blobd failures */
void blob_status_error(struct areq *, uint16_t status, const struct pbuf *);

#endif
