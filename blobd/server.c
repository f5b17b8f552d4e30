/*
 * blobd.api: apid's requests (proto/msg.h, MSG_BLOB_*).  Every request
 * gets exactly one reply, possibly after pool work or a proposal.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

static void
blobd_status_reply(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	struct json_object *o;
	struct pbuf pb;

	pb_init(&pb);
	if (pr_end(r) == -1) {
		pb_add_u16(&pb, BLOB_BAD);
		pb_add_str(&pb, "{}");
		blobd_reply(b, rctx, MSG_BLOB_STATUS, &pb);
		return;
	}
	o = blobd_status_json(b);
	pb_add_u16(&pb, BLOB_OK);
	pb_add_str(
	    &pb, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	blobd_reply(b, rctx, MSG_BLOB_STATUS, &pb);
}

void
blobd_dispatch_apid(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct blobd *b = arg;
	struct pread r;

	if (ch != b->api && b->api != NULL)
		fatalx("%s: message from an unknown channel", __func__);
	pr_init(&r, m->payload, m->len);
	switch (m->hdr.type) {
	case MSG_BLOB_UP_BEGIN:
		upload_begin(b, m->rctx, &r);
		break;
	case MSG_BLOB_UP_CHUNK:
		upload_chunk(b, m->rctx, &r);
		break;
	case MSG_BLOB_UP_COMMIT:
		upload_commit(b, m->rctx, &r);
		break;
	case MSG_BLOB_UP_ABORT:
		upload_abort(b, m->rctx, &r);
		break;
	case MSG_BLOB_DOWN_OPEN:
		download_open(b, m->rctx, &r);
		break;
	case MSG_BLOB_DOWN_READ:
		download_read(b, m->rctx, &r);
		break;
	case MSG_BLOB_DOWN_CLOSE:
		download_close(b, m->rctx, &r);
		break;
	case MSG_BLOB_STATUS:
		blobd_status_reply(b, m->rctx, &r);
		break;
	default:
		/* a sibling speaking another protocol is a bug */
		fatalx("%s: unexpected message %u from apid", __func__,
		    m->hdr.type);
	}
}
