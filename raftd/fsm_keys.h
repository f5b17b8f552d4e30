/*
 * Key, alias and limits records (API.md §3, §15.3, §16) inside kv, as
 * internal records 0x00 <kind> <id> beside usage and limits (keys.h):
 *
 *   kind 'k' <key uuid>    key record:   u8 tombstone, i64 created ts,
 *                          u64 alias count, u64 next alias seq, bytes ds,
 *                          bytes key_name, bytes entity name, bytes token
 *   kind 'a' <alias uuid>  alias record: bytes parent key uuid,
 *                          i64 created ts, u64 seq, bytes token
 *   kind 'A' <parent uuid> u64 seq
 *                          alias index -> alias uuid: the parent's aliases
 *                          oldest first (seq grows per parent)
 *   kind 'd' <ds>          scope index -> key uuid: written by KEY_CREATE,
 *                          removed by KEY_FINISH with the key record
 *
 * UUIDs are 36 characters, so the index prefix of one parent never
 * shares a prefix with another's.
 */
#ifndef RAFTD_FSM_KEYS_H
#define RAFTD_FSM_KEYS_H

#include "raftd/fsm_int.h"

#define KEYS_KIND_KEY 'k'
#define KEYS_KIND_ALIAS 'a'
#define KEYS_KIND_ALIAS_INDEX 'A'
#define KEYS_KIND_SCOPE_INDEX 'd'

/* an entity key may have at most this many aliases (§15.3) */
#define FSM_ALIASES_MAX 16
/* records a KEY_PURGE deletes at most (§16.6) */
#define FSM_PURGE_MAX 1000

struct fsm_key_rec {
	uint8_t tombstone;
	int64_t created;
	uint64_t alias_count;
	uint64_t alias_seq;
	const uint8_t *ds, *name, *entity, *token;
	size_t ds_len, name_len, entity_len, token_len;
};

struct fsm_alias_rec {
	const uint8_t *parent, *token;
	size_t parent_len, token_len;
	int64_t created;
	uint64_t seq;
};

/* 0, or -1 when malformed; pointers point into p */
int fsm_key_rec_decode(const uint8_t *p, size_t len, struct fsm_key_rec *);
void fsm_key_rec_encode(struct pbuf *, const struct fsm_key_rec *);
int fsm_alias_rec_decode(const uint8_t *p, size_t len, struct fsm_alias_rec *);
void fsm_alias_rec_encode(struct pbuf *, const struct fsm_alias_rec *);
/* 0x00 'A' <parent uuid> [u64 seq when with_seq] */
void fsm_alias_index_key(
    struct keybuf *, const char *parent, uint64_t seq, bool with_seq);

/* the limits of a new key (§7.4) */
void fsm_limits_default(struct fsm_limits *);

uint16_t
fsm_keys_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);
/* a tombstoned key still to clean up (key_cleanup.c) */
struct fsm_dead_key {
	char uuid[37];
	char ds[CMD_SCOPE_MAX + 1];
};

/* key records looked at by one fsm_keys_tombstoned() at most */
#define FSM_DEAD_SCAN_MAX 100000

/* up to max tombstoned keys in uuid order; -1 on a storage error */
int fsm_keys_tombstoned(struct fsm *, struct fsm_dead_key *, size_t max);
/*
 * Whether a command that can add data to its scope may apply: always for
 * root, else only while the scope's key exists and is not tombstoned, so
 * a write in flight when its key is deleted leaves nothing behind.
 * Deletes and expiry pass (they only remove).  ST_OK or, with res set,
 * ST_API_KEY_NOT_FOUND.  Only with fsm_keys_guard_set(f, true).
 */
uint16_t
fsm_keys_guard(struct fsm_batch *, const struct cmd *, struct fsm_result *);
/* READ_KEY .. READ_KEYS; answers into out */
void fsm_keys_read(struct fsm *, const struct read_req *, struct pbuf *out);

#endif
