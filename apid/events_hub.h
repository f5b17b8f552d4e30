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

struct sub;

/* opens the stream; sessions can be added from now on */
void apid_events_start(struct apid *);
/* sessions now open, counted from the handshake's step 6 */
size_t apid_events_sessions(void);
/* a session of scope and topic, counted, before its upgrade */
struct sub *apid_events_sub_new(const char *scope, const char *topic, size_t);
/* http_upgrade_cb: the session starts on the handed-over connection */
void apid_events_sub_upgraded(struct bufferevent *, void *sub);

#endif
