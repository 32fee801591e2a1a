/*
 * expr-stub.c - a stand-in for lib/expr.c, for the placement tests and
 * benchmark until that module lands: it knows only
 *   true  false  labels.KEY == "V"  labels.KEY != "V"  ATTR OP NUMBER  ATTR
 * for the numeric attributes.  Delete it (EXPR_STUB in Makefile.am) once
 * lib/expr.c is in lib_libcloudos_a_SOURCES.
 */
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "xalloc.h"
#include "compat.h"

enum { K_TRUE, K_FALSE, K_LABEL, K_CMP, K_ATTR };

struct expr {
	char *src;
	int kind, op;			/* == != < <= > >= as 0..5 */
	char key[64], val[64];
	size_t attr;
	double num;
};

static const char *const attrs[] = {
	"cpu", "memory", "free_cpu", "free_memory", "free_disk", "load",
	"running_vms",
};
static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
static const int opcode[] = { 0, 1, 3, 5, 2, 4 };

static double
attr_value(const struct expr_host *h, size_t a)
{
	const double v[] = { h->cpu, h->memory, h->free_cpu, h->free_memory,
	    h->free_disk, h->load, h->running_vms };

	return v[a];
}

static const char *
parse_op(const char *p, int *op)
{
	size_t i;

	while (*p == ' ')
		p++;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
			*op = opcode[i];
			p += strlen(ops[i]);
			while (*p == ' ')
				p++;
			return p;
		}
	return NULL;
}

static int
parse(struct expr *e, const char *s)
{
	const char *p, *q;
	size_t i, n;

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		e->kind = s[0] == 't' ? K_TRUE : K_FALSE;
		return 0;
	}
	if (strncmp(s, "labels.", 7) == 0) {
		n = strcspn(s + 7, " =!");
		if (n == 0 || n >= sizeof(e->key))
			return -1;
		memcpy(e->key, s + 7, n);
		if (!(p = parse_op(s + 7 + n, &e->op)) || e->op > 1 ||
		    *p != '"' || !(q = strchr(p + 1, '"')) || q[1] ||
		    (size_t)(q - p - 1) >= sizeof(e->val))
			return -1;
		memcpy(e->val, p + 1, (size_t)(q - p - 1));
		e->kind = K_LABEL;
		return 0;
	}
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		n = strlen(attrs[i]);
		if (strncmp(s, attrs[i], n) != 0 || (s[n] && s[n] != ' '))
			continue;
		e->attr = i;
		if (!s[n]) {
			e->kind = K_ATTR;
			return 0;
		}
		if (!(p = parse_op(s + n, &e->op)) || !*p)
			return -1;
		e->num = strtod(p, (char **)&q);
		if (*q)
			return -1;
		e->kind = K_CMP;
		return 0;
	}
	return -1;
}

int
expr_compile(const char *src, struct expr **out, struct cerr *err)
{
	struct expr *e = xcalloc(1, sizeof(*e));

	if (parse(e, src) < 0) {
		free(e);
		return cerr_set(err, CERR_USAGE, "column 1: the stub does not "
		    "know '%s'", src);
	}
	e->src = xstrdup(src);
	*out = e;
	return 0;
}

void
expr_free(struct expr *e)
{
	if (e)
		free(e->src);
	free(e);
}

const char *
expr_source(const struct expr *e)
{
	return e->src;
}

bool
expr_static(const struct expr *e)
{
	return e->kind == K_TRUE || e->kind == K_FALSE || e->kind ==
	    K_LABEL || e->attr < 2;
}

static const char *
label(const struct expr_host *h, const char *key)
{
	size_t i;

	for (i = 0; i < h->nlabels; i++)
		if (strcmp(h->label_keys[i], key) == 0)
			return h->label_values[i];
	return NULL;
}

static bool
cmp(int op, double a, double b)
{
	switch (op) {
	case 0: return a == b;
	case 1: return a != b;
	case 2: return a < b;
	case 3: return a <= b;
	case 4: return a > b;
	default: return a >= b;
	}
}

bool
expr_test(const struct expr *e, const struct expr_host *h)
{
	const char *v;

	switch (e->kind) {
	case K_TRUE:
		return true;
	case K_FALSE:
		return false;
	case K_LABEL:
		v = label(h, e->key);
		if (!v)
			return e->op == 1;
		return (strcmp(v, e->val) == 0) == (e->op == 0);
	case K_CMP:
		return cmp(e->op, attr_value(h, e->attr), e->num);
	default:
		return attr_value(h, e->attr) != 0;
	}
}

double
expr_rank(const struct expr *e, const struct expr_host *h)
{
	if (e->kind == K_ATTR)
		return attr_value(h, e->attr);
	return expr_test(e, h) ? 1 : 0;
}
