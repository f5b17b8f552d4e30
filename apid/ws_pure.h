/*
 * Pure pieces of the WebSocket handshake (RFC 6455 §4.2): the checks of
 * the upgrade headers and the Sec-WebSocket-Accept value.
 */
#ifndef APID_WS_PURE_H
#define APID_WS_PURE_H

#include <stdbool.h>
#include <stddef.h>

/* base64 of a SHA-1 is 28 characters */
#define WS_ACCEPT_LEN 28

/* base64(SHA-1(key || GUID)) into out (NUL-terminated) */
void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);
/* a comma-separated header value lists token (case-insensitive) */
bool ws_header_has_token(const char *v, size_t len, const char *token);
/* a Sec-WebSocket-Key: base64 of 16 bytes */
bool ws_key_valid(const char *key, size_t len);

#endif
