/*
 * SIGHUP and `insidbctl reload`: re-read the configuration file as a
 * transaction.  A file with errors changes nothing; a changed key that
 * cannot be reloaded is logged and keeps its old value.  logging.level
 * goes to every role as MSG_SUP_LOG_LEVEL; when another key marked
 * "reload" in CONFIG.md changed (TLS material included), the whole file
 * goes to the roles as a reload (CONFIG, TLS, DONE) and each takes those
 * keys (role_hooks.reload); the start-up file stays the source of every
 * other key, also for a role restarted later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define SUP_NOTES_MAX 4096

struct sup_notes {
	char buf[SUP_NOTES_MAX];
	size_t len;
};

static void
sup_note(struct sup_notes *n, const char *key, bool reloadable)
{
	char line[256];
	int w;

	if (reloadable) {
		snprintf(
		    line, sizeof(line), "%s changed: sent to the roles", key);
		log_info("reload: %s", line);
	} else {
		snprintf(line, sizeof(line),
		    "%s changed: cannot be reloaded, old value kept", key);
		log_warnx("reload: %s", line);
	}
	w = snprintf(n->buf + n->len, sizeof(n->buf) - n->len, "%s%s",
	    n->len ? "\n" : "", line);
	if (w > 0 && (size_t)w < sizeof(n->buf) - n->len)
		n->len += (size_t)w;
}

static bool
sup_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static bool
sup_addr_differs(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return strcmp(a->host, b->host) != 0 || a->port != b->port;
}

static bool
sup_nodes_differ(const struct cfg *a, const struct cfg *b)
{
	if (a->n_nodes != b->n_nodes)
		return true;
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct cfg_node *x = &a->nodes[i], *y = &b->nodes[i];

		if (strcmp(x->id, y->id) != 0 ||
		    sup_addr_differs(&x->public_binding, &y->public_binding) ||
		    sup_addr_differs(
			&x->private_binding, &y->private_binding) ||
		    sup_addr_differs(&x->raft_binding, &y->raft_binding) ||
		    sup_str_differs(x->client_domain, y->client_domain))
			return true;
	}
	return false;
}

static bool
sup_nets_differ(
    const struct cfg_net *a, size_t na, const struct cfg_net *b, size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (a[i].any != b[i].any || a[i].family != b[i].family ||
		    a[i].prefix != b[i].prefix ||
		    memcmp(a[i].addr, b[i].addr, sizeof(a[i].addr)) != 0)
			return true;
	return false;
}

static bool
sup_rates_differ(const struct cfg *a, const struct cfg *b)
{
	for (int i = 0; i < CFG_RL_COUNT; i++)
		if (a->rate[i].limit != b->rate[i].limit ||
		    a->rate[i].burst != b->rate[i].burst)
			return true;
	return false;
}

#define SUP_CMP_STR(f, key) \
	do { \
		if (sup_str_differs(old->f, new->f)) \
			sup_note(n, key, false); \
	} while (0)
#define SUP_CMP_VAL(f, key) \
	do { \
		if (old->f != new->f) \
			sup_note(n, key, false); \
	} while (0)

static void
sup_compare_fixed(
    const struct cfg *old, const struct cfg *new, struct sup_notes *n)
{
	SUP_CMP_STR(instance_secret, "instance_secret");
	SUP_CMP_STR(default_leader, "default_leader");
	SUP_CMP_STR(root_prefix, "root_prefix");
	SUP_CMP_STR(insid_home, "insid_home");
	SUP_CMP_STR(user, "user");
	SUP_CMP_STR(control_socket, "control_socket");
	SUP_CMP_VAL(client_skip_verify, "client_skip_verify");
	SUP_CMP_VAL(server_must_use_tls, "server_must_use_tls");
	SUP_CMP_VAL(cache_standard_ttl_ms, "cache.standard_ttl");
	SUP_CMP_VAL(cache_keys_ms, "cache.keys");
	SUP_CMP_VAL(sessions_max_connections, "sessions.max_connections");
	SUP_CMP_VAL(sessions_send_queue, "sessions.send_queue");
	SUP_CMP_VAL(events_replay_window_ms, "events.replay_window");
	SUP_CMP_VAL(blobs_max_size, "blobs.max_size");
	SUP_CMP_VAL(blobs_gc_interval_ms, "blobs.gc_interval");
	SUP_CMP_VAL(blobs_repair_interval_ms, "blobs.repair_interval");
	SUP_CMP_VAL(limits_max_value_size, "limits.max_value_size");
	SUP_CMP_VAL(raft_heartbeat_interval_ms, "raft.heartbeat_interval");
	SUP_CMP_VAL(raft_election_timeout_ms, "raft.election_timeout");
	SUP_CMP_VAL(raft_snapshot_threshold, "raft.snapshot_threshold");
	SUP_CMP_VAL(raft_snapshot_trailing, "raft.snapshot_trailing");
	if (sup_nodes_differ(old, new))
		sup_note(n, "nodes", false);
}

static void
sup_add_error(
    struct cfg_errors *errs, const char *fmt, const char *a, const char *b)
{
	char **m;

	if ((m = reallocarray(errs->msgs, errs->n + 1, sizeof(*m))) == NULL)
		fatal("%s: reallocarray", __func__);
	errs->msgs = m;
	if (asprintf(&errs->msgs[errs->n], fmt, a, b) == -1)
		fatal("%s: asprintf", __func__);
	errs->n++;
}

static bool
sup_pems_differ(
    char *const *a, const size_t *alen, char *const *b, const size_t *blen)
{
	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		if ((a[i] == NULL) != (b[i] == NULL))
			return true;
		if (a[i] != NULL &&
		    (alen[i] != blen[i] || memcmp(a[i], b[i], alen[i]) != 0))
			return true;
	}
	return false;
}

/* against what the roles use now; true when anything changed */
static bool
sup_compare_reloadable(const struct sup *s, const struct cfg *new,
    char *const *pem, const size_t *pem_len, struct sup_notes *n)
{
	const struct cfg *old = s->reloaded ? &s->reload_cfg : &s->cfg;
	char *const *old_pem = s->reloaded ? s->reload_pem : s->tls_pem;
	const size_t *old_len = s->reloaded ? s->reload_pem_len : s->tls_len;
	size_t before = n->len;

	if (sup_pems_differ(old_pem, old_len, pem, pem_len))
		sup_note(n, "tls", true);
	if (sup_nets_differ(old->trusted_proxies, old->n_trusted_proxies,
		new->trusted_proxies, new->n_trusted_proxies))
		sup_note(n, "trusted_proxies", true);
	if (sup_nets_differ(old->permitted_ips, old->n_permitted_ips,
		new->permitted_ips, new->n_permitted_ips))
		sup_note(n, "permitted_ips", true);
	if (sup_rates_differ(old, new))
		sup_note(n, "rate_limiters", true);
	return n->len != before;
}

static int
sup_read_pems(
    const struct cfg *cfg, char **pem, size_t *len, struct cfg_errors *errs)
{
	const char *paths[SUP_TLS_COUNT] = { cfg->tls_cert, cfg->tls_key,
		cfg->tls_ca };

	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		pem[i] = NULL;
		len[i] = 0;
		if (paths[i] == NULL)
			continue;
		if (sup_read_file(paths[i], &pem[i], &len[i]) == -1) {
			sup_add_error(
			    errs, "%s: %s", paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
sup_free_pems(char **pem)
{
	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		free(pem[i]);
		pem[i] = NULL;
	}
}

/* keeps the file as the reloaded one and sends it to the ready roles */
static void
sup_apply_reload(struct sup *s, char *yaml, size_t len, struct cfg *new,
    char **pem, const size_t *pem_len)
{
	if (s->reloaded) {
		free(s->reload_yaml);
		cfg_free(&s->reload_cfg);
		sup_free_pems(s->reload_pem);
	}
	s->reloaded = true;
	s->reload_yaml = yaml;
	s->reload_yaml_len = len;
	s->reload_cfg = *new;
	memset(new, 0, sizeof(*new));
	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		s->reload_pem[i] = pem[i];
		s->reload_pem_len[i] = pem_len[i];
		pem[i] = NULL;
	}
	for (int i = 0; i < ROLE_COUNT; i++)
		sup_push_reload(s, &s->child[i]);
}

/* the level the roles use: the file's, raised by -v */
static int
sup_effective_level(const struct sup *s, int file_level)
{
	if (s->opts.verbose >= 2)
		return LOG_LEVEL_DEBUG;
	if (s->opts.verbose == 1 && file_level > LOG_LEVEL_INFO)
		return LOG_LEVEL_INFO;
	return file_level;
}

int
sup_initial_log_level(const struct sup *s)
{
	return sup_effective_level(s, s->cfg.log_level);
}

int
sup_reload(struct sup *s, struct cfg_errors *errs, char **notes)
{
	struct sup_notes n = { .len = 0 };
	struct cfg new = { 0 };
	char *yaml, *pem[SUP_TLS_COUNT] = { NULL };
	size_t len, pem_len[SUP_TLS_COUNT];

	*notes = NULL;
	if (sup_read_file(s->cfg_path, &yaml, &len) == -1) {
		sup_add_error(errs, "%s: %s", s->cfg_path, strerror(errno));
		goto bad;
	}
	if (cfg_parse(s->cfg_path, yaml, len, s->opts.overrides,
		s->opts.n_overrides, s->as_root, &new, errs) == -1 ||
	    cfg_check_environment(&new, s->as_root, errs) == -1)
		goto bad_free;
	if (cfg_node(&new, s->self->id) == NULL) {
		sup_add_error(errs, "%s: node %s is no longer listed",
		    s->cfg_path, s->self->id);
		goto bad_free;
	}
	if (cfg_check_node_tls(&new, s->self->id, errs) == -1 ||
	    sup_read_pems(&new, pem, pem_len, errs) == -1)
		goto bad_free;
	sup_compare_fixed(&s->cfg, &new, &n);
	if (new.log_level != s->cfg.log_level) {
		s->cfg.log_level = new.log_level;
		sup_set_log_level(s, sup_effective_level(s, new.log_level));
	}
	if (sup_compare_reloadable(s, &new, pem, pem_len, &n)) {
		sup_apply_reload(s, yaml, len, &new, pem, pem_len);
		yaml = NULL;
	}
	free(yaml);
	sup_free_pems(pem);
	cfg_free(&new);
	if ((*notes = strdup(n.buf)) == NULL)
		fatal("%s: strdup", __func__);
	log_info("reload: done");
	return 0;
bad_free:
	free(yaml);
	sup_free_pems(pem);
	cfg_free(&new);
bad:
	for (size_t i = 0; i < errs->n; i++)
		log_warnx("reload: %s", errs->msgs[i]);
	log_warnx("reload: configuration has errors, nothing changed");
	return -1;
}
