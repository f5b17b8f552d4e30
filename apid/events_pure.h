/*
 * Pure rules of events shared by publish and delivery: topic validity,
 * Retry-After of a refused publish, the emitted_at text and the frame.
 */
#ifndef APID_EVENTS_PURE_H
#define APID_EVENTS_PURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

#define APID_EVENT_TOPIC_MAX 256
#define APID_EVENT_DATA_MAX 65536
/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and room for wide years */
#define APID_EVENT_TIME_MAX 48

/* 1-256 bytes, no NUL */
bool apid_event_topic_valid(const char *, size_t);
/* whole seconds from now until window_end (ns), at least 1 */
int64_t apid_event_retry_after(int64_t window_end, int64_t now);
/* RFC 3339 UTC of ns since the epoch, fraction without trailing zeros */
void apid_event_time(int64_t ns, char out[APID_EVENT_TIME_MAX]);
/* {"topic":...,"data":<data>,"emitted_at":"..."} */
void apid_event_frame(struct pbuf *, const uint8_t *topic, size_t tlen,
    const uint8_t *data, size_t dlen, int64_t emitted_at);

#endif
