/*
 * yml.c - adapter over libyaml: reading and writing documents.
 * Includes <yaml.h>; nothing else may.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bounds.h"
#include "yml.h"
#include "xalloc.h"
#include "compat.h"

/*
 * The reader's work grows with its input, never with its square: each
 * event is looked at once, a map's keys are checked for duplicates by
 * sorting them at the map's end (chosen keys could collide in a hash, not
 * in a sort), and what a document may hold is bounded (bounds.h): keys
 * per map, depth, string bytes, document bytes, values per input.
 * Aliases are refused, so nothing is expanded.
 */
struct reader {
	yaml_parser_t p;
	const char *source;
	const char *data;	/* the chunk */
	size_t len;
	int line0;		/* line of the chunk's first line, 0-based */
	size_t *values;		/* values and keys read from the whole input */
	size_t ci, bi;		/* a character index of the chunk (libyaml's
				 * marks count characters) and its byte */
	size_t doc_start;	/* byte where the current document starts */
	int top_list;		/* the top node is a list: each item is a
				 * document */
	struct cerr *err;
};

static int reader_fail(struct reader *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
reader_fail(struct reader *r, int line, const char *fmt, ...)
{
	char msg[512], out[4 * sizeof(msg)];
	const unsigned char *p;
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a key or value echoed here may hold control characters: the
	 * message stays one line (\n, \t, \r, \xHH, as cli prints them) */
	for (p = (const unsigned char *)msg; *p; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r')
			n += (size_t)snprintf(out + n, sizeof(out) - n, "\\%c",
			    *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r');
		else if (*p < 0x20 || *p == 0x7f)
			n += (size_t)snprintf(out + n, sizeof(out) - n,
			    "\\x%02x", *p);
		else
			out[n++] = (char)*p;
	}
	out[n] = '\0';
	return cerr_set(r->err, CERR_USAGE, "%s: line %d: %s", r->source,
	    r->line0 + line + 1, out);
}

/* The byte offset of character ci of the chunk.  Marks arrive in order,
 * so the walk over the chunk is done once. */
static size_t
reader_offset(struct reader *r, size_t ci)
{
	while (r->ci < ci && r->bi < r->len) {
		r->bi++;
		while (r->bi < r->len &&
		    ((unsigned char)r->data[r->bi] & 0xc0) == 0x80)
			r->bi++;
		r->ci++;
	}
	return r->bi;
}

static int
parse_event(struct reader *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->p, ev))
		return 0;
	return cerr_set(r->err, CERR_USAGE, "%s: line %zu: %s%s%s",
	    r->source, (size_t)r->line0 + r->p.problem_mark.line + 1,
	    r->p.problem ? r->p.problem : "malformed document",
	    r->p.context ? " " : "", r->p.context ? r->p.context : "");
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Resolve a plain scalar by the YAML 1.2 core schema (so "no" and "on" stay
 * strings).  Returns a new node. */
static struct doc *
resolve_plain(const char *s, size_t n)
{
	const char *p = s;
	struct doc *d;
	char *end;

	if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return doc_new(DOC_NULL);
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return doc_new_bool(1);
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return doc_new_bool(0);
	if (*p == '-' || *p == '+')
		p++;
	if (all_digits(p)) {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return doc_new_int(v);
	} else if (*p >= '0' && *p <= '9') {
		double v;
		int ok = 1;
		const char *q;

		/* digits [. digits] [e [+-] digits] */
		for (q = p; *q; q++)
			if (!strchr("0123456789.eE+-", *q))
				ok = 0;
		if (ok) {
			errno = 0;
			v = strtod(s, &end);
			if (errno == 0 && *end == '\0') {
				d = doc_new(DOC_REAL);
				d->u.r = v;
				return d;
			}
		}
	} else if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") ||
	    !strcmp(p, ".INF")) {
		d = doc_new(DOC_REAL);
		d->u.r = *s == '-' ? -INFINITY : INFINITY;
		return d;
	} else if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") ||
	    !strcmp(s, ".NAN")) {
		d = doc_new(DOC_REAL);
		d->u.r = NAN;
		return d;
	}
	return doc_new_strn(s, n);
}

int
yml_needs_quotes(const char *s)
{
	struct doc *d = resolve_plain(s, strlen(s));
	int q = d->type != DOC_STR;

	doc_free(d);
	return q;
}

static int parse_node(struct reader *r, yaml_event_t *ev, int depth,
    struct doc **out);

static int
cmp_key(const void *a, const void *b, void *arg)
{
	const struct doc_kv *kv = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(kv[i].key, kv[j].key);

	return c ? c : (i > j) - (i < j);
}

/* The index of the first key of map d (in its order) that repeats an
 * earlier one, or d's size when none does: pairs for a small map, a sort
 * (by key, then index) for a large one, so O(n log n) whatever the keys. */
static size_t
first_duplicate(const struct doc *d)
{
	const struct doc_kv *kv = d->u.map.kv;
	size_t n = d->u.map.n, first = n, i, j, *idx;

	if (n <= 16) {
		for (j = 1; j < n; j++)
			for (i = 0; i < j; i++)
				if (strcmp(kv[i].key, kv[j].key) == 0)
					return j;
		return n;
	}
	idx = xcalloc(n, sizeof(*idx));
	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_key, (void *)kv);
	/* in each run of one key, the second is the first repeat */
	for (i = 1; i < n; i++)
		if (strcmp(kv[idx[i - 1]].key, kv[idx[i]].key) == 0 &&
		    (i < 2 || strcmp(kv[idx[i - 2]].key, kv[idx[i]].key) != 0) &&
		    idx[i] < first)
			first = idx[i];
	free(idx);
	return first;
}

static int
parse_children(struct reader *r, struct doc *d, int depth)
{
	yaml_event_t ev;
	yaml_event_type_t end = d->type == DOC_MAP ?
	    YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	int *lines = NULL;	/* the line of each key */
	size_t cap = 0, dup;
	int rc = 0;

	for (;;) {
		struct doc *key = NULL, *val = NULL;
		char tmp[64];
		int line;

		if ((rc = parse_event(r, &ev)))
			goto fail;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			break;
		}
		line = (int)ev.start_mark.line;
		if (d->type == DOC_MAP && d->u.map.n == BOUND_MAP_KEYS) {
			yaml_event_delete(&ev);
			rc = reader_fail(r, line, "a map holds at most %d "
			    "keys", BOUND_MAP_KEYS);
			goto fail;
		}
		if ((rc = parse_node(r, &ev, depth + 1, &key)))
			goto fail;
		if (d->type == DOC_LIST) {
			doc_list_push(d, key);
			continue;
		}
		if (key->type == DOC_MAP || key->type == DOC_LIST) {
			doc_free(key);
			rc = reader_fail(r, line, "%s",
			    "a map key must be a scalar");
			goto fail;
		}
		if ((rc = parse_event(r, &ev)) ||
		    (rc = parse_node(r, &ev, depth + 1, &val))) {
			doc_free(key);
			goto fail;
		}
		xgrow(&lines, &cap, d->u.map.n + 1, sizeof(*lines));
		lines[d->u.map.n] = line;
		doc_map_add(d, doc_scalar_text(key, tmp), val);
		doc_free(key);
	}
	if (d->type == DOC_MAP &&
	    (dup = first_duplicate(d)) < d->u.map.n)
		rc = reader_fail(r, lines[dup], "duplicate key '%s'",
		    d->u.map.kv[dup].key);
fail:
	free(lines);
	return rc;
}

/* Build a node from ev (consumed) and, for collections, what follows. */
static int
parse_node(struct reader *r, yaml_event_t *ev, int depth, struct doc **out)
{
	int line = (int)ev->start_mark.line;
	struct doc *d = NULL;
	int rc = 0;

	if (depth == 0)
		r->top_list = ev->type == YAML_SEQUENCE_START_EVENT;
	if (depth == 0 || (depth == 1 && r->top_list))
		r->doc_start = reader_offset(r, ev->start_mark.index);
	if (depth >= BOUND_DEPTH && (ev->type == YAML_MAPPING_START_EVENT ||
	    ev->type == YAML_SEQUENCE_START_EVENT))
		rc = reader_fail(r, line, "maps and lists nest at most %d "
		    "deep", BOUND_DEPTH);
	else if (++*r->values > BOUND_INPUT_VALUES)
		rc = reader_fail(r, line, "an input holds at most %d values "
		    "and keys", BOUND_INPUT_VALUES);
	else if (reader_offset(r, ev->end_mark.index) - r->doc_start >
	    BOUND_DOC_BYTES)
		rc = reader_fail(r, line, "a document holds at most %d MiB",
		    BOUND_DOC_MIB);
	if (rc) {
		yaml_event_delete(ev);
		return rc;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		rc = reader_fail(r, line, "%s",
		    "aliases (*name) are not supported");
		break;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.length > BOUND_STRING_BYTES) {
			rc = reader_fail(r, line, "a string holds at most %d "
			    "MiB", BOUND_STRING_MIB);
			break;
		}
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    ev->data.scalar.plain_implicit)
			d = resolve_plain((const char *)ev->data.scalar.value,
			    ev->data.scalar.length);
		else
			d = doc_new_strn((const char *)ev->data.scalar.value,
			    ev->data.scalar.length);
		if (strlen(d->type == DOC_STR ? d->u.s : "") !=
		    (d->type == DOC_STR ? ev->data.scalar.length : 0))
			rc = reader_fail(r, line, "%s",
			    "a string holds a NUL character");
		break;
	case YAML_MAPPING_START_EVENT:
		d = doc_new(DOC_MAP);
		break;
	case YAML_SEQUENCE_START_EVENT:
		d = doc_new(DOC_LIST);
		break;
	default:
		rc = reader_fail(r, line, "%s", "unexpected YAML event");
		break;
	}
	yaml_event_delete(ev);
	if (rc == 0 && d && (d->type == DOC_MAP || d->type == DOC_LIST))
		rc = parse_children(r, d, depth);
	if (rc) {
		doc_free(d);
		return rc;
	}
	d->line = r->line0 + line + 1;
	*out = d;
	return 0;
}

/* Add the top-level node d as documents: a map is one, a list gives each
 * of its items (each must be a map), null is nothing. */
static int
add_top(struct reader *r, struct doc *d, struct doclist *out, size_t *ndoc)
{
	size_t i;

	(*ndoc)++;
	if (d->type == DOC_NULL) {
		doc_free(d);
		return 0;
	}
	if (d->type == DOC_LIST) {
		for (i = 0; i < d->u.list.n; i++) {
			struct doc *item = d->u.list.v[i];

			if (item->type != DOC_MAP)
				return cerr_set(r->err, CERR_USAGE,
				    "%s: line %d: item %zu: expected a map, "
				    "found a %s", r->source, item->line,
				    i + 1, doc_type_name(item->type));
		}
		for (i = 0; i < d->u.list.n; i++)
			doclist_push(out, d->u.list.v[i]);
		d->u.list.n = 0;
		doc_free(d);
		return 0;
	}
	if (d->type != DOC_MAP)
		return cerr_set(r->err, CERR_USAGE,
		    "%s: line %d: document %zu: expected a map, found a %s",
		    r->source, d->line, *ndoc, doc_type_name(d->type));
	doclist_push(out, d);
	return 0;
}

/* Parse one chunk (a whole YAML stream, or one JSON value). */
static int
read_chunk(const char *source, const char *data, size_t len, int line0,
    struct doclist *out, size_t *ndoc, size_t *values, struct cerr *err)
{
	struct reader r = { .source = source, .data = data, .len = len,
	    .line0 = line0, .values = values, .err = err };
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&r.p))
		return cerr_set(err, CERR_FAIL, "cannot initialize YAML parser");
	yaml_parser_set_input_string(&r.p, (const unsigned char *)data, len);
	for (;;) {
		struct doc *d = NULL;

		if ((rc = parse_event(&r, &ev)))
			break;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			/* stream start, document end: nothing to build */
			yaml_event_delete(&ev);
			continue;
		}
		yaml_event_delete(&ev);
		if ((rc = parse_event(&r, &ev)))
			break;
		if ((rc = parse_node(&r, &ev, 0, &d)))
			break;
		if ((rc = add_top(&r, d, out, ndoc))) {
			doc_free(d);
			break;
		}
	}
	yaml_parser_delete(&r.p);
	return rc;
}

/* Find the end of the JSON value starting at data[0] ('{' or '['): the
 * matching bracket, skipping strings.  Returns its length, 0 if unclosed. */
static size_t
json_value_len(const char *data, size_t len)
{
	size_t i, depth = 0;
	int instr = 0;

	for (i = 0; i < len; i++) {
		char c = data[i];

		if (instr) {
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c == '"')
			instr = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
yml_read(const char *source, const char *data, size_t len,
    struct doclist *out, struct cerr *err)
{
	size_t before = out->n, ndoc = 0, i = 0, values = 0;
	int line = 0, rc = 0;

	if (len > BOUND_INPUT_BYTES)
		return cerr_set(err, CERR_USAGE, "%s: input is larger than %d "
		    "MiB", source, BOUND_INPUT_MIB);
	if (memchr(data, '\0', len))
		return cerr_set(err, CERR_USAGE,
		    "%s: not a text document (holds NUL bytes)", source);
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && is_space(data[i]))
		if (data[i++] == '\n')
			line++;
	if (i < len && data[i] == '{') {
		/* JSON Lines, or JSON objects one after another: each is read
		 * on its own, since a YAML stream needs "---" between them. */
		while (i < len && rc == 0) {
			size_t n;

			if (data[i] != '{') {
				rc = cerr_set(err, CERR_USAGE, "%s: line %d: "
				    "expected a JSON object", source, line + 1);
				break;
			}
			n = json_value_len(data + i, len - i);
			if (n == 0) {
				rc = cerr_set(err, CERR_USAGE, "%s: line %d: "
				    "unterminated JSON object", source,
				    line + 1);
				break;
			}
			rc = read_chunk(source, data + i, n, line, out, &ndoc,
			    &values, err);
			for (; n > 0; n--, i++)
				if (data[i] == '\n')
					line++;
			while (i < len && is_space(data[i]))
				if (data[i++] == '\n')
					line++;
		}
	} else {
		rc = read_chunk(source, data, len, 0, out, &ndoc, &values,
		    err);
	}
	if (rc) {
		while (out->n > before)
			doc_free(out->v[--out->n]);
	}
	return rc;
}

/* Writing. */

static int
write_handler(void *data, unsigned char *buffer, size_t size)
{
	buf_add(data, buffer, size);
	return 1;
}

static int
emit(yaml_emitter_t *e, yaml_event_t *ev, struct cerr *err)
{
	if (yaml_emitter_emit(e, ev))
		return 0;
	return cerr_set(err, CERR_FAIL, "cannot write YAML: %s",
	    e->problem ? e->problem : "emitter error");
}

static int
emit_scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style,
    struct cerr *err)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL,
	    (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)s, (int)strlen(s),
	    1, 1, style))
		return cerr_set(err, CERR_FAIL, "cannot write YAML scalar");
	return emit(e, &ev, err);
}

static int
emit_node(yaml_emitter_t *e, const struct doc *d, struct cerr *err)
{
	yaml_event_t ev;
	char tmp[64];
	size_t i;

	switch (d->type) {
	case DOC_NULL:
		return emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE, err);
	case DOC_REAL:
		if (isnan(d->u.r))
			return emit_scalar(e, ".nan", YAML_PLAIN_SCALAR_STYLE,
			    err);
		if (isinf(d->u.r))
			return emit_scalar(e, d->u.r < 0 ? "-.inf" : ".inf",
			    YAML_PLAIN_SCALAR_STYLE, err);
		/* FALLTHROUGH */
	case DOC_BOOL:
	case DOC_INT:
		return emit_scalar(e, doc_scalar_text(d, tmp),
		    YAML_PLAIN_SCALAR_STYLE, err);
	case DOC_STR:
		if (*d->u.s == '\0' || yml_needs_quotes(d->u.s))
			return emit_scalar(e, d->u.s,
			    YAML_SINGLE_QUOTED_SCALAR_STYLE, err);
		if (strchr(d->u.s, '\n'))
			return emit_scalar(e, d->u.s,
			    YAML_LITERAL_SCALAR_STYLE, err);
		return emit_scalar(e, d->u.s, YAML_ANY_SCALAR_STYLE, err);
	case DOC_MAP:
		yaml_mapping_start_event_initialize(&ev, NULL,
		    (yaml_char_t *)YAML_MAP_TAG, 1, YAML_BLOCK_MAPPING_STYLE);
		if (emit(e, &ev, err))
			return err->code;
		for (i = 0; i < d->u.map.n; i++) {
			const char *k = d->u.map.kv[i].key;

			if (emit_scalar(e, k, *k == '\0' || yml_needs_quotes(k)
			    ? YAML_SINGLE_QUOTED_SCALAR_STYLE :
			    YAML_ANY_SCALAR_STYLE, err) ||
			    emit_node(e, d->u.map.kv[i].val, err))
				return err->code;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev, err);
	case DOC_LIST:
		yaml_sequence_start_event_initialize(&ev, NULL,
		    (yaml_char_t *)YAML_SEQ_TAG, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (emit(e, &ev, err))
			return err->code;
		for (i = 0; i < d->u.list.n; i++)
			if (emit_node(e, d->u.list.v[i], err))
				return err->code;
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev, err);
	}
	return 0;
}

int
yml_write(struct buf *b, const struct doc *d, struct cerr *err)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int rc;

	if (!yaml_emitter_initialize(&e))
		return cerr_set(err, CERR_FAIL, "cannot initialize YAML writer");
	yaml_emitter_set_output(&e, write_handler, b);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit(&e, &ev, err);
	if (rc == 0) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		rc = emit(&e, &ev, err);
	}
	if (rc == 0)
		rc = emit_node(&e, d, err);
	if (rc == 0) {
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit(&e, &ev, err);
	}
	if (rc == 0) {
		yaml_stream_end_event_initialize(&ev);
		rc = emit(&e, &ev, err);
	}
	yaml_emitter_delete(&e);
	return rc;
}
