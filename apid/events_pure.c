/*
 * Events' pure rules (API.md §14.1, §14.3), linkable by unit tests.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apid/events_pure.h"
#include "apid/http_parse.h"

#define NS_PER_S 1000000000LL

bool
apid_event_topic_valid(const char *t, size_t len)
{
	return len >= 1 && len <= APID_EVENT_TOPIC_MAX &&
	    memchr(t, '\0', len) == NULL;
}

int64_t
apid_event_retry_after(int64_t window_end, int64_t now)
{
	int64_t left;

	if (window_end <= now)
		return 1;
	left = window_end - now;
	return left / NS_PER_S + (left % NS_PER_S != 0 ? 1 : 0);
}

void
apid_event_time(int64_t ns, char out[APID_EVENT_TIME_MAX])
{
	int64_t sec = ns / NS_PER_S, frac = ns % NS_PER_S;
	char digits[10];
	struct tm tm;
	time_t t;
	size_t n;
	int len;

	if (frac < 0) {
		frac += NS_PER_S;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	len = (int)strftime(out, APID_EVENT_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0) {
		snprintf(digits, sizeof(digits), "%09lld", (long long)frac);
		n = 9;
		while (n > 0 && digits[n - 1] == '0')
			n--;
		len += snprintf(out + len, APID_EVENT_TIME_MAX - (size_t)len,
		    ".%.*s", (int)n, digits);
	}
	snprintf(out + len, APID_EVENT_TIME_MAX - (size_t)len, "Z");
}

void
apid_event_frame(struct pbuf *b, const uint8_t *topic, size_t tlen,
    const uint8_t *data, size_t dlen, int64_t emitted_at)
{
	char ts[APID_EVENT_TIME_MAX];

	apid_event_time(emitted_at, ts);
	pb_add_raw(b, "{\"topic\":", 9);
	json_put_str(b, topic, tlen);
	pb_add_raw(b, ",\"data\":", 8);
	pb_add_raw(b, data, dlen);
	pb_add_raw(b, ",\"emitted_at\":\"", 15);
	pb_add_raw(b, ts, strlen(ts));
	pb_add_raw(b, "\"}", 2);
}
