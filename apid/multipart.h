/*
 * A streaming multipart/form-data parser (RFC 7578, RFC 2046 §5.1).  Pure:
 * no I/O, no allocation beyond the parser itself.  Bytes arrive in feeds
 * of any size; part data leaves through callbacks in pieces, so a part is
 * never held whole.  Part headers are bounded (MP_HEAD_MAX); the preamble
 * and the epilogue are ignored.
 */
#ifndef APID_MULTIPART_H
#define APID_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define MP_BOUNDARY_MAX 70
/* the header block of one part, its blank line included */
#define MP_HEAD_MAX 8192

/* what a part's headers said; pointers valid during on_begin only */
struct mp_part {
	bool has_name;
	const char *name;
	size_t name_len;
	bool has_filename;
	const char *filename;
	size_t filename_len;
	bool has_content_type;
	const char *content_type; /* trimmed, as sent */
	size_t content_type_len;
};

/* each returns 0 to go on, anything else stops the parse (MP_STOPPED) */
struct mp_callbacks {
	int (*on_begin)(void *arg, const struct mp_part *);
	int (*on_data)(void *arg, const char *, size_t);
	int (*on_end)(void *arg);
};

enum mp_result {
	MP_OK = 0,
	MP_ERROR = -1, /* malformed; mp_error() says why */
	MP_STOPPED = -2, /* a callback asked to stop */
};

struct mp;

/*
 * The boundary of a Content-Type value: 1 when it is multipart/form-data
 * with a valid boundary (copied NUL-terminated into out, of at least
 * MP_BOUNDARY_MAX + 1 bytes), 0 when it is another media type, -1 when it
 * is multipart/form-data without a usable boundary.
 */
int mp_content_type(const char *v, size_t len, char *out, size_t outlen);

struct mp *mp_new(const char *boundary, const struct mp_callbacks *, void *arg);
void mp_free(struct mp *);
/* enum mp_result; after an error or a stop every feed fails again */
int mp_feed(struct mp *, const char *, size_t);
/* the body ended: MP_ERROR unless the closing boundary was seen */
int mp_finish(struct mp *);
/* the closing boundary was seen */
bool mp_done(const struct mp *);
const char *mp_error(const struct mp *);

#endif
