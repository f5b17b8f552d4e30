/*
 * Names of blob files (CONFIG.md layout, API.md §13.5) and the internal
 * download URL (§18.1).  Pure: unit-tested alone.
 *
 *   <data_dir>/<scope>/<sha256hex(key)>   a blob
 *   <data_dir>/.tmp/<name>                uploads and fetches in progress
 */
#ifndef BLOBD_PATHS_H
#define BLOBD_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOB_TMP_DIR ".tmp"
#define BLOB_KEY_MAX 4096
#define BLOB_SCOPE_MAX 64
/* "<scope>/<64 hex>" */
#define BLOB_REL_MAX (BLOB_SCOPE_MAX + 1 + 64 + 1)
/* ".tmp/<prefix>-<16 hex>" */
#define BLOB_TMP_MAX 40
#define BLOB_PATH_DOWNLOAD "/db/internal/v1/blob/download"

/* 1-64 of A-Z a-z 0-9 _ - (a UUID or root_prefix) */
bool blob_scope_ok(const char *scope);
/* 1-4096 bytes, no NUL */
bool blob_key_ok(const uint8_t *key, size_t len);
/* the file name of a key: lowercase hex SHA-256 */
void blob_name(const uint8_t *key, size_t len, char out[65]);
/* 64 lowercase hex digits: the shape of every blob file name */
bool blob_name_ok(const char *name);
/* "<scope>/<sha256hex(key)>"; -1 when the scope is not acceptable */
int blob_rel(
    const char *scope, const uint8_t *key, size_t len, char out[BLOB_REL_MAX]);
/* ".tmp/<prefix>-<16 hex of id>" */
void blob_tmp_rel(const char *prefix, uint64_t id, char out[BLOB_TMP_MAX]);
/* percent-encodes every byte but A-Z a-z 0-9 - . _ ~; -1 when it does
 * not fit (out needs 3 * len + 1) */
int blob_urlencode(const uint8_t *in, size_t len, char *out, size_t outlen);
/* "<base>/db/internal/v1/blob/download?key=<key>&scope=<scope>"; the
 * caller frees; NULL when the scope is not acceptable */
char *blob_download_url(
    const char *base, const char *scope, const uint8_t *key, size_t len);

#endif
