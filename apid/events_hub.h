/*
 * The node's event sessions and the applied-event stream from raftd
 * (events_hub.c), as used by apid's start and stop and the subscribe
 * handshake.
 */
#ifndef APID_EVENTS_HUB_H
#define APID_EVENTS_HUB_H

#include <stddef.h>

#include <event2/bufferevent.h>

#include "apid/server.h"
#include "apid/ws.h"

struct sub;

/* opens the stream; sessions can be added from now on */
void apid_events_start(struct apid *);
/* sessions now open, counted from the handshake's step 6 */
size_t apid_events_sessions(void);
/* a session of the caller's scope and topic, counted, before its upgrade;
 * it gets a new session id */
struct sub *
apid_events_sub_new(const struct identity *, const char *topic, size_t);
const char *apid_events_sub_session(const struct sub *);
const char *apid_events_sub_scope(const struct sub *);
/* the leader granted the session's slot: its end releases it */
void apid_events_sub_slot(struct sub *);
/* a session that will not start (refused, client gone): uncounted */
void apid_events_sub_drop(struct sub *);
/* http_upgrade_cb: the session starts on the handed-over connection */
void apid_events_sub_upgraded(struct bufferevent *, void *sub);

/* closes (4000) this node's running sessions of scope; their number */
size_t apid_events_purge(const char *scope);
/* running sessions, and sessions ended for a reason since start */
size_t apid_events_active(void);
uint64_t apid_events_closed(enum ws_end_reason);

#endif
