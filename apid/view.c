#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "apid/view.h"

static void
copy_str(struct json_object *o, const char *name, char *out, size_t outlen)
{
	struct json_object *m;

	out[0] = '\0';
	if (json_object_object_get_ex(o, name, &m) &&
	    json_object_is_type(m, json_type_string) &&
	    (size_t)json_object_get_string_len(m) < outlen)
		memcpy(out, json_object_get_string(m),
		    (size_t)json_object_get_string_len(m) + 1);
}

static bool
get_bool(struct json_object *o, const char *name)
{
	struct json_object *m;

	return json_object_object_get_ex(o, name, &m) &&
	    json_object_is_type(m, json_type_boolean) &&
	    json_object_get_boolean(m);
}

static int64_t
get_int(struct json_object *o, const char *name)
{
	struct json_object *m;

	if (json_object_object_get_ex(o, name, &m) &&
	    json_object_is_type(m, json_type_int))
		return json_object_get_int64(m);
	return 0;
}

static void
get_members(struct json_object *o, struct apid_view *v)
{
	struct json_object *arr, *e;
	size_t i, n;

	v->nmembers = 0;
	if (!json_object_object_get_ex(o, "nodes", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n && v->nmembers < VIEW_MEMBERS_MAX; i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_object))
			continue;
		copy_str(
		    e, "id", v->members[v->nmembers], sizeof(v->members[0]));
		if (v->members[v->nmembers][0] != '\0')
			v->nmembers++;
	}
}

int
view_parse(const char *json, size_t len, struct apid_view *v)
{
	struct json_tokener *tok;
	struct json_object *o;
	int64_t version;

	memset(v, 0, sizeof(*v));
	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (o == NULL)
		return -1;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	copy_str(o, "leader", v->leader, sizeof(v->leader));
	copy_str(o, "role", v->role, sizeof(v->role));
	v->term = get_int(o, "term");
	version = get_int(o, "version");
	v->version = version > 0 ? (uint64_t)version : 0;
	v->transferring = get_bool(o, "transferring");
	v->needs_join = get_bool(o, "needs_join");
	v->removed = get_bool(o, "removed");
	get_members(o, v);
	json_object_put(o);
	return 0;
}

bool
view_is_member(const struct apid_view *v, const char *id)
{
	size_t i;

	for (i = 0; i < v->nmembers; i++)
		if (strcmp(v->members[i], id) == 0)
			return true;
	return false;
}
