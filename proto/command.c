#include <string.h>

#include "proto/command.h"

void
cmd_encode(struct pbuf *b, const struct cmd *c)
{
	pb_add_u16(b, c->type);
	pb_add_i64(b, c->ts);
	pb_add_str(b, c->scope);
	pb_add_bytes(b, c->key, c->key_len);
	pb_add_bytes(b, c->value, c->value_len);
	pb_add_bytes(b, c->old_value, c->old_value_len);
	pb_add_i64(b, c->num);
}

static int
scope_copy(char *dst, const uint8_t *scope, size_t scope_len)
{
	if (scope_len == 0 || scope_len > CMD_SCOPE_MAX ||
	    memchr(scope, '\0', scope_len) != NULL)
		return -1;
	memcpy(dst, scope, scope_len);
	dst[scope_len] = '\0';
	return 0;
}

int
cmd_decode(const uint8_t *buf, size_t len, struct cmd *c)
{
	const uint8_t *scope;
	size_t scope_len;
	struct pread r;

	memset(c, 0, sizeof(*c));
	pr_init(&r, buf, len);
	pr_get_u16(&r, &c->type);
	pr_get_i64(&r, &c->ts);
	pr_get_bytes(&r, &scope, &scope_len);
	pr_get_bytes(&r, &c->key, &c->key_len);
	pr_get_bytes(&r, &c->value, &c->value_len);
	pr_get_bytes(&r, &c->old_value, &c->old_value_len);
	pr_get_i64(&r, &c->num);
	if (pr_end(&r) == -1)
		return -1;
	if (c->type == CMD_NONE || c->type >= CMD_TYPE_MAX)
		return -1;
	return scope_copy(c->scope, scope, scope_len);
}

const char *
cmd_type_name(uint16_t type)
{
	switch (type) {
	case CMD_KV_SET:
		return "kv.set";
	case CMD_KV_DELETE:
		return "kv.delete";
	case CMD_KV_SETNX:
		return "kv.setnx";
	case CMD_KV_CAS:
		return "kv.cas";
	case CMD_KV_BUMP:
		return "kv.bump";
	default:
		return "unknown";
	}
}

void
cmd_result_encode(struct pbuf *b, const struct cmd_result *res)
{
	pb_add_u16(b, res->status);
	pb_add_u64(b, res->usage);
	pb_add_u64(b, res->limit);
	pb_add_bytes(b, res->data, res->data_len);
}

int
cmd_result_decode(const uint8_t *buf, size_t len, struct cmd_result *res)
{
	struct pread r;

	memset(res, 0, sizeof(*res));
	pr_init(&r, buf, len);
	pr_get_u16(&r, &res->status);
	pr_get_u64(&r, &res->usage);
	pr_get_u64(&r, &res->limit);
	pr_get_bytes(&r, &res->data, &res->data_len);
	return pr_end(&r);
}

void
read_req_encode(struct pbuf *b, const struct read_req *q)
{
	pb_add_u16(b, q->op);
	pb_add_u8(b, q->consistency);
	pb_add_str(b, q->scope);
	pb_add_bytes(b, q->key, q->key_len);
	pb_add_u64(b, q->offset);
	pb_add_u64(b, q->limit);
}

int
read_req_decode(
    const uint8_t *buf, size_t len, struct read_req *q, struct pread *rest)
{
	const uint8_t *scope;
	size_t scope_len;
	struct pread r;

	memset(q, 0, sizeof(*q));
	pr_init(&r, buf, len);
	pr_get_u16(&r, &q->op);
	pr_get_u8(&r, &q->consistency);
	pr_get_bytes(&r, &scope, &scope_len);
	pr_get_bytes(&r, &q->key, &q->key_len);
	pr_get_u64(&r, &q->offset);
	pr_get_u64(&r, &q->limit);
	/* an empty scope is left to the reader: READ_BLOB_SCAN has none */
	if (r.err ||
	    (scope_len > 0 && scope_copy(q->scope, scope, scope_len) == -1))
		return -1;
	if (rest != NULL)
		*rest = r;
	else if (pr_end(&r) == -1)
		return -1;
	return 0;
}
