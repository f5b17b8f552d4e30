/*
 * URLs and addresses of configured nodes (API.md §4, §17): the base URL
 * of a node's binding, the Location of a redirect, a node's Raft address,
 * and the checks of join's query parameters.  Pure: unit-tested alone.
 */
#ifndef COMMON_CLUSTER_URL_H
#define COMMON_CLUSTER_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* which of a node's two HTTP bindings (values match apid's route_binding) */
enum curl_binding {
	CURL_BIND_PUBLIC = 0,
	CURL_BIND_PRIVATE = 1,
};

/* "<scheme>://<host>:<port>"; room for any configured node */
#define CURL_BASE_MAX (CFG_HOST_MAX + 32)
/* "host:port" with brackets for IPv6 */
#define CURL_ADDR_MAX (CFG_HOST_MAX + 16)

/*
 * "<scheme>://<host>:<port>" of a node's binding: host is client_domain
 * when set, else the binding's host (IPv6 in brackets).  -1 when it does
 * not fit.
 */
int curl_node_base(const struct cfg_node *, enum curl_binding, bool tls,
    char *out, size_t outlen);

/*
 * The Location of §4: the node's base URL, then path and query byte for
 * byte ('?' only when the request had one: query != NULL).  -1 when it
 * does not fit.
 */
int curl_location(const struct cfg_node *, enum curl_binding, bool tls,
    const char *path, size_t path_len, const char *query, size_t query_len,
    char *out, size_t outlen);

/* the address peers use for a node's Raft transport (client_domain:port
 * or raft_binding, IPv6 in brackets) */
void curl_raft_address(const struct cfg_node *, char *out, size_t outlen);

enum join_param {
	JOIN_OK = 0,
	JOIN_BAD_ID, /* followerId missing or not a configured node */
	JOIN_BAD_ADDR, /* followerAddr missing or not that node's */
};

/*
 * join's parameters (§17.1): id a configured node, addr its raft_binding
 * "host:port" (IPv6 with or without brackets) or client_domain with the
 * binding's port.  NULL means absent.  On JOIN_OK *node is set and canon
 * (CURL_ADDR_MAX) holds the address as raftd takes it (IPv6 bracketed).
 */
enum join_param curl_join_check(const struct cfg *, const char *id,
    const char *addr, const struct cfg_node **node, char *canon);

/* an absolute http(s) URL split for the outgoing client */
struct curl_parts {
	bool tls; /* https */
	char host[CFG_HOST_MAX + 1]; /* without brackets */
	bool ipv6;
	unsigned port;
	const char *target; /* path and query, into the URL; "/" if empty */
};

/* "http(s)://host[:port][/path[?query]]"; -1 when malformed */
int curl_parse(const char *url, struct curl_parts *);

#endif
