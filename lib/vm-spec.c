/*
 * vm-spec.c - service: a VM document read and checked into what create
 * and apply store (struct vmspec): its disks, its scheduling fields, the
 * known fields kept as vms.spec.  Part of the vm family (vm-int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "expr.h"
#include "labels.h"
#include "net.h"
#include "seed.h"
#include "units.h"
#include "valid.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "compat.h"

/* d is absent, null, or an empty list, map or string. */
int
vm_spec_empty(const struct doc *d)
{
	return d == NULL || d->type == DOC_NULL ||
	    (d->type == DOC_LIST && d->u.list.n == 0) ||
	    (d->type == DOC_MAP && d->u.map.n == 0) ||
	    (d->type == DOC_STR && d->u.s[0] == '\0');
}

/* disks: a list of {image: NAME, size: SIZE, datastore: NAME}: a clone
 * of an image (size: the image's, or more), or a blank disk (size
 * needed), in a datastore's pool or the host's own; target (as printed)
 * is ignored. */
static int
disks_from_doc(const struct doc *l, struct vmspec *s, struct cerr *err)
{
	size_t i, j;

	s->ndisks = 0;
	if (l == NULL || l->type == DOC_NULL)
		return 0;
	if (l->type != DOC_LIST)
		return cerr_set(err, CERR_USAGE, "disks: expected a list, "
		    "found a %s", doc_type_name(l->type));
	if (l->u.list.n > VM_MAX_DISKS)
		return cerr_set(err, CERR_USAGE, "disks: at most %d",
		    VM_MAX_DISKS);
	for (i = 0; i < l->u.list.n; i++) {
		const struct doc *d = l->u.list.v[i], *v;
		struct specdisk *sd = &s->disks[i];

		memset(sd, 0, sizeof(*sd));
		if (d->type != DOC_MAP)
			return cerr_set(err, CERR_USAGE, "disks[%zu]: expected "
			    "a map such as {size: 20GiB}", i);
		for (j = 0; j < d->u.map.n; j++) {
			const char *k = d->u.map.kv[j].key;

			if (strcmp(k, "size") != 0 && strcmp(k, "target") != 0 &&
			    strcmp(k, "image") != 0 &&
			    strcmp(k, "datastore") != 0)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "%s: unknown field", i, k);
		}
		if ((v = doc_map_get(d, "image")) != NULL &&
		    v->type != DOC_NULL) {
			if (v->type != DOC_STR || *v->u.s == '\0')
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "image: expected the name of an image", i);
			sd->image = v->u.s;
		}
		if ((v = doc_map_get(d, "datastore")) != NULL &&
		    v->type != DOC_NULL) {
			if (v->type != DOC_STR || *v->u.s == '\0')
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "datastore: expected the name of a "
				    "datastore", i);
			sd->datastore = v->u.s;
		}
		if ((v = doc_map_get(d, "size")) == NULL ||
		    v->type == DOC_NULL) {
			if (sd->image == NULL)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "size: missing (a blank disk needs one)",
				    i);
		} else {
			if (units_doc_mib(v, &sd->size, err))
				return cerr_wrap(err, "disks[%zu].size", i);
			if (sd->size < 1)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "size: must be at least 1 MiB", i);
		}
		s->ndisks++;
	}
	return 0;
}

/* The words of policy (besides rank: EXPR, the last, for the message) and
 * ha, as they are stored; a document may give them in any case. */
static const char *const vm_policies[] = {
	"pack", "spread", "load", "rank: EXPR",
};
static const char *const vm_has[] = { "none", "restart" };

/* requirements, policy (pack, spread, load, or rank: EXPR as a string or
 * a map), group and priority; expressions are compiled to be checked. */
static int
scheduling_from_doc(const struct doc *d, struct vmspec *s, struct cerr *err)
{
	const struct doc *v;
	struct expr *e = NULL;
	size_t i = 0;

	s->policy = "pack";
	if ((v = doc_map_get(d, "requirements")) && v->type != DOC_NULL) {
		if (v->type != DOC_STR)
			return cerr_set(err, CERR_USAGE, "requirements: "
			    "expected a string, found a %s",
			    doc_type_name(v->type));
		if (expr_compile(v->u.s, &e, err))
			return cerr_wrap(err, "requirements");
		expr_free(e);
		s->requirements = *v->u.s ? v->u.s : NULL;
	}
	if ((v = doc_map_get(d, "policy")) && v->type != DOC_NULL) {
		const char *rank = NULL;

		if (v->type == DOC_MAP && v->u.map.n == 1 &&
		    strcmp(v->u.map.kv[0].key, "rank") == 0 &&
		    v->u.map.kv[0].val->type == DOC_STR)
			rank = v->u.map.kv[0].val->u.s;
		else if (v->type == DOC_STR &&
		    strncasecmp(v->u.s, "rank:", 5) == 0)
			rank = v->u.s + 5 + strspn(v->u.s + 5, " ");
		else if (v->type != DOC_STR)
			return cerr_set(err, CERR_USAGE, "policy: expected "
			    "pack, spread, load, or rank: EXPR");
		else if (valid_enum(v->u.s, vm_policies,
		    ARRAY_SIZE(vm_policies), &i, "policy", err))
			return err->code;
		if (rank) {
			if (expr_compile(rank, &e, err))
				return cerr_wrap(err, "policy: rank");
			expr_free(e);
			s->policy = "rank";
			s->rank = rank;
		} else {
			s->policy = vm_policies[i];
		}
	}
	if ((v = doc_map_get(d, "group")) && v->type != DOC_NULL) {
		if (v->type != DOC_STR || *v->u.s == '\0')
			return cerr_set(err, CERR_USAGE, "group: expected the "
			    "name of an affinity group");
		s->group = v->u.s;
	}
	if ((v = doc_map_get(d, "priority")) && v->type != DOC_NULL) {
		if (v->type != DOC_INT || v->u.i < -1000 || v->u.i > 1000)
			return cerr_set(err, CERR_USAGE, "priority: expected a "
			    "whole number from -1000 to 1000");
		s->priority = (int)v->u.i;
	}
	return 0;
}

/* The fields of a VM document the catalog keeps (vms.spec): what
 * vm_spec_from_doc checks.  Anything else a document carries is read and
 * dropped, so a stored document never grows with what it does not use. */
static const char *const vm_spec_fields[] = {
	"kind", "name", "cpu", "memory", "disks", "nics", "context",
	"requirements", "policy", "group", "priority", "ha", "labels", NULL,
};

/* The field key of d, a string in any case, as its canonical name. */
static void
canonical(struct doc *d, const char *key, const char *const names[],
    size_t n)
{
	const char *s = doc_get_str(d, key);
	struct cerr ignore = { 0 };
	size_t i;

	if (s && valid_enum(s, names, n, &i, key, &ignore) == 0)
		doc_set_str(d, key, names[i]);
}

/* d (a checked VM document) as it is stored: its known fields, as JSON,
 * policy and ha by their canonical names. */
char *
vm_spec_json(const struct doc *d)
{
	struct doc *keep = doc_new(DOC_MAP);
	struct buf b = BUF_INIT;
	const struct doc *v;
	size_t i;

	for (i = 0; vm_spec_fields[i]; i++)
		if ((v = doc_map_get(d, vm_spec_fields[i])) != NULL)
			doc_map_add(keep, vm_spec_fields[i], doc_copy(v));
	canonical(keep, "policy", vm_policies, ARRAY_SIZE(vm_policies) - 1);
	canonical(keep, "ha", vm_has, ARRAY_SIZE(vm_has));
	doc_json(&b, keep);
	doc_free(keep);
	return buf_detach(&b);
}

int
vm_spec_from_doc(const struct doc *d, struct vmspec *s, struct cerr *err)
{
	const struct doc *v;
	const char *kind = doc_get_str(d, "kind");
	size_t k;

	if ((v = doc_map_get(d, "kind")) && kind == NULL)
		return cerr_set(err, CERR_USAGE, "kind: expected a string, "
		    "found a %s", doc_type_name(v->type));
	if (kind && strcmp(kind, "VM") != 0)
		return cerr_set(err, CERR_USAGE, "kind '%s' is not VM", kind);
	if ((v = doc_map_get(d, "name")) == NULL)
		return cerr_set(err, CERR_USAGE, "name: missing");
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "name: expected a string, "
		    "found a %s", doc_type_name(v->type));
	s->name = v->u.s;
	if (valid_name("vm", s->name, err))
		return err->code;
	/* cpu and memory: given, or suggested by the image of a disk
	 * (vm_create reads them; 0 until then) */
	s->cpu = 0;
	s->memory = 0;
	if ((v = doc_map_get(d, "cpu")) == NULL) {
		/* checked once the disks are known */
	} else if (v->type != DOC_INT || v->u.i < 1 ||
	    v->u.i > VM_MAX_CPU) {
		char tmp[64];

		return cerr_set(err, CERR_USAGE, "cpu: expected a whole number "
		    "from 1 to %d, found '%s'", VM_MAX_CPU,
		    v->type == DOC_MAP || v->type == DOC_LIST ?
		    doc_type_name(v->type) : doc_scalar_text(v, tmp));
	} else {
		s->cpu = (int)v->u.i;
	}
	if ((v = doc_map_get(d, "memory")) != NULL) {
		if (units_doc_mib(v, &s->memory, err))
			return cerr_wrap(err, "memory");
		if (s->memory < 1)
			return cerr_set(err, CERR_USAGE, "memory: must be at "
			    "least 1 MiB");
	}
	if (net_nics_check(doc_map_get(d, "nics"), &s->nnics, err))
		return err->code;
	s->nics = doc_map_get(d, "nics");
	{
		struct seed_context c;
		int has;

		if (seed_context_from_doc(doc_map_get(d, "context"), &c, &has,
		    err))
			return err->code;
		seed_context_release(&c);
	}
	if (disks_from_doc(doc_map_get(d, "disks"), s, err))
		return err->code;
	if (s->cpu == 0 || s->memory == 0) {
		bool image = false;
		size_t i;

		for (i = 0; i < s->ndisks; i++)
			image = image || s->disks[i].image != NULL;
		if (!image && s->cpu == 0)
			return cerr_set(err, CERR_USAGE, "cpu: missing (the "
			    "number of vCPUs)");
		if (!image && s->memory == 0)
			return cerr_set(err, CERR_USAGE, "memory: missing (a "
			    "size such as 512MiB)");
	}
	if (scheduling_from_doc(d, s, err))
		return err->code;
	if ((v = doc_map_get(d, "ha")) != NULL && v->type != DOC_NULL &&
	    v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "ha: expected none or "
		    "restart");
	if (v && v->type == DOC_STR && valid_enum(v->u.s, vm_has,
	    ARRAY_SIZE(vm_has), &k, "ha", err))
		return err->code;
	if (labels_to_json(doc_map_get(d, "labels"), &s->labels, err))
		return err->code;
	s->spec = vm_spec_json(d);
	return 0;
}
