/*
 * fuzz-expr - libFuzzer target for the expression engine: compile any
 * input, and when it compiles evaluate it on a fixed host.  Beyond the
 * sanitizers, it checks what the interface promises: a refusal is
 * CERR_USAGE with a "column N: " message and no expression, a compiled
 * expression keeps its source, and a requirement agrees with its rank.
 *
 * Built by "make fuzz-expr" (clang, -fsanitize=fuzzer,address,undefined);
 * see tests/fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cerr.h"
#include "expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	"a", "city", "disk", "gen", "neg", "size", "zone",
};
static const char *const values[] = {
	"", "Z\xc3\xbcrich", "ssd", "3", "-1.5e2", "2GiB", "eu-west-1",
};

static const struct expr_host host = {
	.name = "kvm01.example.org", .cluster = "prod", .hypervisor = "qemu",
	.cpu = 16, .memory = 65536,
	.free_cpu = 8, .free_memory = 32768, .free_disk = 102400,
	.load = -1, .running_vms = 3,
	.label_keys = keys, .label_values = values,
	.nlabels = sizeof(keys) / sizeof(keys[0]),
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cerr err = { 0 };
	struct expr *e = NULL;
	char *src;
	double r;

	if ((src = malloc(size + 1)) == NULL)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	if (expr_compile(src, &e, &err) != 0) {
		if (err.code != CERR_USAGE || e != NULL ||
		    strncmp(err.msg, "column ", 7) != 0)
			abort();
	} else {
		if (strcmp(expr_source(e), src) != 0)
			abort();
		r = expr_rank(e, &host);
		if (expr_test(e, &host) != (r != 0))
			abort();
		if (expr_boolean(e) && r != 0 && r != 1)
			abort();
		(void)expr_static(e);
		expr_free(e);
	}
	free(src);
	return 0;
}
