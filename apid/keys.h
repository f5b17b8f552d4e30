/*
 * Shared by the key routes (keys.c) and the admin routes (admin.c).
 */
#ifndef APID_KEYS_H
#define APID_KEYS_H

#include "apid/keys_rec.h"
#include "apid/server.h"

/* a read of op in scope with the request's consistency */
void keys_read(struct areq *, uint16_t op, const char *scope, const char *key,
    uint64_t offset, uint64_t limit, areq_ipc_cb);
/* proposes c (its scope set by the caller) */
void keys_propose(struct areq *, struct cmd *, areq_ipc_cb);
/* the ST_OK check of a read; -1 after answering (ST_NOT_FOUND too) */
int keys_read_ok(struct areq *, int err, const uint8_t *, size_t,
    struct pread *rest, uint16_t *status);
/* a command result; -1 after answering an IPC failure */
int keys_cmd_result(
    struct areq *, int err, const uint8_t *, size_t, struct cmd_result *);
/* LimitsResponse from a READ_LIMITS result; root: max_limits {} */
int keys_limits_json(struct pbuf *, struct pread *rest, bool root);
/* a required string member of the body; -1 after answering 400 */
int keys_body_str(struct areq *, const char *name, const char **s, size_t *);
/* 404 with the given error_type */
void keys_not_found(struct areq *, const char *type, const char *msg);

#endif
