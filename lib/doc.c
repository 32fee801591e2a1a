/*
 * doc.c - model: the document tree and its JSON form.  Pure: no I/O.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "xalloc.h"
#include "compat.h"

struct doc *
doc_new(enum doc_type type)
{
	struct doc *d = xcalloc(1, sizeof(*d));

	d->type = type;
	return d;
}

struct doc *
doc_new_strn(const char *s, size_t n)
{
	struct doc *d = doc_new(DOC_STR);

	d->u.s = xstrndup(s, n);
	return d;
}

struct doc *
doc_new_str(const char *s)
{
	return doc_new_strn(s, strlen(s));
}

struct doc *
doc_new_int(long long i)
{
	struct doc *d = doc_new(DOC_INT);

	d->u.i = i;
	return d;
}

struct doc *
doc_new_bool(bool b)
{
	struct doc *d = doc_new(DOC_BOOL);

	d->u.b = b;
	return d;
}

void
doc_free(struct doc *d)
{
	size_t i;

	if (d == NULL)
		return;
	switch (d->type) {
	case DOC_STR:
		free(d->u.s);
		break;
	case DOC_MAP:
		for (i = 0; i < d->u.map.n; i++) {
			free(d->u.map.kv[i].key);
			doc_free(d->u.map.kv[i].val);
		}
		free(d->u.map.kv);
		break;
	case DOC_LIST:
		for (i = 0; i < d->u.list.n; i++)
			doc_free(d->u.list.v[i]);
		free(d->u.list.v);
		break;
	default:
		break;
	}
	free(d);
}

struct doc *
doc_copy(const struct doc *d)
{
	struct doc *c;
	size_t i;

	switch (d->type) {
	case DOC_STR:
		c = doc_new_str(d->u.s);
		break;
	case DOC_MAP:
		c = doc_new(DOC_MAP);
		for (i = 0; i < d->u.map.n; i++)
			doc_map_add(c, d->u.map.kv[i].key,
			    doc_copy(d->u.map.kv[i].val));
		break;
	case DOC_LIST:
		c = doc_new(DOC_LIST);
		for (i = 0; i < d->u.list.n; i++)
			doc_list_push(c, doc_copy(d->u.list.v[i]));
		break;
	default:
		c = doc_new(d->type);
		c->u = d->u;
		break;
	}
	c->line = d->line;
	return c;
}

void
doc_map_add(struct doc *map, const char *key, struct doc *val)
{
	xgrow(&map->u.map.kv, &map->u.map.cap, map->u.map.n + 1,
	    sizeof(*map->u.map.kv));
	map->u.map.kv[map->u.map.n].key = xstrdup(key);
	map->u.map.kv[map->u.map.n].val = val;
	map->u.map.n++;
}

void
doc_map_set(struct doc *map, const char *key, struct doc *val)
{
	size_t i;

	for (i = 0; i < map->u.map.n; i++) {
		if (strcmp(map->u.map.kv[i].key, key) == 0) {
			doc_free(map->u.map.kv[i].val);
			map->u.map.kv[i].val = val;
			return;
		}
	}
	doc_map_add(map, key, val);
}

struct doc *
doc_map_get(const struct doc *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != DOC_MAP)
		return NULL;
	for (i = 0; i < map->u.map.n; i++)
		if (strcmp(map->u.map.kv[i].key, key) == 0)
			return map->u.map.kv[i].val;
	return NULL;
}

void
doc_set_str(struct doc *map, const char *key, const char *s)
{
	doc_map_set(map, key, s ? doc_new_str(s) : doc_new(DOC_NULL));
}

void
doc_set_int(struct doc *map, const char *key, long long i)
{
	doc_map_set(map, key, doc_new_int(i));
}

const char *
doc_get_str(const struct doc *map, const char *key)
{
	struct doc *v = doc_map_get(map, key);

	return v && v->type == DOC_STR ? v->u.s : NULL;
}

void
doc_list_push(struct doc *list, struct doc *val)
{
	xgrow(&list->u.list.v, &list->u.list.cap, list->u.list.n + 1,
	    sizeof(*list->u.list.v));
	list->u.list.v[list->u.list.n++] = val;
}

const char *
doc_type_name(enum doc_type t)
{
	switch (t) {
	case DOC_NULL: return "null";
	case DOC_BOOL: return "boolean";
	case DOC_INT: return "integer";
	case DOC_REAL: return "number";
	case DOC_STR: return "string";
	case DOC_MAP: return "map";
	case DOC_LIST: return "list";
	}
	return "?";
}

const char *
doc_scalar_text(const struct doc *d, char tmp[64])
{
	switch (d->type) {
	case DOC_BOOL:
		return d->u.b ? "true" : "false";
	case DOC_INT:
		snprintf(tmp, 64, "%lld", d->u.i);
		return tmp;
	case DOC_REAL:
		/* the shortest text that reads back as the same number:
		 * 1.15, not 1.1499999999999999 */
		if (d->u.r == 0 && signbit(d->u.r)) {
			/* "-0" would read back as the whole number 0 */
			snprintf(tmp, 64, "-0.0");
			return tmp;
		}
		snprintf(tmp, 64, "%.15g", d->u.r);
		if (strtod(tmp, NULL) != d->u.r)
			snprintf(tmp, 64, "%.17g", d->u.r);
		return tmp;
	case DOC_STR:
		return d->u.s;
	default:
		return "";
	}
}

static void
json_str(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\b': buf_puts(b, "\\b"); break;
		case '\f': buf_puts(b, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				buf_printf(b, "\\u%04x", c);
			} else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
			    (unsigned char)s[1] <= 0x9f) {
				/* C1 controls: refused raw by a YAML 1.1
				 * reader (libyaml reads our JSON back), NEL a
				 * line break to it; escaped to survive the
				 * round trip, as LS and PS below */
				buf_printf(b, "\\u%04x", (unsigned char)s[1]);
				s++;
			} else if (c == 0xe2 && (unsigned char)s[1] == 0x80 &&
			    ((unsigned char)s[2] == 0xa8 ||
			    (unsigned char)s[2] == 0xa9)) {
				buf_printf(b, "\\u%04x",
				    0x2000 + ((unsigned char)s[2] & 0x3f));
				s += 2;
			} else if (c == 0xef && (unsigned char)s[1] == 0xbf &&
			    ((unsigned char)s[2] == 0xbe ||
			    (unsigned char)s[2] == 0xbf)) {
				/* U+FFFE and U+FFFF: refused raw too */
				buf_puts(b, (unsigned char)s[2] == 0xbe ?
				    "\\ufffe" : "\\uffff");
				s += 2;
			} else {
				buf_addc(b, (char)c);
			}
		}
	}
	buf_addc(b, '"');
}

void
doc_json(struct buf *b, const struct doc *d)
{
	char tmp[64];
	size_t i;

	switch (d->type) {
	case DOC_NULL:
		buf_puts(b, "null");
		break;
	case DOC_REAL:
		if (!isfinite(d->u.r)) {
			buf_puts(b, "null");
			break;
		}
		/* FALLTHROUGH */
	case DOC_BOOL:
	case DOC_INT:
		buf_puts(b, doc_scalar_text(d, tmp));
		break;
	case DOC_STR:
		json_str(b, d->u.s);
		break;
	case DOC_MAP:
		buf_addc(b, '{');
		for (i = 0; i < d->u.map.n; i++) {
			if (i)
				buf_addc(b, ',');
			json_str(b, d->u.map.kv[i].key);
			buf_addc(b, ':');
			doc_json(b, d->u.map.kv[i].val);
		}
		buf_addc(b, '}');
		break;
	case DOC_LIST:
		buf_addc(b, '[');
		for (i = 0; i < d->u.list.n; i++) {
			if (i)
				buf_addc(b, ',');
			doc_json(b, d->u.list.v[i]);
		}
		buf_addc(b, ']');
		break;
	}
}

void
doclist_push(struct doclist *dl, struct doc *d)
{
	xgrow(&dl->v, &dl->cap, dl->n + 1, sizeof(*dl->v));
	dl->v[dl->n++] = d;
}

void
doclist_release(struct doclist *dl)
{
	size_t i;

	for (i = 0; i < dl->n; i++)
		doc_free(dl->v[i]);
	free(dl->v);
	free(dl->source);
	dl->v = NULL;
	dl->n = dl->cap = 0;
	dl->source = NULL;
}
