/*
 * The blob routes' dispatch, blob/delete and blob/iterate/prefix (API.md
 * §13.3, §13.4), the blobd.api channel and blobd's status for /metrics.
 * Upload: blob_set.c; download: blob_get.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "apid/blobs.h"
#include "apid/data_req.h"
#include "apid/metrics_text.h"
#include "common/log.h"
#include "proto/msg.h"

#define BLOB_DIAL_RETRY_MS 1000
#define BLOB_STATUS_MS 1000
/* a replication queue length older than this is not reported */
#define BLOB_STATUS_STALE_MS 5000

static struct {
	struct apid *a;
	struct ipc_chan *chan;
	char url[256];
	struct event *retry;
	struct event *status_timer;
	bool status_busy;
	int64_t queue;
	int64_t queue_at_ms; /* 0: never heard */
} blobd;

/*
 * IPC.
 */

struct blob_call {
	blob_ipc_cb cb;
	void *arg;
};

static void
blob_call_done(int err, struct ipc_msg *m, void *arg)
{
	struct blob_call bc = *(struct blob_call *)arg;

	free(arg);
	if (err == 0 && m == NULL)
		err = EIO;
	bc.cb(bc.arg, err, err ? NULL : m->payload, err ? 0 : m->len);
}

void
blob_ipc(struct ipc_chan *ch, uint16_t type, const struct pbuf *b,
    int timeout_ms, blob_ipc_cb cb, void *arg)
{
	struct blob_call *bc;

	if (b->err) {
		cb(arg, ENOMEM, NULL, 0);
		return;
	}
	if (ch == NULL) {
		cb(arg, ECONNREFUSED, NULL, 0);
		return;
	}
	if ((bc = malloc(sizeof(*bc))) == NULL)
		fatal("%s: malloc", __func__);
	bc->cb = cb;
	bc->arg = arg;
	if (ipc_call(ch, type, b->data, b->len, timeout_ms, blob_call_done,
		bc) == -1) {
		free(bc);
		cb(arg, errno == EAGAIN ? EAGAIN : ECONNREFUSED, NULL, 0);
	}
}

struct ipc_chan *
apid_blobd(void)
{
	return blobd.chan;
}

static void
ignore_reply(void *arg, int err, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)p;
	(void)len;
	if (err != 0)
		log_debug("blobs: releasing a handle: %s", strerror(err));
}

void
blob_release_handle(uint16_t type, uint64_t handle)
{
	struct pbuf b;

	pb_init(&b);
	pb_add_u64(&b, handle);
	blob_ipc(blobd.chan, type, &b, BLOB_CALL_MS, ignore_reply, NULL);
	pb_free(&b);
}

void
blob_status_error(struct areq *ar, uint16_t st, const struct pbuf *extra)
{
	struct pbuf h;

	pb_init(&h);
	if (extra != NULL && extra->len > 0)
		pb_add_raw(&h, extra->data, extra->len);
	switch (st) {
	case BLOB_NOT_REPLICATED:
		http_hdr_add(&h, "Retry-After", "1");
		apid_error(ar, 503, "BLOB_NOT_REPLICATED", &h,
		    "the blob is not on this node yet");
		break;
	default:
		apid_error(ar, 500, "INTERNAL_ERROR", &h,
		    "blob store error (status %u)", st);
		break;
	}
	pb_free(&h);
}

/*
 * blob/delete and blob/iterate/prefix.
 */

static void
delete_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;
	struct pbuf b;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	pb_init(&b);
	pb_add_lit(&b, "{}\n");
	apid_reply(ar, 202, NULL, &b);
	pb_free(&b);
}

static void
delete_body(struct areq *ar)
{
	const char *k;
	size_t klen;
	char *owned;
	struct cmd c;

	if (apid_delete_key(ar, &k, &klen, &owned) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_BLOB_DELETE;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	apid_data_propose(ar, &c, delete_done);
	free(owned);
}

static void
delete_begin(struct areq *ar)
{
	apid_read_json(ar, delete_body, strcmp(ar->req->method, "DELETE") == 0);
}

static void
iterate_begin(struct areq *ar)
{
	apid_data_iterate(ar, READ_BLOB_ITERATE);
}

apid_handler
apid_blobs_handler(enum route_id id)
{
	switch (id) {
	case R_BLOB_SET:
		return apid_blob_set;
	case R_BLOB_GET:
		return apid_blob_get;
	case R_BLOB_DELETE:
		return delete_begin;
	case R_BLOB_ITERATE:
		return iterate_begin;
	case R_INTERNAL_BLOB_DOWNLOAD:
		return apid_blob_download;
	default:
		return NULL;
	}
}

/*
 * The channel and blobd's status.
 */

static void
status_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct json_object *o = NULL, *q;
	struct json_tokener *tok;
	const uint8_t *s;
	struct pread r;
	uint16_t st;
	size_t slen;

	(void)arg;
	blobd.status_busy = false;
	if (err != 0)
		return;
	pr_init(&r, p, len);
	pr_get_u16(&r, &st);
	if (pr_get_bytes(&r, &s, &slen) == -1 || st != BLOB_OK ||
	    slen > INT32_MAX)
		return;
	if ((tok = json_tokener_new()) != NULL) {
		o = json_tokener_parse_ex(tok, (const char *)s, (int)slen);
		json_tokener_free(tok);
	}
	if (o == NULL)
		return;
	if (json_object_object_get_ex(o, "replication_queue", &q) &&
	    json_object_is_type(q, json_type_int)) {
		blobd.queue = json_object_get_int64(q);
		blobd.queue_at_ms = http_now_ms();
	}
	json_object_put(o);
}

static void
status_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { BLOB_STATUS_MS / 1000, 0 };
	struct pbuf b;

	(void)fd;
	(void)what;
	(void)arg;
	evtimer_add(blobd.status_timer, &tv);
	if (blobd.status_busy || blobd.chan == NULL)
		return;
	blobd.status_busy = true;
	pb_init(&b);
	blob_ipc(
	    blobd.chan, MSG_BLOB_STATUS, &b, BLOB_STATUS_MS, status_got, NULL);
	pb_free(&b);
}

void
apid_blobs_metrics(struct pbuf *b)
{
	if (blobd.queue_at_ms == 0 ||
	    http_now_ms() - blobd.queue_at_ms > BLOB_STATUS_STALE_MS)
		return;
	metrics_family(b, "insidb_blob_replication_queue", "gauge",
	    "Blob fetches queued or running on this node.");
	metrics_sample_u64(b, "insidb_blob_replication_queue", NULL,
	    blobd.queue < 0 ? 0 : (uint64_t)blobd.queue);
}

static void
blobd_dial(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { BLOB_DIAL_RETRY_MS / 1000, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	blobd.chan = ipc_req_dial(blobd.a->env->ipc, blobd.url, BLOBD_CALLS);
	if (blobd.chan == NULL)
		evtimer_add(blobd.retry, &tv);
}

void
apid_blobs_start(struct apid *a)
{
	struct event_base *base = a->env->base;

	blobd.a = a;
	role_url(a->env, "blobd.api", blobd.url, sizeof(blobd.url));
	blobd.retry = evtimer_new(base, blobd_dial, NULL);
	blobd.status_timer = evtimer_new(base, status_tick, NULL);
	blobd_dial(-1, 0, NULL);
	status_tick(-1, 0, NULL);
}
