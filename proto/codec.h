/*
 * Typed, bounds-checked encoder and decoder for every message that crosses a
 * process or the network.  Integers are big-endian; strings and byte strings
 * carry a u32 length prefix.  A reader that runs short or meets a bad length
 * sets its error flag; every later get fails too, so callers may decode a
 * whole message and check pr_end() once.
 */
#ifndef PROTO_CODEC_H
#define PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* no single message may exceed this: the bound on every queue entry */
#define PROTO_MSG_MAX (64u * 1024 * 1024)

struct pbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* allocation failure or size overflow */
};

struct pread {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;
};

void pb_init(struct pbuf *);
void pb_free(struct pbuf *);
void pb_reset(struct pbuf *);
/* hands the buffer to the caller; the pbuf is left empty */
uint8_t *pb_steal(struct pbuf *, size_t *lenp);
int pb_reserve(struct pbuf *, size_t);
void pb_add_raw(struct pbuf *, const void *, size_t);
/* a string literal, without its NUL ("" s refuses anything else) */
#define pb_add_lit(b, s) pb_add_raw((b), "" s, sizeof(s) - 1)
void pb_add_u8(struct pbuf *, uint8_t);
void pb_add_u16(struct pbuf *, uint16_t);
void pb_add_u32(struct pbuf *, uint32_t);
void pb_add_u64(struct pbuf *, uint64_t);
void pb_add_i64(struct pbuf *, int64_t);
void pb_add_bool(struct pbuf *, int);
void pb_add_bytes(struct pbuf *, const void *, size_t);
/* a NULL string is encoded as an empty one */
void pb_add_str(struct pbuf *, const char *);

void pr_init(struct pread *, const void *, size_t);
int pr_get_u8(struct pread *, uint8_t *);
int pr_get_u16(struct pread *, uint16_t *);
int pr_get_u32(struct pread *, uint32_t *);
int pr_get_u64(struct pread *, uint64_t *);
int pr_get_i64(struct pread *, int64_t *);
int pr_get_bool(struct pread *, int *);
/* points into the reader's buffer; no copy */
int pr_get_bytes(struct pread *, const uint8_t **, size_t *);
/* copies into a fresh NUL-terminated string the caller frees; refuses NUL */
int pr_get_strdup(struct pread *, char **);
int pr_get_raw(struct pread *, void *, size_t);
size_t pr_remaining(const struct pread *);
/* 0 when no error happened and every byte was consumed */
int pr_end(const struct pread *);

#endif
