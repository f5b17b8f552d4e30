/*
 * Raft peer messages as a hostile peer would send them.  A message that
 * decodes must encode again, and that encoding must be stable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/raft_wire.h"

static void
encode_or_abort(struct pbuf *b, const struct raft_msg *m)
{
	pb_init(b);
	if (raft_wire_encode(b, m) != 0 || b->err)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_msg m, m2;
	struct pbuf a, b;
	uint8_t *buf;

	/* copies so the decoder sees a buffer that ends exactly at size */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	if (raft_wire_decode(buf, size, &m) != 0) {
		free(buf);
		return 0;
	}
	/* the message owns its data: the input may go away */
	free(buf);
	if (m.n_entries > RAFT_WIRE_MAX_ENTRIES)
		abort();
	encode_or_abort(&a, &m);
	if (raft_wire_decode(a.data, a.len, &m2) != 0)
		abort();
	encode_or_abort(&b, &m2);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	raft_wire_msg_free(&m);
	raft_wire_msg_free(&m2);
	pb_free(&a);
	pb_free(&b);
	return 0;
}
