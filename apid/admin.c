/*
 * Admin routes of API.md §16: API keys, limits and insight, root key only.
 * The key UUID, data scope and token of a new key are made here, on the
 * leader, and travel inside the command.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/keys.h"
#include "apid/keys_pure.h"
#include "common/log.h"
#include "proto/msg.h"

#define ENTITIES_LIMIT_DEFAULT 100
#define ENTITIES_LIMIT_MAX 1000

static const char *const limit_names[KEYREC_LIMITS] = { "bytes_on_disk",
	"bytes_in_memory", "events_emitted", "subscribers",
	"rate_per_second_data_limit", "rate_per_second_event_limit" };

/* what an admin request carries between its reads */
struct adm {
	struct token_claims tc;
	char key_uuid[CRYPTO_UUID_LEN + 1];
	char ds[CMD_SCOPE_MAX + 1];
	uint8_t *rec; /* the key record being shown */
	size_t rec_len;
	uint8_t limits[1 + KEYREC_LIMITS * 8];
	void (*next)(struct areq *);
	struct pbuf out;
	uint8_t *rows; /* READ_KEYS rows of insight/entities */
	struct pread rd;
	uint32_t left;
	bool list;
	bool first;
};

static void
adm_free(void *p)
{
	struct adm *s = p;

	free(s->rec);
	free(s->rows);
	pb_free(&s->out);
	free(s);
}

static struct adm *
adm_state(struct areq *ar)
{
	struct adm *s;

	if (ar->hstate != NULL)
		return ar->hstate;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s", __func__);
	pb_init(&s->out);
	ar->hstate = s;
	ar->hstate_free = adm_free;
	return s;
}

static void
adm_set_rec(struct adm *s, const uint8_t *rec, size_t len)
{
	free(s->rec);
	if ((s->rec = malloc(len ? len : 1)) == NULL)
		fatal("%s", __func__);
	memcpy(s->rec, rec, len);
	s->rec_len = len;
}

static bool
is_root_key(struct areq *ar, const char *tok, size_t len)
{
	char *t;
	bool root;

	if ((t = strndup(tok, len)) == NULL)
		fatal("%s", __func__);
	root = crypto_str_equal(t, ar->a->root_key);
	free(t);
	return root;
}

/*
 * Resolving an API key token to its live entity key: entity tokens by
 * READ_KEY, alias tokens (when allowed) by READ_ALIAS to their parent.
 */

static void
resolve_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	const uint8_t *rec, *prec;
	size_t rlen, plen;
	struct pread rest;
	struct aliasrec a;
	struct keyrec r;
	uint16_t st;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	if (st == ST_NOT_FOUND) {
		keys_not_found(ar, "API_KEY_NOT_FOUND", "api key not found");
		return;
	}
	pr_get_bytes(&rest, &rec, &rlen);
	if (s->tc.is_alias) {
		pr_get_bytes(&rest, &prec, &plen);
		if (rest.err || aliasrec_decode(rec, rlen, &a) == -1 ||
		    a.parent_len != CRYPTO_UUID_LEN)
			fatalx("%s: malformed alias from raftd", __func__);
		memcpy(s->key_uuid, a.parent, CRYPTO_UUID_LEN);
		s->key_uuid[CRYPTO_UUID_LEN] = '\0';
		rec = prec;
		rlen = plen;
	} else
		snprintf(s->key_uuid, sizeof(s->key_uuid), "%s", s->tc.k);
	if (rlen == 0) {
		keys_not_found(ar, "API_KEY_NOT_FOUND", "api key not found");
		return;
	}
	if (keyrec_decode(rec, rlen, &r) == -1)
		fatalx("%s: malformed key record from raftd", __func__);
	if (r.tombstone || !keyrec_ds_is(&r, s->tc.ds)) {
		keys_not_found(ar, "API_KEY_NOT_FOUND", "api key deleted");
		return;
	}
	snprintf(s->ds, sizeof(s->ds), "%s", s->tc.ds);
	adm_set_rec(s, rec, rlen);
	s->next(ar);
}

static void
resolve(struct areq *ar, void (*next)(struct areq *))
{
	struct adm *s = ar->hstate;

	s->next = next;
	keys_read(ar, s->tc.is_alias ? READ_ALIAS : READ_KEY,
	    ar->a->env->cfg.root_prefix, s->tc.k, 0, 0, resolve_done);
}

/* decrypts tok into the state's claims; -1 after answering 404 */
static int
adm_decrypt(struct areq *ar, const char *tok, size_t len, const char *type)
{
	struct adm *s = adm_state(ar);

	if (crypto_token_decrypt(apid_token_key(ar->a), tok, len, &s->tc) ==
	    -1) {
		keys_not_found(ar, type, "the token does not decrypt");
		return -1;
	}
	return 0;
}

/*
 * admin/api/create
 */

static void
create_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	struct cmd_result res;

	if (keys_cmd_result(ar, err, p, len, &res) == -1)
		return;
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	pb_add_raw(&s->out, "}\n", 2);
	apid_reply(ar, 200, NULL, &s->out);
}

static void
create_body(struct areq *ar)
{
	char entity[ENTITY_NAME_MAX];
	struct token_claims tc;
	struct adm *s;
	const char *name;
	size_t nlen;
	struct pbuf v;
	struct cmd c;
	char *token;

	if (keys_body_str(ar, "key_name", &name, &nlen) == -1)
		return;
	if (!entity_key_name_valid(name, nlen)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "key_name: must be 1-128 characters without controls");
		return;
	}
	memset(&tc, 0, sizeof(tc));
	if (crypto_uuid4(tc.k) == -1 || crypto_uuid4(tc.ds) == -1 ||
	    (token = crypto_token_encrypt(apid_token_key(ar->a), &tc, NULL)) ==
		NULL) {
		apid_error(
		    ar, 500, "INTERNAL_ERROR", NULL, "could not make a token");
		return;
	}
	entity_name(name, nlen, entity, sizeof(entity));
	s = adm_state(ar);
	pb_add_raw(&s->out, "{\"key_name\":", 12);
	json_put_str(&s->out, name, nlen);
	pb_add_raw(&s->out, ",\"key\":", 7);
	json_put_cstr(&s->out, token);
	pb_init(&v);
	pb_add_bytes(&v, name, nlen);
	pb_add_bytes(&v, entity, strlen(entity));
	pb_add_bytes(&v, token, strlen(token));
	free(token);
	memset(&c, 0, sizeof(c));
	c.type = CMD_KEY_CREATE;
	snprintf(c.scope, sizeof(c.scope), "%s", tc.ds);
	c.key = (const uint8_t *)tc.k;
	c.key_len = strlen(tc.k);
	c.value = v.data;
	c.value_len = v.len;
	keys_propose(ar, &c, create_done);
	pb_free(&v);
}

static void
create_begin(struct areq *ar)
{
	apid_read_json(ar, create_body, false);
}

/*
 * admin/api/delete
 */

static void
delete_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (keys_cmd_result(ar, err, p, len, &res) == -1)
		return;
	if (res.status == ST_API_KEY_NOT_FOUND) {
		keys_not_found(ar, "API_KEY_NOT_FOUND", "api key not found");
		return;
	}
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	apid_reply_text(ar, "{\"success\":true}\n");
}

static void
delete_body(struct areq *ar)
{
	struct adm *s;
	const char *tok;
	size_t len;
	struct cmd c;

	if (keys_body_str(ar, "key", &tok, &len) == -1)
		return;
	if (is_root_key(ar, tok, len)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "key: the root key cannot be deleted");
		return;
	}
	if (adm_decrypt(ar, tok, len, "API_KEY_NOT_FOUND") == -1)
		return;
	s = ar->hstate;
	if (s->tc.is_alias) {
		apid_error(ar, 400, "ALIAS_NOT_ALLOWED", NULL,
		    "key: an alias token; delete it with alias/delete");
		return;
	}
	apid_token_forget(ar->a, tok, len);
	memset(&c, 0, sizeof(c));
	c.type = CMD_KEY_TOMBSTONE;
	snprintf(c.scope, sizeof(c.scope), "%s", s->tc.ds);
	c.key = (const uint8_t *)s->tc.k;
	c.key_len = strlen(s->tc.k);
	keys_propose(ar, &c, delete_done);
}

static void
delete_begin(struct areq *ar)
{
	apid_read_json(ar, delete_body, false);
}

/*
 * admin/limits/set
 */

/* the raw text of an object member (not NUL-terminated) parsed */
static struct json_object *
raw_object(const struct jb_member *m)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (m->raw_len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, m->raw, (int)m->raw_len);
	json_tokener_free(tok);
	return o;
}

/* the limits object into a limits record; -1 after answering 400 */
static int
limits_parse(struct areq *ar, uint8_t rec[1 + KEYREC_LIMITS * 8])
{
	const struct jb_member *m = jb_find(&ar->doc, "limits");
	struct json_object *o;
	int rc = 0;

	if (m == NULL || m->type == JB_NULL) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "limits: required");
		return -1;
	}
	if (m->type != JB_OBJECT || (o = raw_object(m)) == NULL) {
		apid_error(
		    ar, 400, "BAD_REQUEST", NULL, "limits: must be an object");
		return -1;
	}
	memset(rec, 0, 1 + KEYREC_LIMITS * 8);
	json_object_object_foreach(o, name, val)
	{
		int i;

		for (i = 0; i < KEYREC_LIMITS; i++)
			if (strcmp(name, limit_names[i]) == 0)
				break;
		if (i == KEYREC_LIMITS) {
			apid_error(ar, 400, "BAD_REQUEST", NULL,
			    "limits.%s: unknown member", name);
			rc = -1;
			break;
		}
		if (!json_object_is_type(val, json_type_int) ||
		    json_object_get_int64(val) < 0) {
			apid_error(ar, 400, "BAD_REQUEST", NULL,
			    "limits.%s: must be a non-negative integer", name);
			rc = -1;
			break;
		}
		rec[0] |= (uint8_t)(1u << i);
		for (int b = 0; b < 8; b++)
			rec[1 + 8 * i + b] =
			    (uint8_t)((uint64_t)json_object_get_int64(val) >>
				(56 - 8 * b));
	}
	json_object_put(o);
	return rc;
}

static void
limits_set_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (keys_cmd_result(ar, err, p, len, &res) == -1)
		return;
	if (res.status == ST_API_KEY_NOT_FOUND) {
		keys_not_found(ar, "API_KEY_NOT_FOUND", "api key not found");
		return;
	}
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	apid_reply_text(ar, "{\"status\":\"ok\"}\n");
}

static void
limits_set_resolved(struct areq *ar)
{
	struct adm *s = ar->hstate;
	struct cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_LIMITS_SET;
	snprintf(c.scope, sizeof(c.scope), "%s", s->ds);
	c.key = (const uint8_t *)s->key_uuid;
	c.key_len = strlen(s->key_uuid);
	c.value = s->limits;
	c.value_len = sizeof(s->limits);
	keys_propose(ar, &c, limits_set_done);
}

static void
limits_set_body(struct areq *ar)
{
	uint8_t rec[1 + KEYREC_LIMITS * 8];
	const char *tok;
	size_t len;

	if (keys_body_str(ar, "api_key", &tok, &len) == -1 ||
	    limits_parse(ar, rec) == -1)
		return;
	if (is_root_key(ar, tok, len)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "api_key: the root key has no limits");
		return;
	}
	if (adm_decrypt(ar, tok, len, "API_KEY_NOT_FOUND") == -1)
		return;
	memcpy(((struct adm *)ar->hstate)->limits, rec, sizeof(rec));
	resolve(ar, limits_set_resolved);
}

static void
limits_set_begin(struct areq *ar)
{
	apid_read_json(ar, limits_set_body, false);
}

/*
 * admin/limits/get
 */

static void
limits_get_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	struct pread rest;
	uint16_t st;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	if (st != ST_OK ||
	    keys_limits_json(&s->out, &rest, s->ds[0] == '\0') == -1)
		fatalx("%s: malformed limits result from raftd", __func__);
	pb_add_raw(&s->out, "\n", 1);
	apid_reply(ar, 200, NULL, &s->out);
}

static void
limits_get_resolved(struct areq *ar)
{
	struct adm *s = ar->hstate;

	keys_read(ar, READ_LIMITS, s->ds, NULL, 0, 0, limits_get_done);
}

static void
limits_get_body(struct areq *ar)
{
	const char *tok;
	size_t len;

	if (keys_body_str(ar, "api_key", &tok, &len) == -1)
		return;
	if (is_root_key(ar, tok, len)) {
		adm_state(ar);
		keys_read(ar, READ_LIMITS, ar->a->env->cfg.root_prefix, NULL, 0,
		    0, limits_get_done);
		return;
	}
	if (adm_decrypt(ar, tok, len, "API_KEY_NOT_FOUND") == -1)
		return;
	resolve(ar, limits_get_resolved);
}

static void
limits_get_begin(struct areq *ar)
{
	apid_read_json(ar, limits_get_body, false);
}

/*
 * Insight: an Entity of the key record in the state (key uuid, ds, rec).
 */

static void entity_next(struct areq *);

static void
entity_limits_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	struct pread rest;
	uint16_t st;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	pb_add_raw(&s->out, ",\"usage\":", 9);
	if (st != ST_OK || keys_limits_json(&s->out, &rest, false) == -1)
		fatalx("%s: malformed limits result from raftd", __func__);
	pb_add_raw(&s->out, "}", 1);
	entity_next(ar);
}

static void
entity_aliases_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	const uint8_t *u, *t;
	size_t ulen, tlen;
	struct pread rest;
	struct keyrec r;
	uint16_t st;
	uint32_t n = 0;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	if (st == ST_OK)
		pr_get_u32(&rest, &n);
	if (keyrec_decode(s->rec, s->rec_len, &r) == -1)
		fatalx("%s: malformed key record", __func__);
	pb_add_raw(&s->out, "{\"root_api_key\":", 16);
	json_put_str(&s->out, r.token, r.token_len);
	pb_add_raw(&s->out, ",\"aliases\":[", 12);
	for (uint32_t i = 0; i < n && n <= 1024; i++) {
		pr_get_bytes(&rest, &u, &ulen);
		pr_get_bytes(&rest, &t, &tlen);
		if (rest.err)
			fatalx("%s: malformed aliases from raftd", __func__);
		if (i > 0)
			pb_add_raw(&s->out, ",", 1);
		json_put_str(&s->out, t, tlen);
	}
	pb_add_raw(&s->out, "],\"data_scope_uuid\":", 20);
	json_put_str(&s->out, r.ds, r.ds_len);
	pb_add_raw(&s->out, ",\"key_uuid\":", 12);
	json_put_cstr(&s->out, s->key_uuid);
	pb_add_raw(&s->out, ",\"key_name\":", 12);
	json_put_str(&s->out, r.name, r.name_len);
	keys_read(ar, READ_LIMITS, s->ds, NULL, 0, 0, entity_limits_done);
}

static void
entity_begin(struct areq *ar)
{
	struct adm *s = ar->hstate;

	keys_read(ar, READ_ALIASES, ar->a->env->cfg.root_prefix, s->key_uuid, 0,
	    0, entity_aliases_done);
}

/* one Entity done: the next row of a list, or the reply */
static void
entity_next(struct areq *ar)
{
	struct adm *s = ar->hstate;
	const uint8_t *u, *rec;
	size_t ulen, rlen;
	struct keyrec r;

	if (!s->list) {
		pb_add_raw(&s->out, "}\n", 2);
		apid_reply(ar, 200, NULL, &s->out);
		return;
	}
	if (s->left == 0) {
		pb_add_raw(&s->out, "]}\n", 3);
		apid_reply(ar, 200, NULL, &s->out);
		return;
	}
	s->left--;
	pr_get_bytes(&s->rd, &u, &ulen);
	pr_get_bytes(&s->rd, &rec, &rlen);
	if (s->rd.err || ulen != CRYPTO_UUID_LEN ||
	    keyrec_decode(rec, rlen, &r) == -1 || r.ds_len == 0 ||
	    r.ds_len > CMD_SCOPE_MAX)
		fatalx("%s: malformed key rows from raftd", __func__);
	memcpy(s->key_uuid, u, ulen);
	s->key_uuid[ulen] = '\0';
	memcpy(s->ds, r.ds, r.ds_len);
	s->ds[r.ds_len] = '\0';
	adm_set_rec(s, rec, rlen);
	if (!s->first)
		pb_add_raw(&s->out, ",", 1);
	s->first = false;
	entity_begin(ar);
}

static void
entity_one_resolved(struct areq *ar)
{
	struct adm *s = ar->hstate;

	pb_add_raw(&s->out, "{\"entity\":", 10);
	entity_begin(ar);
}

static void
insight_entity_body(struct areq *ar)
{
	const char *tok;
	size_t len;

	if (keys_body_str(ar, "root_api_key", &tok, &len) == -1)
		return;
	if (is_root_key(ar, tok, len)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "root_api_key: the root key is not an entity");
		return;
	}
	if (adm_decrypt(ar, tok, len, "API_KEY_NOT_FOUND") == -1)
		return;
	if (((struct adm *)ar->hstate)->tc.is_alias) {
		apid_error(ar, 400, "ALIAS_NOT_ALLOWED", NULL,
		    "root_api_key: an alias token");
		return;
	}
	resolve(ar, entity_one_resolved);
}

static void
insight_entity_begin(struct areq *ar)
{
	apid_read_json(ar, insight_entity_body, false);
}

static void
by_alias_resolved(struct areq *ar)
{
	entity_one_resolved(ar);
}

/* entity_by_alias: an absent alias is ALIAS_NOT_FOUND, not the key */
static void
by_alias_read_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct pread rest;
	uint16_t st;

	if (err == 0 && len >= 2 &&
	    (((uint16_t)p[0] << 8) | p[1]) == ST_NOT_FOUND) {
		keys_not_found(ar, "ALIAS_NOT_FOUND", "alias not found");
		return;
	}
	(void)rest;
	(void)st;
	resolve_done(ar, err, p, len);
}

static void
by_alias_body(struct areq *ar)
{
	struct adm *s;
	const char *tok;
	size_t len;

	if (keys_body_str(ar, "alias", &tok, &len) == -1)
		return;
	if (adm_decrypt(ar, tok, len, "ALIAS_NOT_FOUND") == -1)
		return;
	s = ar->hstate;
	if (!s->tc.is_alias) {
		keys_not_found(ar, "ALIAS_NOT_FOUND", "alias: not an alias");
		return;
	}
	s->next = by_alias_resolved;
	keys_read(ar, READ_ALIAS, ar->a->env->cfg.root_prefix, s->tc.k, 0, 0,
	    by_alias_read_done);
}

static void
by_alias_begin(struct areq *ar)
{
	apid_read_json(ar, by_alias_body, false);
}

static void
entities_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct adm *s = ar->hstate;
	struct pread rest;
	uint16_t st;
	uint32_t n = 0;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	if (st == ST_OK)
		pr_get_u32(&rest, &n);
	if ((s->rows = malloc(len ? len : 1)) == NULL)
		fatal("%s", __func__);
	memcpy(s->rows, p, len);
	pr_init(&s->rd, s->rows, len);
	s->rd.off = rest.off;
	s->left = n;
	s->list = true;
	s->first = true;
	pb_add_raw(&s->out, "{\"entities\":[", 13);
	entity_next(ar);
}

static void
entities_body(struct areq *ar)
{
	int64_t offset = 0, limit = ENTITIES_LIMIT_DEFAULT;
	int rc;

	if (ar->have_doc) {
		if ((rc = jb_int(&ar->doc, "offset", &offset)) == -1 ||
		    (rc == 1 && offset < 0)) {
			apid_error(ar, 400, "BAD_REQUEST", NULL,
			    "offset: must be an integer >= 0");
			return;
		}
		if ((rc = jb_int(&ar->doc, "limit", &limit)) == -1 ||
		    (rc == 1 && limit < 1)) {
			apid_error(ar, 400, "BAD_REQUEST", NULL,
			    "limit: must be an integer >= 1");
			return;
		}
	}
	if (limit > ENTITIES_LIMIT_MAX)
		limit = ENTITIES_LIMIT_MAX;
	adm_state(ar);
	keys_read(ar, READ_KEYS, ar->a->env->cfg.root_prefix, NULL,
	    (uint64_t)offset, (uint64_t)limit, entities_done);
}

static void
entities_begin(struct areq *ar)
{
	apid_read_json(ar, entities_body, true);
}

apid_handler
apid_admin_handler(enum route_id id)
{
	switch (id) {
	case R_ADMIN_API_CREATE:
		return create_begin;
	case R_ADMIN_API_DELETE:
		return delete_begin;
	case R_ADMIN_LIMITS_SET:
		return limits_set_begin;
	case R_ADMIN_LIMITS_GET:
		return limits_get_begin;
	case R_ADMIN_INSIGHT_ENTITY:
		return insight_entity_begin;
	case R_ADMIN_INSIGHT_ENTITIES:
		return entities_begin;
	case R_ADMIN_INSIGHT_BY_ALIAS:
		return by_alias_begin;
	default:
		return NULL;
	}
}
