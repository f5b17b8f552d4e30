/*
 * YAML text to a tree of mappings, lists and scalars, each with the line
 * (or override) it came from.  Built from libyaml events rather than its
 * document API so that anchors, aliases and tags can be refused where they
 * appear; duplicate keys are found when a mapping ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/log.h"
/* ---- the YAML tree ---- */

struct ynode *
cfg_ynode_new(enum ynode_kind kind, struct cfg_loc loc)
{
	struct ynode *n = cfg_xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->loc = loc;
	return n;
}

struct ynode *
cfg_ynode_scalar(struct cfg_loc loc, const char *text, size_t len, bool quoted)
{
	struct ynode *n = cfg_ynode_new(YN_SCALAR, loc);

	n->text = malloc(len + 1);
	if (n->text == NULL)
		fatal("%s", __func__);
	memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->len = len;
	n->quoted = quoted;
	return n;
}

void
cfg_ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		cfg_ynode_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

void
cfg_ynode_append(struct ynode *parent, struct ynode *child)
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
	/* a non-scalar key has no text: memcmp may not see NULL */
	c = (*x)->len > 0 ? memcmp((*x)->text, (*y)->text, (*x)->len) : 0;
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
	keys = cfg_xcalloc(np, sizeof(*keys));
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
		cfg_ctx_err(b->ctx, keys[i]->loc, path, "duplicate key");
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
			cfg_ynode_free(n);
		return;
	}
	top = b->stack[b->depth - 1];
	/* a pair whose key is not a plain string is dropped as a whole */
	if (top->kind == YN_MAP && top->n % 2 == 1 &&
	    top->items[top->n - 1]->kind != YN_SCALAR)
		n->bad = true;
	cfg_ynode_append(top, n);
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
		cfg_ctx_err(b->ctx, loc, path, "aliases are not allowed");
	if (anchor != NULL)
		cfg_ctx_err(b->ctx, loc, path, "anchors are not allowed");
	if (tag != NULL)
		cfg_ctx_err(b->ctx, loc, path, "tags are not allowed");
	return false;
}

static struct ynode *
ybuild_scalar(yaml_event_t *ev, struct cfg_loc loc)
{
	return cfg_ynode_scalar(loc, (const char *)ev->data.scalar.value,
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
			cfg_ctx_err(b->ctx, loc, "(top level)",
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
		n = cfg_ynode_scalar(loc, "", 0, false);
		n->bad = true;
		ybuild_add(b, n);
		return true;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		ok = ybuild_event_props(b, ev, loc, NULL);
		if (b->depth == CFG_DEPTH_MAX) {
			ybuild_path(b, NULL, path, sizeof(path));
			cfg_ctx_err(b->ctx, loc, path, "nested too deeply");
			return false;
		}
		n = cfg_ynode_new(
		    ev->type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ,
		    loc);
		n->bad = !ok;
		if (ybuild_is_key(b)) {
			ybuild_path(b, NULL, path, sizeof(path));
			cfg_ctx_err(b->ctx, loc, path, "keys must be strings");
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
int
cfg_yaml_tree(struct cfg_ctx *ctx, const char *buf, size_t len, int src,
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
			cfg_ctx_err(ctx, loc, base[0] ? base : "(syntax)", "%s",
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
		cfg_ynode_free(b.root);
		*root = NULL;
		return -1;
	}
	*root = b.root;
	return 0;
}
