#include <string.h>

#include "apid/routes.h"

#define V1 "/db/api/v1/"
#define INTERNAL "/db/internal/v1/"

#define GH (M_GET | M_HEAD)
#define PD (M_POST | M_DELETE)
#define GP (M_GET | M_POST)

#define PUB BIND_PUBLIC
#define PRIV BIND_PRIVATE

/* in the order of API.md §21 */
static const struct route routes[R_COUNT] = {
	{ R_SET, V1 "set", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_GET, V1 "get", GH, "GET, HEAD", PUB, AUTH_ANY, false, true,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_DELETE, V1 "delete", PD, "POST, DELETE", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_ITERATE, V1 "iterate/prefix", GH, "GET, HEAD", PUB, AUTH_ANY, false,
	    true, CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_SETNX, V1 "setnx", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_CAS, V1 "cas", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_BUMP, V1 "bump", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_VS, "values" },
	{ R_CACHE_SET, V1 "cache/set", M_POST, "POST", PUB, AUTH_ANY, true,
	    false, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_CACHE_GET, V1 "cache/get", GH, "GET, HEAD", PUB, AUTH_ANY, false,
	    true, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_CACHE_DELETE, V1 "cache/delete", PD, "POST, DELETE", PUB, AUTH_ANY,
	    true, false, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_CACHE_SETNX, V1 "cache/setnx", M_POST, "POST", PUB, AUTH_ANY, true,
	    false, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_CACHE_CAS, V1 "cache/cas", M_POST, "POST", PUB, AUTH_ANY, true,
	    false, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_CACHE_ITERATE, V1 "cache/iterate/prefix", GH, "GET, HEAD", PUB,
	    AUTH_ANY, false, true, CFG_RL_CACHE, KB_DATA, OPS_CACHE, "cache" },
	{ R_BLOB_SET, V1 "blob/set", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_VALUES, KB_DATA, OPS_BLOBS, "blobs" },
	{ R_BLOB_GET, V1 "blob/get", GH, "GET, HEAD", PUB, AUTH_ANY, false,
	    true, CFG_RL_VALUES, KB_DATA, OPS_BLOBS, "blobs" },
	{ R_BLOB_DELETE, V1 "blob/delete", PD, "POST, DELETE", PUB, AUTH_ANY,
	    true, false, CFG_RL_VALUES, KB_DATA, OPS_BLOBS, "blobs" },
	{ R_BLOB_ITERATE, V1 "blob/iterate/prefix", GH, "GET, HEAD", PUB,
	    AUTH_ANY, false, true, CFG_RL_VALUES, KB_DATA, OPS_BLOBS, "blobs" },
	{ R_EVENTS, V1 "events", M_POST, "POST", PUB, AUTH_ANY, true, false,
	    CFG_RL_EVENTS, KB_EVENTS, OPS_EVENTS, "events" },
	{ R_EVENTS_SUBSCRIBE, V1 "events/subscribe", M_GET, "GET", PUB,
	    AUTH_ANY, false, false, CFG_RL_EVENTS, KB_EVENTS, OPS_SUBSCRIBERS,
	    "subscribe" },
	{ R_EVENTS_PURGE, V1 "events/purge", PD, "POST, DELETE", PUB, AUTH_ANY,
	    false, false, CFG_RL_EVENTS, KB_EVENTS, OPS_EVENTS, "events" },
	{ R_EVENTS_SHAKE, V1 "events/shake", PD, "POST, DELETE", PUB, AUTH_ANY,
	    true, false, CFG_RL_EVENTS, KB_EVENTS, OPS_EVENTS, "events" },
	{ R_PING, V1 "ping", GH, "GET, HEAD", PUB, AUTH_ANY, false, false,
	    CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_LIMITS, V1 "limits", GH, "GET, HEAD", PUB, AUTH_ANY, false, true,
	    CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_ALIAS_SET, V1 "alias/set", GP, "GET, POST", PUB, AUTH_ENTITY, true,
	    false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_ALIAS_DELETE, V1 "alias/delete", M_POST, "POST", PUB, AUTH_ENTITY,
	    true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_ALIAS_LIST, V1 "alias/list", GH, "GET, HEAD", PUB, AUTH_ANY, false,
	    false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_JOIN, V1 "join", GP, "GET, POST", PRIV, AUTH_ROOT, true, false,
	    CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "system" },
	{ R_ADMIN_API_CREATE, V1 "admin/api/create", M_POST, "POST", PRIV,
	    AUTH_ROOT, true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_API_DELETE, V1 "admin/api/delete", M_POST, "POST", PRIV,
	    AUTH_ROOT, true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_LIMITS_SET, V1 "admin/limits/set", M_POST, "POST", PRIV,
	    AUTH_ROOT, true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_LIMITS_GET, V1 "admin/limits/get", M_POST, "POST", PRIV,
	    AUTH_ROOT, false, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_INSIGHT_ENTITY, V1 "admin/insight/entity", M_POST, "POST",
	    PRIV, AUTH_ROOT, false, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_INSIGHT_ENTITIES, V1 "admin/insight/entities", M_POST, "POST",
	    PRIV, AUTH_ROOT, false, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_INSIGHT_BY_ALIAS, V1 "admin/insight/entity_by_alias", M_POST,
	    "POST", PRIV, AUTH_ROOT, false, false, CFG_RL_SYSTEM, KB_NONE,
	    OPS_SYSTEM, "admin" },
	{ R_ADMIN_METRICS_OPS, V1 "admin/metrics/ops", GH, "GET, HEAD", PRIV,
	    AUTH_ROOT, false, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_CLUSTER, V1 "admin/cluster", GH, "GET, HEAD", PRIV, AUTH_ROOT,
	    false, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM, "admin" },
	{ R_ADMIN_CLUSTER_REMOVE, V1 "admin/cluster/remove", M_POST, "POST",
	    PRIV, AUTH_ROOT, true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_ADMIN_CLUSTER_TRANSFER, V1 "admin/cluster/transfer", M_POST, "POST",
	    PRIV, AUTH_ROOT, true, false, CFG_RL_SYSTEM, KB_NONE, OPS_SYSTEM,
	    "admin" },
	{ R_METRICS, "/metrics", GH, "GET, HEAD", PRIV, AUTH_NONE, false, false,
	    CFG_RL_DEFAULT, KB_NONE, OPS_NONE, "metrics" },
	{ R_INTERNAL_BLOB_DOWNLOAD, INTERNAL "blob/download", GH, "GET, HEAD",
	    PRIV, AUTH_ROOT, false, false, RL_EXEMPT, KB_NONE, OPS_BLOBS,
	    "internal" },
	{ R_INTERNAL_REQUEST_SLOT, INTERNAL "subscriptions/request_slot",
	    M_POST, "POST", PRIV, AUTH_ROOT, true, false, RL_EXEMPT, KB_NONE,
	    OPS_NONE, "internal" },
	{ R_INTERNAL_RELEASE_SLOT, INTERNAL "subscriptions/release_slot",
	    M_POST, "POST", PRIV, AUTH_ROOT, true, false, RL_EXEMPT, KB_NONE,
	    OPS_NONE, "internal" },
};

unsigned
route_method_bit(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return M_GET;
	if (strcmp(method, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(method, "POST") == 0)
		return M_POST;
	if (strcmp(method, "DELETE") == 0)
		return M_DELETE;
	return 0;
}

enum route_match
route_lookup(const char *path, size_t len, enum route_binding binding,
    unsigned method_bit, const struct route **r)
{
	size_t i;

	for (i = 0; i < R_COUNT; i++) {
		if (routes[i].binding != binding ||
		    strlen(routes[i].path) != len ||
		    memcmp(routes[i].path, path, len) != 0)
			continue;
		*r = &routes[i];
		if ((routes[i].methods & method_bit) == 0)
			return ROUTE_BAD_METHOD;
		return ROUTE_FOUND;
	}
	return ROUTE_NOT_FOUND;
}

const struct route *
route_by_id(enum route_id id)
{
	if ((int)id < 0 || id >= R_COUNT)
		return NULL;
	return &routes[id];
}
