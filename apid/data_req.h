/*
 * Request pieces shared by the values (§11) and cache (§12) routes: body
 * members with their size rules (§2.6), the iterate parameters, and the
 * get / iterate reads with their replies.  Functions returning int give
 * -1 after answering the request.
 */
#ifndef APID_DATA_REQ_H
#define APID_DATA_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "apid/server.h"

/* a required string member */
int apid_body_str(struct areq *, const char *name, const char **s, size_t *len);
/* a key of §2.6 (400 / 413 naming `name`) */
int apid_check_key(struct areq *, const char *name, const char *k, size_t len);
/* the required member "key", checked */
int apid_body_key(struct areq *, const char **k, size_t *len);
/* a required value member of at most max_value bytes */
int
apid_body_value(struct areq *, const char *name, const char **v, size_t *len);
/* an integer query parameter: 1 found, 0 absent */
int apid_query_int(struct areq *, const char *name, int64_t *v);

/*
 * The key of a delete: the body's "key", or with DELETE and an empty body
 * the query's.  0 with *k set (free *owned afterwards), or -1.
 */
int apid_delete_key(struct areq *, const char **k, size_t *len, char **owned);

/*
 * Write commands of both families: "key" and "value" (set, setnx), or
 * "key", "old_value" and "new_value" (cas), checked, into *c of `type`;
 * pointers point into the request body.  -1 after answering.
 */
int apid_body_set_cmd(struct areq *, uint16_t type, struct cmd *c);
int apid_body_cas_cmd(struct areq *, uint16_t type, struct cmd *c);
/* proposes c in the caller's scope (raftd stamps ts); done gets the result */
void apid_data_propose(struct areq *, struct cmd *c, areq_ipc_cb done);

/* GET ?key&consistency as a read of op: 200 {"data":<value>} */
void apid_data_get(struct areq *, uint16_t op);
/* GET ?prefix&offset&limit&consistency as a read of op: {"data":[keys]} */
void apid_data_iterate(struct areq *, uint16_t op);

#endif
