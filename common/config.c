/*
 * Configuration file (CONFIG.md): libyaml events are turned into a small
 * tree (so that anchors, aliases, tags and duplicate keys can be refused
 * with their line), -D overrides are grafted onto that tree, then one walk
 * over a key table converts, range-checks and stores every value.  Each
 * tree node remembers where it came from, the file or the n-th override,
 * so every message names its origin.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <yaml.h>

#include "common/config.h"
#include "common/log.h"

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_DEPTH_MAX 32
#define CFG_ERRORS_MAX 1000
#define CFG_PATH_MAX 4096

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

#define OFF(f) offsetof(struct cfg, f)
#define MS_H (3600 * 1000LL)
#define KIB 1024LL
#define MIB (1024 * 1024LL)

static const struct key_spec key_specs[] = {
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
#define N_KEYS (sizeof(key_specs) / sizeof(key_specs[0]))

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

static const char *const rl_names[CFG_RL_COUNT] = { "values", "cache", "events",
	"system", "default" };
static const struct cfg_rate rl_defaults[CFG_RL_COUNT] = { { 1000, 2000 },
	{ 1000, 2000 }, { 200, 400 }, { 50, 100 }, { 20, 40 } };
static const char *const node_keys[3] = { "public_binding", "private_binding",
	"raft_binding" };

struct cfg_ctx {
	const char *name;
	struct cfg_errors *errs;
	size_t n_errs_start;
	struct cfg *cfg;
	struct cfg_where *where;
	char *basedir;
	bool as_root;
	bool seen[N_KEYS];
	bool node_bad; /* some node failed: skip node cross checks */
};

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

static void __attribute__((format(printf, 4, 5))) ctx_err(struct cfg_ctx *ctx,
    struct cfg_loc loc, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vaddf(ctx->errs, ctx->name, loc, key, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 5, 6)))
cfg_msg(struct cfg_errors *errs, const struct cfg *cfg, struct cfg_loc loc,
    const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vaddf(errs, cfg->file, loc, key, fmt, ap);
	va_end(ap);
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("%s", __func__);
	return d;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

/* ---- the YAML tree ---- */

static struct ynode *
ynode_new(enum ynode_kind kind, struct cfg_loc loc)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->loc = loc;
	return n;
}

static struct ynode *
ynode_scalar(struct cfg_loc loc, const char *text, size_t len, bool quoted)
{
	struct ynode *n = ynode_new(YN_SCALAR, loc);

	n->text = malloc(len + 1);
	if (n->text == NULL)
		fatal("%s", __func__);
	memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->len = len;
	n->quoted = quoted;
	return n;
}

static void
ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

static void
ynode_append(struct ynode *parent, struct ynode *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **items;

		items = realloc(parent->items, cap * sizeof(*items));
		if (items == NULL)
			fatal("%s", __func__);
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->n++] = child;
}

struct ybuild {
	struct cfg_ctx *ctx;
	int src;
	const char *base; /* dotted key the tree hangs under, "" at top */
	struct ynode *stack[CFG_DEPTH_MAX];
	int depth;
	struct ynode *root;
	int docs;
};

/*
 * dotted key of the node about to be added (leaf: its text when it is a
 * key), for messages
 */
static void
ybuild_path(struct ybuild *b, const char *leaf, char *out, size_t size)
{
	size_t len;

	snprintf(out, size, "%s", b->base);
	for (int i = 0; i < b->depth; i++) {
		struct ynode *m = b->stack[i];
		const char *k = NULL;

		if (m->kind != YN_MAP)
			continue;
		if (i < b->depth - 1 && m->n >= 2)
			k = m->items[m->n - 2]->text;
		else if (i == b->depth - 1 && m->n % 2 == 1)
			k = m->items[m->n - 1]->text;
		else if (i == b->depth - 1 && leaf != NULL)
			k = leaf;
		else
			continue;
		if (k == NULL)
			k = "?";
		len = strlen(out);
		snprintf(out + len, size - len, "%s%s", len ? "." : "", k);
	}
	if (out[0] == '\0')
		snprintf(out, size, "(top level)");
}

static int
pair_cmp(const void *a, const void *b)
{
	struct ynode *const *x = a, *const *y = b;
	int c;

	if ((*x)->len != (*y)->len)
		return (*x)->len < (*y)->len ? -1 : 1;
	c = memcmp((*x)->text, (*y)->text, (*x)->len);
	if (c != 0)
		return c;
	return (*x)->loc.line - (*y)->loc.line;
}

/* sorting keeps large mappings from costing n^2 */
static void
ybuild_check_duplicates(struct ybuild *b, struct ynode *map)
{
	size_t np = map->n / 2;
	struct ynode **keys;
	char path[512];

	if (np < 2)
		return;
	keys = xcalloc(np, sizeof(*keys));
	for (size_t i = 0; i < np; i++)
		keys[i] = map->items[2 * i];
	qsort(keys, np, sizeof(*keys), pair_cmp);
	for (size_t i = 1; i < np; i++) {
		if (keys[i]->kind != YN_SCALAR ||
		    keys[i - 1]->kind != YN_SCALAR ||
		    keys[i]->len != keys[i - 1]->len ||
		    memcmp(keys[i]->text, keys[i - 1]->text, keys[i]->len) != 0)
			continue;
		ybuild_path(b, keys[i]->text, path, sizeof(path));
		ctx_err(b->ctx, keys[i]->loc, path, "duplicate key");
		keys[i]->bad = true;
	}
	free(keys);
}

static void
ybuild_add(struct ybuild *b, struct ynode *n)
{
	struct ynode *top;

	if (b->depth == 0) {
		if (b->root == NULL)
			b->root = n;
		else
			ynode_free(n);
		return;
	}
	top = b->stack[b->depth - 1];
	/* a pair whose key is not a plain string is dropped as a whole */
	if (top->kind == YN_MAP && top->n % 2 == 1 &&
	    top->items[top->n - 1]->kind != YN_SCALAR)
		n->bad = true;
	ynode_append(top, n);
}

static bool
ybuild_event_props(
    struct ybuild *b, yaml_event_t *ev, struct cfg_loc loc, const char *leaf)
{
	const unsigned char *anchor = NULL, *tag = NULL;
	char path[512];

	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if (anchor == NULL && tag == NULL && ev->type != YAML_ALIAS_EVENT)
		return true;
	ybuild_path(b, leaf, path, sizeof(path));
	if (ev->type == YAML_ALIAS_EVENT)
		ctx_err(b->ctx, loc, path, "aliases are not allowed");
	if (anchor != NULL)
		ctx_err(b->ctx, loc, path, "anchors are not allowed");
	if (tag != NULL)
		ctx_err(b->ctx, loc, path, "tags are not allowed");
	return false;
}

static struct ynode *
ybuild_scalar(yaml_event_t *ev, struct cfg_loc loc)
{
	return ynode_scalar(loc, (const char *)ev->data.scalar.value,
	    ev->data.scalar.length,
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
}

static bool
ybuild_is_key(struct ybuild *b)
{
	return b->depth > 0 && b->stack[b->depth - 1]->kind == YN_MAP &&
	    b->stack[b->depth - 1]->n % 2 == 0;
}

/* one event; false when building must stop */
static bool
ybuild_event(struct ybuild *b, yaml_event_t *ev)
{
	struct cfg_loc loc = { b->src, (int)ev->start_mark.line + 1 };
	struct ynode *n = NULL;
	char path[512];
	bool ok;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1) {
			ctx_err(b->ctx, loc, "(top level)",
			    "only one YAML document is allowed");
			return false;
		}
		return true;
	case YAML_SCALAR_EVENT:
		ok = ybuild_event_props(b, ev, loc,
		    ybuild_is_key(b) ? (char *)ev->data.scalar.value : NULL);
		n = ybuild_scalar(ev, loc);
		n->bad = !ok;
		ybuild_add(b, n);
		return true;
	case YAML_ALIAS_EVENT:
		ybuild_event_props(b, ev, loc, NULL);
		n = ynode_scalar(loc, "", 0, false);
		n->bad = true;
		ybuild_add(b, n);
		return true;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		ok = ybuild_event_props(b, ev, loc, NULL);
		if (b->depth == CFG_DEPTH_MAX) {
			ybuild_path(b, NULL, path, sizeof(path));
			ctx_err(b->ctx, loc, path, "nested too deeply");
			return false;
		}
		n = ynode_new(
		    ev->type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ,
		    loc);
		n->bad = !ok;
		if (ybuild_is_key(b)) {
			ybuild_path(b, NULL, path, sizeof(path));
			ctx_err(b->ctx, loc, path, "keys must be strings");
			n->bad = true;
		}
		ybuild_add(b, n);
		b->stack[b->depth++] = n;
		return true;
	case YAML_MAPPING_END_EVENT:
		ybuild_check_duplicates(b, b->stack[b->depth - 1]);
		b->depth--;
		return true;
	case YAML_SEQUENCE_END_EVENT:
		b->depth--;
		return true;
	default:
		return true;
	}
}

/*
 * builds the tree of one YAML text into *root (NULL for an empty text);
 * -1 after a syntax error, which is reported
 */
static int
yaml_tree(struct cfg_ctx *ctx, const char *buf, size_t len, int src,
    const char *base, struct ynode **root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ybuild b = { .ctx = ctx, .src = src, .base = base };
	struct cfg_loc loc;
	bool done = false, failed = false;

	if (!yaml_parser_initialize(&parser))
		fatalx("%s: out of memory", __func__);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			loc.src = src;
			loc.line = (int)parser.problem_mark.line + 1;
			ctx_err(ctx, loc, base[0] ? base : "(syntax)", "%s",
			    parser.problem ? parser.problem : "invalid YAML");
			failed = true;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		if (!ybuild_event(&b, &ev))
			failed = done = true;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (failed) {
		ynode_free(b.root);
		*root = NULL;
		return -1;
	}
	*root = b.root;
	return 0;
}

/* ---- scalars ---- */

enum scalar_kind { SK_NULL, SK_BOOL, SK_INT, SK_FLOAT, SK_STR };

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool
looks_float(const char *s)
{
	const char *e;
	bool digits = false;

	if (*s == '-' || *s == '+')
		s++;
	while (isdigit((unsigned char)*s))
		s++, digits = true;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s))
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		e = ++s;
		if (*s == '-' || *s == '+')
			e = ++s;
		if (!all_digits(e))
			return false;
		return true;
	}
	return *s == '\0';
}

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
	if (all_digits(*s == '-' || *s == '+' ? s + 1 : s))
		return SK_INT;
	if (looks_float(s))
		return SK_FLOAT;
	return SK_STR;
}

static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return -1;
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	int64_t ms;
} dur_units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	{ "h", 3600000 } };

/* "<number><unit>" groups, e.g. 1h30m or 1.5s; NULL or the problem */
const char *
cfg_parse_duration(const char *s, int64_t *ms_out)
{
	int64_t total = 0, whole, frac, scale, unit;
	const char *p = s;
	size_t i, ulen;

	if (all_digits(s))
		return "needs a unit (ms, s, m or h), e.g. 30s";
	if (*p == '\0')
		return "must be a duration such as 250ms, 30s or 1h30m";
	while (*p != '\0') {
		whole = frac = 0;
		scale = 1;
		if (!isdigit((unsigned char)*p))
			return "must be a duration such as 250ms, 30s or 1h30m";
		for (; isdigit((unsigned char)*p); p++) {
			if (whole > 100000000000LL)
				return "is too large";
			whole = whole * 10 + (*p - '0');
		}
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++) {
				if (scale >= 1000000000LL)
					return "has too many decimals";
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
		unit = 0;
		for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			ulen = strlen(dur_units[i].name);
			if (strncmp(p, dur_units[i].name, ulen) == 0 &&
			    !isalpha((unsigned char)p[ulen])) {
				unit = dur_units[i].ms;
				p += ulen;
				break;
			}
		}
		if (unit == 0)
			return "must be a duration such as 250ms, 30s or 1h30m";
		if ((frac * unit) % scale != 0)
			return "must be a whole number of milliseconds";
		total += whole * unit + frac * unit / scale;
		if (total > 1000000000000000LL)
			return "is too large";
	}
	*ms_out = total;
	return NULL;
}

static const struct {
	const char *name;
	int shift;
} size_units[] = { { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
	{ "TiB", 40 } };

/* "<integer><unit>"; plain integers are handled by the caller */
const char *
cfg_parse_size(const char *s, int64_t *bytes_out)
{
	int64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "must be a size such as 65536, 512KiB or 1GiB";
	for (; isdigit((unsigned char)*p); p++) {
		if (v > 100000000000000LL)
			return "is too large";
		v = v * 10 + (*p - '0');
	}
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]);
	     i++) {
		if (strcmp(p, size_units[i].name) != 0)
			continue;
		if (v > (INT64_MAX >> size_units[i].shift))
			return "is too large";
		*bytes_out = v << size_units[i].shift;
		return NULL;
	}
	return "must be a size such as 65536, 512KiB or 1GiB";
}

static bool
valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
		if (label == 0 && s[i] == '-')
			return false;
		label++;
	}
	return true;
}

static bool
only_digits_and_dots(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

/* "a.b.c.d:port", "[v6]:port" or "name:port"; NULL or the problem */
const char *
cfg_parse_addr(const char *s, struct cfg_addr *a)
{
	const char *port, *end;
	size_t hlen;
	uint8_t bin[16];
	int64_t p;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return "must be host:port, e.g. [::1]:8080";
		hlen = end - s - 1;
		port = end + 2;
		if (hlen > CFG_HOST_MAX)
			return "has an invalid IPv6 address";
		memcpy(a->host, s + 1, hlen);
		a->host[hlen] = '\0';
		if (inet_pton(AF_INET6, a->host, bin) != 1)
			return "has an invalid IPv6 address";
		a->ipv6 = true;
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			return "must be host:port, e.g. 127.0.0.1:8080";
		hlen = end - s;
		port = end + 1;
		if (memchr(s, ':', hlen) != NULL)
			return "must write an IPv6 address in brackets: "
			       "[addr]:port";
		if (hlen == 0)
			return "has no host";
		if (hlen > CFG_HOST_MAX)
			return "has an invalid host name";
		memcpy(a->host, s, hlen);
		a->host[hlen] = '\0';
		if (only_digits_and_dots(a->host)) {
			if (inet_pton(AF_INET, a->host, bin) != 1)
				return "has an invalid IPv4 address";
		} else if (!valid_hostname(a->host))
			return "has an invalid host name";
	}
	if (strlen(port) > 5 || !all_digits(port) || parse_int(port, &p) ||
	    p < 1 || p > 65535)
		return "port must be 1-65535";
	a->port = (uint16_t)p;
	return NULL;
}

static bool
addr_is_wildcard(const struct cfg_addr *a)
{
	return strcmp(a->host, "0.0.0.0") == 0 ||
	    (a->ipv6 && strspn(a->host, ":0") == strlen(a->host));
}

/* family of a literal IP host, 0 for a host name */
static int
host_ip(const char *host, uint8_t bin[16])
{
	if (inet_pton(AF_INET, host, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, host, bin) == 1)
		return AF_INET6;
	return 0;
}

/* canonical host text so that equal hosts compare equal */
static void
host_canon(const char *host, char *out, size_t size)
{
	uint8_t bin[16];
	int family = host_ip(host, bin);

	if (family != 0 && inet_ntop(family, bin, out, size) != NULL)
		return;
	snprintf(out, size, "%s", host);
	for (char *p = out; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
}

static bool
host_is_loopback(const char *host)
{
	uint8_t bin[16];
	int family = host_ip(host, bin);

	if (family == AF_INET)
		return bin[0] == 127;
	if (family == AF_INET6)
		return memcmp(bin, &in6addr_loopback, 16) == 0;
	return strcasecmp(host, "localhost") == 0;
}

/* ---- CIDR lists ---- */

int
cfg_net_parse(const char *s, struct cfg_net *net, bool allow_any)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	int64_t prefix;
	int bits;

	memset(net, 0, sizeof(*net));
	if (strcmp(s, "*") == 0) {
		if (!allow_any)
			return -1;
		net->any = true;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	net->family = host_ip(buf, net->addr);
	if (net->family == 0)
		return -1;
	bits = net->family == AF_INET ? 32 : 128;
	prefix = bits;
	if (slash != NULL &&
	    (strlen(slash) > 3 || !all_digits(slash) ||
		parse_int(slash, &prefix) || prefix > bits))
		return -1;
	net->prefix = (int)prefix;
	/* keep only the network part so that matching is a plain compare */
	for (int i = net->prefix; i < bits; i++)
		net->addr[i / 8] &= ~(0x80 >> (i % 8));
	return 0;
}

static bool
net_contains(const struct cfg_net *net, const uint8_t *addr)
{
	int full = net->prefix / 8, rest = net->prefix % 8;

	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->addr[full] ^ addr[full]) & (0xff00 >> rest)) == 0;
}

bool
cfg_net_match(const struct cfg_net *nets, size_t n, int family,
    const uint8_t *addr, bool allow_any)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	/* a v4 client on a dual-stack socket arrives as ::ffff:a.b.c.d */
	if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (size_t i = 0; i < n; i++) {
		if (nets[i].any) {
			if (allow_any)
				return true;
			continue;
		}
		if (nets[i].family == family && net_contains(&nets[i], addr))
			return true;
	}
	return false;
}

/* ---- paths ---- */

/* removes "." and ".." components of an absolute path, in place */
static void
path_normalize(char *path)
{
	char *out = path, *p = path, *seg;
	size_t len;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		len = p - seg;
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, len);
		out += len;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
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
		out = xstrdup(dir);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			snprintf(cwd, sizeof(cwd), "/");
		if (asprintf(&out, "%s/%s", cwd, dir) == -1)
			fatal("%s", __func__);
	}
	path_normalize(out);
	return out;
}

static char *
resolve_path(const struct cfg_ctx *ctx, const char *path)
{
	char *out;

	if (path[0] == '/')
		return xstrdup(path);
	if (asprintf(&out, "%s/%s", ctx->basedir, path) == -1)
		fatal("%s", __func__);
	path_normalize(out);
	return out;
}

/* ---- values ---- */

static bool
need_scalar(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const char *what)
{
	if (v->kind == YN_SCALAR)
		return true;
	ctx_err(ctx, v->loc, key, "must be %s", what);
	return false;
}

static bool
get_string(struct cfg_ctx *ctx, const char *key, const struct ynode *v,
    const char **out)
{
	if (!need_scalar(ctx, key, v, "a string"))
		return false;
	if (scalar_kind(v) != SK_STR) {
		ctx_err(ctx, v->loc, key, "must be a string");
		return false;
	}
	if (strlen(v->text) != v->len) {
		ctx_err(ctx, v->loc, key, "must not contain NUL bytes");
		return false;
	}
	if (v->len == 0) {
		ctx_err(ctx, v->loc, key, "must not be empty");
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
		ctx_err(ctx, v->loc, key, "must be an integer");
		return false;
	}
	if (parse_int(v->text, out) != 0) {
		ctx_err(ctx, v->loc, key, "is too large");
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
		ctx_err(ctx, v->loc, key, "must be at least %s", lo);
	else
		ctx_err(ctx, v->loc, key, "must be between %s and %s", lo, hi);
	return false;
}

static void
fmt_duration(int64_t ms, char *buf, size_t size)
{
	static const int64_t div[] = { 3600000, 60000, 1000, 1 };
	static const char *const unit[] = { "h", "m", "s", "ms" };
	size_t len = 0;

	buf[0] = '\0';
	if (ms == 0)
		snprintf(buf, size, "0s");
	for (int i = 0; i < 4 && ms > 0; i++) {
		if (ms / div[i] == 0)
			continue;
		len += snprintf(buf + len, size - len, "%lld%s",
		    (long long)(ms / div[i]), unit[i]);
		ms %= div[i];
		if (len >= size)
			break;
	}
}

static void
fmt_size(int64_t bytes, char *buf, size_t size)
{
	for (int i = 4; i >= 1; i--) {
		int64_t unit = (int64_t)1 << size_units[i].shift;

		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, size, "%lld%s", (long long)(bytes / unit),
			    size_units[i].name);
			return;
		}
	}
	snprintf(buf, size, "%lld", (long long)bytes);
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
		ctx_err(
		    ctx, v->loc, key, "needs a unit (ms, s, m or h), e.g. 30s");
		return false;
	}
	if (scalar_kind(v) != SK_STR) {
		ctx_err(ctx, v->loc, key,
		    "must be a duration such as 250ms, 30s or 1h30m");
		return false;
	}
	if ((problem = cfg_parse_duration(v->text, out)) != NULL) {
		ctx_err(ctx, v->loc, key, "%s", problem);
		return false;
	}
	fmt_duration(ks->min, lo, sizeof(lo));
	fmt_duration(ks->max, hi, sizeof(hi));
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
		else if (parse_int(v->text, out) != 0)
			problem = "is too large";
		else
			problem = NULL;
	} else if (scalar_kind(v) == SK_STR)
		problem = cfg_parse_size(v->text, out);
	if (problem != NULL) {
		ctx_err(ctx, v->loc, key, "%s", problem);
		return false;
	}
	fmt_size(ks->min, lo, sizeof(lo));
	fmt_size(ks->max, hi, sizeof(hi));
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
		ctx_err(ctx, v->loc, key, "must be a list");
		return false;
	}
	nets = xcalloc(v->n + 1, sizeof(*nets));
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
			ctx_err(ctx, v->items[i]->loc, key,
			    "\"*\" is not allowed here");
		else
			ctx_err(ctx, v->items[i]->loc, key,
			    "\"%s\" is not an IP address or CIDR range", s);
	}
	free(*out);
	*out = nets;
	*n_out = n;
	return ok;
}

static bool
uuid_shaped(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool
valid_id(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > CFG_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
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
		ctx_err(ctx, v->loc, key, "must be at least 16 bytes long");
		return false;
	}
	if (ks->type == KT_PREFIX && (!valid_id(s) || uuid_shaped(s))) {
		ctx_err(ctx, v->loc, key, "%s",
		    uuid_shaped(s) ? "must not be shaped like a UUID"
				   : "must be 1-64 of A-Z a-z 0-9 _ -");
		return false;
	}
	if (ks->type == KT_LEVEL) {
		if ((level = log_level_parse(s)) < 0) {
			ctx_err(ctx, v->loc, key,
			    "must be debug, info, warn or error");
			return false;
		}
		ctx->cfg->log_level = level;
		return true;
	}
	free(*field);
	*field = ks->type == KT_PATH ? resolve_path(ctx, s) : xstrdup(s);
	return true;
}

/* converts and stores the value of key_specs[idx] */
static void
store_value(struct cfg_ctx *ctx, size_t idx, const struct ynode *v)
{
	const struct key_spec *ks = &key_specs[idx];
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
			ctx_err(ctx, v->loc, ks->path, "must be true or false");
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
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(key_specs[i].path, path) == 0)
			return (int)i;
	return -1;
}

static bool
is_section(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < N_KEYS; i++)
		if (strncmp(key_specs[i].path, name, len) == 0 &&
		    key_specs[i].path[len] == '.')
			return true;
	return false;
}

static int
rl_find(const char *name)
{
	for (int c = 0; c < CFG_RL_COUNT; c++)
		if (strcmp(rl_names[c], name) == 0)
			return c;
	return -1;
}

/* ---- sections ---- */

static bool
need_map(struct cfg_ctx *ctx, const char *key, const struct ynode *v)
{
	if (v->kind == YN_MAP)
		return true;
	ctx_err(ctx, v->loc, key, "must be a mapping");
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
		snprintf(key, sizeof(key), "rate_limiters.%s.%s", rl_names[c],
		    k->text);
		if (strcmp(k->text, "limit") == 0) {
			ctx->where->key[K_RATE + 2 * c] = v->loc;
			if (v->kind != YN_SCALAR ||
			    (scalar_kind(v) != SK_INT &&
				scalar_kind(v) != SK_FLOAT)) {
				ctx_err(ctx, v->loc, key, "must be a number");
				continue;
			}
			limit = strtod(v->text, &end);
			if (!isfinite(limit))
				ctx_err(ctx, v->loc, key, "is too large");
			else if (!(limit > 0))
				ctx_err(
				    ctx, v->loc, key, "must be greater than 0");
			else
				r->limit = limit;
		} else if (strcmp(k->text, "burst") == 0) {
			ctx->where->key[K_RATE + 2 * c + 1] = v->loc;
			if (!get_int(ctx, key, v, &burst))
				continue;
			if (burst < 1)
				ctx_err(ctx, v->loc, key, "must be at least 1");
			else
				r->burst = burst;
		} else
			ctx_err(ctx, k->loc, key, "unknown key");
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
			ctx_err(ctx, k->loc, key, "unknown key");
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
		ctx_err(ctx, v->loc, key, "%s", problem);
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
			if (strcmp(k->text, node_keys[j]) == 0)
				break;
		if (j < 3) {
			seen[j] = true;
			locs[1 + j] = v->loc;
			ok &= walk_binding(ctx, key, v, addrs[j]);
		} else if (strcmp(k->text, "client_domain") == 0) {
			if (!get_string(ctx, key, v, &s))
				ok = false;
			else if (!valid_hostname(s)) {
				ctx_err(
				    ctx, v->loc, key, "must be a host name");
				ok = false;
			} else {
				free(node->client_domain);
				node->client_domain = xstrdup(s);
			}
		} else {
			ctx_err(ctx, k->loc, key, "unknown key");
			ok = false;
		}
	}
	for (j = 0; j < 3; j++) {
		if (seen[j])
			continue;
		snprintf(
		    key, sizeof(key), "nodes.%s.%s", node->id, node_keys[j]);
		ctx_err(ctx, m->loc, key, "missing required key");
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
		ctx_err(ctx, m->loc, "nodes", "must list at least one node");
		return;
	}
	cfg->nodes = xcalloc(np, sizeof(*cfg->nodes));
	ctx->where->node = xcalloc(np * 4, sizeof(struct cfg_loc));
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
		if (!valid_id(k->text)) {
			ctx_err(ctx, k->loc, key,
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
			ctx_err(ctx, k->loc, key, "unknown key");
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
			ctx_err(ctx, k->loc, k->text, "unknown key");
	}
	for (size_t i = 0; i < N_KEYS; i++)
		if (key_specs[i].required && !ctx->seen[i])
			ctx_err(ctx, top, key_specs[i].path,
			    "missing required key");
	if (!have_nodes) {
		ctx_err(ctx, top, "nodes", "missing required key");
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
			ynode_append(map,
			    ynode_scalar(
				value->loc, comp[i], strlen(comp[i]), false));
			ynode_append(map, NULL);
			at = map->n - 1;
		} else
			ynode_free(cur);
		map->items[at] = last ? value : ynode_new(YN_MAP, value->loc);
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
		ctx_err(ctx, loc, arg, "must be name=value");
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
		ctx_err(ctx, loc, name, "unknown key");
		return;
	}
	/* quoted and flow values go through YAML; the rest is plain text */
	if (val[0] != '\0' && strchr("\"'[{", val[0]) != NULL) {
		if (yaml_tree(ctx, val, strlen(val), n, name, &value) != 0)
			return;
		if (value == NULL)
			value = ynode_scalar(loc, "", 0, false);
	} else
		value = ynode_scalar(loc, val, strlen(val), false);
	if (root != NULL && root->kind == YN_MAP)
		graft(root, comp, nc, value);
	else
		ynode_free(value);
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

static struct cfg_addr *
node_addr(struct cfg_node *node, size_t kind)
{
	if (kind == 0)
		return &node->public_binding;
	if (kind == 1)
		return &node->private_binding;
	return &node->raft_binding;
}

static void
binding_key(const struct cfg_node *node, size_t kind, char *buf, size_t size)
{
	snprintf(buf, size, "nodes.%s.%s", node->id, node_keys[kind]);
}

/* no two bindings may share host and port; sorting keeps this n log n */
static void
check_bindings_unique(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	size_t nb = cfg->n_nodes * 3;
	struct binding_ref *refs = xcalloc(nb, sizeof(*refs));
	char key[256], other[256], host[CFG_HOST_MAX + 1];

	for (size_t i = 0; i < nb; i++) {
		struct cfg_addr *a = node_addr(&cfg->nodes[i / 3], i % 3);

		refs[i].node = i / 3;
		refs[i].kind = i % 3;
		host_canon(a->host, host, sizeof(host));
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
		binding_key(
		    &cfg->nodes[refs[i].node], refs[i].kind, key, sizeof(key));
		binding_key(&cfg->nodes[refs[first].node], refs[first].kind,
		    other, sizeof(other));
		ctx_err(ctx,
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
		struct cfg_addr *a = node_addr(node, i);

		binding_key(node, i, key, sizeof(key));
		if (addr_is_wildcard(a) && cfg->n_nodes > 1 &&
		    node->client_domain == NULL)
			ctx_err(ctx, ctx->where->node[4 * n + 1 + i], key,
			    "a wildcard host needs nodes.%s.client_domain "
			    "when the file has more than one node",
			    node->id);
		for (size_t j = 0; j < i; j++) {
			struct cfg_addr *b = node_addr(node, j);

			if (a->port != b->port ||
			    strcmp(a->host, b->host) == 0 ||
			    (!addr_is_wildcard(a) && !addr_is_wildcard(b)))
				continue;
			/* 0.0.0.0 leaves IPv6 addresses alone */
			if ((strcmp(a->host, "0.0.0.0") == 0 && b->ipv6) ||
			    (strcmp(b->host, "0.0.0.0") == 0 && a->ipv6))
				continue;
			binding_key(node, j, other, sizeof(other));
			ctx_err(ctx, ctx->where->node[4 * n + 1 + i], key,
			    "port %u is also taken by %s", a->port, other);
		}
	}
}

/* nodes sharing a host need {node} in control_socket */
static void
check_control_socket(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	char a[CFG_HOST_MAX + 1], b[CFG_HOST_MAX + 1];

	if (cfg->control_socket == NULL ||
	    strstr(cfg->control_socket, "{node}") != NULL)
		return;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		for (size_t j = 0; j < i; j++) {
			struct cfg_addr *x = &cfg->nodes[i].private_binding;
			struct cfg_addr *y = &cfg->nodes[j].private_binding;

			host_canon(x->host, a, sizeof(a));
			host_canon(y->host, b, sizeof(b));
			if (strcmp(a, b) != 0 &&
			    !(host_is_loopback(x->host) &&
				host_is_loopback(y->host)))
				continue;
			ctx_err(ctx, ctx->where->key[K_SOCKET],
			    "control_socket",
			    "nodes %s and %s share a host: put {node} in the "
			    "path",
			    cfg->nodes[j].id, cfg->nodes[i].id);
			return;
		}
	}
}

static void
check_cross(struct cfg_ctx *ctx)
{
	struct cfg *cfg = ctx->cfg;
	struct cfg_where *w = ctx->where;
	char hb[32], el[32];

	if (cfg->default_leader != NULL && !ctx->node_bad && cfg->n_nodes > 0 &&
	    cfg_node(cfg, cfg->default_leader) == NULL)
		ctx_err(ctx, w->key[K_LEADER], "default_leader",
		    "\"%s\" is not a node of nodes", cfg->default_leader);
	if (cfg->tls_cert != NULL && cfg->tls_key == NULL)
		ctx_err(
		    ctx, w->key[K_CERT], "tls.cert", "needs tls.key as well");
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		ctx_err(
		    ctx, w->key[K_KEY], "tls.key", "needs tls.cert as well");
	if (cfg->server_must_use_tls &&
	    (cfg->tls_cert == NULL || cfg->tls_key == NULL))
		ctx_err(ctx, w->key[K_MUST_TLS], "server_must_use_tls",
		    "requires tls.cert and tls.key");
	if (cfg->raft_heartbeat_interval_ms * 5 >
	    cfg->raft_election_timeout_ms) {
		fmt_duration(cfg->raft_heartbeat_interval_ms, hb, sizeof(hb));
		fmt_duration(cfg->raft_election_timeout_ms, el, sizeof(el));
		ctx_err(ctx,
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
	cfg->root_prefix = xstrdup("root");
	cfg->user = xstrdup("_insidb");
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
		cfg->permitted_ips = xcalloc(2, sizeof(struct cfg_net));
		cfg->n_permitted_ips = 2;
		if (cfg_net_parse("127.0.0.1", &cfg->permitted_ips[0], false) ||
		    cfg_net_parse("::1", &cfg->permitted_ips[1], false))
			fatalx("%s: default permitted_ips", __func__);
	}
	cfg->control_socket_set = ctx->seen[K_SOCKET];
	if (cfg->control_socket == NULL && ctx->as_root)
		cfg->control_socket = xstrdup("/var/run/insid.sock");
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
	cfg->file = xstrdup(name);
	ctx.where = cfg->where = xcalloc(1, sizeof(*cfg->where));
	for (size_t i = 0; i < sizeof(ctx.where->key) / sizeof(top); i++)
		ctx.where->key[i] = top;
	ctx.basedir = config_basedir(name);
	cfg_defaults(cfg);
	if (len > CFG_FILE_MAX)
		ctx_err(&ctx, top, "(file)", "larger than 1 MiB");
	else if (yaml_tree(&ctx, buf, len, 0, "", &root) == 0) {
		if (root == NULL || root->kind != YN_MAP)
			ctx_err(&ctx, root ? root->loc : top, "(top level)",
			    "must be a mapping");
		for (size_t i = 0; i < n_overrides; i++)
			apply_override(&ctx, root, (int)i + 1, overrides[i]);
		if (root != NULL && root->kind == YN_MAP && !root->bad) {
			walk_top(&ctx, root);
			cfg_defaults_after(&ctx);
			check_cross(&ctx);
		}
	}
	ynode_free(root);
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
		ctx_err(
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
			ctx_err(&ctx, top, "(file)", "cannot read: %s",
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

static void
check_readable(const struct cfg *cfg, struct cfg_errors *errs, const char *key,
    size_t k, const char *path)
{
	int fd;

	if (path == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_msg(errs, cfg, cfg->where->key[k], key,
		    "cannot read %s: %s", path, strerror(errno));
		return;
	}
	close(fd);
}

static bool
cert_names(X509 *x509, const char *host)
{
	uint8_t bin[16];

	if (host_ip(host, bin) != 0)
		return X509_check_ip_asc(x509, host, 0) == 1;
	return X509_check_host(x509, host, 0, 0, NULL) == 1;
}

/* the certificate must name every host a node is reached by */
static void
check_cert_node(
    const struct cfg *cfg, struct cfg_errors *errs, X509 *x509, size_t i)
{
	const struct cfg_node *node = &cfg->nodes[i];
	char key[128], seen[3][CFG_HOST_MAX + 1];

	if (node->client_domain != NULL) {
		if (cert_names(x509, node->client_domain))
			return;
		snprintf(key, sizeof(key), "nodes.%s.client_domain", node->id);
		cfg_msg(errs, cfg, cfg->where->node[4 * i], key,
		    "certificate %s is not valid for %s", cfg->tls_cert,
		    node->client_domain);
		return;
	}
	for (size_t k = 0; k < 3; k++) {
		const struct cfg_addr *a =
		    node_addr((struct cfg_node *)node, k);
		bool dup = false;

		host_canon(a->host, seen[k], sizeof(seen[k]));
		for (size_t j = 0; j < k; j++)
			dup |= strcmp(seen[j], seen[k]) == 0;
		if (dup || addr_is_wildcard(a) || cert_names(x509, a->host))
			continue;
		binding_key(node, k, key, sizeof(key));
		cfg_msg(errs, cfg, cfg->where->node[4 * i + 1 + k], key,
		    "certificate %s is not valid for %s", cfg->tls_cert,
		    a->host);
	}
}

/* an encrypted key cannot be used unattended: never prompt */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf, (void)size, (void)rwflag, (void)arg;
	return -1;
}

static void
check_tls_key(const struct cfg *cfg, struct cfg_errors *errs, X509 *x509)
{
	EVP_PKEY *pkey;
	FILE *f;

	if ((f = fopen(cfg->tls_key, "r")) == NULL)
		return;
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (pkey == NULL)
		cfg_msg(errs, cfg, cfg->where->key[K_KEY], "tls.key",
		    "%s holds no unencrypted PEM private key", cfg->tls_key);
	else if (X509_check_private_key(x509, pkey) != 1)
		cfg_msg(errs, cfg, cfg->where->key[K_KEY], "tls.key",
		    "%s does not match tls.cert", cfg->tls_key);
	EVP_PKEY_free(pkey);
}

static void
check_tls(const struct cfg *cfg, struct cfg_errors *errs)
{
	X509 *x509;
	FILE *f;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL ||
	    (f = fopen(cfg->tls_cert, "r")) == NULL)
		return;
	x509 = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x509 == NULL)
		cfg_msg(errs, cfg, cfg->where->key[K_CERT], "tls.cert",
		    "%s holds no PEM certificate", cfg->tls_cert);
	else {
		for (size_t i = 0; i < cfg->n_nodes; i++)
			check_cert_node(cfg, errs, x509, i);
		check_tls_key(cfg, errs, x509);
	}
	X509_free(x509);
	ERR_clear_error();
}

int
cfg_check_environment(
    const struct cfg *cfg, bool as_root, struct cfg_errors *errs)
{
	size_t before = errs->n;

	check_readable(cfg, errs, "tls.cert", K_CERT, cfg->tls_cert);
	check_readable(cfg, errs, "tls.key", K_KEY, cfg->tls_key);
	check_readable(cfg, errs, "tls.ca", K_CA, cfg->tls_ca);
	if (errs->n == before)
		check_tls(cfg, errs);
	if (as_root && getpwnam(cfg->user) == NULL)
		cfg_msg(errs, cfg, cfg->where->key[K_USER], "user",
		    "no such user \"%s\"", cfg->user);
	return errs->n > before ? -1 : 0;
}

int
cfg_warnings(const struct cfg *cfg, struct cfg_errors *out)
{
	size_t before = out->n;
	char key[128], seen[3][CFG_HOST_MAX + 1];
	uint8_t bin[16];
	int family;

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct cfg_node *node = &cfg->nodes[i];

		for (size_t k = 0; k < 3; k++) {
			struct cfg_addr *a = node_addr(node, k);
			bool dup = false;

			host_canon(a->host, seen[k], sizeof(seen[k]));
			for (size_t j = 0; j < k; j++)
				dup |= strcmp(seen[j], seen[k]) == 0;
			family = host_ip(a->host, bin);
			if (dup || family == 0 || addr_is_wildcard(a) ||
			    cfg_net_match(cfg->permitted_ips,
				cfg->n_permitted_ips, family, bin, false))
				continue;
			binding_key(node, k, key, sizeof(key));
			cfg_msg(out, cfg, cfg->where->node[4 * i + 1 + k], key,
			    "%s is not matched by permitted_ips: calls from "
			    "this node will be refused",
			    seen[k]);
		}
	}
	return (int)(out->n - before);
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
	out = xcalloc(1, cap);
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

/* ---- dump ---- */

static void
dump_str(FILE *f, const char *indent, const char *key, const char *s)
{
	fprintf(f, "%s%s: \"", indent, key);
	for (; *s != '\0'; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fprintf(f, "\"\n");
}

static void
dump_nets(FILE *f, const char *key, const struct cfg_net *nets, size_t n)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(f, "%s: [", key);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s", i ? ", " : "");
		if (nets[i].any) {
			fprintf(f, "\"*\"");
			continue;
		}
		inet_ntop(nets[i].family, nets[i].addr, buf, sizeof(buf));
		fprintf(f, "\"%s", buf);
		if (nets[i].prefix != (nets[i].family == AF_INET ? 32 : 128))
			fprintf(f, "/%d", nets[i].prefix);
		fprintf(f, "\"");
	}
	fprintf(f, "]\n");
}

static void
dump_addr(FILE *f, const char *key, const struct cfg_addr *a)
{
	fprintf(f, "    %s: \"%s%s%s:%u\"\n", key, a->ipv6 ? "[" : "", a->host,
	    a->ipv6 ? "]" : "", a->port);
}

static void
dump_value(FILE *f, const struct cfg *cfg, size_t i)
{
	const struct key_spec *ks = &key_specs[i];
	const char *base = (const char *)cfg, *dot = strchr(ks->path, '.');
	const char *indent = dot ? "  " : "", *name = dot ? dot + 1 : ks->path;
	int64_t v = ks->type >= KT_INT && ks->type <= KT_SIZE
	    ? *(const int64_t *)(base + ks->off)
	    : 0;
	char buf[64];

	switch (ks->type) {
	case KT_SECRET:
		dump_str(f, indent, name, "<redacted>");
		break;
	case KT_STR:
	case KT_PREFIX:
	case KT_PATH:
		if (*(char *const *)(base + ks->off) != NULL)
			dump_str(
			    f, indent, name, *(char *const *)(base + ks->off));
		break;
	case KT_BOOL:
		fprintf(f, "%s%s: %s\n", indent, name,
		    *(const bool *)(base + ks->off) ? "true" : "false");
		break;
	case KT_INT:
		fprintf(f, "%s%s: %lld\n", indent, name, (long long)v);
		break;
	case KT_DUR:
		fmt_duration(v, buf, sizeof(buf));
		fprintf(f, "%s%s: %s\n", indent, name, buf);
		break;
	case KT_SIZE:
		fmt_size(v, buf, sizeof(buf));
		fprintf(f, "%s%s: %s\n", indent, name, buf);
		break;
	case KT_LEVEL:
		fprintf(f, "%s%s: %s\n", indent, name,
		    log_level_name(cfg->log_level));
		break;
	case KT_NETS:
		dump_nets(
		    f, name, cfg->trusted_proxies, cfg->n_trusted_proxies);
		break;
	case KT_NETS_ANY:
		dump_nets(f, name, cfg->permitted_ips, cfg->n_permitted_ips);
		break;
	}
}

void
cfg_dump(const struct cfg *cfg, FILE *f)
{
	const char *section = NULL;
	size_t len, section_len = 0;

	fprintf(f, "# effective configuration of %s\n", cfg->file);
	for (size_t i = 0; i < N_KEYS; i++) {
		const char *path = key_specs[i].path, *dot = strchr(path, '.');

		len = dot ? (size_t)(dot - path) : 0;
		if (dot &&
		    (section == NULL || section_len != len ||
			strncmp(section, path, len) != 0)) {
			section = path;
			section_len = len;
			fprintf(f, "%.*s:%s\n", (int)len, path,
			    strncmp(path, "tls.", 4) == 0 &&
				    cfg->tls_cert == NULL &&
				    cfg->tls_key == NULL && cfg->tls_ca == NULL
				? " {}"
				: "");
		} else if (!dot)
			section = NULL;
		dump_value(f, cfg, i);
		if (i == K_PERMITTED) {
			fprintf(f, "rate_limiters:\n");
			for (int c = 0; c < CFG_RL_COUNT; c++)
				fprintf(f, "  %s: {limit: %g, burst: %lld}\n",
				    rl_names[c], cfg->rate[c].limit,
				    (long long)cfg->rate[c].burst);
		}
	}
	fprintf(f, "nodes:\n");
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct cfg_node *node = &cfg->nodes[i];

		fprintf(f, "  %s:\n", node->id);
		dump_addr(f, "public_binding", &node->public_binding);
		dump_addr(f, "private_binding", &node->private_binding);
		dump_addr(f, "raft_binding", &node->raft_binding);
		if (node->client_domain != NULL)
			dump_str(
			    f, "    ", "client_domain", node->client_domain);
	}
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
