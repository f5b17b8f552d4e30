/*
 * apid's view of the key and alias records raftd returns (raftd/
 * fsm_keys.h, fsm_keys_read.c): pointers into the read result.
 */
#ifndef APID_KEYS_REC_H
#define APID_KEYS_REC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

#define KEYREC_LIMITS 6

struct keyrec {
	uint8_t tombstone;
	int64_t created;
	uint64_t alias_count, alias_seq;
	const uint8_t *ds, *name, *entity, *token;
	size_t ds_len, name_len, entity_len, token_len;
};

struct aliasrec {
	const uint8_t *parent, *token;
	size_t parent_len, token_len;
	int64_t created;
	uint64_t seq;
};

struct limitsrec {
	uint8_t mask;
	uint64_t v[KEYREC_LIMITS];
};

/* 0, or -1 when malformed */
int keyrec_decode(const uint8_t *, size_t, struct keyrec *);
int aliasrec_decode(const uint8_t *, size_t, struct aliasrec *);
int limitsrec_get(struct pread *, struct limitsrec *);
/* true when the record's ds is the NUL-terminated ds */
int keyrec_ds_is(const struct keyrec *, const char *ds);

#endif
