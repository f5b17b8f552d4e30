/*
 * The route table of API.md §21: every path with its methods (in the
 * order the Allow header lists them), binding, authentication, routing and
 * rate-limit buckets.  A path exists on exactly one binding.
 */
#ifndef APID_ROUTES_H
#define APID_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

enum route_id {
	R_SET = 0,
	R_GET,
	R_DELETE,
	R_ITERATE,
	R_SETNX,
	R_CAS,
	R_BUMP,
	R_CACHE_SET,
	R_CACHE_GET,
	R_CACHE_DELETE,
	R_CACHE_SETNX,
	R_CACHE_CAS,
	R_CACHE_ITERATE,
	R_BLOB_SET,
	R_BLOB_GET,
	R_BLOB_DELETE,
	R_BLOB_ITERATE,
	R_EVENTS,
	R_EVENTS_SUBSCRIBE,
	R_EVENTS_PURGE,
	R_EVENTS_SHAKE,
	R_PING,
	R_LIMITS,
	R_ALIAS_SET,
	R_ALIAS_DELETE,
	R_ALIAS_LIST,
	R_JOIN,
	R_ADMIN_API_CREATE,
	R_ADMIN_API_DELETE,
	R_ADMIN_LIMITS_SET,
	R_ADMIN_LIMITS_GET,
	R_ADMIN_INSIGHT_ENTITY,
	R_ADMIN_INSIGHT_ENTITIES,
	R_ADMIN_INSIGHT_BY_ALIAS,
	R_ADMIN_METRICS_OPS,
	R_ADMIN_CLUSTER,
	R_ADMIN_CLUSTER_REMOVE,
	R_ADMIN_CLUSTER_TRANSFER,
	R_METRICS,
	R_INTERNAL_BLOB_DOWNLOAD,
	R_INTERNAL_REQUEST_SLOT,
	R_INTERNAL_RELEASE_SLOT,
	R_COUNT
};

enum route_binding {
	BIND_PUBLIC = 0,
	BIND_PRIVATE = 1,
};

enum route_auth {
	AUTH_NONE = 0, /* IP filter only */
	AUTH_ANY, /* root, entity key or alias */
	AUTH_ENTITY, /* entity key only */
	AUTH_ROOT, /* root key only, else 401 */
};

/* method bits; the Allow text keeps the order of §21 */
#define M_GET 0x01u
#define M_HEAD 0x02u
#define M_POST 0x04u
#define M_DELETE 0x08u

/* per-IP category; RL_EXEMPT for internal routes */
#define RL_EXEMPT (-1)

enum route_key_bucket {
	KB_NONE = 0,
	KB_DATA,
	KB_EVENTS,
};

/* ops counters of §19.1 */
enum ops_class {
	OPS_NONE = -1,
	OPS_VS = 0,
	OPS_CACHE,
	OPS_EVENTS,
	OPS_SUBSCRIBERS,
	OPS_BLOBS,
	OPS_SYSTEM,
	OPS_COUNT
};

struct route {
	enum route_id id;
	const char *path; /* full path */
	unsigned methods;
	const char *allow; /* "GET, HEAD" */
	enum route_binding binding;
	enum route_auth auth;
	bool leader; /* leader-only (§4) */
	bool consistency; /* accepts ?consistency (+C) */
	int category; /* enum cfg_rl_category or RL_EXEMPT */
	enum route_key_bucket key_bucket;
	enum ops_class ops;
	const char *metrics_class; /* label of §19.2 */
};

enum route_match {
	ROUTE_FOUND = 0,
	ROUTE_NOT_FOUND,
	ROUTE_BAD_METHOD,
};

/* method name -> M_* bit, 0 when not one we know */
unsigned route_method_bit(const char *method);

/*
 * Exact-path lookup on a binding.  *r is set for FOUND and BAD_METHOD
 * (then r->allow is the Allow header value).
 */
enum route_match route_lookup(const char *path, size_t len, enum route_binding,
    unsigned method_bit, const struct route **r);

const struct route *route_by_id(enum route_id);

#endif
