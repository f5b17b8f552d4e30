/*
 * Proto codec decoders on hostile bytes.  The first byte picks the
 * decoder; the rest is its input.  The encodings are canonical, so
 * whatever decodes must re-encode to exactly the bytes it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"

/* copies so the decoder sees a buffer that ends exactly at len */
static uint8_t *
fuzz_copy(const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	if (len)
		memcpy(p, data, len);
	return p;
}

static void
same_or_abort(const struct pbuf *a, const uint8_t *buf, size_t len)
{
	if (a->err || a->len != len || memcmp(a->data, buf, len) != 0)
		abort();
}

static void
fuzz_cmd(const uint8_t *buf, size_t len)
{
	struct cmd c;
	struct pbuf a;

	if (cmd_decode(buf, len, &c) != 0)
		return;
	if (c.type == CMD_NONE || c.type >= CMD_TYPE_MAX ||
	    strlen(c.scope) > CMD_SCOPE_MAX)
		abort();
	pb_init(&a);
	cmd_encode(&a, &c);
	same_or_abort(&a, buf, len);
	pb_free(&a);
}

static void
fuzz_cmd_result(const uint8_t *buf, size_t len)
{
	struct cmd_result r;
	struct pbuf a;

	if (cmd_result_decode(buf, len, &r) != 0)
		return;
	pb_init(&a);
	cmd_result_encode(&a, &r);
	same_or_abort(&a, buf, len);
	pb_free(&a);
}

static void
fuzz_read_req(const uint8_t *buf, size_t len)
{
	struct read_req q;
	struct pread rest;
	struct pbuf a;
	const uint8_t *bytes;
	size_t n, head;

	if (read_req_decode(buf, len, &q, &rest) != 0)
		return;
	if (strlen(q.scope) > CMD_SCOPE_MAX || rest.off > len)
		abort();
	head = rest.off;
	/* the rest is the caller's to read: walk it like a caller would */
	while (pr_get_bytes(&rest, &bytes, &n) == 0 && n > 0)
		if (bytes < buf || bytes + n > buf + len)
			abort();
	pb_init(&a);
	read_req_encode(&a, &q);
	same_or_abort(&a, buf, head);
	pb_free(&a);
	/* without a rest the decoder must refuse trailing bytes */
	if (read_req_decode(buf, len, &q, NULL) != (head == len ? 0 : -1))
		abort();
}

static void
fuzz_hdr(const uint8_t *buf, size_t len)
{
	struct proto_hdr h;
	uint8_t out[PROTO_HDR_LEN];

	if (proto_hdr_decode(buf, len, &h) != 0)
		return;
	if (len < PROTO_HDR_LEN || h.len != len - PROTO_HDR_LEN)
		abort();
	proto_hdr_encode(out, &h);
	if (memcmp(out, buf, PROTO_HDR_LEN) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size < 1)
		return 0;
	buf = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_cmd(buf, size - 1);
		break;
	case 1:
		fuzz_cmd_result(buf, size - 1);
		break;
	case 2:
		fuzz_read_req(buf, size - 1);
		break;
	default:
		fuzz_hdr(buf, size - 1);
		break;
	}
	free(buf);
	return 0;
}
