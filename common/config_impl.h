/*
 * Internals shared by the configuration loader's files: config.c (key
 * table, validation, overrides, rules across keys), config_yaml.c (YAML
 * text to a tree with line numbers), config_value.c (syntax of durations,
 * sizes, addresses, CIDR ranges, paths) and config_env.c (environment
 * checks, warnings, dump).  Not for use outside common/config*.c.
 */
#ifndef COMMON_CONFIG_IMPL_H
#define COMMON_CONFIG_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_DEPTH_MAX 32
#define CFG_ERRORS_MAX 1000
#define CFG_PATH_MAX 4096
#define CFG_N_KEYS 27

/* where a value came from: src 0 is the file, n > 0 the n-th override */
struct cfg_loc {
	int src;
	int line;
};

/* key locations kept with a loaded configuration for later messages */
struct cfg_where {
	struct cfg_loc key[64];
	struct cfg_loc *node; /* 4 per node: mapping and bindings */
};

enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_kind kind;
	struct cfg_loc loc;
	bool bad; /* already reported: validation skips it */
	bool quoted; /* scalar was quoted or a block scalar */
	char *text; /* scalar */
	size_t len;
	struct ynode **items; /* map: key, value, key, value ...; seq */
	size_t n, cap;
};

enum key_type {
	KT_STR,
	KT_SECRET,
	KT_PREFIX,
	KT_PATH,
	KT_BOOL,
	KT_INT,
	KT_DUR,
	KT_SIZE,
	KT_LEVEL,
	KT_NETS,
	KT_NETS_ANY,
};

struct key_spec {
	const char *path;
	enum key_type type;
	size_t off;
	int64_t min, max;
	bool required;
};

/* indexes into cfg_key_specs and cfg_where.key */
enum {
	K_SECRET = 0,
	K_LEADER,
	K_PREFIX,
	K_HOME,
	K_USER,
	K_SOCKET,
	K_CERT,
	K_KEY,
	K_CA,
	K_SKIP,
	K_MUST_TLS,
	K_PROXIES,
	K_PERMITTED,
	K_HEARTBEAT = 22,
	K_ELECTION = 23,
	K_RATE = 30, /* 2 per category: limit, burst */
	K_NODES = 40,
};

extern const struct key_spec cfg_key_specs[CFG_N_KEYS];
extern const char *const cfg_rl_names[CFG_RL_COUNT];
extern const char *const cfg_node_keys[3];

/* state of one cfg_parse */
struct cfg_ctx {
	const char *name;
	struct cfg_errors *errs;
	size_t n_errs_start;
	struct cfg *cfg;
	struct cfg_where *where;
	char *basedir;
	bool as_root;
	bool seen[CFG_N_KEYS];
	bool node_bad; /* some node failed: skip node cross checks */
};

/* config.c */
void cfg_ctx_err(struct cfg_ctx *, struct cfg_loc, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void cfg_msg(struct cfg_errors *, const struct cfg *, struct cfg_loc,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
char *cfg_xstrdup(const char *);
void *cfg_xcalloc(size_t, size_t);
struct cfg_addr *cfg_node_addr(struct cfg_node *, size_t kind);
void cfg_binding_key(const struct cfg_node *, size_t kind, char *, size_t);

/* config_yaml.c */
struct ynode *cfg_ynode_new(enum ynode_kind, struct cfg_loc);
struct ynode *cfg_ynode_scalar(struct cfg_loc, const char *, size_t, bool);
void cfg_ynode_free(struct ynode *);
void cfg_ynode_append(struct ynode *parent, struct ynode *child);
int cfg_yaml_tree(struct cfg_ctx *, const char *buf, size_t len, int src,
    const char *base, struct ynode **root);

/* config_value.c */
bool cfg_all_digits(const char *);
bool cfg_looks_float(const char *);
int cfg_parse_int(const char *, int64_t *);
bool cfg_valid_hostname(const char *);
bool cfg_addr_is_wildcard(const struct cfg_addr *);
int cfg_host_ip(const char *host, uint8_t bin[16]);
void cfg_host_canon(const char *host, char *out, size_t size);
bool cfg_host_is_loopback(const char *host);
void cfg_path_normalize(char *path);
void cfg_fmt_duration(int64_t ms, char *buf, size_t size);
void cfg_fmt_size(int64_t bytes, char *buf, size_t size);

#endif
