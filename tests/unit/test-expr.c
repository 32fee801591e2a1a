/*
 * test-expr - table-driven tests of the expression engine: values on a
 * fixed host, precedence, units, labels, strings, globs, ranks, and every
 * error message with its column.
 */
#include <stdlib.h>
#include <string.h>

#include "cerr.h"
#include "expr.h"
#include "tap.h"

static const char *const keys[] = {
	"city", "disk", "empty", "gen", "neg", "rack", "size", "zone",
};
static const char *const values[] = {
	"Z\xc3\xbcrich", "ssd", "", "3", "-1.5", "r-12", "2GiB", "eu-west-1",
};

static const struct expr_host host = {
	.name = "kvm01", .cluster = "prod", .hypervisor = "qemu",
	.cpu = 16, .memory = 65536,
	.free_cpu = 8, .free_memory = 32768, .free_disk = 102400,
	.load = 25, .running_vms = 3,
	.label_keys = keys, .label_values = values,
	.nlabels = sizeof(keys) / sizeof(keys[0]),
};

static void
test_values(void)
{
	static const struct {
		const char *src;
		double rank;
	} t[] = {
		/* every operator on numbers */
		{ "cpu == 16", 1 }, { "cpu == 15", 0 }, { "cpu != 15", 1 },
		{ "cpu != 16", 0 }, { "cpu < 17", 1 }, { "cpu < 16", 0 },
		{ "cpu <= 16", 1 }, { "cpu <= 15", 0 }, { "cpu > 15", 1 },
		{ "cpu > 16", 0 }, { "cpu >= 16", 1 }, { "cpu >= 17", 0 },
		{ "16 == cpu", 1 }, { "15 != cpu", 1 }, { "8 < cpu", 1 },
		{ "17 <= cpu", 0 }, { "20 > cpu", 1 }, { "16 >= cpu", 1 },
		{ "16 > cpu", 0 }, { "cpu == cpu", 1 }, { "cpu < memory", 1 },
		{ "3 < 4", 1 }, { "1.5 > 1.25", 1 }, { "0.1 == 0.1", 1 },
		/* strings */
		{ "name == \"kvm01\"", 1 }, { "\"kvm01\" == name", 1 },
		{ "name != \"kvm02\"", 1 }, { "name == \"KVM01\"", 0 },
		{ "cluster == \"prod\"", 1 }, { "hypervisor == \"qemu\"", 1 },
		{ "name == name", 1 }, { "\"\" == \"\"", 1 },
		/* booleans, ! && || and precedence */
		{ "true", 1 }, { "false", 0 }, { "!true", 0 }, { "!!true", 1 },
		{ "true && false", 0 }, { "true && true", 1 },
		{ "false || true", 1 }, { "false || false", 0 },
		{ "true == true", 1 }, { "true != false", 1 },
		{ "(cpu > 4) == true", 1 }, { "(cpu > 4) != (load > 50)", 1 },
		{ "true || false && false", 1 },
		{ "(true || false) && false", 0 },
		{ "false && false || true", 1 },
		{ "false && (false || true)", 0 },
		{ "!false && false", 0 }, { "!(false && false)", 1 },
		{ "! cpu > 20", 1 }, { "!cpu == 16 || false", 0 },
		{ "cpu > 4 && memory >= 32GiB && free_cpu >= 2", 1 },
		{ "cpu > 4 && memory >= 128GiB || name =~ \"kvm*\"", 1 },
		{ "((((cpu))) == 16)", 1 },
		{ "true && true && true && false", 0 },
		{ "false || false || false || true", 1 },
		/* units: sizes are MiB */
		{ "2GiB == 2048", 1 }, { "2G == 2048", 1 }, { "1TiB == 1T", 1 },
		{ "1T == 1048576", 1 }, { "512MiB == 512", 1 },
		{ "512M == 512M", 1 }, { "1024KiB == 1", 1 },
		{ "1K == 0.0009765625", 1 },
		{ "1.5GiB == 1536", 1 }, { "memory == 64GiB", 1 },
		{ "free_disk >= 100G", 1 }, { "free_memory > 32GiB", 0 },
		/* labels: strings, numbers when compared with one, missing */
		{ "labels.disk == \"ssd\"", 1 }, { "labels.disk != \"ssd\"", 0 },
		{ "labels.gen == 3", 1 }, { "labels.gen >= 2", 1 },
		{ "labels.gen == \"3\"", 1 }, { "labels.gen < 3", 0 },
		{ "labels.neg < 0", 1 }, { "labels.size == 2048", 1 },
		{ "labels.size > 1G", 1 }, { "labels.disk > 1", 0 },
		{ "labels.disk != 1", 1 }, { "labels.rack =~ \"r-*\"", 1 },
		{ "labels.empty == \"\"", 1 }, { "labels.empty == 0", 0 },
		{ "labels.nope == \"x\"", 0 }, { "labels.nope != \"x\"", 1 },
		{ "labels.nope == 1", 0 }, { "labels.nope != 1", 1 },
		{ "labels.nope < 1", 0 }, { "labels.nope >= 1", 0 },
		{ "labels.nope =~ \"*\"", 0 }, { "labels.nope == labels.nope", 0 },
		{ "labels.nope != labels.nope", 1 },
		{ "!(labels.nope == \"x\")", 1 },
		{ "labels.a/b-c.d_e == \"x\"", 0 },
		{ "labels.zone == \"eu-west-1\"", 1 },
		{ "labels.gen == labels.gen", 1 }, { "labels.gen < labels.size", 1 },
		/* strings: escapes and UTF-8 */
		{ "labels.city == \"Z\xc3\xbcrich\"", 1 },
		{ "labels.city =~ \"Z?rich\"", 1 },
		{ "labels.city =~ \"Z[\xc3\xa0-\xc3\xbf]rich\"", 1 },
		{ "\"a\\\"b\" == \"a\\\"b\"", 1 }, { "\"a\\\\b\" =~ \"a?b\"", 1 },
		{ "\"\\\"\" =~ \"?\"", 1 }, { "\"\xe2\x82\xac\" =~ \"?\"", 1 },
		{ "\"\xf0\x9f\x98\x80x\" =~ \"?x\"", 1 },
		/* globs */
		{ "name =~ \"kvm*\"", 1 }, { "name =~ \"*01\"", 1 },
		{ "name =~ \"kvm0?\"", 1 }, { "name =~ \"kvm?\"", 0 },
		{ "name =~ \"k*m*1\"", 1 }, { "name =~ \"*\"", 1 },
		{ "name =~ \"kvm0[0-9]\"", 1 }, { "name =~ \"kvm0[!1]\"", 0 },
		{ "name =~ \"kvm0[^2]\"", 1 }, { "name =~ \"kvm0[]1]\"", 1 },
		{ "name =~ \"kvm\"", 0 }, { "name =~ \"KVM*\"", 0 },
		{ "name =~ \"kvm01*\"", 1 }, { "name =~ \"**0*1**\"", 1 },
		{ "\"a[b\" =~ \"a[b\"", 1 }, { "\"a*\" =~ \"a\\\\*\"", 1 },
		{ "\"ab\" =~ \"a\\\\*\"", 0 }, { "\"\" =~ \"*\"", 1 },
		{ "\"\" =~ \"?\"", 0 },
		{ "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab\" =~ "
		  "\"*a*a*a*a*a*a*a*a*a*a*a*c\"", 0 },
		{ "cluster =~ labels.nope", 0 },
		/* ranks: numbers, booleans 1 or 0, strings 0 */
		{ "free_memory", 32768 }, { "load", 25 }, { "running_vms", 3 },
		{ "labels.gen", 3 }, { "labels.neg", -1.5 }, { "labels.disk", 0 },
		{ "labels.nope", 0 }, { "name", 0 }, { "\"x\"", 0 },
		{ "(free_cpu)", 8 }, { "1.25", 1.25 }, { "cpu > 1", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cerr err = { 0 };
		struct expr *e = NULL;
		double r;

		if (expr_compile(t[i].src, &e, &err) != 0) {
			ok(0, "expr: '%s' compiles (%s)", t[i].src, err.msg);
			continue;
		}
		r = expr_rank(e, &host);
		ok(r == t[i].rank && expr_test(e, &host) == (t[i].rank != 0),
		    "expr: '%s' is %g (got %g)", t[i].src, t[i].rank, r);
		expr_free(e);
	}
}

static void
test_errors(void)
{
	static const struct {
		const char *src, *msg;
	} t[] = {
		{ "", "column 1: expected a value, found end of input" },
		{ "   ", "column 4: expected a value, found end of input" },
		{ "cpu > 4 && && true",
		  "column 12: expected a value, found '&&'" },
		{ "cpu > ", "column 7: expected a value, found end of input" },
		{ "cpu > )", "column 7: expected a value, found ')'" },
		{ "cpus > 4", "column 1: unknown attribute 'cpus'" },
		{ "cpu > 4 || disk", "column 12: unknown attribute 'disk'" },
		{ "name == \"kvm01", "column 9: unterminated string" },
		{ "name == \"kvm01\\", "column 9: unterminated string" },
		{ "name == \"a\\nb\"",
		  "column 11: expected \\\" or \\\\, found '\\n'" },
		{ "name == \"\xff\"", "column 10: invalid UTF-8 in string" },
		{ "name == \"\xc0\xaf\"", "column 10: invalid UTF-8 in string" },
		{ "name == \"\xed\xa0\x80\"",
		  "column 10: invalid UTF-8 in string" },
		{ "! labels", "column 3: labels needs a key (labels.KEY)" },
		{ "labels. == 1", "column 1: labels needs a key (labels.KEY)" },
		{ "labels.-x == 1",
		  "column 1: labels needs a key (labels.KEY)" },
		{ "labelsx == 1", "column 1: unknown attribute 'labelsx'" },
		{ "cpu =~ \"x\"",
		  "column 5: '=~' needs a string on its left, found a number" },
		{ "name =~ 3", "column 6: '=~' needs a pattern string on its "
		  "right, found a number" },
		{ "name < 3", "column 6: '<' needs numbers, found a string" },
		{ "hypervisor > \"a\"",
		  "column 12: '>' needs numbers, found a string" },
		{ "cpu <= true", "column 5: '<=' needs numbers, found a "
		  "boolean" },
		{ "1 >= name", "column 3: '>=' needs numbers, found a string" },
		{ "name == 3",
		  "column 6: '==' cannot compare a string with a number" },
		{ "3 != name",
		  "column 3: '!=' cannot compare a number with a string" },
		{ "true == 1",
		  "column 6: '==' cannot compare a boolean with a number" },
		{ "labels.x == false",
		  "column 10: '==' cannot compare a label with a boolean" },
		{ "! cpu", "column 1: '!' needs a boolean, found a number" },
		{ "!labels.x", "column 1: '!' needs a boolean, found a label" },
		{ "cpu && true",
		  "column 5: '&&' needs booleans, found a number" },
		{ "true && name",
		  "column 6: '&&' needs booleans, found a string" },
		{ "true || false || 3",
		  "column 15: '||' needs booleans, found a number" },
		{ "cpu > 4 & true", "column 9: expected '&&', found '&'" },
		{ "cpu > 4 | true", "column 9: expected '||', found '|'" },
		{ "cpu = 4", "column 5: expected '==', found '='" },
		{ "cpu > 4 @", "column 9: unexpected character '@'" },
		{ "cpu > 4 \xc3\xa9", "column 9: unexpected byte 0xc3" },
		{ "cpu > 4 cpu",
		  "column 9: expected an operator or end of input, found "
		  "'cpu'" },
		{ "cpu > 4)", "column 8: expected an operator or end of input, "
		  "found ')'" },
		{ "(cpu > 4", "column 9: expected an operator or ')', found "
		  "end of input" },
		{ "(cpu > 4 \"a very long string that goes on and on\")",
		  "column 10: expected an operator or ')', found '\"a very "
		  "long string that goes on...'" },
		{ "1 < cpu < 3", "column 9: expected '&&' or '||', found '<' "
		  "(comparisons do not chain)" },
		{ "memory > 2GB",
		  "column 10: unknown unit 'GB' (use KiB, MiB, GiB, TiB, K, M, "
		  "G or T)" },
		{ "memory > 2gib", "column 10: unknown unit 'gib' (use KiB, "
		  "MiB, GiB, TiB, K, M, G or T)" },
		{ "cpu > 1.2.3", "column 7: invalid number '1.2.3'" },
		{ "cpu > 1.", "column 7: invalid number '1.'" },
		{ "cpu > 1.G", "column 7: invalid number '1.G'" },
		{ "cpu > .5", "column 7: unexpected character '.'" },
		{ "cpu > -1", "column 7: unexpected character '-'" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cerr err = { 0 };
		struct expr *e = NULL;
		int rc = expr_compile(t[i].src, &e, &err);

		ok(rc == CERR_USAGE && err.code == CERR_USAGE && e == NULL,
		    "expr: '%s' is refused", t[i].src);
		is_str(err.msg, t[i].msg, "expr: '%s' says where", t[i].src);
		expr_free(e);
	}
}

static void
test_limits(void)
{
	char src[EXPR_MAX_SOURCE + 2], want[128];
	struct cerr err = { 0 };
	struct expr *e = NULL;
	size_t i, n;

	/* the longest source compiles, one byte more does not */
	memset(src, ' ', EXPR_MAX_SOURCE);
	memcpy(src, "true", 4);
	src[EXPR_MAX_SOURCE] = '\0';
	ok(expr_compile(src, &e, &err) == 0 && expr_test(e, &host),
	    "expr: %d bytes compile", EXPR_MAX_SOURCE);
	expr_free(e);
	e = NULL;
	src[EXPR_MAX_SOURCE] = ' ';
	src[EXPR_MAX_SOURCE + 1] = '\0';
	ok(expr_compile(src, &e, &err) == CERR_USAGE && e == NULL,
	    "expr: %d bytes are refused", EXPR_MAX_SOURCE + 1);
	snprintf(want, sizeof(want), "column %d: expression longer than %d "
	    "bytes", EXPR_MAX_SOURCE + 1, EXPR_MAX_SOURCE);
	is_str(err.msg, want, "expr: the length error");

	/* 64 levels of parentheses compile, 65 do not */
	for (n = EXPR_MAX_DEPTH; n <= EXPR_MAX_DEPTH + 1; n++) {
		cerr_clear(&err);
		e = NULL;
		for (i = 0; i < n; i++)
			src[i] = '(';
		memcpy(src + n, "true", 4);
		for (i = 0; i < n; i++)
			src[n + 4 + i] = ')';
		src[2 * n + 4] = '\0';
		if (n == EXPR_MAX_DEPTH) {
			ok(expr_compile(src, &e, &err) == 0 &&
			    expr_test(e, &host), "expr: %zu parentheses", n);
			expr_free(e);
			continue;
		}
		ok(expr_compile(src, &e, &err) == CERR_USAGE, "expr: %zu "
		    "parentheses are refused", n);
		snprintf(want, sizeof(want), "column %zu: expression nested "
		    "deeper than %d levels", n, EXPR_MAX_DEPTH);
		is_str(err.msg, want, "expr: the depth error");
	}

	/* ! counts as a level too */
	cerr_clear(&err);
	memset(src, '!', EXPR_MAX_DEPTH + 1);
	memcpy(src + EXPR_MAX_DEPTH + 1, "true", 5);
	ok(expr_compile(src, &e, &err) == CERR_USAGE &&
	    strstr(err.msg, "nested deeper"), "expr: 65 ! are refused");

	/* a long chain of && is not nesting, and evaluates in order */
	for (n = 0; n + 10 < EXPR_MAX_SOURCE; n += 8)
		memcpy(src + n, "true && ", 8);
	memcpy(src + n, "false", 6);
	e = NULL;
	cerr_clear(&err);
	ok(expr_compile(src, &e, &err) == 0 && !expr_test(e, &host),
	    "expr: a chain of %zu && (%s)", n / 8, err.msg);
	expr_free(e);
}

static void
test_api(void)
{
	static const struct {
		const char *src;
		int is_static, boolean;
	} t[] = {
		{ "name == \"a\" && cluster == \"b\" && hypervisor == \"c\"",
		  1, 1 },
		{ "cpu > 1 && memory > 1 && labels.x == \"y\"", 1, 1 },
		{ "free_cpu > 1", 0, 1 }, { "free_memory > 1", 0, 1 },
		{ "free_disk > 1", 0, 1 }, { "load < 50", 0, 1 },
		{ "running_vms < 5", 0, 1 },
		{ "true || (false && running_vms > 1)", 0, 1 },
		{ "cpu", 1, 0 }, { "free_cpu", 0, 0 }, { "name", 1, 0 },
		{ "true", 1, 1 },
	};
	struct expr_host bare = { 0 };
	struct cerr err = { 0 };
	struct expr *e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e = NULL;
		if (expr_compile(t[i].src, &e, &err) != 0) {
			ok(0, "expr: '%s' compiles (%s)", t[i].src, err.msg);
			continue;
		}
		ok(expr_static(e) == t[i].is_static, "expr: '%s' is %s",
		    t[i].src, t[i].is_static ? "static" : "not static");
		ok(expr_boolean(e) == t[i].boolean, "expr: '%s' is %s",
		    t[i].src, t[i].boolean ? "a boolean" : "not a boolean");
		is_str(expr_source(e), t[i].src, "expr: the source is kept");
		expr_free(e);
	}

	/* a host with no strings and no labels */
	e = NULL;
	ok(expr_compile("name == \"\" && labels.x != \"y\" && cpu == 0",
	    &e, &err) == 0 && expr_test(e, &bare), "expr: NULL strings read "
	    "as \"\" and no labels as missing");
	expr_free(e);
	expr_free(NULL);
}

int
main(void)
{
	test_values();
	test_errors();
	test_limits();
	test_api();
	return tap_done();
}
