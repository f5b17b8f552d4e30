/*
 * Events (API.md §14): the publish route and the pure rules shared with
 * the subscribe side.
 */
#ifndef APID_EVENTS_H
#define APID_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APID_EVENT_TOPIC_MAX 256
#define APID_EVENT_DATA_MAX 65536

/* 1-256 bytes, no NUL */
bool apid_event_topic_valid(const char *, size_t);
/* whole seconds from now until window_end (ns), at least 1 */
int64_t apid_event_retry_after(int64_t window_end, int64_t now);

#endif
