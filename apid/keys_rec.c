#include <string.h>

#include "apid/keys_rec.h"

int
keyrec_decode(const uint8_t *p, size_t len, struct keyrec *r)
{
	struct pread rd;

	pr_init(&rd, p, len);
	pr_get_u8(&rd, &r->tombstone);
	pr_get_i64(&rd, &r->created);
	pr_get_u64(&rd, &r->alias_count);
	pr_get_u64(&rd, &r->alias_seq);
	pr_get_bytes(&rd, &r->ds, &r->ds_len);
	pr_get_bytes(&rd, &r->name, &r->name_len);
	pr_get_bytes(&rd, &r->entity, &r->entity_len);
	pr_get_bytes(&rd, &r->token, &r->token_len);
	return pr_end(&rd);
}

int
aliasrec_decode(const uint8_t *p, size_t len, struct aliasrec *r)
{
	struct pread rd;

	pr_init(&rd, p, len);
	pr_get_bytes(&rd, &r->parent, &r->parent_len);
	pr_get_i64(&rd, &r->created);
	pr_get_u64(&rd, &r->seq);
	pr_get_bytes(&rd, &r->token, &r->token_len);
	return pr_end(&rd);
}

int
limitsrec_get(struct pread *rd, struct limitsrec *l)
{
	pr_get_u8(rd, &l->mask);
	for (int i = 0; i < KEYREC_LIMITS; i++)
		pr_get_u64(rd, &l->v[i]);
	return rd->err ? -1 : 0;
}

int
keyrec_ds_is(const struct keyrec *r, const char *ds)
{
	return r->ds_len == strlen(ds) && memcmp(r->ds, ds, r->ds_len) == 0;
}
