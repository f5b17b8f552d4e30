/*
 * Strict decoder for JSON request bodies (API.md §2.5): exactly one object,
 * nothing after it but whitespace, no duplicate member names at any depth,
 * valid UTF-8, bounded nesting and at most JB_MEMBERS_MAX members per
 * object.  Top-level members are kept with their decoded string or
 * integer; nested values only as raw text spans.
 */
#ifndef APID_JSON_BODY_H
#define APID_JSON_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_DEPTH_MAX 64
#define JB_MEMBERS_MAX 10000
#define JB_ERR_MAX 160

enum jb_type {
	JB_NULL = 0,
	JB_BOOL,
	JB_NUMBER,
	JB_STRING,
	JB_ARRAY,
	JB_OBJECT,
};

struct jb_member {
	const char *name; /* decoded, NUL-terminated (may hold NUL) */
	size_t name_len;
	enum jb_type type;
	const char *str; /* JB_STRING: decoded, NUL-terminated */
	size_t str_len;
	bool is_int; /* JB_NUMBER without fraction/exponent in int64 */
	int64_t num;
	bool boolean;
	const char *raw; /* the value as sent */
	size_t raw_len;
};

struct jb_doc {
	struct jb_member *m;
	size_t n;
	size_t cap;
	char *arena; /* decoded strings */
	size_t arena_len;
	char err[JB_ERR_MAX];
};

/* 0 on success; -1 with doc->err set (the body is not acceptable JSON) */
int jb_parse(struct jb_doc *, const char *buf, size_t len);
void jb_free(struct jb_doc *);

/* top-level member, NULL when absent */
const struct jb_member *jb_find(const struct jb_doc *, const char *name);

/*
 * Typed access.  1 when present, 0 when absent or null, -1 when of the
 * wrong type (doc->err then names the member).
 */
int jb_string(struct jb_doc *, const char *name, const char **s, size_t *len);
int jb_int(struct jb_doc *, const char *name, int64_t *);

#endif
