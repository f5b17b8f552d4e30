#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/raft_wire.h"

/* smallest encoding of one entry: term, index, type, empty data */
#define ENTRY_MIN_BYTES (8 + 8 + 1 + 4)
#define SERVER_BYTES (8 + 1 + 1)

static int
config_valid(const struct raft_config *c)
{
	uint32_t i, j;

	if (c->n > RAFT_MAX_NODES)
		return 0;
	for (i = 0; i < c->n; i++) {
		if (c->servers[i].id == 0 ||
		    c->servers[i].role > RAFT_LEARNER ||
		    c->servers[i].promote > 1)
			return 0;
		for (j = 0; j < i; j++)
			if (c->servers[j].id == c->servers[i].id)
				return 0;
	}
	return 1;
}

static int
encode_entries(struct pbuf *b, const struct raft_msg *m)
{
	const struct raft_entry *e;
	uint32_t i;

	if (m->n_entries > RAFT_WIRE_MAX_ENTRIES ||
	    (m->n_entries > 0 && m->entries == NULL))
		return -1;
	pb_add_u64(b, m->prev_index);
	pb_add_u64(b, m->prev_term);
	pb_add_u64(b, m->commit);
	pb_add_u32(b, m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		if (e->type > RAFT_ENTRY_NOOP ||
		    (e->len > 0 && e->data == NULL))
			return -1;
		if (e->len > RAFT_WIRE_MAX_BYTES)
			return -1;
		pb_add_u64(b, e->term);
		pb_add_u64(b, e->index);
		pb_add_u8(b, e->type);
		pb_add_bytes(b, e->data, e->len);
		if (b->err || b->len > RAFT_WIRE_MAX_BYTES)
			return -1;
	}
	return 0;
}

static int
encode_snapshot(struct pbuf *b, const struct raft_msg *m)
{
	const struct raft_config *c = &m->snap.config;
	uint32_t i;

	if (!config_valid(c) || m->len > RAFT_WIRE_MAX_BYTES ||
	    (m->len > 0 && m->data == NULL))
		return -1;
	pb_add_u64(b, m->snap.index);
	pb_add_u64(b, m->snap.term);
	pb_add_u8(b, (uint8_t)c->n);
	for (i = 0; i < c->n; i++) {
		pb_add_u64(b, c->servers[i].id);
		pb_add_u8(b, c->servers[i].role);
		pb_add_u8(b, c->servers[i].promote);
	}
	pb_add_u64(b, m->offset);
	pb_add_u64(b, m->total);
	pb_add_bytes(b, m->data, m->len);
	return 0;
}

static int
encode_body(struct pbuf *b, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return encode_entries(b, m);
	case RAFT_MSG_APPEND_RESP:
		pb_add_u8(b, m->reject ? 1 : 0);
		pb_add_u64(b, m->index);
		pb_add_u64(b, m->hint_index);
		pb_add_u64(b, m->hint_term);
		return 0;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE:
		pb_add_u64(b, m->index);
		pb_add_u64(b, m->log_term);
		pb_add_u8(b, m->force ? 1 : 0);
		return 0;
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PREVOTE_RESP:
		pb_add_u8(b, m->reject ? 1 : 0);
		return 0;
	case RAFT_MSG_HEARTBEAT:
		pb_add_u64(b, m->commit);
		pb_add_u64(b, m->seq);
		return 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		pb_add_u64(b, m->seq);
		pb_add_u64(b, m->index);
		return 0;
	case RAFT_MSG_SNAPSHOT:
		return encode_snapshot(b, m);
	case RAFT_MSG_SNAPSHOT_RESP:
		pb_add_u64(b, m->index);
		pb_add_u64(b, m->offset);
		pb_add_u8(b, m->reject ? 1 : 0);
		return 0;
	case RAFT_MSG_TIMEOUT_NOW:
		return 0;
	default:
		return -1;
	}
}

int
raft_wire_encode(struct pbuf *b, const struct raft_msg *m)
{
	size_t start = b->len;
	int err = b->err;

	pb_add_u8(b, m->type);
	pb_add_u64(b, m->from);
	pb_add_u64(b, m->to);
	pb_add_u64(b, m->term);
	if (encode_body(b, m) == -1 || b->err ||
	    b->len - start > RAFT_WIRE_MAX_BYTES) {
		b->len = start;
		b->err = err;
		return -1;
	}
	return 0;
}

/* a flag byte must be 0 or 1 */
static void
get_flag(struct pread *r, uint8_t *v)
{
	if (pr_get_u8(r, v) == 0 && *v > 1)
		r->err = 1;
}

/* copies a byte string out of the reader; NULL for an empty one */
static int
get_owned_bytes(struct pread *r, uint8_t **out, uint32_t *lenp)
{
	const uint8_t *p;
	size_t n;

	*out = NULL;
	*lenp = 0;
	if (pr_get_bytes(r, &p, &n) == -1)
		return -1;
	if (n > RAFT_WIRE_MAX_BYTES) {
		r->err = 1;
		return -1;
	}
	if (n > 0) {
		if ((*out = malloc(n)) == NULL) {
			r->err = 1;
			return -1;
		}
		memcpy(*out, p, n);
	}
	*lenp = (uint32_t)n;
	return 0;
}

static int
decode_entries(struct pread *r, struct raft_msg *m)
{
	struct raft_entry *e;
	uint32_t i, n;

	pr_get_u64(r, &m->prev_index);
	pr_get_u64(r, &m->prev_term);
	pr_get_u64(r, &m->commit);
	if (pr_get_u32(r, &n) == -1)
		return -1;
	/* the count must fit the bytes that are left before we allocate */
	if (n > RAFT_WIRE_MAX_ENTRIES ||
	    (size_t)n * ENTRY_MIN_BYTES > pr_remaining(r))
		return -1;
	if (n == 0)
		return 0;
	if ((m->entries = calloc(n, sizeof(*m->entries))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		e = &m->entries[i];
		pr_get_u64(r, &e->term);
		pr_get_u64(r, &e->index);
		pr_get_u8(r, &e->type);
		if (r->err || e->type > RAFT_ENTRY_NOOP)
			return -1;
		/* counted before the copy so a failure frees what was made */
		m->n_entries = i + 1;
		if (get_owned_bytes(r, &e->data, &e->len) == -1)
			return -1;
	}
	return 0;
}

static int
decode_snapshot(struct pread *r, struct raft_msg *m)
{
	struct raft_config *c = &m->snap.config;
	uint8_t n;
	uint32_t i;

	pr_get_u64(r, &m->snap.index);
	pr_get_u64(r, &m->snap.term);
	if (pr_get_u8(r, &n) == -1 || n > RAFT_MAX_NODES)
		return -1;
	c->n = n;
	for (i = 0; i < c->n; i++) {
		pr_get_u64(r, &c->servers[i].id);
		pr_get_u8(r, &c->servers[i].role);
		pr_get_u8(r, &c->servers[i].promote);
	}
	if (r->err || !config_valid(c))
		return -1;
	pr_get_u64(r, &m->offset);
	pr_get_u64(r, &m->total);
	if (get_owned_bytes(r, &m->data, &m->len) == -1)
		return -1;
	if (m->offset > m->total || m->len > m->total - m->offset)
		return -1;
	return 0;
}

static int
decode_body(struct pread *r, struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return decode_entries(r, m);
	case RAFT_MSG_APPEND_RESP:
		get_flag(r, &m->reject);
		pr_get_u64(r, &m->index);
		pr_get_u64(r, &m->hint_index);
		pr_get_u64(r, &m->hint_term);
		return 0;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE:
		pr_get_u64(r, &m->index);
		pr_get_u64(r, &m->log_term);
		get_flag(r, &m->force);
		return 0;
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PREVOTE_RESP:
		get_flag(r, &m->reject);
		return 0;
	case RAFT_MSG_HEARTBEAT:
		pr_get_u64(r, &m->commit);
		pr_get_u64(r, &m->seq);
		return 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		pr_get_u64(r, &m->seq);
		pr_get_u64(r, &m->index);
		return 0;
	case RAFT_MSG_SNAPSHOT:
		return decode_snapshot(r, m);
	case RAFT_MSG_SNAPSHOT_RESP:
		pr_get_u64(r, &m->index);
		pr_get_u64(r, &m->offset);
		get_flag(r, &m->reject);
		return 0;
	case RAFT_MSG_TIMEOUT_NOW:
		return 0;
	default:
		return -1;
	}
}

int
raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *m)
{
	struct pread r;

	memset(m, 0, sizeof(*m));
	if (len > RAFT_WIRE_MAX_BYTES)
		return -1;
	pr_init(&r, buf, len);
	pr_get_u8(&r, &m->type);
	pr_get_u64(&r, &m->from);
	pr_get_u64(&r, &m->to);
	pr_get_u64(&r, &m->term);
	if (r.err || decode_body(&r, m) == -1 || pr_end(&r) == -1) {
		raft_wire_msg_free(m);
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

void
raft_wire_msg_free(struct raft_msg *m)
{
	uint32_t i;

	for (i = 0; i < m->n_entries; i++)
		free(m->entries[i].data);
	free(m->entries);
	free(m->data);
	m->entries = NULL;
	m->n_entries = 0;
	m->data = NULL;
	m->len = 0;
}

int
raft_wire_is_bulk(const struct raft_msg *m)
{
	return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT;
}
