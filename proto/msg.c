#include "proto/codec.h"
#include "proto/msg.h"

void
proto_hdr_encode(uint8_t *out, const struct proto_hdr *h)
{
	struct pread r;
	struct pbuf b;

	pb_init(&b);
	pb_add_u16(&b, h->version);
	pb_add_u16(&b, h->type);
	pb_add_u32(&b, h->len);
	pb_add_u64(&b, h->corr);
	pr_init(&r, b.data, b.len);
	(void)pr_get_raw(&r, out, PROTO_HDR_LEN);
	pb_free(&b);
}

int
proto_hdr_decode(const uint8_t *buf, size_t buflen, struct proto_hdr *h)
{
	struct pread r;

	if (buflen < PROTO_HDR_LEN)
		return -1;
	pr_init(&r, buf, PROTO_HDR_LEN);
	pr_get_u16(&r, &h->version);
	pr_get_u16(&r, &h->type);
	pr_get_u32(&r, &h->len);
	pr_get_u64(&r, &h->corr);
	if (pr_end(&r) == -1 || h->version != PROTO_VERSION)
		return -1;
	if (h->len > PROTO_MSG_MAX || buflen - PROTO_HDR_LEN != h->len)
		return -1;
	return 0;
}
