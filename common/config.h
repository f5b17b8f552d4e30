/*
 * The configuration file of CONFIG.md: loading with libyaml, validation,
 * defaults, -D overrides.  Durations are kept in milliseconds, sizes in
 * bytes.  Every problem found is reported as "<file>:<line>: <key>: <problem>"
 * (or "-D:<n>: <key>: <problem>" for an override).
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_ID_MAX 64
#define CFG_HOST_MAX 255

struct cfg_addr {
	char host[CFG_HOST_MAX + 1]; /* without brackets for IPv6 */
	uint16_t port;
	bool ipv6; /* host is an IPv6 literal */
};

struct cfg_node {
	char id[CFG_ID_MAX + 1];
	struct cfg_addr public_binding;
	struct cfg_addr private_binding;
	struct cfg_addr raft_binding;
	char *client_domain; /* NULL when absent */
	int line; /* line of the node's mapping */
};

enum cfg_rl_category {
	CFG_RL_VALUES = 0,
	CFG_RL_CACHE,
	CFG_RL_EVENTS,
	CFG_RL_SYSTEM,
	CFG_RL_DEFAULT,
	CFG_RL_COUNT
};

struct cfg_rate {
	double limit; /* requests per second */
	int64_t burst;
};

/* one entry of permitted_ips / trusted_proxies */
struct cfg_net {
	bool any; /* "*" (permitted_ips only) */
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, 4 or 16 bytes used */
	int prefix; /* 0..32 or 0..128 */
};

struct cfg_where;

struct cfg {
	char *file; /* path as given */
	char *instance_secret;
	char *default_leader;
	char *root_prefix;
	char *insid_home; /* absolute */
	char *user;
	char *control_socket; /* absolute, {node} not yet replaced */
	bool control_socket_set; /* given in the file */
	char *tls_cert; /* absolute or NULL */
	char *tls_key;
	char *tls_ca;
	bool client_skip_verify;
	bool server_must_use_tls;
	struct cfg_net *trusted_proxies;
	size_t n_trusted_proxies;
	struct cfg_net *permitted_ips;
	size_t n_permitted_ips;
	int64_t cache_standard_ttl_ms;
	int64_t cache_keys_ms;
	struct cfg_rate rate[CFG_RL_COUNT];
	int64_t sessions_max_connections;
	int64_t sessions_send_queue;
	int64_t events_replay_window_ms;
	int64_t blobs_max_size;
	int64_t blobs_gc_interval_ms;
	int64_t blobs_repair_interval_ms;
	int64_t limits_max_value_size;
	int64_t raft_heartbeat_interval_ms;
	int64_t raft_election_timeout_ms;
	int64_t raft_snapshot_threshold;
	int64_t raft_snapshot_trailing;
	int log_level; /* enum log_level */
	struct cfg_node *nodes; /* in file order */
	size_t n_nodes;
	struct cfg_where *where; /* private: key locations for messages */
};

struct cfg_errors {
	char **msgs;
	size_t n;
};

/*
 * Parses `len` bytes of YAML read from a file called `name` (used in
 * messages; relative paths in the file are resolved against its
 * directory), applies the overrides "dotted.key=value" in order, fills
 * defaults and checks every rule of CONFIG.md §2-§3 that needs no file
 * system access.  Returns 0 and fills *cfg, or -1 with every problem
 * appended to *errs (zero it first).  `as_root` selects the control_socket
 * default.  Relative paths given in overrides are resolved like those in
 * the file.
 */
int
cfg_parse(const char *name, const char *buf, size_t len, char *const *overrides,
    size_t n_overrides, bool as_root, struct cfg *cfg, struct cfg_errors *errs);

/* reads the file (at most 1 MiB) and calls cfg_parse */
int cfg_load(const char *path, char *const *overrides, size_t n_overrides,
    bool as_root, struct cfg *cfg, struct cfg_errors *errs);

/*
 * Checks what a start would check beyond the text: TLS files readable,
 * the certificate parses and tls.key matches it, user exists when as_root.
 * Appends to errs; -1 when anything failed.
 */
int cfg_check_environment(
    const struct cfg *, bool as_root, struct cfg_errors *errs);

/*
 * Checks that the certificate at tls.cert names the host each node is
 * reached by (client_domain, or the binding host: an IP needs an IP SAN).
 * Every node may hold its own certificate at that path, so a start checks
 * only its own node; node_id NULL checks every node, right when all nodes
 * share one certificate (one host, or insid -n on a shared file).
 * Appends to errs; -1 when anything failed.
 */
int cfg_check_node_tls(
    const struct cfg *, const char *node_id, struct cfg_errors *errs);

/* node by id, NULL if absent */
const struct cfg_node *cfg_node(const struct cfg *, const char *id);
/* [A-Za-z0-9_-]{1,CFG_ID_MAX}: node ids, prefixes and data scopes */
bool cfg_valid_id(const char *);
/* 8-4-4-4-12 hexadecimal digits */
bool cfg_uuid_shaped(const char *);
/* control socket path for a node ({node} replaced); caller frees */
char *cfg_control_socket(const struct cfg *, const char *node_id);
/* writes the effective configuration, every default filled in, as YAML */
void cfg_dump(const struct cfg *, FILE *);
/* matches an address (4 or 16 bytes) against a list; any ("*") only
 * counts when allow_any is set */
bool cfg_net_match(const struct cfg_net *, size_t n, int family,
    const uint8_t *addr, bool allow_any);
/* parses "a.b.c.d", "::1", "10.0.0.0/8" or "*" */
int cfg_net_parse(const char *, struct cfg_net *, bool allow_any);

/*
 * appends one message per node address, given as a literal IP, that
 * permitted_ips does not match (CONFIG.md §3: a warning, not an error);
 * returns how many were added
 */
int cfg_warnings(const struct cfg *, struct cfg_errors *out);

/* value syntax of CONFIG.md §1; each returns NULL or the problem */
const char *cfg_parse_duration(const char *, int64_t *ms);
const char *cfg_parse_size(const char *, int64_t *bytes);
const char *cfg_parse_addr(const char *, struct cfg_addr *);

void cfg_free(struct cfg *);
void cfg_errors_free(struct cfg_errors *);

#endif
