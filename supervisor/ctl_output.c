#include <string.h>

#include "supervisor/ctl_output.h"

#define CTL_ROWS_MAX 256
#define CTL_KEY_MAX 128

struct ctl_row {
	char key[CTL_KEY_MAX];
	const char *value;
};

struct ctl_rows {
	struct ctl_row row[CTL_ROWS_MAX];
	size_t n;
	struct json_object *tables[CTL_ROWS_MAX];
	const char *table_names[CTL_ROWS_MAX];
	size_t ntables;
};

static const char *
ctl_scalar(struct json_object *v)
{
	if (v == NULL)
		return "-";
	return json_object_get_string(v);
}

static bool
ctl_is_table(struct json_object *v)
{
	return json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0 &&
	    json_object_is_type(
		json_object_array_get_idx(v, 0), json_type_object);
}

static void
ctl_add_row(
    struct ctl_rows *r, const char *prefix, const char *key, const char *value)
{
	if (r->n >= CTL_ROWS_MAX)
		return;
	snprintf(r->row[r->n].key, CTL_KEY_MAX, "%s%s%s", prefix,
	    *prefix ? "." : "", key);
	r->row[r->n++].value = value;
}

/* nested objects become dotted keys; arrays of objects become tables */
static void
ctl_flatten(struct ctl_rows *r, const char *prefix, struct json_object *o)
{
	char sub[CTL_KEY_MAX];

	json_object_object_foreach(o, key, v)
	{
		if (v != NULL && json_object_is_type(v, json_type_object)) {
			snprintf(sub, sizeof(sub), "%s%s%s", prefix,
			    *prefix ? "." : "", key);
			ctl_flatten(r, sub, v);
		} else if (v != NULL && ctl_is_table(v)) {
			if (r->ntables < CTL_ROWS_MAX) {
				r->table_names[r->ntables] = key;
				r->tables[r->ntables++] = v;
			}
		} else if (v != NULL &&
		    json_object_is_type(v, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(v); i++)
				ctl_add_row(r, prefix, key,
				    ctl_scalar(
					json_object_array_get_idx(v, i)));
		} else
			ctl_add_row(r, prefix, key, ctl_scalar(v));
	}
}

static void
ctl_cell(FILE *f, const char *text, size_t width, bool last)
{
	if (last)
		fprintf(f, "%s\n", text);
	else
		fprintf(f, "%-*s  ", (int)width, text);
}

static void
ctl_print_table(FILE *f, struct json_object *a)
{
	struct json_object *first = json_object_array_get_idx(a, 0), *row, *v;
	size_t ncols = 0, w[32] = { 0 }, len;
	const char *cols[32];

	json_object_object_foreach(first, key, val)
	{
		(void)val;
		if (ncols < 32) {
			cols[ncols] = key;
			w[ncols++] = strlen(key);
		}
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		row = json_object_array_get_idx(a, i);
		for (size_t c = 0; c < ncols; c++) {
			v = json_object_object_get(row, cols[c]);
			if ((len = strlen(ctl_scalar(v))) > w[c])
				w[c] = len;
		}
	}
	for (size_t c = 0; c < ncols; c++)
		ctl_cell(f, cols[c], w[c], c + 1 == ncols);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		row = json_object_array_get_idx(a, i);
		for (size_t c = 0; c < ncols; c++)
			ctl_cell(f,
			    ctl_scalar(json_object_object_get(row, cols[c])),
			    w[c], c + 1 == ncols);
	}
}

static void
ctl_print_text(FILE *f, struct json_object *o)
{
	static struct ctl_rows r;
	size_t w = 0;

	memset(&r, 0, sizeof(r));
	if (!json_object_is_type(o, json_type_object)) {
		fprintf(f, "%s\n", ctl_scalar(o));
		return;
	}
	ctl_flatten(&r, "", o);
	for (size_t i = 0; i < r.n; i++)
		if (strlen(r.row[i].key) > w)
			w = strlen(r.row[i].key);
	for (size_t i = 0; i < r.n; i++)
		fprintf(f, "%-*s  %s\n", (int)w, r.row[i].key, r.row[i].value);
	for (size_t i = 0; i < r.ntables; i++) {
		if (r.n > 0 || i > 0)
			fprintf(f, "\n");
		ctl_print_table(f, r.tables[i]);
	}
}

void
ctl_output(FILE *f, const struct ctl_cmd *cmd, struct json_object *o, bool json)
{
	struct json_object *key;

	if (json) {
		fprintf(f, "%s\n",
		    json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PRETTY |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		return;
	}
	/* the key alone, so that it can be captured by a script */
	if (strcmp(cmd->verb, "rootkey") == 0 &&
	    json_object_object_get_ex(o, "root_key", &key)) {
		fprintf(f, "%s\n", json_object_get_string(key));
		return;
	}
	ctl_print_text(f, o);
}

void
ctl_output_error(FILE *f, struct json_object *o)
{
	struct json_object *msg = NULL, *errs = NULL;

	if (o == NULL || !json_object_object_get_ex(o, "error", &msg))
		fprintf(f, "insidbctl: request failed\n");
	else
		fprintf(f, "insidbctl: %s\n", json_object_get_string(msg));
	if (o != NULL && json_object_object_get_ex(o, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(errs); i++)
			fprintf(f, "%s\n",
			    json_object_get_string(
				json_object_array_get_idx(errs, i)));
}
