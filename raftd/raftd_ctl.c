/*
 * insidbctl verbs the supervisor relays to raftd (MSG_SUP_CTL, CLI.md):
 * show cluster, show scope DS (what the local state holds of a data
 * scope, fsm_scope.h), snapshot, backup DIR (a RocksDB checkpoint into a fresh
 * directory of data_dir, which the supervisor then moves), and the
 * membership verbs join, remove and leader transfer (on the leader; a
 * follower answers with the leader's id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proto/msg.h"
#include "raftd/fsm_scope.h"
#include "raftd/keys.h"
#include "raftd/raftd_int.h"

static void
raftd_ctl_error(struct role_env *env, uint64_t corr, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	role_ctl_reply(env, corr, 1,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static const char *
raftd_ctl_arg(struct json_object *args, const char *name)
{
	struct json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
raftd_ctl_cluster(struct raftd *rd, uint64_t corr)
{
	struct json_object *o = raftd_state_json(rd);

	role_ctl_reply(rd->env, corr, 0,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void
raftd_ctl_scope(struct raftd *rd, uint64_t corr, const char *ds)
{
	struct fsm_scope_counts n;
	struct json_object *o;

	if (ds == NULL || !keys_scope_valid(ds))
		return raftd_ctl_error(rd->env, corr, "bad data scope");
	if (fsm_scope_count(rd->fsm, ds, &n) == -1)
		return raftd_ctl_error(rd->env, corr, "state read failed");
	o = json_object_new_object();
	json_object_object_add(o, "ds", json_object_new_string(ds));
#define SCOPE_COUNT(m) \
	json_object_object_add(o, #m, json_object_new_uint64(n.m))
	SCOPE_COUNT(values);
	SCOPE_COUNT(cache_entries);
	SCOPE_COUNT(usage);
	SCOPE_COUNT(limits);
	SCOPE_COUNT(key_records);
	SCOPE_COUNT(scope_index);
	SCOPE_COUNT(aliases);
	SCOPE_COUNT(alias_index);
	SCOPE_COUNT(orphan_aliases);
	SCOPE_COUNT(orphan_alias_index);
#undef SCOPE_COUNT
	json_object_object_add(
	    o, "truncated", json_object_new_boolean(n.truncated));
	role_ctl_reply(rd->env, corr, 0,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void
raftd_ctl_snapshot(struct raftd *rd, uint64_t corr)
{
	uint64_t index;
	char json[64];

	if (node_snapshot_now(rd->node, &index) == -1) {
		/* nothing applied since the last one is not a failure */
		index = raft_snapshot_meta(node_core(rd->node))->index;
		if (index == 0 || index != node_applied(rd->node))
			return raftd_ctl_error(
			    rd->env, corr, "no snapshot could be taken");
	}
	snprintf(
	    json, sizeof(json), "{\"index\":%llu}", (unsigned long long)index);
	role_ctl_reply(rd->env, corr, 0, json);
}

/* a name directly inside data_dir */
static bool
raftd_ctl_dir_ok(const char *dir)
{
	return dir != NULL && dir[0] != '\0' && dir[0] != '.' &&
	    strchr(dir, '/') == NULL && strlen(dir) < 128;
}

static void
raftd_ctl_backup(struct raftd *rd, uint64_t corr, const char *dir)
{
	const char *base = rd->env->data_dir;
	size_t n = strlen(base);
	rocksdb_checkpoint_t *cp;
	char *path, *err = NULL;

	if (!raftd_ctl_dir_ok(dir))
		return raftd_ctl_error(rd->env, corr, "bad backup directory");
	if (asprintf(&path, "%s%s%s", base,
		n > 0 && base[n - 1] == '/' ? "" : "/", dir) == -1)
		fatal("%s", __func__);
	cp = rocksdb_checkpoint_object_create(rd->store->db, &err);
	if (err == NULL)
		rocksdb_checkpoint_create(cp, path, 0, &err);
	if (cp != NULL)
		rocksdb_checkpoint_object_destroy(cp);
	free(path);
	if (err != NULL) {
		log_warnx("backup checkpoint: %s", err);
		raftd_ctl_error(rd->env, corr, err);
		rocksdb_free(err);
		return;
	}
	role_ctl_reply(rd->env, corr, 0, "{}");
}

static void
raftd_ctl_member(struct raftd *rd, uint64_t corr, uint8_t op, const char *id,
    const char *addr)
{
	struct raftd_mwait *w;

	if (id == NULL || (op == MEMBER_JOIN && addr == NULL))
		return raftd_ctl_error(rd->env, corr, "missing argument");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->ctl = true;
	w->corr = corr;
	w->op = op;
	if ((w->id = raftd_id_of(rd, id)) == 0) {
		free(w);
		return raftd_ctl_error(rd->env, corr, "unknown node id");
	}
	if (op == MEMBER_JOIN && !raftd_join_address_ok(rd, w->id, addr)) {
		free(w);
		return raftd_ctl_error(rd->env, corr,
		    "the address is not the node's raft binding");
	}
	node_member(rd->node, op, w->id, addr, w);
}

void
raftd_ctl(
    struct role_env *env, uint64_t corr, const char *verb, const char *args)
{
	struct raftd *rd = env->state;
	struct json_object *a = NULL;

	if (rd == NULL || rd->node == NULL)
		return raftd_ctl_error(env, corr, "raftd is not running");
	if (args != NULL && args[0] != '\0')
		a = json_tokener_parse(args);
	if (strcmp(verb, "show cluster") == 0)
		raftd_ctl_cluster(rd, corr);
	else if (strcmp(verb, "show scope") == 0)
		raftd_ctl_scope(rd, corr, raftd_ctl_arg(a, "ds"));
	else if (strcmp(verb, "snapshot") == 0)
		raftd_ctl_snapshot(rd, corr);
	else if (strcmp(verb, "backup") == 0)
		raftd_ctl_backup(rd, corr, raftd_ctl_arg(a, "dir"));
	else if (strcmp(verb, "join") == 0)
		raftd_ctl_member(rd, corr, MEMBER_JOIN, raftd_ctl_arg(a, "id"),
		    raftd_ctl_arg(a, "raft_addr"));
	else if (strcmp(verb, "remove") == 0)
		raftd_ctl_member(
		    rd, corr, MEMBER_REMOVE, raftd_ctl_arg(a, "id"), NULL);
	else if (strcmp(verb, "leader transfer") == 0)
		raftd_ctl_member(
		    rd, corr, MEMBER_TRANSFER, raftd_ctl_arg(a, "node"), NULL);
	else
		raftd_ctl_error(env, corr, "unknown verb");
	json_object_put(a);
}
