/*
 * Configuration file (CONFIG.md): the YAML text becomes a small tree
 * (config_yaml.c), -D overrides are grafted onto that tree, then one walk
 * over the key table below converts, range-checks and stores every value,
 * and the rules across keys run last.  Each tree node remembers where it
 * came from, the file or the n-th override, so every message names its
 * origin.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/log.h"

#define OFF(f) offsetof(struct cfg, f)
#define MS_H (3600 * 1000LL)
#define KIB 1024LL
#define MIB (1024 * 1024LL)

const struct key_spec cfg_key_specs[CFG_N_KEYS] = {
	{ "instance_secret", KT_SECRET, OFF(instance_secret), 0, 0, true },
	{ "default_leader", KT_STR, OFF(default_leader), 0, 0, true },
	{ "root_prefix", KT_PREFIX, OFF(root_prefix), 0, 0, false },
	{ "insid_home", KT_PATH, OFF(insid_home), 0, 0, true },
	{ "user", KT_STR, OFF(user), 0, 0, false },
	{ "control_socket", KT_PATH, OFF(control_socket), 0, 0, false },
	{ "tls.cert", KT_PATH, OFF(tls_cert), 0, 0, false },
	{ "tls.key", KT_PATH, OFF(tls_key), 0, 0, false },
	{ "tls.ca", KT_PATH, OFF(tls_ca), 0, 0, false },
	{ "client_skip_verify", KT_BOOL, OFF(client_skip_verify), 0, 0, false },
	{ "server_must_use_tls", KT_BOOL, OFF(server_must_use_tls), 0, 0,
	    false },
	{ "trusted_proxies", KT_NETS, OFF(trusted_proxies), 0, 0, false },
	{ "permitted_ips", KT_NETS_ANY, OFF(permitted_ips), 0, 0, false },
	{ "cache.standard_ttl", KT_DUR, OFF(cache_standard_ttl_ms), 1000,
	    8760 * MS_H, false },
	{ "cache.keys", KT_DUR, OFF(cache_keys_ms), 0, MS_H, false },
	{ "sessions.max_connections", KT_INT, OFF(sessions_max_connections), 1,
	    1000000, false },
	{ "sessions.send_queue", KT_INT, OFF(sessions_send_queue), 1, 65536,
	    false },
	{ "events.replay_window", KT_DUR, OFF(events_replay_window_ms), 1000,
	    MS_H, false },
	{ "blobs.max_size", KT_SIZE, OFF(blobs_max_size), 0, INT64_MAX, false },
	{ "blobs.gc_interval", KT_DUR, OFF(blobs_gc_interval_ms), 1000, MS_H,
	    false },
	{ "blobs.repair_interval", KT_DUR, OFF(blobs_repair_interval_ms), 1000,
	    MS_H, false },
	{ "limits.max_value_size", KT_SIZE, OFF(limits_max_value_size), KIB,
	    16 * MIB, false },
	{ "raft.heartbeat_interval", KT_DUR, OFF(raft_heartbeat_interval_ms),
	    10, 1000, false },
	{ "raft.election_timeout", KT_DUR, OFF(raft_election_timeout_ms), 100,
	    60000, false },
	{ "raft.snapshot_threshold", KT_INT, OFF(raft_snapshot_threshold), 16,
	    INT64_MAX, false },
	{ "raft.snapshot_trailing", KT_INT, OFF(raft_snapshot_trailing), 0,
	    1000000, false },
	{ "logging.level", KT_LEVEL, OFF(log_level), 0, 0, false },
};
_Static_assert(sizeof(cfg_key_specs) / sizeof(cfg_key_specs[0]) == CFG_N_KEYS,
    "CFG_N_KEYS");

const char *const cfg_rl_names[CFG_RL_COUNT] = { "values", "cache", "events",
	"system", "default" };
static const struct cfg_rate rl_defaults[CFG_RL_COUNT] = { { 1000, 2000 },
	{ 1000, 2000 }, { 200, 400 }, { 50, 100 }, { 20, 40 } };
const char *const cfg_node_keys[3] = { "public_binding", "private_binding",
	"raft_binding" };

/* ---- messages ---- */

static void
errs_push(struct cfg_errors *errs, char *msg)
{
	char **msgs;

	msgs = realloc(errs->msgs, (errs->n + 1) * sizeof(*msgs));
	if (msgs == NULL)
		fatal("%s", __func__);
	errs->msgs = msgs;
	errs->msgs[errs->n++] = msg;
}

static void
errs_vaddf(struct cfg_errors *errs, const char *name, struct cfg_loc loc,
    const char *key, const char *fmt, va_list ap)
{
	char prefix[512], body[1024], *msg;

	if (errs->n > CFG_ERRORS_MAX)
		return;
	if (errs->n == CFG_ERRORS_MAX) {
		if (asprintf(
			&msg, "%s: too many errors, stopping here", name) == -1)
			fatal("%s", __func__);
		errs_push(errs, msg);
		return;
	}
	if (loc.src > 0)
		snprintf(prefix, sizeof(prefix), "-D:%d", loc.src);
	else
		snprintf(prefix, sizeof(prefix), "%s:%d", name, loc.line);
	vsnprintf(body, sizeof(body), fmt, ap);
	if (asprintf(&msg, "%s: %s: %s", prefix, key, body) == -1)
		fatal("%s", __func__);
	/* keys and values come from the file: keep messages on one line */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	errs_push(errs, msg);
}

void
cfg_ctx_err(struct cfg_ctx *ctx, struct cfg_loc loc, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vaddf(ctx->errs, ctx->name, loc, key, fmt, ap);
	va_end(ap);
}

void
cfg_msg(struct cfg_errors *errs, const struct cfg *cfg, struct cfg_loc loc,
    const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vaddf(errs, cfg->file, loc, key, fmt, ap);
	va_end(ap);
}

char *
cfg_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("%s", __func__);
	return d;
}

void *
cfg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

/* ---- scalars ---- */

enum scalar_kind { SK_NULL, SK_BOOL, SK_INT, SK_FLOAT, SK_STR };

/* the core schema, with true/false as the only booleans */
static enum scalar_kind
scalar_kind(const struct ynode *n)
{
	const char *s = n->text;

	if (n->quoted)
		return SK_STR;
	if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return SK_NULL;
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		return SK_BOOL;
	if (cfg_all_digits(*s == '-' || *s == '+' ? s + 1 : s))
		return SK_INT;
	if (cfg_looks_float(s))
		return SK_FLOAT;
	return SK_STR;
}

/* absolute directory of the configuration file; need not exist */
static char *
config_basedir(const char *name)
{
	char dir[CFG_PATH_MAX], cwd[CFG_PATH_MAX], *real, *out;
	const char *slash = strrchr(name, '/');

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == name)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name), name);
	real = realpath(dir, NULL);
	if (real != NULL)
		return real;
	if (dir[0] == '/')
		out = cfg_xstrdup(dir);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			snprintf(cwd, sizeof(cwd), "/");
		if (asprintf(&out, "%s/%s", cwd, dir) == -1)
			fatal("%s", __func__);
	}
	cfg_path_normalize(out);
	return out;
}

static char *
resolve_path(const struct cfg_ctx *ctx, const char *path)
{
	char *out;

	if (path[0] == '/')
		return cfg_xstrdup(path);
	if (asprintf(&out, "%s/%s", ctx->basedir, path) == -1)
		fatal("%s", __func__);
	cfg_path_normalize(out);
	return out;
}

/* ---- values ---- */

static bool
need_scalar(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const char *what)
{
	if (v->kind == YN_SCALAR)
		return true;
	cfg_ctx_err(ctx, v->loc, key, "must be %s", what);
	return false;
}

static bool
get_string(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const char **out)
{
	if (!need_scalar(ctx, key, v, "a string"))
		return false;
	if (scalar_kind(v) != SK_STR) {
		cfg_ctx_err(ctx, v->loc, key, "must be a string");
		return false;
	}
	if (strlen(v->text) != v->len) {
		cfg_ctx_err(ctx, v->loc, key, "must not contain NUL bytes");
		return false;
	}
	if (v->len == 0) {
		cfg_ctx_err(ctx, v->loc, key, "must not be empty");
		return false;
	}
	*out = v->text;
	return true;
}

static bool
get_int(
    struct cfg_ctx *ctx, const char *key, const struct ynode *v, int64_t *out)
{
	if (!need_scalar(ctx, key, v, "an integer"))
		return false;
	if (scalar_kind(v) != SK_INT) {
		cfg_ctx_err(ctx, v->loc, key, "must be an integer");
		return false;
	}
	if (cfg_parse_int(v->text, out) != 0) {
		cfg_ctx_err(ctx, v->loc, key, "is too large");
		return false;
	}
	return true;
}

static bool
check_range(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    int64_t val, const struct key_spec *ks, const char *lo, const char *hi)
{
	if (val >= ks->min && val <= ks->max)
		return true;
	if (ks->max == INT64_MAX)
		cfg_ctx_err(ctx, v->loc, key, "must be at least %s", lo);
	else
		cfg_ctx_err(
		    ctx, v->loc, key, "must be between %s and %s", lo, hi);
	return false;
}

static bool
get_duration(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const struct key_spec *ks, int64_t *out)
{
	const char *problem;
	char lo[32], hi[32];

	if (!need_scalar(ctx, key, v, "a duration such as 250ms or 1h30m"))
		return false;
	if (scalar_kind(v) == SK_INT) {
		cfg_ctx_err(
		    ctx, v->loc, key, "needs a unit (ms, s, m or h), e.g. 30s");
		return false;
	}
	if (scalar_kind(v) != SK_STR) {
		cfg_ctx_err(ctx, v->loc, key,
		    "must be a duration such as 250ms, 30s or 1h30m");
		return false;
	}
	if ((problem = cfg_parse_duration(v->text, out)) != NULL) {
		cfg_ctx_err(ctx, v->loc, key, "%s", problem);
		return false;
	}
	cfg_fmt_duration(ks->min, lo, sizeof(lo));
	cfg_fmt_duration(ks->max, hi, sizeof(hi));
	return check_range(ctx, key, v, *out, ks, lo, hi);
}

static bool
get_size(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const struct key_spec *ks, int64_t *out)
{
	const char *problem = "must be a size such as 65536, 512KiB or 1GiB";
	char lo[32], hi[32];

	if (!need_scalar(ctx, key, v, "a size such as 65536 or 512KiB"))
		return false;
	if (scalar_kind(v) == SK_INT) {
		if (v->text[0] == '-')
			problem = "must not be negative";
		else if (cfg_parse_int(v->text, out) != 0)
			problem = "is too large";
		else
			problem = NULL;
	} else if (scalar_kind(v) == SK_STR)
		problem = cfg_parse_size(v->text, out);
	if (problem != NULL) {
		cfg_ctx_err(ctx, v->loc, key, "%s", problem);
		return false;
	}
	cfg_fmt_size(ks->min, lo, sizeof(lo));
	cfg_fmt_size(ks->max, hi, sizeof(hi));
	return check_range(ctx, key, v, *out, ks, lo, hi);
}

static bool
get_nets(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    bool allow_any, struct cfg_net **out, size_t *n_out)
{
	struct cfg_net *nets;
	const char *s;
	size_t n = 0;
	bool ok = true;

	if (v->kind != YN_SEQ) {
		cfg_ctx_err(ctx, v->loc, key, "must be a list");
		return false;
	}
	nets = cfg_xcalloc(v->n + 1, sizeof(*nets));
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->bad)
			continue;
		if (!get_string(ctx, key, v->items[i], &s)) {
			ok = false;
			continue;
		}
		if (cfg_net_parse(s, &nets[n], allow_any) == 0) {
			n++;
			continue;
		}
		ok = false;
		if (strcmp(s, "*") == 0)
			cfg_ctx_err(ctx, v->items[i]->loc, key,
			    "\"*\" is not allowed here");
		else
			cfg_ctx_err(ctx, v->items[i]->loc, key,
			    "\"%s\" is not an IP address or CIDR range", s);
	}
	free(*out);
	*out = nets;
	*n_out = n;
	return ok;
}

static bool
store_string(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const struct key_spec *ks, char **field)
{
	const char *s;
	int level;

	if (!get_string(ctx, key, v, &s))
		return false;
	if (ks->type == KT_SECRET && strlen(s) < 16) {
		cfg_ctx_err(ctx, v->loc, key, "must be at least 16 bytes long");
		return false;
	}
	if (ks->type == KT_PREFIX && (!cfg_valid_id(s) || cfg_uuid_shaped(s))) {
		cfg_ctx_err(ctx, v->loc, key, "%s",
		    cfg_uuid_shaped(s) ? "must not be shaped like a UUID"
				       : "must be 1-64 of A-Z a-z 0-9 _ -");
		return false;
	}
	if (ks->type == KT_LEVEL) {
		if ((level = log_level_parse(s)) < 0) {
			cfg_ctx_err(ctx, v->loc, key,
			    "must be debug, info, warn or error");
			return false;
		}
		ctx->cfg->log_level = level;
		return true;
	}
	free(*field);
	*field = ks->type == KT_PATH ? resolve_path(ctx, s) : cfg_xstrdup(s);
	return true;
}

/* converts and stores the value of cfg_key_specs[idx] */
static void
store_value(struct cfg_ctx *ctx, size_t idx, const struct ynode *v)
{
	const struct key_spec *ks = &cfg_key_specs[idx];
	char *base = (char *)ctx->cfg;
	char lo[32], hi[32];
	int64_t i64;

	switch (ks->type) {
	case KT_STR:
	case KT_SECRET:
	case KT_PREFIX:
	case KT_PATH:
	case KT_LEVEL:
		store_string(ctx, ks->path, v, ks, (char **)(base + ks->off));
		break;
	case KT_BOOL:
		if (v->kind != YN_SCALAR || scalar_kind(v) != SK_BOOL)
			cfg_ctx_err(
			    ctx, v->loc, ks->path, "must be true or false");
		else
			*(bool *)(base + ks->off) =
			    strcmp(v->text, "true") == 0;
		break;
	case KT_INT:
		if (!get_int(ctx, ks->path, v, &i64))
			break;
		snprintf(lo, sizeof(lo), "%lld", (long long)ks->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)ks->max);
		if (check_range(ctx, ks->path, v, i64, ks, lo, hi))
			*(int64_t *)(base + ks->off) = i64;
		break;
	case KT_DUR:
		if (get_duration(ctx, ks->path, v, ks, &i64))
			*(int64_t *)(base + ks->off) = i64;
		break;
	case KT_SIZE:
		if (get_size(ctx, ks->path, v, ks, &i64))
			*(int64_t *)(base + ks->off) = i64;
		break;
	case KT_NETS:
		get_nets(ctx, ks->path, v, false, &ctx->cfg->trusted_proxies,
		    &ctx->cfg->n_trusted_proxies);
		break;
	case KT_NETS_ANY:
		get_nets(ctx, ks->path, v, true, &ctx->cfg->permitted_ips,
		    &ctx->cfg->n_permitted_ips);
		break;
	}
}

static int
spec_find(const char *path)
{
	for (size_t i = 0; i < CFG_N_KEYS; i++)
		if (strcmp(cfg_key_specs[i].path, path) == 0)
			return (int)i;
	return -1;
}

static bool
is_section(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < CFG_N_KEYS; i++)
		if (strncmp(cfg_key_specs[i].path, name, len) == 0 &&
		    cfg_key_specs[i].path[len] == '.')
			return true;
	return false;
}

static int
rl_find(const char *name)
{
	for (int c = 0; c < CFG_RL_COUNT; c++)
		if (strcmp(cfg_rl_names[c], name) == 0)
			return c;
	return -1;
}

/* ---- sections ---- */

static bool
need_map(struct cfg_ctx *ctx, const char *key, const struct ynode *v)
{
	if (v->kind == YN_MAP)
		return true;
	cfg_ctx_err(ctx, v->loc, key, "must be a mapping");
	return false;
}

static void
walk_rate_entry(struct cfg_ctx *ctx, int c, const struct ynode *m)
{
	char key[128];
	struct cfg_rate *r = &ctx->cfg->rate[c];
	int64_t burst;
	double limit;
	char *end;

	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->items[i], *v = m->items[i + 1];

		if (k->bad || v->bad)
			continue;
		snprintf(key, sizeof(key), "rate_limiters.%s.%s",
		    cfg_rl_names[c], k->text);
		if (strcmp(k->text, "limit") == 0) {
			ctx->where->key[K_RATE + 2 * c] = v->loc;
			if (v->kind != YN_SCALAR ||
			    (scalar_kind(v) != SK_INT &&
				scalar_kind(v) != SK_FLOAT)) {
				cfg_ctx_err(
				    ctx, v->loc, key, "must be a number");
				continue;
			}
			limit = strtod(v->text, &end);
			if (!isfinite(limit))
				cfg_ctx_err(ctx, v->loc, key, "is too large");
			else if (!(limit > 0))
				cfg_ctx_err(
				    ctx, v->loc, key, "must be greater than 0");
			else
				r->limit = limit;
		} else if (strcmp(k->text, "burst") == 0) {
			ctx->where->key[K_RATE + 2 * c + 1] = v->loc;
			if (!get_int(ctx, key, v, &burst))
				continue;
			if (burst < 1)
				cfg_ctx_err(
				    ctx, v->loc, key, "must be at least 1");
			else
				r->burst = burst;
		} else
			cfg_ctx_err(ctx, k->loc, key, "unknown key");
	}
}

static void
walk_rate(struct cfg_ctx *ctx, const struct ynode *m)
{
	char key[128];
	int c;

	if (!need_map(ctx, "rate_limiters", m))
		return;
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->items[i], *v = m->items[i + 1];

		if (k->bad || v->bad)
			continue;
		snprintf(key, sizeof(key), "rate_limiters.%s", k->text);
		if ((c = rl_find(k->text)) < 0)
			cfg_ctx_err(ctx, k->loc, key, "unknown key");
		else if (need_map(ctx, key, v))
			walk_rate_entry(ctx, c, v);
	}
}

static bool
walk_binding(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    struct cfg_addr *addr)
{
	const char *s, *problem;

	if (!get_string(ctx, key, v, &s))
		return false;
	if ((problem = cfg_parse_addr(s, addr)) != NULL) {
		cfg_ctx_err(ctx, v->loc, key, "%s", problem);
		return false;
	}
	return true;
}

/* one node; false when it is unusable for cross-key checks */
static bool
walk_node(struct cfg_ctx *ctx, struct cfg_node *node, struct cfg_loc *locs,
    const struct ynode *m)
{
	struct cfg_addr *addrs[3] = { &node->public_binding,
		&node->private_binding, &node->raft_binding };
	bool seen[3] = { false, false, false }, ok = true;
	char key[256];
	const char *s;
	int j;

	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->items[i], *v = m->items[i + 1];

		if (k->bad || v->bad) {
			ok = false;
			continue;
		}
		snprintf(key, sizeof(key), "nodes.%s.%s", node->id, k->text);
		for (j = 0; j < 3; j++)
			if (strcmp(k->text, cfg_node_keys[j]) == 0)
				break;
		if (j < 3) {
			seen[j] = true;
			locs[1 + j] = v->loc;
			ok &= walk_binding(ctx, key, v, addrs[j]);
		} else if (strcmp(k->text, "client_domain") == 0) {
			if (!get_string(ctx, key, v, &s))
				ok = false;
			else if (!cfg_valid_hostname(s)) {
				cfg_ctx_err(
				    ctx, v->loc, key, "must be a host name");
				ok = false;
			} else {
				free(node->client_domain);
				node->client_domain = cfg_xstrdup(s);
			}
		} else {
			cfg_ctx_err(ctx, k->loc, key, "unknown key");
			ok = false;
		}
	}
	for (j = 0; j < 3; j++) {
		if (seen[j])
			continue;
		snprintf(key, sizeof(key), "nodes.%s.%s", node->id,
		    cfg_node_keys[j]);
		cfg_ctx_err(ctx, m->loc, key, "missing required key");
		ok = false;
	}
	return ok;
}

static void
walk_nodes(struct cfg_ctx *ctx, const struct ynode *m)
{
	struct cfg *cfg = ctx->cfg;
	char key[256];
	size_t np;

	if (!need_map(ctx, "nodes", m)) {
		ctx->node_bad = true;
		return;
	}
	np = m->n / 2;
	if (np == 0) {
		cfg_ctx_err(
		    ctx, m->loc, "nodes", "must list at least one node");
		return;
	}
	cfg->nodes = cfg_xcalloc(np, sizeof(*cfg->nodes));
	ctx->where->node = cfg_xcalloc(np * 4, sizeof(struct cfg_loc));
	for (size_t i = 0; i < np; i++) {
		const struct ynode *k = m->items[2 * i],
				   *v = m->items[2 * i + 1];
		struct cfg_node *node = &cfg->nodes[cfg->n_nodes];
		struct cfg_loc *locs = &ctx->where->node[4 * cfg->n_nodes];

		if (k->bad || v->bad) {
			ctx->node_bad = true;
			continue;
		}
		snprintf(key, sizeof(key), "nodes.%s", k->text);
		if (!cfg_valid_id(k->text)) {
			cfg_ctx_err(ctx, k->loc, key,
			    "node id must be 1-64 of A-Z a-z 0-9 _ -");
			ctx->node_bad = true;
			continue;
		}
		if (!need_map(ctx, key, v)) {
			ctx->node_bad = true;
			continue;
		}
		snprintf(node->id, sizeof(node->id), "%s", k->text);
		node->line = v->loc.line;
		locs[0] = locs[1] = locs[2] = locs[3] = v->loc;
		if (!walk_node(ctx, node, locs, v))
			ctx->node_bad = true;
		cfg->n_nodes++;
	}
}

static void
walk_section(struct cfg_ctx *ctx, const char *section, const struct ynode *m)
{
	char key[256];
	int idx;

	if (!need_map(ctx, section, m))
		return;
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->items[i], *v = m->items[i + 1];

		if (k->bad)
			continue;
		snprintf(key, sizeof(key), "%s.%s", section, k->text);
		if ((idx = spec_find(key)) < 0) {
			cfg_ctx_err(ctx, k->loc, key, "unknown key");
			continue;
		}
		ctx->seen[idx] = true;
		ctx->where->key[idx] = v->loc;
		if (!v->bad)
			store_value(ctx, idx, v);
	}
}

static void
walk_top(struct cfg_ctx *ctx, const struct ynode *root)
{
	struct cfg_loc top = { 0, 1 };
	bool have_nodes = false;
	int idx;

	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct ynode *k = root->items[i], *v = root->items[i + 1];

		if (k->bad)
			continue;
		if (strcmp(k->text, "nodes") == 0) {
			have_nodes = true;
			ctx->where->key[K_NODES] = v->loc;
			if (v->bad)
				ctx->node_bad = true;
			else
				walk_nodes(ctx, v);
		} else if (v->bad) {
			/* reported already; it still counts as given */
			if ((idx = spec_find(k->text)) >= 0)
				ctx->seen[idx] = true;
		} else if (strcmp(k->text, "rate_limiters") == 0)
			walk_rate(ctx, v);
		else if (is_section(k->text))
			walk_section(ctx, k->text, v);
		else if (strchr(k->text, '.') == NULL &&
		    (idx = spec_find(k->text)) >= 0) {
			ctx->seen[idx] = true;
			ctx->where->key[idx] = v->loc;
			store_value(ctx, idx, v);
		} else
			cfg_ctx_err(ctx, k->loc, k->text, "unknown key");
	}
	for (size_t i = 0; i < CFG_N_KEYS; i++)
		if (cfg_key_specs[i].required && !ctx->seen[i])
			cfg_ctx_err(ctx, top, cfg_key_specs[i].path,
			    "missing required key");
	if (!have_nodes) {
		cfg_ctx_err(ctx, top, "nodes", "missing required key");
		ctx->node_bad = true;
	}
}

/* ---- overrides ---- */

/* whether a dotted key names something the file may hold */
static bool
override_known(char **comp, size_t nc)
{
	char joined[256];

	if (nc == 1)
		return spec_find(comp[0]) >= 0 || is_section(comp[0]) ||
		    strcmp(comp[0], "rate_limiters") == 0 ||
		    strcmp(comp[0], "nodes") == 0;
	if (strcmp(comp[0], "rate_limiters") == 0)
		return rl_find(comp[1]) >= 0 &&
		    (nc == 2 ||
			(nc == 3 &&
			    (strcmp(comp[2], "limit") == 0 ||
				strcmp(comp[2], "burst") == 0)));
	if (strcmp(comp[0], "nodes") == 0)
		return nc == 2 ||
		    (nc == 3 &&
			(strcmp(comp[2], "public_binding") == 0 ||
			    strcmp(comp[2], "private_binding") == 0 ||
			    strcmp(comp[2], "raft_binding") == 0 ||
			    strcmp(comp[2], "client_domain") == 0));
	if (nc != 2)
		return false;
	snprintf(joined, sizeof(joined), "%s.%s", comp[0], comp[1]);
	return spec_find(joined) >= 0;
}

static struct ynode *
map_lookup(struct ynode *map, const char *key, size_t *at)
{
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		struct ynode *k = map->items[i];

		if (!k->bad && k->kind == YN_SCALAR &&
		    strcmp(k->text, key) == 0) {
			*at = i + 1;
			return map->items[i + 1];
		}
	}
	return NULL;
}

/* puts value at the dotted path, creating mappings on the way */
static void
graft(struct ynode *map, char **comp, size_t nc, struct ynode *value)
{
	struct ynode *cur;
	size_t at;

	for (size_t i = 0; i < nc; i++) {
		bool last = i + 1 == nc;

		cur = map_lookup(map, comp[i], &at);
		if (cur != NULL && !last && cur->kind == YN_MAP && !cur->bad) {
			map = cur;
			continue;
		}
		if (cur == NULL) {
			cfg_ynode_append(map,
			    cfg_ynode_scalar(
				value->loc, comp[i], strlen(comp[i]), false));
			cfg_ynode_append(map, NULL);
			at = map->n - 1;
		} else
			cfg_ynode_free(cur);
		map->items[at] =
		    last ? value : cfg_ynode_new(YN_MAP, value->loc);
		map = map->items[at];
	}
}

static void
apply_override(struct cfg_ctx *ctx, struct ynode *root, int n, const char *arg)
{
	struct cfg_loc loc = { n, 1 };
	char name[256], split[256], *comp[8], *save = NULL, *tok;
	const char *val = strchr(arg, '=');
	struct ynode *value = NULL;
	size_t nc = 0;

	if (val == NULL || val == arg || val - arg >= (int)sizeof(name)) {
		cfg_ctx_err(ctx, loc, arg, "must be name=value");
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(val - arg), arg);
	snprintf(split, sizeof(split), "%s", name);
	val++;
	for (tok = strtok_r(split, ".", &save); tok != NULL && nc < 8;
	     tok = strtok_r(NULL, ".", &save))
		comp[nc++] = tok;
	if (nc == 0 || tok != NULL || strstr(name, "..") != NULL ||
	    name[0] == '.' || name[strlen(name) - 1] == '.' ||
	    !override_known(comp, nc)) {
		cfg_ctx_err(ctx, loc, name, "unknown key");
		return;
	}
	/* quoted and flow values go through YAML; the rest is plain text */
	if (val[0] != '\0' && strchr("\"'[{", val[0]) != NULL) {
		if (cfg_yaml_tree(ctx, val, strlen(val), n, name, &value) != 0)
			return;
		if (value == NULL)
			value = cfg_ynode_scalar(loc, "", 0, false);
	} else
		value = cfg_ynode_scalar(loc, val, strlen(val), false);
	if (root != NULL && root->kind == YN_MAP)
		graft(root, comp, nc, value);
	else
		cfg_ynode_free(value);
}

/* ---- rules across keys ---- */

struct binding_ref {
	char canon[CFG_HOST_MAX + 8];
	size_t node, kind;
};

static int
binding_cmp(const void *a, const void *b)
{
	const struct binding_ref *x = a, *y = b;
	int c = strcmp(x->canon, y->canon);

	if (c != 0)
		return c;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

struct cfg_addr *
cfg_node_addr(struct cfg_node *node, size_t kind)
{
	if (kind == 0)
		return &node->public_binding;
	if (kind == 1)
		return &node->private_binding;
	return &node->raft_binding;
}

void
cfg_binding_key(
    const struct cfg_node *node, size_t kind, char *buf, size_t size)
{
	snprintf(buf, size, "nodes.%s.%s", node->id, cfg_node_keys[kind]);
}

/* no two bindings may share host and port; sorting keeps this n log n */
static void
check_bindings_unique(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	size_t nb = cfg->n_nodes * 3;
	struct binding_ref *refs = cfg_xcalloc(nb, sizeof(*refs));
	char key[256], other[256], host[CFG_HOST_MAX + 1];

	for (size_t i = 0; i < nb; i++) {
		struct cfg_addr *a = cfg_node_addr(&cfg->nodes[i / 3], i % 3);

		refs[i].node = i / 3;
		refs[i].kind = i % 3;
		cfg_host_canon(a->host, host, sizeof(host));
		snprintf(refs[i].canon, sizeof(refs[i].canon), "%s|%u", host,
		    a->port);
	}
	qsort(refs, nb, sizeof(*refs), binding_cmp);
	for (size_t i = 1; i < nb; i++) {
		size_t first = i - 1;

		if (strcmp(refs[i].canon, refs[first].canon) != 0)
			continue;
		while (first > 0 &&
		    strcmp(refs[first - 1].canon, refs[i].canon) == 0)
			first--;
		cfg_binding_key(
		    &cfg->nodes[refs[i].node], refs[i].kind, key, sizeof(key));
		cfg_binding_key(&cfg->nodes[refs[first].node], refs[first].kind,
		    other, sizeof(other));
		cfg_ctx_err(ctx,
		    ctx->where->node[4 * refs[i].node + 1 + refs[i].kind], key,
		    "same host and port as %s", other);
	}
	free(refs);
}

/* within a node, a wildcard binding takes the port on every address */
static void
check_wildcards(struct cfg_ctx *ctx, size_t n)
{
	struct cfg *cfg = ctx->cfg;
	struct cfg_node *node = &cfg->nodes[n];
	char key[256], other[256];

	for (size_t i = 0; i < 3; i++) {
		struct cfg_addr *a = cfg_node_addr(node, i);

		cfg_binding_key(node, i, key, sizeof(key));
		if (cfg_addr_is_wildcard(a) && cfg->n_nodes > 1 &&
		    node->client_domain == NULL)
			cfg_ctx_err(ctx, ctx->where->node[4 * n + 1 + i], key,
			    "a wildcard host needs nodes.%s.client_domain "
			    "when the file has more than one node",
			    node->id);
		for (size_t j = 0; j < i; j++) {
			struct cfg_addr *b = cfg_node_addr(node, j);

			if (a->port != b->port ||
			    strcmp(a->host, b->host) == 0 ||
			    (!cfg_addr_is_wildcard(a) &&
				!cfg_addr_is_wildcard(b)))
				continue;
			/* 0.0.0.0 leaves IPv6 addresses alone */
			if ((strcmp(a->host, "0.0.0.0") == 0 && b->ipv6) ||
			    (strcmp(b->host, "0.0.0.0") == 0 && a->ipv6))
				continue;
			cfg_binding_key(node, j, other, sizeof(other));
			cfg_ctx_err(ctx, ctx->where->node[4 * n + 1 + i], key,
			    "port %u is also taken by %s", a->port, other);
		}
	}
}

/*
 * nodes sharing a host need {node} in control_socket; one message, for
 * the first node in the file that shares a host with an earlier one
 */
static void
check_control_socket(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	struct binding_ref *refs;
	size_t best = SIZE_MAX, first = 0, g = 0;

	if (cfg->control_socket == NULL ||
	    strstr(cfg->control_socket, "{node}") != NULL || cfg->n_nodes < 2)
		return;
	refs = cfg_xcalloc(cfg->n_nodes, sizeof(*refs));
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const char *host = cfg->nodes[i].private_binding.host;

		refs[i].node = i;
		/* every loopback address is this same machine */
		if (cfg_host_is_loopback(host))
			snprintf(
			    refs[i].canon, sizeof(refs[i].canon), "(loopback)");
		else
			cfg_host_canon(
			    host, refs[i].canon, sizeof(refs[i].canon));
	}
	qsort(refs, cfg->n_nodes, sizeof(*refs), binding_cmp);
	for (size_t i = 1; i < cfg->n_nodes; i++) {
		if (strcmp(refs[i].canon, refs[i - 1].canon) != 0)
			g = i;
		else if (i == g + 1 && refs[i].node < best) {
			best = refs[i].node;
			first = refs[g].node;
		}
	}
	free(refs);
	if (best != SIZE_MAX)
		cfg_ctx_err(ctx, ctx->where->key[K_SOCKET], "control_socket",
		    "nodes %s and %s share a host: put {node} in the path",
		    cfg->nodes[first].id, cfg->nodes[best].id);
}

static void
check_cross(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	struct cfg_where *w = ctx->where;
	char hb[32], el[32];

	if (cfg->default_leader != NULL && !ctx->node_bad && cfg->n_nodes > 0 &&
	    cfg_node(cfg, cfg->default_leader) == NULL)
		cfg_ctx_err(ctx, w->key[K_LEADER], "default_leader",
		    "\"%s\" is not a node of nodes", cfg->default_leader);
	if (cfg->tls_cert != NULL && cfg->tls_key == NULL)
		cfg_ctx_err(
		    ctx, w->key[K_CERT], "tls.cert", "needs tls.key as well");
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		cfg_ctx_err(
		    ctx, w->key[K_KEY], "tls.key", "needs tls.cert as well");
	if (cfg->server_must_use_tls &&
	    (cfg->tls_cert == NULL || cfg->tls_key == NULL))
		cfg_ctx_err(ctx, w->key[K_MUST_TLS], "server_must_use_tls",
		    "requires tls.cert and tls.key");
	if (cfg->raft_heartbeat_interval_ms * 5 >
	    cfg->raft_election_timeout_ms) {
		cfg_fmt_duration(
		    cfg->raft_heartbeat_interval_ms, hb, sizeof(hb));
		cfg_fmt_duration(cfg->raft_election_timeout_ms, el, sizeof(el));
		cfg_ctx_err(ctx,
		    ctx->seen[K_HEARTBEAT] ? w->key[K_HEARTBEAT]
					   : w->key[K_ELECTION],
		    "raft.heartbeat_interval",
		    "must be at most a fifth of raft.election_timeout "
		    "(%s > %s / 5)",
		    hb, el);
	}
	if (ctx->node_bad)
		return;
	check_bindings_unique(ctx);
	for (size_t i = 0; i < cfg->n_nodes; i++)
		check_wildcards(ctx, i);
	check_control_socket(ctx);
}

/* ---- entry points ---- */

static void
cfg_defaults(struct cfg *cfg)
{
	cfg->root_prefix = cfg_xstrdup("root");
	cfg->user = cfg_xstrdup("_insidb");
	cfg->cache_standard_ttl_ms = 60 * 60000;
	cfg->cache_keys_ms = 60000;
	memcpy(cfg->rate, rl_defaults, sizeof(cfg->rate));
	cfg->sessions_max_connections = 1000;
	cfg->sessions_send_queue = 256;
	cfg->events_replay_window_ms = 30000;
	cfg->blobs_max_size = 1024 * MIB;
	cfg->blobs_gc_interval_ms = 30000;
	cfg->blobs_repair_interval_ms = 60000;
	cfg->limits_max_value_size = MIB;
	cfg->raft_heartbeat_interval_ms = 100;
	cfg->raft_election_timeout_ms = 1000;
	cfg->raft_snapshot_threshold = 8192;
	cfg->raft_snapshot_trailing = 10240;
	cfg->log_level = LOG_LEVEL_INFO;
}

/* defaults that depend on other keys or on whether the key was given */
static void
cfg_defaults_after(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;

	if (!ctx->seen[K_PERMITTED]) {
		cfg->permitted_ips = cfg_xcalloc(2, sizeof(struct cfg_net));
		cfg->n_permitted_ips = 2;
		if (cfg_net_parse("127.0.0.1", &cfg->permitted_ips[0], false) ||
		    cfg_net_parse("::1", &cfg->permitted_ips[1], false))
			fatalx("%s: default permitted_ips", __func__);
	}
	cfg->control_socket_set = ctx->seen[K_SOCKET];
	if (cfg->control_socket == NULL && ctx->as_root)
		cfg->control_socket = cfg_xstrdup("/var/run/insid.sock");
	else if (cfg->control_socket == NULL && cfg->insid_home != NULL &&
	    asprintf(&cfg->control_socket, "%s/insid.sock", cfg->insid_home) ==
		-1)
		fatal("%s", __func__);
}

int
cfg_parse(const char *name, const char *buf, size_t len, char *const *overrides,
    size_t n_overrides, bool as_root, struct cfg *cfg, struct cfg_errors *errs)
{
	struct cfg_ctx ctx = { .name = name,
		.errs = errs,
		.cfg = cfg,
		.as_root = as_root,
		.n_errs_start = errs->n };
	struct cfg_loc top = { 0, 1 };
	struct ynode *root = NULL;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->file = cfg_xstrdup(name);
	ctx.where = cfg->where = cfg_xcalloc(1, sizeof(*cfg->where));
	for (size_t i = 0; i < sizeof(ctx.where->key) / sizeof(top); i++)
		ctx.where->key[i] = top;
	ctx.basedir = config_basedir(name);
	cfg_defaults(cfg);
	if (len > CFG_FILE_MAX)
		cfg_ctx_err(&ctx, top, "(file)", "larger than 1 MiB");
	else if (cfg_yaml_tree(&ctx, buf, len, 0, "", &root) == 0) {
		if (root == NULL || root->kind != YN_MAP)
			cfg_ctx_err(&ctx, root ? root->loc : top, "(top level)",
			    "must be a mapping");
		for (size_t i = 0; i < n_overrides; i++)
			apply_override(&ctx, root, (int)i + 1, overrides[i]);
		if (root != NULL && root->kind == YN_MAP && !root->bad) {
			walk_top(&ctx, root);
			cfg_defaults_after(&ctx);
			check_cross(&ctx);
		}
	}
	cfg_ynode_free(root);
	free(ctx.basedir);
	rc = errs->n > ctx.n_errs_start ? -1 : 0;
	if (rc != 0)
		cfg_free(cfg);
	return rc;
}

int
cfg_load(const char *path, char *const *overrides, size_t n_overrides,
    bool as_root, struct cfg *cfg, struct cfg_errors *errs)
{
	struct cfg_loc top = { 0, 1 };
	struct cfg_ctx ctx = { .name = path, .errs = errs };
	char *buf;
	ssize_t r;
	size_t len = 0;
	int fd, rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_ctx_err(
		    &ctx, top, "(file)", "cannot open: %s", strerror(errno));
		return -1;
	}
	/* one byte more than allowed tells a too large file apart */
	buf = malloc(CFG_FILE_MAX + 1);
	if (buf == NULL)
		fatal("%s", __func__);
	while (len <= CFG_FILE_MAX &&
	    (r = read(fd, buf + len, CFG_FILE_MAX + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cfg_ctx_err(&ctx, top, "(file)", "cannot read: %s",
			    strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		len += r;
	}
	close(fd);
	rc = cfg_parse(
	    path, buf, len, overrides, n_overrides, as_root, cfg, errs);
	free(buf);
	return rc;
}

const struct cfg_node *
cfg_node(const struct cfg *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].id, id) == 0)
			return &cfg->nodes[i];
	return NULL;
}

char *
cfg_control_socket(const struct cfg *cfg, const char *node_id)
{
	const char *p = cfg->control_socket, *hit;
	size_t idlen = strlen(node_id), len = 0, cap;
	char *out;

	if (p == NULL)
		return NULL;
	cap = strlen(p) + 1;
	for (hit = p; (hit = strstr(hit, "{node}")) != NULL; hit += 6)
		cap += idlen;
	out = cfg_xcalloc(1, cap);
	while ((hit = strstr(p, "{node}")) != NULL) {
		memcpy(out + len, p, hit - p);
		len += hit - p;
		memcpy(out + len, node_id, idlen);
		len += idlen;
		p = hit + 6;
	}
	memcpy(out + len, p, strlen(p) + 1);
	return out;
}

void
cfg_free(struct cfg *cfg)
{
	free(cfg->file);
	free(cfg->instance_secret);
	free(cfg->default_leader);
	free(cfg->root_prefix);
	free(cfg->insid_home);
	free(cfg->user);
	free(cfg->control_socket);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_ca);
	free(cfg->trusted_proxies);
	free(cfg->permitted_ips);
	for (size_t i = 0; i < cfg->n_nodes; i++)
		free(cfg->nodes[i].client_domain);
	free(cfg->nodes);
	if (cfg->where != NULL)
		free(cfg->where->node);
	free(cfg->where);
	memset(cfg, 0, sizeof(*cfg));
}

void
cfg_errors_free(struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}
