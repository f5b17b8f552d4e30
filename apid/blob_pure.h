/*
 * Pure pieces of the blob routes (API.md §13): the metadata record of
 * READ_BLOB_GET, media types, HTTP dates, entity tags and byte ranges.
 * No I/O, so unit tests link them alone.
 */
#ifndef APID_BLOB_PURE_H
#define APID_BLOB_PURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOB_CTYPE_MAX 255
#define BLOB_CTYPE_DEFAULT "application/octet-stream"
#define BLOB_HASH_LEN 64
/* "Sun, 06 Nov 1994 08:49:37 GMT" and a NUL */
#define BLOB_DATE_LEN 30

/* the record of READ_BLOB_GET (proto/command.h); pointers into it */
struct blob_meta {
	uint8_t state; /* 0 live, 1 tombstoned */
	int64_t uploaded_at; /* ns */
	int64_t tombstoned_at;
	const uint8_t *owner, *node_id, *node_uuid, *hash, *name, *ctype;
	size_t owner_len, node_id_len, node_uuid_len, hash_len, name_len,
	    ctype_len;
	uint64_t size;
};

/* 0, or -1 when malformed */
int blob_meta_decode(const uint8_t *, size_t, struct blob_meta *);

/* type "/" subtype *( ";" parameter ), at most BLOB_CTYPE_MAX bytes */
bool blob_media_type_valid(const char *, size_t);

/* IMF-fixdate of a time in ns since the epoch; out >= BLOB_DATE_LEN */
void blob_http_date(int64_t ns, char *out, size_t outlen);

/* If-None-Match value against a bare 64-hex ETag (weak comparison) */
bool blob_etag_matches(const char *hdr, size_t len, const char *hash);

enum blob_range {
	BLOB_RANGE_WHOLE = 0, /* no usable single range: the whole blob */
	BLOB_RANGE_PART, /* [*first, *last] */
	BLOB_RANGE_UNSATISFIABLE, /* 416 */
};

/* a Range value of one bytes range (a-b, a-, -n) over size bytes */
enum blob_range blob_range_parse(const char *hdr, size_t len, uint64_t size,
    uint64_t *first, uint64_t *last);

#endif
