/*
 * labels.c - service helper: labels.  Uses the yml adapter to read back
 * what doc_json wrote.
 */
#include <string.h>

#include "bounds.h"
#include "labels.h"
#include "valid.h"
#include "yml.h"
#include "compat.h"

int
labels_to_json(const struct doc *labels, struct buf *json, struct cerr *err)
{
	size_t i;

	if (labels == NULL || labels->type == DOC_NULL) {
		buf_puts(json, "{}");
		return 0;
	}
	if (labels->type != DOC_MAP)
		return cerr_set(err, CERR_USAGE, "labels: expected a map, "
		    "found a %s", doc_type_name(labels->type));
	if (labels->u.map.n > BOUND_LABELS)
		return cerr_set(err, CERR_USAGE, "labels: %zu labels, more "
		    "than %d", labels->u.map.n, BOUND_LABELS);
	for (i = 0; i < labels->u.map.n; i++) {
		const struct doc_kv *kv = &labels->u.map.kv[i];
		char tmp[64];

		if (valid_label_key(kv->key, err))
			return cerr_wrap(err, "labels");
		if (kv->val->type == DOC_MAP || kv->val->type == DOC_LIST ||
		    kv->val->type == DOC_NULL)
			return cerr_set(err, CERR_USAGE, "labels: value of "
			    "'%s' must be a string or a number", kv->key);
		if (strlen(doc_scalar_text(kv->val, tmp)) > BOUND_LABEL_VALUE)
			return cerr_set(err, CERR_USAGE, "labels: value of "
			    "'%s': %zu bytes, more than %d", kv->key,
			    strlen(doc_scalar_text(kv->val, tmp)),
			    BOUND_LABEL_VALUE);
	}
	doc_json(json, labels);
	return 0;
}

struct doc *
labels_from_json(const char *json)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	struct doc *d;

	if (json == NULL || strcmp(json, "{}") == 0 ||
	    yml_read("labels", json, strlen(json), &dl, &err) || dl.n != 1) {
		doclist_release(&dl);
		return doc_new(DOC_MAP);
	}
	d = dl.v[0];
	dl.n = 0;
	doclist_release(&dl);
	return d;
}

int
labels_from_args(const char *const *kv, size_t n, struct doc **out,
    struct cerr *err)
{
	struct doc *m = doc_new(DOC_MAP);
	size_t i;

	for (i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		char key[64];

		if (eq == NULL || (size_t)(eq - kv[i]) >= sizeof(key)) {
			cerr_set(err, CERR_USAGE, "invalid label '%s' (use "
			    "KEY=VALUE)", kv[i]);
			break;
		}
		memcpy(key, kv[i], (size_t)(eq - kv[i]));
		key[eq - kv[i]] = '\0';
		if (valid_label_key(key, err))
			break;
		if (!valid_utf8(eq + 1, strlen(eq + 1))) {
			cerr_set(err, CERR_USAGE, "label '%s': value is not "
			    "valid UTF-8", key);
			break;
		}
		doc_set_str(m, key, eq + 1);
	}
	if (err->code) {
		doc_free(m);
		return err->code;
	}
	*out = m;
	return 0;
}
