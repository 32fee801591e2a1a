/*
 * test-engines - table-driven tests of the pure modules: units, valid, doc
 * (JSON), yml (reading and writing documents), domxml (escaping, checked
 * by parsing the result with libxml2), seed (cloud-init files, checked by
 * reading them back with the yml reader).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "bounds.h"
#include "buf.h"
#include "cerr.h"
#include "digest.h"
#include "doc.h"
#include "domxml.h"
#include "ipaddr.h"
#include "seed.h"
#include "units.h"
#include "valid.h"
#include "xalloc.h"
#include "yml.h"
#include "tap.h"

static void
test_units(void)
{
	static const struct {
		const char *in;
		long long mib;	/* -1: refused */
	} t[] = {
		{ "512", 512 }, { "512MiB", 512 }, { "512M", 512 },
		{ "2GiB", 2048 }, { "2gib", 2048 }, { "20G", 20480 },
		{ "1.5GiB", 1536 }, { "1TiB", 1048576 }, { "1T", 1048576 },
		{ "1GB", 954 }, { "1000MB", 954 }, { "1KiB", 1 },
		{ "1b", 1 }, { "0", 0 }, { "64 MiB", 64 },
		{ "", -1 }, { "MiB", -1 }, { "2GBx", -1 }, { "-1", -1 },
		{ "1.2.3G", -1 }, { "12PiB", -1 }, { "99999999999999T", -1 },
		{ "0x10", -1 }, { "1e3", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cerr err = { 0 };
		long long mib = -7;
		int rc = units_parse_mib(t[i].in, &mib, &err);

		if (t[i].mib < 0)
			ok(rc == CERR_USAGE && mib == -7 &&
			    strstr(err.msg, "size"), "units: '%s' is refused "
			    "(%s)", t[i].in, err.msg);
		else
			ok(rc == 0 && mib == t[i].mib, "units: '%s' is %lld "
			    "MiB (got %lld)", t[i].in, t[i].mib, mib);
	}
}


/* valid_enum: matched without regard to case, the index of the canonical
 * name; otherwise the valid ones listed. */
static void
test_enum(void)
{
	static const char *const names[] = { "private", "group", "public" };
	static const struct {
		const char *text;
		int index;		/* -1: refused */
	} t[] = {
		{ "private", 0 }, { "GROUP", 1 }, { "Public", 2 },
		{ "publi", -1 }, { "", -1 }, { "public ", -1 },
		{ "PRIVATE\n", -1 },
	};
	struct cerr err = { 0 };
	size_t i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cerr_clear(&err);
		k = 99;
		if (t[i].index < 0)
			ok(valid_enum(t[i].text, names, 3, &k, "visibility",
			    &err) == CERR_USAGE && k == 99,
			    "valid: enum #%zu refused", i);
		else
			ok(valid_enum(t[i].text, names, 3, &k, "visibility",
			    &err) == 0 && k == (size_t)t[i].index &&
			    err.code == 0, "valid: enum #%zu is %s", i,
			    names[t[i].index]);
	}
	cerr_clear(&err);
	valid_enum("publik", names, 3, &k, "visibility", &err);
	ok(strcmp(err.msg, "unknown visibility 'publik' (expected one of: "
	    "private, group, public)") == 0, "valid: enum lists the valid "
	    "ones (%s)", err.msg);
	cerr_clear(&err);
	ok(valid_enum(NULL, names, 3, &k, "visibility", &err) == CERR_USAGE &&
	    strcmp(err.msg, "unknown visibility '' (expected one of: "
	    "private, group, public)") == 0, "valid: enum of NULL refused");
}
static void
test_valid(void)
{
	static const struct {
		const char *name;
		int good;
	} t[] = {
		{ "web-1", 1 }, { "a<b>&c\"d'", 1 }, { "caf\xc3\xa9", 1 },
		{ "x", 1 }, { "1a", 1 }, { "a b", 1 },
		{ "", 0 }, { "123", 0 }, { "-x", 0 }, { " x", 0 },
		{ "x ", 0 }, { "a\nb", 0 }, { "a\tb", 0 }, { "\xff", 0 },
		{ "\xc0\xaf", 0 }, { "\xed\xa0\x80", 0 },
		/* all digits however long; Unicode controls and formats */
		{ "99999999999999999999", 0 }, { "a\x1b" "b", 0 },
		{ "a\xc2\x85" "b", 0 }, { "evil\xe2\x80\xae" "exe", 0 },
		{ "a\xe2\x80\x8b" "b", 0 }, { "\xef\xbb\xbf" "x", 0 },
		{ "a\xe2\x80\xa8" "b", 0 }, { "a\xc2\xad" "b", 0 },
		{ "\xf0\x9f\x98\x80", 1 }, { "\xe2\x80\x94", 1 },
	};
	static char bigdesc[DESC_MAX_LEN + 2];
	char longname[200];
	struct cerr err = { 0 };
	long long id;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cerr_clear(&err);
		ok((valid_name("vm", t[i].name, &err) == 0) == t[i].good,
		    "valid: name #%zu %s", i, t[i].good ? "accepted" :
		    "refused");
	}
	memset(longname, 'a', sizeof(longname));
	longname[129] = '\0';
	cerr_clear(&err);
	ok(valid_name("vm", longname, &err) == CERR_USAGE,
	    "valid: a 129-byte name is refused");
	longname[128] = '\0';
	cerr_clear(&err);
	ok(valid_name("vm", longname, &err) == 0,
	    "valid: a 128-byte name is accepted");
	ok(valid_id("42", &id) && id == 42, "valid: 42 is an id");
	ok(!valid_id("4x", &id) && !valid_id("", &id) &&
	    !valid_id("99999999999999999999", &id), "valid: non-ids refused");
	cerr_clear(&err);
	ok(valid_name("vm", "\xe2\x80\xae", &err) == CERR_USAGE &&
	    strcmp(err.msg, "vm name holds a control or format character "
	    "(U+202E)") == 0, "valid: U+202E is named (%s)", err.msg);
	cerr_clear(&err);
	ok(valid_description("a\nb\tc", &err) == 0, "valid: description "
	    "with lines and tabs");
	memset(bigdesc, 'd', sizeof(bigdesc));
	bigdesc[DESC_MAX_LEN + 1] = '\0';
	ok(valid_description(bigdesc, &err) == CERR_USAGE,
	    "valid: description of DESC_MAX_LEN + 1 bytes refused");
	test_enum();
}

/* Read text, return the JSON of every document joined by newlines, or
 * "ERR: message". */
static char *
read_json(const char *text)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	struct buf b = BUF_INIT;
	size_t i;

	if (yml_read("<t>", text, strlen(text), &dl, &err)) {
		buf_printf(&b, "ERR: %s", err.msg);
		ok(dl.n == 0, "yml: a failed read leaves no documents");
	}
	for (i = 0; i < dl.n; i++) {
		if (i)
			buf_addc(&b, '\n');
		doc_json(&b, dl.v[i]);
	}
	doclist_release(&dl);
	return buf_detach(&b);
}

static void
test_yml_read(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "kind: VM\nname: a\ncpu: 2\n", "{\"kind\":\"VM\",\"name\":\"a\",\"cpu\":2}" },
		{ "a: 1\n---\nb: x\n", "{\"a\":1}\n{\"b\":\"x\"}" },
		{ "---\na: 1\n---\n", "{\"a\":1}" },
		{ "{\"a\":1}\n{\"b\":[1,2]}\n", "{\"a\":1}\n{\"b\":[1,2]}" },
		{ "{\n  \"a\": 1,\n  \"s\": \"x}\"\n}\n{\n  \"b\": 2\n}\n", "{\"a\":1,\"s\":\"x}\"}\n{\"b\":2}" },
		{ "[{\"a\":1},{\"a\":2}]", "{\"a\":1}\n{\"a\":2}" },
		{ "- a: 1\n- a: 2\n", "{\"a\":1}\n{\"a\":2}" },
		{ "a: no\nb: on\nc: true\nd: ~\ne: 1.5\nf: '1'\ng: -3\n", "{\"a\":\"no\",\"b\":\"on\",\"c\":true,\"d\":null,\"e\":1.5,\"f\":\"1\",\"g\":-3}" },
		{ "{\"s\":\"\\u00e9\\n\\\"\"}", "{\"s\":\"\xc3\xa9\\n\\\"\"}" },
		{ "a: 99999999999999999999\n", "{\"a\":\"99999999999999999999\"}" },
		{ "", "" },
		{ "a: [1\n", "ERR: <t>: line 2: did not find expected ',' or ']' while parsing a flow sequence" },
		{ "a: 1\na: 2\n", "ERR: <t>: line 2: duplicate key 'a'" },
		{ "a: &x 1\nb: *x\n", "ERR: <t>: line 2: aliases (*name) are not supported" },
		{ "just a string\n", "ERR: <t>: line 1: document 1: expected a map, found a string" },
		{ "a: 1\n---\n- 1\n", "ERR: <t>: line 3: item 1: expected a map, found a integer" },
		{ "{\"a\":1}\n{\"b\":", "ERR: <t>: line 2: unterminated JSON object" },
		{ "{\"a\":1} x", "ERR: <t>: line 1: expected a JSON object" },
		{ "[1,2]", "ERR: <t>: line 1: item 1: expected a map, found a integer" },
		{ "? [a]\n: 1\n", "ERR: <t>: line 1: a map key must be a scalar" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = read_json(t[i].in);

		if (strncmp(t[i].want, "ERR: ", 5) == 0)
			ok(strncmp(got, t[i].want, strlen(t[i].want)) == 0,
			    "yml: read #%zu fails clearly (%s)", i, got);
		else
			is_str(got, t[i].want, "yml: read #%zu", i);
		free(got);
	}
	{
		char deep[400];
		char *got;

		memset(deep, '[', 200);
		memcpy(deep + 200, "\n", 2);
		got = read_json(deep);
		ok(strstr(got, "ERR: ") == got, "yml: deep nesting is refused "
		    "(%s)", got);
		free(got);
	}
	{
		static const char nul[] = "a: 1\0b: 2\n";
		struct doclist dl = { 0 };
		struct cerr err = { 0 };

		ok(yml_read("<t>", nul, sizeof(nul) - 1, &dl, &err) ==
		    CERR_USAGE && strstr(err.msg, "NUL"),
		    "yml: NUL bytes are refused");
		doclist_release(&dl);
	}
}

/* Read b (len bytes), give back the error ("" when it reads) and the count
 * of documents. */
static char *
read_err(const struct buf *b, size_t *ndoc)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };

	yml_read("<t>", b->s ? b->s : "", b->len, &dl, &err);
	*ndoc = dl.n;
	doclist_release(&dl);
	return xstrdup(err.msg);
}

static void
check_read(const struct buf *b, const char *want, size_t wantn,
    const char *what)
{
	size_t n = 0;
	char *got = read_err(b, &n);

	if (*want)
		is_str(got, want, "yml bounds: %s", what);
	else
		ok(*got == '\0' && n == wantn, "yml bounds: %s (%zu "
		    "documents, %s)", what, n, got);
	free(got);
}

/* Every bound of bounds.h the reader holds, at the bound and one over. */
static void
test_yml_bounds(void)
{
	struct buf b = BUF_INIT;
	size_t i;
	char want[256];

	/* keys per map */
	for (i = 0; i < BOUND_MAP_KEYS; i++)
		buf_printf(&b, "k%zu: %zu\n", i, i);
	check_read(&b, "", 1, "a map at the key bound reads");
	buf_printf(&b, "over: 1\n");
	snprintf(want, sizeof(want), "<t>: line %d: a map holds at most %d "
	    "keys", BOUND_MAP_KEYS + 1, BOUND_MAP_KEYS);
	check_read(&b, want, 0, "one key more is refused");
	buf_release(&b);
	/* in JSON too, on the line of the key */
	buf_puts(&b, "{");
	for (i = 0; i <= BOUND_MAP_KEYS; i++)
		buf_printf(&b, "%s\n\"k%zu\": %zu", i ? "," : "", i, i);
	buf_puts(&b, "}\n");
	snprintf(want, sizeof(want), "<t>: line %d: a map holds at most %d "
	    "keys", BOUND_MAP_KEYS + 2, BOUND_MAP_KEYS);
	check_read(&b, want, 0, "JSON: one key more is refused");
	buf_release(&b);
	/* duplicates in a large map: the first repeat in document order */
	for (i = 0; i < 5000; i++)
		buf_printf(&b, "k%zu: %zu\n", 4999 - i, i);
	buf_puts(&b, "k77: x\nk12: x\nk77: y\n");
	check_read(&b, "<t>: line 5001: duplicate key 'k77'", 0, "a large "
	    "map's first repeated key is named, on its line");
	buf_release(&b);
	buf_puts(&b, "a: 1\n1: 2\nb: 3\n'1': 4\n");
	check_read(&b, "<t>: line 4: duplicate key '1'", 0, "a number key "
	    "and its text are one key");
	buf_release(&b);
	/* depth */
	for (i = 0; i < BOUND_DEPTH; i++)
		buf_addc(&b, '[');
	for (i = 0; i < BOUND_DEPTH; i++)
		buf_addc(&b, ']');
	buf_release(&b);
	buf_puts(&b, "a: ");
	for (i = 1; i < BOUND_DEPTH; i++)
		buf_addc(&b, '[');
	buf_puts(&b, "x");
	for (i = 1; i < BOUND_DEPTH; i++)
		buf_addc(&b, ']');
	buf_puts(&b, "\n");
	check_read(&b, "", 1, "lists at the depth bound read");
	buf_release(&b);
	buf_puts(&b, "a: ");
	for (i = 0; i < BOUND_DEPTH; i++)
		buf_addc(&b, '[');
	snprintf(want, sizeof(want), "<t>: line 1: maps and lists nest at "
	    "most %d deep", BOUND_DEPTH);
	check_read(&b, want, 0, "one level more is refused");
	buf_release(&b);
	/* one string */
	buf_puts(&b, "s: ");
	for (i = 0; i < BOUND_STRING_BYTES; i++)
		buf_addc(&b, 'x');
	buf_puts(&b, "\n");
	check_read(&b, "", 1, "a string at the bound reads");
	buf_release(&b);
	buf_puts(&b, "a: 1\ns: \"");
	for (i = 0; i <= BOUND_STRING_BYTES; i++)
		buf_addc(&b, 'x');
	buf_puts(&b, "\"\n");
	snprintf(want, sizeof(want), "<t>: line 2: a string holds at most %d "
	    "MiB", BOUND_STRING_MIB);
	check_read(&b, want, 0, "one byte more is refused");
	buf_release(&b);
	/* one document, counted in bytes (\xc3\xa9 is one character, two
	 * bytes); the items of a top-level list are documents each */
	{
		size_t per = BOUND_STRING_BYTES / 2 - 16, left;

		for (i = 0; i < 2 * BOUND_DOC_MIB; i++) {
			size_t k;

			buf_printf(&b, "s%zu: ", i);
			for (k = 0; k < per / 2; k++)
				buf_puts(&b, "\xc3\xa9");
			buf_puts(&b, "\n");
		}
		left = BOUND_DOC_BYTES - b.len;
		buf_printf(&b, "t: ");
		for (i = 0; i + 4 < left; i++)
			buf_addc(&b, 'x');
		buf_puts(&b, "\n");
		ok(b.len == BOUND_DOC_BYTES, "yml bounds: the document is "
		    "%zu bytes", b.len);
		check_read(&b, "", 1, "a document at the bound reads");
		buf_puts(&b, "u: 1\n");
		snprintf(want, sizeof(want), "<t>: line %d: a document holds "
		    "at most %d MiB", 2 * BOUND_DOC_MIB + 2, BOUND_DOC_MIB);
		check_read(&b, want, 0, "a byte more is refused, though "
		    "it has fewer characters");
		buf_release(&b);
		for (i = 0; i < 3 * BOUND_DOC_MIB; i++) {
			size_t k;

			buf_printf(&b, "- s: \"");
			for (k = 0; k < BOUND_STRING_BYTES - 16; k++)
				buf_addc(&b, 'x');
			buf_puts(&b, "\"\n");
		}
		check_read(&b, "", 3 * BOUND_DOC_MIB, "a list of documents "
		    "larger than one document reads");
		buf_release(&b);
	}
	/* values in one input: the top list, then 3 a "- a: 1", 1 a "- {}" */
	for (i = 0; i < (BOUND_INPUT_VALUES - 1) / 3; i++)
		buf_puts(&b, "- a: 1\n");
	for (i = 0; i + 1 <= (BOUND_INPUT_VALUES - 1) % 3; i++)
		buf_puts(&b, "- {}\n");
	check_read(&b, "", (BOUND_INPUT_VALUES - 1) / 3 +
	    (BOUND_INPUT_VALUES - 1) % 3, "an input at the value bound reads");
	buf_puts(&b, "- {}\n");
	snprintf(want, sizeof(want), "<t>: line %d: an input holds at most %d "
	    "values and keys", (BOUND_INPUT_VALUES - 1) / 3 +
	    (BOUND_INPUT_VALUES - 1) % 3 + 1, BOUND_INPUT_VALUES);
	check_read(&b, want, 0, "one more is refused");
	buf_release(&b);
	/* the input */
	while (b.len <= BOUND_INPUT_BYTES)
		buf_puts(&b, "# a comment line, 32 bytes long\n");
	snprintf(want, sizeof(want), "<t>: input is larger than %d MiB",
	    BOUND_INPUT_MIB);
	check_read(&b, want, 0, "an input over its bound is refused");
	buf_release(&b);
	/* aliases: refused at the first, so nothing can expand */
	buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n");
	check_read(&b, "<t>: line 2: aliases (*name) are not supported", 0,
	    "an alias bomb is refused at its first alias");
	buf_release(&b);
}

static void
test_yml_roundtrip(void)
{
	static const char *const strs[] = {
		"123", "true", "null", "", "~", "- x", "a: b", "#c", "1.5",
		"multi\nline\n", "  lead", "trail ", "quote'\"", "\xc3\xa9t\xc3\xa9",
		"[x]", "{y}", "*alias", "&anchor", "!tag", "%dir", "@at", "`bq",
		"no", "0x10", ".inf",
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		struct doc *d = doc_new(DOC_MAP), *back;
		struct doclist dl = { 0 };
		struct cerr err = { 0 };
		struct buf b = BUF_INIT;

		doc_set_str(d, "s", strs[i]);
		doc_set_str(d, strs[i][0] ? strs[i] : "k", "v");
		doc_set_int(d, "n", -42);
		yml_write(&b, d, &err);
		ok(err.code == 0 && yml_read("<rt>", b.s, b.len, &dl, &err) ==
		    0 && dl.n == 1, "yml: string #%zu written and read back",
		    i);
		back = dl.n ? dl.v[0] : NULL;
		ok(back && doc_get_str(back, "s") &&
		    strcmp(doc_get_str(back, "s"), strs[i]) == 0 &&
		    doc_map_get(back, "n")->type == DOC_INT &&
		    doc_map_get(back, "n")->u.i == -42,
		    "yml: string #%zu keeps its text and type", i);
		doclist_release(&dl);
		buf_release(&b);
		doc_free(d);
	}
}

static void
test_json(void)
{
	struct doc *d = doc_new(DOC_MAP);
	struct buf b = BUF_INIT;

	doc_set_str(d, "s", "a\"b\\c\n\x01\x7f");
	doc_map_set(d, "t", doc_new_bool(1));
	doc_map_set(d, "z", doc_new(DOC_NULL));
	doc_map_set(d, "l", doc_new(DOC_LIST));
	doc_json(&b, d);
	is_str(b.s, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u007f\",\"t\":true,"
	    "\"z\":null,\"l\":[]}", "doc: JSON escapes strings");
	buf_release(&b);
	doc_free(d);
	{
		static const char nl[] = " \xc2\x85 \xe2\x80\xa8 \xe2\x80\xa9 ";
		struct doclist dl = { 0 };
		struct cerr err = { 0 };

		d = doc_new(DOC_MAP);
		doc_set_str(d, "s", nl);
		doc_json(&b, d);
		is_str(b.s, "{\"s\":\" \\u0085 \\u2028 \\u2029 \"}", "doc: "
		    "JSON escapes NEL, LS and PS");
		ok(yml_read("<j>", b.s, b.len, &dl, &err) == 0 && dl.n == 1 &&
		    strcmp(doc_get_str(dl.v[0], "s"), nl) == 0,
		    "doc: NEL, LS and PS survive JSON read back");
		doclist_release(&dl);
		buf_release(&b);
		doc_free(d);
	}
	{
		/* C1 controls and U+FFFE, U+FFFF: libyaml refuses them raw,
		 * so JSON the catalog keeps must escape them (fuzz-docs) */
		static const char c1[] = "a\xc2\x80\xc2\x84\xc2\x9f "
		    "\xef\xbf\xbe\xef\xbf\xbf \xef\xbf\xbd\xc2\xa0";
		struct doclist dl = { 0 };
		struct cerr err = { 0 };

		d = doc_new(DOC_MAP);
		doc_set_str(d, "s", c1);
		doc_json(&b, d);
		is_str(b.s, "{\"s\":\"a\\u0080\\u0084\\u009f \\ufffe\\uffff "
		    "\xef\xbf\xbd\xc2\xa0\"}", "doc: JSON escapes C1 controls, "
		    "U+FFFE and U+FFFF");
		ok(yml_read("<j>", b.s, b.len, &dl, &err) == 0 && dl.n == 1 &&
		    strcmp(doc_get_str(dl.v[0], "s"), c1) == 0,
		    "doc: C1 controls, U+FFFE and U+FFFF survive JSON read "
		    "back (%s)", err.msg);
		doclist_release(&dl);
		buf_release(&b);
		doc_free(d);
	}
	{
		/* a negative zero is a real: "-0" would read back as the
		 * whole number 0 (fuzz-docs) */
		struct doclist dl = { 0 };
		struct cerr err = { 0 };
		const struct doc *v;

		ok(yml_read("<y>", "z: -0.\n", 7, &dl, &err) == 0 && dl.n == 1,
		    "doc: -0. reads");
		doc_json(&b, dl.v[0]);
		is_str(b.s, "{\"z\":-0.0}", "doc: a negative zero writes as "
		    "-0.0");
		doclist_release(&dl);
		ok(yml_read("<j>", b.s, b.len, &dl, &err) == 0 && dl.n == 1 &&
		    (v = doc_map_get(dl.v[0], "z")) != NULL &&
		    v->type == DOC_REAL && v->u.r == 0 && signbit(v->u.r),
		    "doc: -0.0 reads back as a negative zero");
		doclist_release(&dl);
		buf_release(&b);
	}
}

static void
test_domxml(void)
{
	static const char *const names[] = {
		"web-1", "a<b>&c\"d'", "]]><!--", "&amp;", "caf\xc3\xa9",
		"</title><devices><disk/></devices><title>",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct domspec s = {
			.id = 7, .uuid = "0b9d6f1e-0000-4000-8000-000000000001",
			.name = names[i], .owner = "o'<x>", .domain_type = "qemu",
			.cpu = 2, .memory = 64,
		};
		char *xml = domxml_build(&s);
		xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "d.xml",
		    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
		    XML_PARSE_NOWARNING);
		xmlXPathContextPtr xp = doc ? xmlXPathNewContext(doc) : NULL;
		xmlXPathObjectPtr r = NULL;
		xmlChar *title = NULL;

		ok(doc != NULL, "domxml: XML for name #%zu is well formed", i);
		if (xp)
			r = xmlXPathEvalExpression(
			    (const xmlChar *)"/domain/title", xp);
		if (r && r->nodesetval && r->nodesetval->nodeNr == 1)
			title = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
		is_str((const char *)title, names[i], "domxml: the title is "
		    "the name, verbatim (#%zu)", i);
		xmlXPathFreeObject(r);
		xmlXPathFreeContext(xp);
		xmlFree(title);
		if (doc) {
			xp = xmlXPathNewContext(doc);
			r = xmlXPathEvalExpression(
			    (const xmlChar *)"count(//disk)", xp);
			ok(r && r->floatval == 0, "domxml: name #%zu adds no "
			    "devices", i);
			xmlXPathFreeObject(r);
			xmlXPathFreeContext(xp);
		}
		xmlFreeDoc(doc);
		free(xml);
	}
}

static void
test_domxml_seed(void)
{
	static const char *const types[] = { "qemu", "test" };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct domspec s = {
			.id = 7, .uuid = "0b9d6f1e-0000-4000-8000-000000000001",
			.name = "web-1", .owner = "o", .domain_type = types[i],
			.cpu = 1, .memory = 64,
			.seed = "/var/lib/x/a'b\"<c>&d-seed.iso",
		};
		char *xml = domxml_build(&s);
		xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "d.xml",
		    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
		    XML_PARSE_NOWARNING);
		xmlXPathContextPtr xp = doc ? xmlXPathNewContext(doc) : NULL;
		xmlXPathObjectPtr r = NULL;
		xmlChar *file = NULL;

		ok(doc != NULL, "domxml: XML with a seed is well formed (%s)",
		    types[i]);
		if (xp)
			r = xmlXPathEvalExpression((const xmlChar *)
			    "/domain/devices/disk[@device='cdrom' and readonly]"
			    "[target/@bus='sata']/source/@file", xp);
		if (r && r->nodesetval && r->nodesetval->nodeNr == 1)
			file = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
		is_str((const char *)file, s.seed, "domxml: one read-only SATA "
		    "CD-ROM holds the seed, its path verbatim (%s)", types[i]);
		xmlFree(file);
		xmlXPathFreeObject(r);
		xmlXPathFreeContext(xp);
		xmlFreeDoc(doc);
		free(xml);
	}
}

/* A disk's bus: SCSI unless asked; the path escaped. */
static void
test_domxml_disk_bus(void)
{
	struct domdisk d = { .target = "sdc", .path = "/p/a'b<c>.qcow2" };
	struct buf b = BUF_INIT;

	domxml_disk(&b, &d, 1);
	ok(strstr(b.s, "<target dev='sdc' bus='scsi'/>") != NULL,
	    "domxml: a disk is on the SCSI bus by default");
	ok(strstr(b.s, "/p/a&apos;b&lt;c&gt;.qcow2") != NULL,
	    "domxml: a disk's path is escaped");
	buf_reset(&b);
	d.target = "vda";
	d.bus = "virtio";
	domxml_disk(&b, &d, 1);
	ok(strstr(b.s, "<target dev='vda' bus='virtio'/>") != NULL,
	    "domxml: a disk goes on the bus asked");
	buf_release(&b);
}

/* Read one YAML document; NULL (and a failed test) when it does not. */
static struct doc *
read_one(const char *what, const char *text)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	struct doc *d = NULL;

	if (yml_read(what, text, strlen(text), &dl, &err) == 0 && dl.n == 1) {
		d = dl.v[0];
		dl.v[0] = NULL;
		dl.n = 0;
	}
	ok(d != NULL, "seed: %s reads back as one map (%s)", what, err.msg);
	doclist_release(&dl);
	return d;
}

static void
test_seed_context(void)
{
	static const struct {
		const char *in;		/* a document holding context: */
		const char *want;	/* NULL: accepted; else the error */
	} t[] = {
		{ "context: {hostname: web-1}\n", NULL },
		{ "context: {hostname: a.b-c.example}\n", NULL },
		{ "context: {ssh_keys: [\"ssh-ed25519 AAAA x@y\"]}\n", NULL },
		{ "context: {user_data: \"#!/bin/sh\\necho hi\\n\"}\n", NULL },
		{ "context: {user_data: \"#cloud-config\\npackages: [x]\\n\", "
		  "ssh_keys: [k]}\n", NULL },
		{ "context: {}\n", NULL },
		{ "context: ~\n", NULL },
		{ "context: [a]\n", "context: expected a map, found a list" },
		{ "context: x\n", "context: expected a map, found a string" },
		{ "context: {host: a}\n", "context: unknown field 'host' "
		  "(expected hostname, ssh_keys or user_data)" },
		{ "context: {\"a\\nb\": 1}\n", "context: unknown field "
		  "(expected hostname, ssh_keys or user_data)" },
		{ "context: {hostname: 12}\n", "context: hostname: expected "
		  "a string, found a integer" },
		{ "context: {hostname: [a]}\n", "context: hostname: expected "
		  "a string, found a list" },
		{ "context: {hostname: \"a b\"}\n", "context: hostname: 'a b' "
		  "is not a valid hostname" },
		{ "context: {hostname: \"a\\nb\"}\n", "context: hostname: not "
		  "a valid hostname (" },
		{ "context: {hostname: \"web_1\"}\n", "context: hostname: "
		  "'web_1' is not" },
		{ "context: {hostname: -a}\n", "context: hostname: '-a' is not" },
		{ "context: {hostname: a-}\n", "context: hostname: 'a-' is not" },
		{ "context: {hostname: a..b}\n", "context: hostname: 'a..b'" },
		{ "context: {hostname: \"\"}\n", "context: hostname: '' is" },
		{ "context: {hostname: \"caf\xc3\xa9\"}\n", "context: hostname: "
		  "not a valid" },
		{ "context: {hostname: \"<a>&\"}\n", "context: hostname: '<a>&'" },
		{ "context: {ssh_keys: k}\n", "context: ssh_keys: expected a "
		  "list of strings, found a string" },
		{ "context: {ssh_keys: [a, 1]}\n", "context: ssh_keys: item 2: "
		  "expected a string, found a integer" },
		{ "context: {ssh_keys: [\"\"]}\n", "context: ssh_keys: item 1: "
		  "empty key" },
		{ "context: {user_data: {a: 1}}\n", "context: user_data: "
		  "expected a string, found a map" },
		{ "context: {user_data: \"#!/bin/sh\\n\", ssh_keys: [k]}\n",
		  "context: ssh_keys: cannot be merged into user_data that "
		  "does not start with '#cloud-config'" },
		{ "context: {user_data: \"#cloud-configx\\n\", ssh_keys: [k]}\n",
		  "context: ssh_keys: cannot be merged" },
		{ "context: {user_data: \"#cloud-config\\nssh_authorized_keys: "
		  "[a]\\n\", ssh_keys: [k]}\n", "context: ssh_keys: user_data "
		  "sets ssh_authorized_keys already" },
		{ "context: {user_data: \"#cloud-config\\n{a: 1}\\n\", "
		  "ssh_keys: [k]}\n", "context: ssh_keys: cannot be merged into "
		  "a user_data written as a flow mapping" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct doc *d = read_one("context", t[i].in);
		struct seed_context c;
		struct cerr err = { 0 };
		int has = -1, rc;

		if (d == NULL)
			continue;
		rc = seed_context_from_doc(doc_map_get(d, "context"), &c, &has,
		    &err);
		if (t[i].want == NULL)
			ok(rc == 0 && has >= 0, "seed: context #%zu accepted "
			    "(%s)", i, err.msg);
		else
			ok(rc == CERR_USAGE && strncmp(err.msg, t[i].want,
			    strlen(t[i].want)) == 0 && !strchr(err.msg, '\n') &&
			    c.hostname == NULL && c.ssh_keys == NULL,
			    "seed: context #%zu refused (%s)", i, err.msg);
		seed_context_release(&c);
		doc_free(d);
	}
}

static void
test_seed_hostname(void)
{
	static const struct {
		const char *name, *want;
	} t[] = {
		{ "web-1", "web-1" }, { "Web_1", "web-1" },
		{ "a<b>&c\"d'", "a-b-c-d" }, { "--x--", "x" },
		{ "caf\xc3\xa9 1", "caf-1" }, { "\xc3\xa9\xc3\xa9", "vm-0b9d6f1e" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[SEED_LABEL_MAX + 1];

		seed_hostname_from_name(t[i].name,
		    "0b9d6f1e-0000-4000-8000-000000000001", out);
		is_str(out, t[i].want, "seed: hostname from name #%zu", i);
		ok(seed_valid_hostname(out), "seed: hostname #%zu is valid", i);
	}
}

static void
test_seed_build(void)
{
	static const char *const hostile[] = {
		"ssh-ed25519 AAAA a@b", "quote\"s'", "new\nline\r\n", "- x",
		"a: b", "#c", "<x>&amp;", "\\back", "tab\tx", "\x01\x7f",
		"caf\xc3\xa9", "nel\xc2\x85", "ls\xe2\x80\xa8ps\xe2\x80\xa9",
		"bom\xef\xbb\xbf", "emoji\xf0\x9f\x98\x80", "{y}", "*a", "&b",
		"!t", "%d", "@a", "`b", "123", "true", "null", "~", "",
	};
	static const char uuid[] = "0b9d6f1e-0000-4000-8000-000000000001";
	static const char *const dns[] = { "10.0.0.1", "9.9.9.9", NULL };
	struct seed_addr addr = {
		.mac = "52:54:00:12:34:56", .address = "10.0.0.5/24",
		.gateway = "10.0.0.1", .dns = dns,
	};
	struct seed_context c = { 0 };
	struct seed_vm vm = { .uuid = uuid, .name = "Web 1", .context = &c };
	struct seed_files f;
	struct doc *d, *v;
	size_t i, n = sizeof(hostile) / sizeof(hostile[0]);

	/* every hostile string, as a key, comes back byte for byte */
	c.ssh_keys = (char **)hostile;
	c.nkeys = n;
	seed_build(&vm, &f);
	if ((d = read_one("meta-data", f.meta_data))) {
		is_str(doc_get_str(d, "instance-id"), uuid, "seed: meta-data "
		    "instance-id is the UUID");
		is_str(doc_get_str(d, "local-hostname"), "web-1", "seed: "
		    "local-hostname comes from the name");
		doc_free(d);
	}
	ok(strncmp(f.user_data, "#cloud-config\n", 14) == 0, "seed: "
	    "user-data without user_data is #cloud-config");
	ok(f.network_config == NULL, "seed: no addresses, no "
	    "network-config");
	if ((d = read_one("user-data", f.user_data))) {
		v = doc_map_get(d, "ssh_authorized_keys");
		ok(v && v->type == DOC_LIST && v->u.list.n == n,
		    "seed: every key is listed");
		for (i = 0; v && i < v->u.list.n && i < n; i++)
			ok(v->u.list.v[i]->type == DOC_STR &&
			    strcmp(v->u.list.v[i]->u.s, hostile[i]) == 0,
			    "seed: key #%zu comes back byte for byte", i);
		doc_free(d);
	}
	seed_files_release(&f);

	/* user_data alone is used as is */
	c.ssh_keys = NULL;
	c.nkeys = 0;
	c.user_data = (char *)"#!/bin/sh\necho '<&>\"' \xc3\xa9\n";
	c.hostname = (char *)"web-1.example";
	seed_build(&vm, &f);
	is_str(f.user_data, c.user_data, "seed: user_data alone is kept "
	    "byte for byte");
	ok(strstr(f.meta_data, "local-hostname: \"web-1.example\"\n") != NULL,
	    "seed: the context's hostname wins");
	seed_files_release(&f);

	/* cloud-config user_data and keys: the keys are appended */
	c.user_data = (char *)"#cloud-config\nruncmd:\n  - |\n    echo hi";
	c.ssh_keys = (char **)hostile;
	c.nkeys = 2;
	seed_build(&vm, &f);
	ok(strncmp(f.user_data, c.user_data, strlen(c.user_data)) == 0,
	    "seed: user_data comes first, unchanged");
	if ((d = read_one("merged user-data", f.user_data))) {
		v = doc_map_get(d, "ssh_authorized_keys");
		ok(v && v->type == DOC_LIST && v->u.list.n == 2 &&
		    strcmp(v->u.list.v[1]->u.s, hostile[1]) == 0,
		    "seed: merged keys read back");
		v = doc_map_get(d, "runcmd");
		ok(v && v->type == DOC_LIST && v->u.list.n == 1 &&
		    strcmp(v->u.list.v[0]->u.s, "echo hi\n") == 0,
		    "seed: user_data's own fields are intact");
		doc_free(d);
	}
	seed_files_release(&f);

	/* addresses give network-config version 2 */
	c.user_data = NULL;
	c.nkeys = 0;
	c.ssh_keys = NULL;
	vm.addrs = &addr;
	vm.naddrs = 1;
	seed_build(&vm, &f);
	if (f.network_config &&
	    (d = read_one("network-config", f.network_config))) {
		struct doc *e;

		v = doc_map_get(d, "version");
		ok(v && v->type == DOC_INT && v->u.i == 2, "seed: network "
		    "config version 2");
		e = doc_map_get(doc_map_get(d, "ethernets"), "nic0");
		is_str(doc_get_str(doc_map_get(e, "match"), "macaddress"),
		    addr.mac, "seed: the NIC is matched by MAC");
		v = doc_map_get(e, "addresses");
		ok(v && v->type == DOC_LIST && v->u.list.n == 1 &&
		    strcmp(v->u.list.v[0]->u.s, "10.0.0.5/24") == 0,
		    "seed: the address with its prefix");
		v = doc_map_get(e, "routes");
		ok(v && v->type == DOC_LIST && v->u.list.n == 1 &&
		    strcmp(doc_get_str(v->u.list.v[0], "via"), "10.0.0.1") ==
		    0, "seed: a default route through the gateway");
		v = doc_map_get(doc_map_get(e, "nameservers"), "addresses");
		ok(v && v->type == DOC_LIST && v->u.list.n == 2,
		    "seed: the name servers");
		doc_free(d);
	} else {
		ok(0, "seed: addresses give a network-config");
	}
	seed_files_release(&f);
}

static void
test_ipaddr(void)
{
	static const struct {
		const char *cidr;
		int ok;
		const char *net, *last;
		int prefix;
	} cidrs[] = {
		{ "10.0.0.0/24", 1, "10.0.0.0", "10.0.0.255", 24 },
		{ "10.0.0.0/29", 1, "10.0.0.0", "10.0.0.7", 29 },
		{ "10.0.0.0/30", 1, "10.0.0.0", "10.0.0.3", 30 },
		{ "0.0.0.0/0", 1, "0.0.0.0", "255.255.255.255", 0 },
		{ "fd00::/64", 1, "fd00::", "fd00::ffff:ffff:ffff:ffff", 64 },
		{ "fd00:1:2::/48", 1, "fd00:1:2::", "fd00:1:2:ffff:ffff:ffff:ffff:ffff", 48 },
		{ "10.0.0.1/24", 0, NULL, NULL, 0 },
		{ "10.0.0.0/31", 0, NULL, NULL, 0 },
		{ "10.0.0.0/33", 0, NULL, NULL, 0 },
		{ "10.0.0.0/", 0, NULL, NULL, 0 },
		{ "10.0.0.0/-1", 0, NULL, NULL, 0 },
		{ "10.0.0.0/24x", 0, NULL, NULL, 0 },
		{ "10.0.0/24", 0, NULL, NULL, 0 },
		{ "fd00::/127", 0, NULL, NULL, 0 },
		{ "fd00::1/64", 0, NULL, NULL, 0 },
		{ "10.0.0.0", 0, NULL, NULL, 0 },
		{ "", 0, NULL, NULL, 0 },
	};
	struct ipaddr a, b, n, l;
	char t[IPADDR_STRLEN], k1[IPADDR_KEYLEN], k2[IPADDR_KEYLEN];
	size_t i;
	int p;

	for (i = 0; i < sizeof(cidrs) / sizeof(cidrs[0]); i++) {
		int got = ipaddr_cidr(cidrs[i].cidr, &n, &l, &p);

		ok(got == cidrs[i].ok, "ipaddr: cidr '%s' %s", cidrs[i].cidr,
		    cidrs[i].ok ? "parses" : "is refused");
		if (!got || !cidrs[i].ok)
			continue;
		ipaddr_format(&n, t);
		is_str(t, cidrs[i].net, "ipaddr: cidr '%s' starts at %s",
		    cidrs[i].cidr, cidrs[i].net);
		ipaddr_format(&l, t);
		is_str(t, cidrs[i].last, "ipaddr: cidr '%s' ends at %s",
		    cidrs[i].cidr, cidrs[i].last);
		ok(p == cidrs[i].prefix, "ipaddr: cidr '%s' prefix",
		    cidrs[i].cidr);
	}
	/* adding carries across bytes and stops at the family's end */
	ipaddr_parse("10.0.0.255", &a);
	ok(ipaddr_add(&a, 1), "ipaddr: 10.0.0.255 + 1");
	ipaddr_format(&a, t);
	is_str(t, "10.0.1.0", "ipaddr: the carry reaches the next byte");
	ipaddr_parse("255.255.255.255", &a);
	ok(!ipaddr_add(&a, 1), "ipaddr: IPv4 does not overflow into IPv6");
	ipaddr_parse("fd00::ffff:ffff:ffff:ffff", &a);
	ok(ipaddr_add(&a, 1), "ipaddr: IPv6 + 1 across 64 bits");
	ipaddr_format(&a, t);
	is_str(t, "fd00:0:0:1::", "ipaddr: IPv6 carry");
	/* keys sort as addresses do, and read back */
	ipaddr_parse("10.0.0.9", &a);
	ipaddr_parse("10.0.0.10", &b);
	ipaddr_key(&a, k1);
	ipaddr_key(&b, k2);
	ok(strcmp(k1, k2) < 0 && strlen(k1) == 32, "ipaddr: keys sort as "
	    "addresses (10.0.0.9 < 10.0.0.10)");
	ok(ipaddr_from_key(4, k2, &n) && ipaddr_cmp(&n, &b) == 0,
	    "ipaddr: a key reads back");
	ok(!ipaddr_from_key(4, "xyz", &n), "ipaddr: a bad key is refused");
	/* counts saturate */
	ipaddr_parse("10.0.0.2", &a);
	ipaddr_parse("10.0.0.254", &b);
	ok(ipaddr_count(&a, &b) == 253, "ipaddr: a /24 range holds 253");
	ipaddr_parse("fd00::", &a);
	ipaddr_parse("fd00::ffff:ffff:ffff:ffff", &b);
	ok(ipaddr_count(&a, &b) == UINT64_MAX, "ipaddr: a /64 saturates");
	ok(!ipaddr_parse("10.0.0.1/24", &a) && !ipaddr_parse("1.2.3", &a) &&
	    !ipaddr_parse("fd00:::1", &a) && !ipaddr_parse(NULL, &a),
	    "ipaddr: bad addresses are refused");
	ipaddr_parse("FD00:0:0::0001", &a);
	ipaddr_format(&a, t);
	is_str(t, "fd00::1", "ipaddr: the canonical text of an IPv6 address");
}

static void
test_domxml_nic(void)
{
	struct domnic n = { "02:c1:0d:00:00:01", "cloudos-net-1'<x>",
	    "usb-net", 2, NULL };
	struct buf b = BUF_INIT;

	domxml_nic(&b, &n, 1);
	ok(strstr(b.s, "<source network='cloudos-net-1&apos;&lt;x&gt;'/>") !=
	    NULL, "domxml: a NIC's network is escaped");
	ok(strstr(b.s, "<address type='usb' bus='0' port='2'/>") != NULL,
	    "domxml: a usb-net NIC sits on its USB port");
	buf_release(&b);
	n.model = "virtio";
	domxml_nic(&b, &n, 0);
	ok(strstr(b.s, "<model") == NULL && strstr(b.s, "<mac address="
	    "'02:c1:0d:00:00:01'/>"), "domxml: the test driver gets no model");
	ok(strstr(b.s, "<filterref") == NULL,
	    "domxml: a NIC in no security group names no filter");
	buf_release(&b);
	n.filter = "cloudos-nic-7'&";
	domxml_nic(&b, &n, 1);
	ok(strstr(b.s, "<filterref filter='cloudos-nic-7&apos;&amp;'/>") !=
	    NULL, "domxml: a NIC's filter is named, escaped");
	buf_release(&b);
	n.filter = "";
	domxml_nic(&b, &n, 1);
	ok(strstr(b.s, "<filterref") == NULL,
	    "domxml: an empty filter name is no filter");
	buf_release(&b);
}

static void
test_seed_dual_stack(void)
{
	static const char uuid[] = "0b9d6f1e-0000-4000-8000-000000000002";
	struct seed_addr addr = {
		.mac = "02:c1:0d:00:00:02", .address = "10.0.0.5/24",
		.gateway = "10.0.0.1", .address6 = "fd00::5/64",
		.gateway6 = "fd00::1",
	};
	struct seed_context c = { 0 };
	struct seed_vm vm = { .uuid = uuid, .name = "db", .context = &c,
	    .addrs = &addr, .naddrs = 1 };
	struct seed_files f;
	struct doc *d, *e;

	seed_build(&vm, &f);
	if ((d = read_one("network-config", f.network_config))) {
		e = doc_map_get(doc_map_get(d, "ethernets"), "nic0");
		ok(e && doc_map_get(e, "addresses") &&
		    doc_map_get(e, "addresses")->u.list.n == 2,
		    "seed: a dual-stack NIC has both addresses");
		ok(e && doc_map_get(e, "routes") &&
		    doc_map_get(e, "routes")->u.list.n == 2,
		    "seed: and a default route per family");
		doc_free(d);
	}
	seed_files_release(&f);
}

/* The digests against published vectors (xxhsum -H2, sha256sum), whole
 * and fed in pieces. */
static void
test_digest(void)
{
	static const struct {
		const char *algo, *in, *hex;
	} v[] = {
		{ "XXH128", "", "99aa06d3014798d86001c324468d497f" },
		{ "XXH128", "abc", "06b05ab6733a618578af5f94892f3950" },
		{ "SHA256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a3"
		    "96177a9cb410ff61f20015ad" },
	};
	struct cerr err = { 0 };
	struct digest *d;
	char hex[65];
	size_t i, k, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (digest_new_algo(&d, v[i].algo, &err) != 0) {
			ok(0, "digest: %s starts", v[i].algo);
			continue;
		}
		n = strlen(v[i].in);
		for (k = 0; k < n; k++)
			digest_update(d, v[i].in + k, 1);
		digest_hex(d, hex);
		digest_free(d);
		is_str(hex, v[i].hex, "digest: %s of '%s', a byte at a time",
		    v[i].algo, v[i].in);
	}
}

int
main(void)
{
	test_digest();
	test_units();
	test_valid();
	test_yml_read();
	test_yml_bounds();
	test_yml_roundtrip();
	test_json();
	test_domxml();
	test_domxml_seed();
	test_domxml_disk_bus();
	test_seed_context();
	test_seed_hostname();
	test_seed_build();
	test_ipaddr();
	test_domxml_nic();
	test_seed_dual_stack();
	xmlCleanupParser();
	return tap_done();
}
