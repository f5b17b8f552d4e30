#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"

void
pb_init(struct pbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
pb_free(struct pbuf *b)
{
	free(b->data);
	pb_init(b);
}

void
pb_reset(struct pbuf *b)
{
	b->len = 0;
	b->err = 0;
}

uint8_t *
pb_steal(struct pbuf *b, size_t *lenp)
{
	uint8_t *d = b->data;

	if (lenp != NULL)
		*lenp = b->len;
	pb_init(b);
	return d;
}

int
pb_reserve(struct pbuf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err)
		return -1;
	if (n > PROTO_MSG_MAX || b->len > PROTO_MSG_MAX - n) {
		b->err = 1;
		return -1;
	}
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->err = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void
pb_add_raw(struct pbuf *b, const void *p, size_t n)
{
	if (pb_reserve(b, n) == -1)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
pb_add_u8(struct pbuf *b, uint8_t v)
{
	pb_add_raw(b, &v, 1);
}

void
pb_add_u16(struct pbuf *b, uint16_t v)
{
	uint8_t x[2] = { v >> 8, v };

	pb_add_raw(b, x, sizeof(x));
}

void
pb_add_u32(struct pbuf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	pb_add_raw(b, x, sizeof(x));
}

void
pb_add_u64(struct pbuf *b, uint64_t v)
{
	pb_add_u32(b, (uint32_t)(v >> 32));
	pb_add_u32(b, (uint32_t)v);
}

void
pb_add_i64(struct pbuf *b, int64_t v)
{
	pb_add_u64(b, (uint64_t)v);
}

void
pb_add_bool(struct pbuf *b, int v)
{
	pb_add_u8(b, v ? 1 : 0);
}

void
pb_add_bytes(struct pbuf *b, const void *p, size_t n)
{
	if (n > PROTO_MSG_MAX) {
		b->err = 1;
		return;
	}
	pb_add_u32(b, (uint32_t)n);
	pb_add_raw(b, p, n);
}

void
pb_add_str(struct pbuf *b, const char *s)
{
	pb_add_bytes(b, s, s ? strlen(s) : 0);
}

void
pr_init(struct pread *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

int
pr_get_raw(struct pread *r, void *out, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = 1;
		return -1;
	}
	if (n > 0)
		memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
pr_get_u8(struct pread *r, uint8_t *v)
{
	return pr_get_raw(r, v, 1);
}

int
pr_get_u16(struct pread *r, uint16_t *v)
{
	uint8_t x[2];

	if (pr_get_raw(r, x, sizeof(x)) == -1)
		return -1;
	*v = (uint16_t)(x[0] << 8 | x[1]);
	return 0;
}

int
pr_get_u32(struct pread *r, uint32_t *v)
{
	uint8_t x[4];

	if (pr_get_raw(r, x, sizeof(x)) == -1)
		return -1;
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 |
	    x[3];
	return 0;
}

int
pr_get_u64(struct pread *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (pr_get_u32(r, &hi) == -1 || pr_get_u32(r, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
pr_get_i64(struct pread *r, int64_t *v)
{
	uint64_t u;

	if (pr_get_u64(r, &u) == -1)
		return -1;
	*v = (int64_t)u;
	return 0;
}

int
pr_get_bool(struct pread *r, int *v)
{
	uint8_t x;

	if (pr_get_u8(r, &x) == -1)
		return -1;
	if (x > 1) {
		r->err = 1;
		return -1;
	}
	*v = x;
	return 0;
}

int
pr_get_bytes(struct pread *r, const uint8_t **p, size_t *n)
{
	uint32_t len;

	if (pr_get_u32(r, &len) == -1)
		return -1;
	if (r->len - r->off < len) {
		r->err = 1;
		return -1;
	}
	*p = r->p + r->off;
	*n = len;
	r->off += len;
	return 0;
}

int
pr_get_strdup(struct pread *r, char **out)
{
	const uint8_t *p;
	size_t n;
	char *s;

	*out = NULL;
	if (pr_get_bytes(r, &p, &n) == -1)
		return -1;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		r->err = 1;
		return -1;
	}
	if ((s = malloc(n + 1)) == NULL) {
		r->err = 1;
		return -1;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

size_t
pr_remaining(const struct pread *r)
{
	return r->len - r->off;
}

int
pr_end(const struct pread *r)
{
	return (r->err || r->off != r->len) ? -1 : 0;
}
