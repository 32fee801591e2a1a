/*
 * expr.c - engine: requirement and rank expressions.  Pure: no I/O.
 *
 * The source is lexed and parsed by recursive descent into a tree of
 * nodes that lives in one block with its strings and a copy of the
 * source, so a compiled expression is one allocation and evaluating it
 * allocates nothing.  Types are checked while parsing: every node has a
 * type known at compile time, so the evaluator never looks at one.
 *
 * && and || are n-ary (their operands are chained through next), which
 * keeps the evaluator's recursion bounded by the nesting depth rather
 * than by the length of a chain.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "xalloc.h"
#include "compat.h"

enum tok {
	TK_END, TK_NUM, TK_STR, TK_ATTR, TK_LABEL, TK_TRUE, TK_FALSE,
	TK_LPAREN, TK_RPAREN, TK_NOT, TK_AND, TK_OR,
	TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_MATCH,
};

/* Static types: a label is a string, or a number when compared with one,
 * or missing. */
enum type { TY_BOOL, TY_NUM, TY_STR, TY_LABEL };

enum op {
	OP_TRUE, OP_FALSE, OP_NUM, OP_STR, OP_ATTR_NUM, OP_ATTR_STR,
	OP_LABEL, OP_NOT, OP_AND, OP_OR,
	OP_NUM_EQ, OP_NUM_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_STR_EQ, OP_STR_NE, OP_BOOL_EQ, OP_BOOL_NE, OP_MATCH,
	OP_ATTR_K,		/* attribute at a OP b with the number u.num */
};

struct node {
	unsigned char op;
	unsigned char type;
	int a, b;		/* operands; for && and ||, a is the first */
	int next;		/* the next operand of the enclosing && or || */
	union {
		double num;
		const char *str;	/* strings and label keys */
		size_t off;		/* attributes: offset in expr_host;
					 * while parsing, strings too */
	} u;
};

struct expr {
	const char *src;
	int root;
	bool is_static;
	struct node nodes[];	/* then the strings, then the source */
};

static const struct {
	const char *name;
	enum type type;
	size_t off;
	bool dynamic;		/* placing a VM changes it */
} attrs[] = {
	{ "name", TY_STR, offsetof(struct expr_host, name), false },
	{ "cluster", TY_STR, offsetof(struct expr_host, cluster), false },
	{ "hypervisor", TY_STR, offsetof(struct expr_host, hypervisor), false },
	{ "cpu", TY_NUM, offsetof(struct expr_host, cpu), false },
	{ "memory", TY_NUM, offsetof(struct expr_host, memory), false },
	{ "free_cpu", TY_NUM, offsetof(struct expr_host, free_cpu), true },
	{ "free_memory", TY_NUM, offsetof(struct expr_host, free_memory),
	    true },
	{ "free_disk", TY_NUM, offsetof(struct expr_host, free_disk), true },
	{ "load", TY_NUM, offsetof(struct expr_host, load), true },
	{ "running_vms", TY_NUM, offsetof(struct expr_host, running_vms),
	    true },
};

/* Sizes become MiB, as memory and disk are counted. */
static const struct {
	const char *name;
	double mib;
} units[] = {
	{ "KiB", 1.0 / 1024 }, { "MiB", 1 }, { "GiB", 1024 },
	{ "TiB", 1048576 },
	{ "K", 1.0 / 1024 }, { "M", 1 }, { "G", 1024 }, { "T", 1048576 },
};

#define UNIT_NAMES "KiB, MiB, GiB, TiB, K, M, G or T"

static const char *const type_names[] = {
	[TY_BOOL] = "a boolean", [TY_NUM] = "a number",
	[TY_STR] = "a string", [TY_LABEL] = "a label",
};

struct token {
	enum tok kind;
	const char *start;
	size_t len;
	double num;		/* TK_NUM */
	size_t str;		/* TK_STR, TK_LABEL: offset in strs */
	size_t attr;		/* TK_ATTR: index in attrs */
};

struct parser {
	const char *src;
	const char *p;		/* the next byte to lex */
	struct token tok;	/* the current token */
	struct node *nodes;
	size_t nnodes, cap;
	char *strs;		/* decoded strings, each NUL-terminated */
	size_t nstrs;
	int depth;
	bool is_static;
	struct cerr *err;
};

/*
 * UTF-8.  The lexer is strict (strings must be valid); the glob matcher
 * is lenient (a byte that starts no valid character counts as one), as
 * host attributes are not ours to refuse.
 */

/* The length of the valid character at s, or 0. */
static size_t
u8_valid(const unsigned char *s)
{
	uint32_t c;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

/* Decode the character at *s and step over it. */
static uint32_t
u8_next(const char **s)
{
	const unsigned char *u = (const unsigned char *)*s;
	size_t n = u8_valid(u), i;
	uint32_t c;

	if (n <= 1) {
		(*s)++;
		return u[0];
	}
	c = u[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		c = c << 6 | (u[i] & 0x3f);
	*s += n;
	return c;
}

/*
 * Globs: * ? [...] ([!...] or [^...] negates, a-z ranges by code point)
 * and \ to quote the next character.  Every element but * matches one
 * character, so remembering only the last * is enough: the match is
 * O(pattern x subject) at worst, never exponential, which matters as
 * patterns come from users and fnmatch(3) backtracks recursively.  A [
 * without its ] is an ordinary character, as in fnmatch(3).
 */

/* Does the class at p (just after '[') hold c?  *end gets the byte after
 * its ']', or NULL when there is none. */
static bool
glob_class(const char *p, uint32_t c, const char **end)
{
	bool neg = false, in = false;
	uint32_t lo, hi;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {
		in = c == ']';
		p++;
	}
	while (*p && *p != ']') {
		if (*p == '\\' && p[1])
			p++;
		lo = hi = u8_next(&p);
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = u8_next(&p);
		}
		if (c >= lo && c <= hi)
			in = true;
	}
	*end = *p == ']' ? p + 1 : NULL;
	return in != neg;
}

/* Match one pattern element at *p against the character at *s, stepping
 * over both when it matches. */
static bool
glob_one(const char **p, const char **s)
{
	const char *q = *p, *t = *s, *end = NULL;
	uint32_t pc, sc;
	bool in = false;

	sc = u8_next(&t);
	if (*q == '[')
		in = glob_class(q + 1, sc, &end);
	if (*q == '?') {
		q++;
	} else if (end) {
		if (!in)
			return false;
		q = end;
	} else {
		if (*q == '\\' && q[1])
			q++;
		pc = u8_next(&q);
		if (pc != sc)
			return false;
	}
	*p = q;
	*s = t;
	return true;
}

static bool
glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p && glob_one(&p, &s))
			continue;
		if (star_p == NULL)
			return false;
		/* let the last * take one more character */
		p = star_p;
		u8_next(&star_s);
		s = star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/*
 * Numbers: digits, a fraction, a unit.  Labels read as numbers also take
 * a sign and an exponent, as %g writes them.
 */

/* Scan digits [. digits] at p into *v; the end, or NULL when malformed. */
static const char *
num_scan(const char *p, double *v)
{
	double n = 0, frac = 0, scale = 1;

	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		n = n * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9') {
			/* digits past double's precision change nothing */
			if (scale < 1e22) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
			p++;
		}
	}
	*v = n + frac / scale;
	return p;
}

/* The unit of n bytes at p, in MiB, or 0 when there is none such. */
static double
unit_mib(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (strlen(units[i].name) == n &&
		    memcmp(units[i].name, p, n) == 0)
			return units[i].mib;
	return 0;
}

/* A label's value as a number, when all of it reads as one. */
static bool
label_num(const char *s, double *v)
{
	const char *p = s, *u;
	double n, mib = 1;
	bool neg = false;
	int e = 0, esign = 1;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if ((p = num_scan(p, &n)) == NULL)
		return false;
	if ((*p == 'e' || *p == 'E') && p[1]) {
		p++;
		if (*p == '-' || *p == '+')
			esign = *p++ == '-' ? -1 : 1;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			if ((e = e * 10 + (*p++ - '0')) > 400)
				return false;
		n *= pow(10, esign * e);
	}
	for (u = p; (*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z');)
		u++;
	if (u != p && (mib = unit_mib(p, (size_t)(u - p))) == 0)
		return false;
	if (*u != '\0' || !isfinite(n * mib))
		return false;
	*v = (neg ? -n : n) * mib;
	return true;
}

/*
 * The lexer.
 */

static int
column(const struct parser *ps, const char *at)
{
	return (int)(at - ps->src) + 1;
}

static bool
is_ident(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || (!first && c >= '0' && c <= '9');
}

static bool
is_key(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
	    c == '-';
}

/* Describe the current token for "found ...". */
static const char *
found(const struct parser *ps, char *buf, size_t len)
{
	const struct token *t = &ps->tok;
	int n = (int)t->len;

	if (t->kind == TK_END)
		return "end of input";
	if (n > 32) {
		/* cut at a character boundary */
		n = 32;
		while (n > 0 && ((unsigned char)t->start[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(buf, len, "'%.*s%s'", n, t->start,
	    (size_t)n < t->len ? "..." : "");
	return buf;
}

static int
lex_string(struct parser *ps)
{
	const char *q = ps->p, *p = q + 1;
	char *out = ps->strs + ps->nstrs;
	size_t n;

	ps->tok.kind = TK_STR;
	ps->tok.str = ps->nstrs;
	for (;;) {
		if (*p == '\0')
			return cerr_set(ps->err, CERR_USAGE,
			    "column %d: unterminated string", column(ps, q));
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p[1] == '\0')
				return cerr_set(ps->err, CERR_USAGE, "column "
				    "%d: unterminated string", column(ps, q));
			if (p[1] != '"' && p[1] != '\\')
				return cerr_set(ps->err, CERR_USAGE,
				    "column %d: expected \\\" or \\\\, found "
				    "'\\%c'", column(ps, p),
				    (unsigned char)p[1] < 0x80 ? p[1] : '?');
			*out++ = p[1];
			p += 2;
			continue;
		}
		if ((n = u8_valid((const unsigned char *)p)) == 0)
			return cerr_set(ps->err, CERR_USAGE, "column %d: "
			    "invalid UTF-8 in string", column(ps, p));
		memcpy(out, p, n);
		out += n;
		p += n;
	}
	*out++ = '\0';
	ps->nstrs = (size_t)(out - ps->strs);
	ps->p = p + 1;
	return 0;
}

static int
lex_number(struct parser *ps)
{
	const char *start = ps->p, *p = start, *end;
	double mib = 1;

	/* take the whole word, so "1.2.3" and "2GB" are refused whole */
	while (is_ident(*p, false) || *p == '.')
		p++;
	ps->p = p;
	if ((end = num_scan(start, &ps->tok.num)) == NULL ||
	    memchr(end, '.', (size_t)(p - end)))
		return cerr_set(ps->err, CERR_USAGE, "column %d: invalid "
		    "number '%.*s'", column(ps, start),
		    (int)(p - start > 40 ? 40 : p - start), start);
	if (end < p && (mib = unit_mib(end, (size_t)(p - end))) == 0)
		return cerr_set(ps->err, CERR_USAGE, "column %d: unknown unit "
		    "'%.*s' (use " UNIT_NAMES ")", column(ps, start),
		    (int)(p - end > 40 ? 40 : p - end), end);
	ps->tok.kind = TK_NUM;
	ps->tok.num *= mib;
	if (!isfinite(ps->tok.num))
		return cerr_set(ps->err, CERR_USAGE, "column %d: number is "
		    "too large", column(ps, start));
	return 0;
}

static int
lex_label(struct parser *ps, const char *start)
{
	const char *p = ps->p;
	size_t n;

	if (*p != '.' || !is_key(p[1]) || p[1] == '.' || p[1] == '-' ||
	    p[1] == '_' || p[1] == '/')
		return cerr_set(ps->err, CERR_USAGE, "column %d: labels needs "
		    "a key (labels.KEY)", column(ps, start));
	for (n = 1; is_key(p[n]); n++)
		;
	ps->tok.kind = TK_LABEL;
	ps->tok.str = ps->nstrs;
	memcpy(ps->strs + ps->nstrs, p + 1, n - 1);
	ps->nstrs += n - 1;
	ps->strs[ps->nstrs++] = '\0';
	ps->p = p + n;
	return 0;
}

static int
lex_word(struct parser *ps)
{
	const char *start = ps->p, *p = start;
	size_t n, i;

	while (is_ident(*p, false))
		p++;
	n = (size_t)(p - start);
	ps->p = p;
	if (n == 4 && memcmp(start, "true", 4) == 0) {
		ps->tok.kind = TK_TRUE;
		return 0;
	}
	if (n == 5 && memcmp(start, "false", 5) == 0) {
		ps->tok.kind = TK_FALSE;
		return 0;
	}
	if (n == 6 && memcmp(start, "labels", 6) == 0)
		return lex_label(ps, start);
	for (i = 0; i < ARRAY_SIZE(attrs); i++)
		if (strlen(attrs[i].name) == n &&
		    memcmp(attrs[i].name, start, n) == 0) {
			ps->tok.kind = TK_ATTR;
			ps->tok.attr = i;
			return 0;
		}
	return cerr_set(ps->err, CERR_USAGE, "column %d: unknown attribute "
	    "'%.*s'", column(ps, start), (int)(n > 40 ? 40 : n), start);
}

static const struct {
	const char *text;
	enum tok kind;
} puncts[] = {
	/* two-byte operators first */
	{ "==", TK_EQ }, { "!=", TK_NE }, { "<=", TK_LE }, { ">=", TK_GE },
	{ "=~", TK_MATCH }, { "&&", TK_AND }, { "||", TK_OR },
	{ "<", TK_LT }, { ">", TK_GT }, { "!", TK_NOT }, { "(", TK_LPAREN },
	{ ")", TK_RPAREN },
};

static int
lex_punct(struct parser *ps)
{
	const char *p = ps->p;
	unsigned char c = (unsigned char)*p;
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(puncts); i++) {
		n = strlen(puncts[i].text);
		if (strncmp(p, puncts[i].text, n) == 0) {
			ps->tok.kind = puncts[i].kind;
			ps->p = p + n;
			return 0;
		}
	}
	if (c == '&' || c == '|' || c == '=')
		return cerr_set(ps->err, CERR_USAGE, "column %d: expected "
		    "'%c%c', found '%c'", column(ps, p), c, c, c);
	if (c > 0x20 && c < 0x7f)
		return cerr_set(ps->err, CERR_USAGE, "column %d: unexpected "
		    "character '%c'", column(ps, p), c);
	return cerr_set(ps->err, CERR_USAGE, "column %d: unexpected byte "
	    "0x%02x", column(ps, p), c);
}

/* Lex the next token into ps->tok. */
static int
lex(struct parser *ps)
{
	int rc;

	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r')
		ps->p++;
	ps->tok.start = ps->p;
	if (*ps->p == '\0') {
		ps->tok.kind = TK_END;
		rc = 0;
	} else if (*ps->p == '"') {
		rc = lex_string(ps);
	} else if (*ps->p >= '0' && *ps->p <= '9') {
		rc = lex_number(ps);
	} else if (is_ident(*ps->p, true)) {
		rc = lex_word(ps);
	} else {
		rc = lex_punct(ps);
	}
	ps->tok.len = (size_t)(ps->p - ps->tok.start);
	return rc;
}

/*
 * The parser.  Each parse_ function leaves the node it built in *out and
 * the token after it in ps->tok.
 */

static int
node_new(struct parser *ps, enum op op, enum type type)
{
	struct node *n;

	xgrow(&ps->nodes, &ps->cap, ps->nnodes + 1, sizeof(*ps->nodes));
	n = &ps->nodes[ps->nnodes];
	memset(n, 0, sizeof(*n));
	n->op = (unsigned char)op;
	n->type = (unsigned char)type;
	n->a = n->b = n->next = -1;
	return (int)ps->nnodes++;
}

static enum type
type_of(const struct parser *ps, int n)
{
	return (enum type)ps->nodes[n].type;
}

static int
nest(struct parser *ps, const char *at)
{
	if (++ps->depth > EXPR_MAX_DEPTH)
		return cerr_set(ps->err, CERR_USAGE, "column %d: expression "
		    "nested deeper than %d levels", column(ps, at),
		    EXPR_MAX_DEPTH);
	return 0;
}

static int parse_or(struct parser *, int *);

static int
parse_atom(struct parser *ps, int *out)
{
	const struct token *t = &ps->tok;
	const char *at = t->start;
	char buf[48];
	int n;

	switch (t->kind) {
	case TK_NUM:
		n = node_new(ps, OP_NUM, TY_NUM);
		ps->nodes[n].u.num = t->num;
		break;
	case TK_STR:
		n = node_new(ps, OP_STR, TY_STR);
		ps->nodes[n].u.off = t->str;
		break;
	case TK_LABEL:
		n = node_new(ps, OP_LABEL, TY_LABEL);
		ps->nodes[n].u.off = t->str;
		break;
	case TK_ATTR:
		n = node_new(ps, attrs[t->attr].type == TY_NUM ? OP_ATTR_NUM :
		    OP_ATTR_STR, attrs[t->attr].type);
		ps->nodes[n].u.off = attrs[t->attr].off;
		if (attrs[t->attr].dynamic)
			ps->is_static = false;
		break;
	case TK_TRUE:
	case TK_FALSE:
		n = node_new(ps, t->kind == TK_TRUE ? OP_TRUE : OP_FALSE,
		    TY_BOOL);
		break;
	case TK_LPAREN:
		if (nest(ps, at) || lex(ps) || parse_or(ps, out))
			return ps->err->code;
		if (t->kind != TK_RPAREN)
			return cerr_set(ps->err, CERR_USAGE, "column %d: "
			    "expected an operator or ')', found %s",
			    column(ps, t->start), found(ps, buf, sizeof(buf)));
		ps->depth--;
		return lex(ps);
	default:
		return cerr_set(ps->err, CERR_USAGE, "column %d: expected a "
		    "value, found %s", column(ps, at),
		    found(ps, buf, sizeof(buf)));
	}
	*out = n;
	return lex(ps);
}

static bool
is_cmp(enum tok k)
{
	return k >= TK_EQ && k <= TK_MATCH;
}

/* The operator of len bytes at at needs what, but found a t. */
static int
type_error(struct parser *ps, const char *at, size_t len, const char *what,
    enum type t)
{
	return cerr_set(ps->err, CERR_USAGE, "column %d: '%.*s' needs %s, "
	    "found %s", column(ps, at), (int)len, at, what, type_names[t]);
}

/* The operation for l OP r, or a type error at the operator. */
static int
cmp_op(struct parser *ps, enum tok k, const char *at, int l, int r,
    enum op *op)
{
	enum type lt = type_of(ps, l), rt = type_of(ps, r);
	bool eq = k == TK_EQ;
	size_t len;

	switch (k) {
	case TK_EQ:
	case TK_NE:
		if (lt == TY_BOOL && rt == TY_BOOL)
			*op = eq ? OP_BOOL_EQ : OP_BOOL_NE;
		else if (lt == TY_BOOL || rt == TY_BOOL ||
		    (lt == TY_NUM && rt == TY_STR) ||
		    (lt == TY_STR && rt == TY_NUM))
			return cerr_set(ps->err, CERR_USAGE, "column %d: '%s' "
			    "cannot compare %s with %s", column(ps, at),
			    eq ? "==" : "!=", type_names[lt], type_names[rt]);
		else if (lt == TY_NUM || rt == TY_NUM)
			*op = eq ? OP_NUM_EQ : OP_NUM_NE;
		else
			*op = eq ? OP_STR_EQ : OP_STR_NE;
		return 0;
	case TK_MATCH:
		if (lt != TY_STR && lt != TY_LABEL)
			return type_error(ps, at, 2, "a string on its left", lt);
		if (rt != TY_STR && rt != TY_LABEL)
			return type_error(ps, at, 2, "a pattern string "
			    "on its right", rt);
		*op = OP_MATCH;
		return 0;
	default:
		len = k == TK_LE || k == TK_GE ? 2 : 1;
		if (lt != TY_NUM && lt != TY_LABEL)
			return type_error(ps, at, len, "numbers", lt);
		if (rt != TY_NUM && rt != TY_LABEL)
			return type_error(ps, at, len, "numbers", rt);
		*op = k == TK_LT ? OP_LT : k == TK_LE ? OP_LE :
		    k == TK_GT ? OP_GT : OP_GE;
		return 0;
	}
}

/* The op of r OP l, for l OP r. */
static enum op
mirror(enum op op)
{
	switch (op) {
	case OP_LT: return OP_GT;
	case OP_LE: return OP_GE;
	case OP_GT: return OP_LT;
	case OP_GE: return OP_LE;
	default: return op;
	}
}

/*
 * The node for l OP r.  The commonest requirement compares an attribute
 * with a number (cpu >= 8, memory >= 4GiB): one node does it, reading the
 * host directly, which halves the cost of such a comparison.  l and r stay
 * behind unused, which costs a few bytes only.
 */
static int
fuse(struct parser *ps, enum op op, int l, int r)
{
	const struct node *nl = &ps->nodes[l], *nr = &ps->nodes[r];
	int n, attr = -1;
	double k = 0;

	if (op >= OP_NUM_EQ && op <= OP_GE) {
		if (nl->op == OP_ATTR_NUM && nr->op == OP_NUM) {
			attr = (int)nl->u.off;
			k = nr->u.num;
		} else if (nl->op == OP_NUM && nr->op == OP_ATTR_NUM) {
			attr = (int)nr->u.off;
			k = nl->u.num;
			op = mirror(op);
		}
	}
	if (attr < 0) {
		n = node_new(ps, op, TY_BOOL);
		ps->nodes[n].a = l;
		ps->nodes[n].b = r;
		return n;
	}
	n = node_new(ps, OP_ATTR_K, TY_BOOL);
	ps->nodes[n].a = attr;
	ps->nodes[n].b = (int)op;
	ps->nodes[n].u.num = k;
	return n;
}

static int
parse_cmp(struct parser *ps, int *out)
{
	const struct token *t = &ps->tok;
	const char *at;
	enum tok k;
	enum op op = OP_FALSE;
	char buf[48];
	int l, r, n;

	if (parse_atom(ps, &l))
		return ps->err->code;
	if (!is_cmp(t->kind)) {
		*out = l;
		return 0;
	}
	k = t->kind;
	at = t->start;
	if (lex(ps) || parse_atom(ps, &r) || cmp_op(ps, k, at, l, r, &op))
		return ps->err->code;
	if (is_cmp(t->kind))
		return cerr_set(ps->err, CERR_USAGE, "column %d: expected "
		    "'&&' or '||', found %s (comparisons do not chain)",
		    column(ps, t->start), found(ps, buf, sizeof(buf)));
	n = fuse(ps, op, l, r);
	*out = n;
	return 0;
}

static int
parse_not(struct parser *ps, int *out)
{
	const char *at = ps->tok.start;
	int x, n;

	if (ps->tok.kind != TK_NOT)
		return parse_cmp(ps, out);
	if (nest(ps, at) || lex(ps) || parse_not(ps, &x))
		return ps->err->code;
	if (type_of(ps, x) != TY_BOOL)
		return type_error(ps, at, 1, "a boolean", type_of(ps, x));
	ps->depth--;
	n = node_new(ps, OP_NOT, TY_BOOL);
	ps->nodes[n].a = x;
	*out = n;
	return 0;
}

/* One level of && or ||: operands chained through next. */
static int
parse_chain(struct parser *ps, enum tok k, enum op op,
    int (*operand)(struct parser *, int *), int *out)
{
	const char *at;
	int first, x, last, n;

	if (operand(ps, &first))
		return ps->err->code;
	if (ps->tok.kind != k) {
		*out = first;
		return 0;
	}
	n = node_new(ps, op, TY_BOOL);
	ps->nodes[n].a = last = first;
	at = ps->tok.start;
	if (type_of(ps, first) != TY_BOOL)
		return type_error(ps, at, 2, "booleans", type_of(ps, first));
	while (ps->tok.kind == k) {
		at = ps->tok.start;
		if (lex(ps) || operand(ps, &x))
			return ps->err->code;
		if (type_of(ps, x) != TY_BOOL)
			return type_error(ps, at, 2, "booleans",
			    type_of(ps, x));
		ps->nodes[last].next = x;
		last = x;
	}
	*out = n;
	return 0;
}

static int
parse_and(struct parser *ps, int *out)
{
	return parse_chain(ps, TK_AND, OP_AND, parse_not, out);
}

static int
parse_or(struct parser *ps, int *out)
{
	return parse_chain(ps, TK_OR, OP_OR, parse_and, out);
}

/* Put the parsed tree, its strings and the source in one block. */
static struct expr *
pack(struct parser *ps, int root, size_t srclen)
{
	size_t nodes = ps->nnodes * sizeof(struct node), i;
	struct expr *e;
	char *strs, *src;

	e = xmalloc(sizeof(*e) + nodes + ps->nstrs + srclen + 1);
	memcpy(e->nodes, ps->nodes, nodes);
	strs = (char *)e->nodes + nodes;
	memcpy(strs, ps->strs, ps->nstrs);
	src = strs + ps->nstrs;
	memcpy(src, ps->src, srclen + 1);
	for (i = 0; i < ps->nnodes; i++)
		if (e->nodes[i].op == OP_STR || e->nodes[i].op == OP_LABEL)
			e->nodes[i].u.str = strs + ps->nodes[i].u.off;
	e->src = src;
	e->root = root;
	e->is_static = ps->is_static;
	return e;
}

int
expr_compile(const char *src, struct expr **out, struct cerr *err)
{
	struct parser ps = { 0 };
	size_t len = strnlen(src, EXPR_MAX_SOURCE + 1);
	char buf[48];
	int root, rc;

	if (len > EXPR_MAX_SOURCE)
		return cerr_set(err, CERR_USAGE, "column %d: expression longer "
		    "than %d bytes", EXPR_MAX_SOURCE + 1, EXPR_MAX_SOURCE);
	ps.src = ps.p = src;
	ps.err = err;
	ps.is_static = true;
	/* decoded strings and keys are never longer than their source */
	ps.strs = xmalloc(len + 1);
	if ((rc = lex(&ps)) || (rc = parse_or(&ps, &root)))
		goto out;
	if (ps.tok.kind != TK_END) {
		rc = cerr_set(err, CERR_USAGE, "column %d: expected an operator "
		    "or end of input, found %s", column(&ps, ps.tok.start),
		    found(&ps, buf, sizeof(buf)));
		goto out;
	}
	*out = pack(&ps, root, len);
out:
	free(ps.nodes);
	free(ps.strs);
	return rc;
}

void
expr_free(struct expr *e)
{
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
	return e->is_static;
}

bool
expr_boolean(const struct expr *e)
{
	return e->nodes[e->root].type == TY_BOOL;
}

/*
 * The evaluator.  Types were checked at compile time, so each node is
 * read as what it is: ev_bool for comparisons and logic, ev_num for
 * numbers, ev_str for strings; labels serve as either.
 */

static const char *
label_get(const struct expr_host *h, const char *key)
{
	size_t lo = 0, hi = h->nlabels, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(key, h->label_keys[mid]);
		if (c == 0)
			return h->label_values[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* A number, or false when missing (a label absent or not numeric). */
static bool
ev_num(const struct node *n, const struct expr_host *h, double *v)
{
	const char *s;

	switch (n->op) {
	case OP_NUM:
		*v = n->u.num;
		return true;
	case OP_ATTR_NUM:
		*v = *(const double *)((const char *)h + n->u.off);
		return true;
	default:
		s = label_get(h, n->u.str);
		return s && label_num(s, v);
	}
}

/* A string, or NULL when missing. */
static const char *
ev_str(const struct node *n, const struct expr_host *h)
{
	const char *s;

	switch (n->op) {
	case OP_STR:
		return n->u.str;
	case OP_ATTR_STR:
		s = *(const char *const *)((const char *)h + n->u.off);
		return s ? s : "";
	default:
		return label_get(h, n->u.str);
	}
}

static bool
ev_bool(const struct node *nodes, int i, const struct expr_host *h)
{
	const struct node *n;
	const char *s, *t;
	double x, y;
	bool num;

	for (;;) {
		n = &nodes[i];
		switch (n->op) {
		case OP_TRUE:
			return true;
		case OP_NOT:
			return !ev_bool(nodes, n->a, h);
		case OP_AND:
		case OP_OR:
			/* the last operand is evaluated in this frame */
			for (i = n->a; nodes[i].next >= 0; i = nodes[i].next)
				if (ev_bool(nodes, i, h) == (n->op == OP_OR))
					return n->op == OP_OR;
			continue;
		case OP_ATTR_K:
			x = *(const double *)((const char *)h + n->a);
			switch (n->b) {
			case OP_NUM_EQ: return x == n->u.num;
			case OP_NUM_NE: return x != n->u.num;
			case OP_LT: return x < n->u.num;
			case OP_LE: return x <= n->u.num;
			case OP_GT: return x > n->u.num;
			default: return x >= n->u.num;
			}
		case OP_NUM_EQ: case OP_NUM_NE:
		case OP_LT: case OP_LE: case OP_GT: case OP_GE:
			num = ev_num(&nodes[n->a], h, &x) &&
			    ev_num(&nodes[n->b], h, &y);
			switch (n->op) {
			case OP_NUM_EQ: return num && x == y;
			case OP_NUM_NE: return !(num && x == y);
			case OP_LT: return num && x < y;
			case OP_LE: return num && x <= y;
			case OP_GT: return num && x > y;
			default: return num && x >= y;
			}
		case OP_STR_EQ:
		case OP_STR_NE:
			s = ev_str(&nodes[n->a], h);
			t = ev_str(&nodes[n->b], h);
			return (s && t && strcmp(s, t) == 0) ==
			    (n->op == OP_STR_EQ);
		case OP_BOOL_EQ:
		case OP_BOOL_NE:
			return (ev_bool(nodes, n->a, h) ==
			    ev_bool(nodes, n->b, h)) == (n->op == OP_BOOL_EQ);
		case OP_MATCH:
			s = ev_str(&nodes[n->a], h);
			t = ev_str(&nodes[n->b], h);
			return s && t && glob_match(t, s);
		default:
			return false;
		}
	}
}

bool
expr_test(const struct expr *e, const struct expr_host *h)
{
	return expr_rank(e, h) != 0;
}

double
expr_rank(const struct expr *e, const struct expr_host *h)
{
	const struct node *n = &e->nodes[e->root];
	double v;

	switch (n->type) {
	case TY_BOOL:
		return ev_bool(e->nodes, e->root, h) ? 1 : 0;
	case TY_NUM:
	case TY_LABEL:
		return ev_num(n, h, &v) ? v : 0;
	default:
		return 0;
	}
}
