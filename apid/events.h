/*
 * Events (API.md §14): the publish route, the subscribe handshake and the
 * delivery of the applied-event stream to this node's sessions.
 */
#ifndef APID_EVENTS_H
#define APID_EVENTS_H

#include "apid/events_pure.h"
#include "apid/server.h"

/* subscribe (events_subscribe.c) */
void apid_events_subscribe(struct areq *);
/* events/purge and events/shake (events_shake.c) */
apid_handler apid_events_admin_handler(enum route_id);
/* node stopping: every session closes with 1001 */
void apid_events_stop(struct apid *);

#endif
