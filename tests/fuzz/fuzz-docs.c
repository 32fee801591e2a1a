/*
 * fuzz-docs - libFuzzer target for the document reader (lib/yml.c over
 * libyaml, and lib/doc.c): read any input as every program reads its
 * standard input.  Beyond the sanitizers, it checks what the interface
 * promises: a refusal is CERR_USAGE, names the source first, is one line,
 * and leaves no documents; what reads is maps, each of which writes as
 * YAML (yml_write) and as JSON (doc_json) that read back to the same
 * JSON, and copies (doc_copy) to the same JSON.  (JSON is read back only
 * when its keys are at most 1024 characters as JSON text: libyaml reads
 * no longer flow key.  Keys the catalog keeps are short, labels.c.)
 *
 * Built by "make fuzz-docs" (clang, -fsanitize=fuzzer,address,undefined);
 * see tests/fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cerr.h"
#include "doc.h"
#include "yml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One document read back from text: its JSON, or abort. */
static void
read_back(const char *what, const struct buf *text, const char *want)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	struct buf got = BUF_INIT;

	if (yml_read(what, text->s ? text->s : "", text->len, &dl, &err) ||
	    dl.n != 1)
		abort();
	doc_json(&got, dl.v[0]);
	if (strcmp(got.s, want) != 0)
		abort();
	buf_release(&got);
	doclist_release(&dl);
}

/* Whether every key in d is at most 1024 characters as JSON text. */
static int
short_keys(const struct doc *d)
{
	size_t i;

	if (d->type == DOC_LIST)
		for (i = 0; i < d->u.list.n; i++)
			if (!short_keys(d->u.list.v[i]))
				return 0;
	if (d->type != DOC_MAP)
		return 1;
	for (i = 0; i < d->u.map.n; i++) {
		struct doc *k = doc_new_str(d->u.map.kv[i].key);
		struct buf b = BUF_INIT;
		size_t n;

		doc_json(&b, k);
		n = b.len;
		buf_release(&b);
		doc_free(k);
		if (n > 1024 || !short_keys(d->u.map.kv[i].val))
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	size_t i;

	if (yml_read("<in>", (const char *)data, size, &dl, &err) != 0) {
		if (err.code != CERR_USAGE || dl.n != 0 ||
		    strncmp(err.msg, "<in>: ", 6) != 0 ||
		    strchr(err.msg, '\n') != NULL)
			abort();
		doclist_release(&dl);
		return 0;
	}
	for (i = 0; i < dl.n; i++) {
		struct buf json = BUF_INIT, yaml = BUF_INIT, again = BUF_INIT;
		struct doc *copy;

		if (dl.v[i]->type != DOC_MAP)
			abort();
		doc_json(&json, dl.v[i]);
		copy = doc_copy(dl.v[i]);
		doc_json(&again, copy);
		if (strcmp(json.s, again.s) != 0)
			abort();
		doc_free(copy);
		if (short_keys(dl.v[i]))
			read_back("<json>", &json, json.s);
		if (yml_write(&yaml, dl.v[i], &err) != 0)
			abort();
		read_back("<yaml>", &yaml, json.s);
		buf_release(&json);
		buf_release(&yaml);
		buf_release(&again);
	}
	doclist_release(&dl);
	return 0;
}
