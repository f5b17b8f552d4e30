/*
 * The WebSocket handshake's computations, kept apart from the session so
 * that a unit test can check them against RFC 6455's example.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "apid/ws_pure.h"
#include "common/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24

void
ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	EVP_MD_CTX *mc;

	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mc, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(mc, key, len) != 1 ||
	    EVP_DigestUpdate(mc, WS_GUID, strlen(WS_GUID)) != 1 ||
	    EVP_DigestFinal_ex(mc, md, &mdlen) != 1 || mdlen != sizeof(md))
		fatalx("%s: sha1", __func__);
	EVP_MD_CTX_free(mc);
	if (EVP_EncodeBlock((unsigned char *)out, md, sizeof(md)) !=
	    WS_ACCEPT_LEN)
		fatalx("%s: base64 length", __func__);
	out[WS_ACCEPT_LEN] = '\0';
}

bool
ws_header_has_token(const char *v, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0, start, end;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tlen &&
		    strncasecmp(v + start, token, tlen) == 0)
			return true;
	}
	return false;
}

bool
ws_key_valid(const char *key, size_t len)
{
	if (len != WS_KEY_LEN || key[22] != '=' || key[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '+' &&
		    key[i] != '/')
			return false;
	return true;
}
