/*
 * Pure helpers of the HTTP layer (API.md §2-§3): query decoding, integer
 * syntax, UTF-8 checks, credential extraction, key rules, uptime text,
 * JSON output and error bodies.  No libevent, no IPC: unit-tested alone.
 */
#ifndef APID_HTTP_PARSE_H
#define APID_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

#define HTTP_KEY_MAX 4096

/* strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF */
bool http_utf8_valid(const uint8_t *, size_t);

/* plain decimal, optional '-', no '+', no spaces, within int64 */
int http_parse_int64(const char *, size_t, int64_t *);

/*
 * Looks up the first occurrence of `name` in a raw query string (without
 * the '?').  Names and values are percent-decoded, '+' is a space.
 * Returns 1 and a malloc'd NUL-terminated value (caller frees), 0 when the
 * name is absent, -1 when the value has a bad escape or is not UTF-8.
 */
int http_query_get(
    const char *query, size_t qlen, const char *name, char **val, size_t *vlen);

/*
 * Credential of §3.1 from an Authorization value: a leading "Bearer"
 * (any case) followed by spaces is removed, surrounding whitespace is
 * trimmed.  0 with the token span, -1 when nothing is left.
 */
int http_bearer_token(
    const char *hdr, size_t len, const char **tok, size_t *toklen);

/* key rule of §2.6: 0 when valid, else 400 (empty or NUL) or 413 */
int http_key_check(const uint8_t *key, size_t len);
/* iterate prefix: 0-4096 bytes, no NUL; 0, 400 or 413 */
int http_prefix_check(const uint8_t *prefix, size_t len);

/* "2h34m12s", "5m0s", "12s", "0s" */
void http_format_uptime(int64_t secs, char *buf, size_t len);

/* reason phrase of a status code */
const char *http_status_text(int status);

/* shortest decimal text of a rate that reads back as the same double */
void http_format_rate(double, char *buf, size_t len);

/* JSON output: a quoted, escaped string (invalid UTF-8 becomes U+FFFD) */
void json_put_str(struct pbuf *, const void *s, size_t len);
void json_put_cstr(struct pbuf *, const char *);

/* {"error_type":"TYPE","message":"msg"} followed by a line feed */
void http_error_body(struct pbuf *, const char *type, const char *msg);

#endif
