/*
 * placement.c - engine: where pending VMs go.  Pure: no I/O.  Includes
 * expr.h for the expressions and xalloc.h, nothing else of cloudos.
 *
 * VMs that share a requirement, a policy and a rank (compared by source)
 * form a class.  A class with several VMs gets a tournament tree over all
 * hosts: each node holds the most free cpu, memory and disk below it and
 * the best policy key below it, so "the best host with room" is a descent
 * that prunes subtrees lacking room or unable to beat what was found.  A
 * placement changes one host, so only that leaf's path is recomputed, in
 * each tree still in use.  Static requirements are tested once per host
 * and class; others (free_*, load, running_vms) again whenever the host
 * changes, so the trees stay exact.  Single-VM classes, and those past
 * TREE_BUDGET, scan the hosts instead.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"
#include "xalloc.h"
#include "compat.h"

/* Trees cost 2 * leaves nodes each; past this many nodes in all, the
 * classes with fewest VMs scan instead, so memory stays bounded however
 * many distinct expressions come in. */
#define TREE_BUDGET (4u << 20)

struct node {
	long long cpu, memory, disk;	/* the most free below */
	double key;			/* the best key below */
	int best;			/* its host, -1 when none passes */
};

struct cls {
	const struct expr *req, *rank;	/* those of its first VM */
	enum pl_policy policy;
	bool req_static;
	size_t nvms, left;		/* VMs in all, still to place */
	long long min_cpu, min_memory, min_disk;	/* its smallest need */
	unsigned char *pass;		/* enabled and static part passes */
	struct node *tree;		/* NULL: scan */
	size_t *host_at, *pos;	/* leaf order, static keys */
};

/* (group, host) pairs with how many of the group's VMs are there. */
struct ghash {
	uint64_t *key;			/* 0: empty slot */
	long *count;
	size_t cap, n;
};

struct run {
	struct pl_input *in;
	struct cls *cls;
	size_t ncls;
	size_t *vcls;			/* class of each VM */
	size_t leaves;			/* power of two >= nhosts */
	struct ghash gh;
	long long *ghost;		/* per group: its first host, or -1 */
	struct pl_vm *gneed;		/* per group: all its VMs' needs */
};

struct ord {
	int prio;
	double size;
	size_t i;
};

/* ---- hosts ---- */

static long long
free_cpu(const struct pl_host *h)
{
	return h->cpu - h->used_cpu;
}

static long long
free_memory(const struct pl_host *h)
{
	return h->memory - h->used_memory;
}

/* Unknown disk is never short. */
static long long
free_disk(const struct pl_host *h)
{
	return h->disk < 0 ? LLONG_MAX : h->disk - h->used_disk;
}

static bool
fits(const struct pl_host *h, const struct pl_vm *vm)
{
	return free_cpu(h) >= vm->cpu && free_memory(h) >= vm->memory &&
	    free_disk(h) >= vm->disk;
}

static double
ratio(long long used, long long cap)
{
	if (cap > 0)
		return (double)used / (double)cap;
	return used > 0 ? 1.0 : 0.0;
}

/* The allocated share: the larger of cpu and memory, as either one full
 * makes the host full. */
static double
share(const struct pl_host *h)
{
	double c = ratio(h->used_cpu, h->cpu), m = ratio(h->used_memory,
	    h->memory);

	return c > m ? c : m;
}

/* Keep what expressions read of a host in step with its numbers. */
static void
sync_attr(struct pl_host *h)
{
	h->attr.cpu = (double)h->cpu;
	h->attr.memory = (double)h->memory;
	h->attr.free_cpu = (double)free_cpu(h);
	h->attr.free_memory = (double)free_memory(h);
	if (h->disk >= 0)
		h->attr.free_disk = (double)(h->disk - h->used_disk);
	h->attr.running_vms = h->running_vms;
}

/* Higher is better for every policy. */
static double
host_key(const struct cls *c, const struct pl_host *h)
{
	double k;

	switch (c->policy) {
	case PL_PACK:
		return share(h);
	case PL_SPREAD:
		return -share(h);
	case PL_LOAD:
		return h->attr.load < 0 ? -100.0 : -h->attr.load;
	case PL_RANK:
		k = c->rank ? expr_rank(c->rank, &h->attr) : 0;
		return isnan(k) ? -HUGE_VAL : k;
	}
	return 0;
}

/* Whether (ka, a) beats (kb, b): the higher key, then the lower host. */
static bool
better(double ka, long a, double kb, long b)
{
	if (a < 0)
		return false;
	if (b < 0)
		return true;
	return ka > kb || (ka == kb && a < b);
}

/* ---- (group, host) pairs ---- */

static uint64_t
gh_key(int g, size_t h)
{
	return ((uint64_t)(uint32_t)g << 32 | (uint32_t)h) + 1;
}

static size_t
gh_slot(const struct ghash *t, uint64_t k)
{
	size_t i = (size_t)(k * 0x9e3779b97f4a7c15ULL >> 20) & (t->cap - 1);

	while (t->key[i] && t->key[i] != k)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static long
gh_count(const struct ghash *t, int g, size_t h)
{
	size_t i;

	if (!t->cap)
		return 0;
	i = gh_slot(t, gh_key(g, h));
	return t->key[i] ? t->count[i] : 0;
}

static void
gh_add(struct ghash *t, int g, size_t h, long d)
{
	uint64_t k = gh_key(g, h);
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct ghash o = *t;

		t->cap = o.cap ? 2 * o.cap : 64;
		t->key = xcalloc(t->cap, sizeof(*t->key));
		t->count = xcalloc(t->cap, sizeof(*t->count));
		for (i = 0; i < o.cap; i++)
			if (o.key[i]) {
				size_t j = gh_slot(t, o.key[i]);

				t->key[j] = o.key[i];
				t->count[j] = o.count[i];
			}
		free(o.key);
		free(o.count);
	}
	i = gh_slot(t, k);
	if (!t->key[i]) {
		t->key[i] = k;
		t->n++;
	}
	t->count[i] += d;
}

static void
gh_release(struct ghash *t)
{
	free(t->key);
	free(t->count);
}

/* ---- classes ---- */

static const char *
src(const struct expr *e)
{
	return e ? expr_source(e) : NULL;
}

static bool
same_expr(const struct expr *a, const struct expr *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	return strcmp(expr_source(a), expr_source(b)) == 0;
}

static const struct expr *
vm_rank(const struct pl_vm *vm)
{
	return vm->policy == PL_RANK ? vm->rank : NULL;
}

static bool
same_class(const struct cls *c, const struct pl_vm *vm)
{
	return c->policy == vm->policy && same_expr(c->req,
	    vm->requirements) && same_expr(c->rank, vm_rank(vm));
}

static uint64_t
hash_str(uint64_t h, const char *s)
{
	if (!s)
		return h * 31 + 7;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h * 31;
}

static uint64_t
vm_hash(const struct pl_vm *vm)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)vm->policy;

	h = hash_str(h, src(vm->requirements));
	return hash_str(h, src(vm_rank(vm)));
}

/* Sort the VMs into classes: a hash on the sources, with a shortcut for
 * the common case of a VM sharing its neighbour's expressions. */
static void
classify(struct run *r)
{
	const struct pl_vm *vms = r->in->vms;
	size_t n = r->in->nvms, cap = 16, i, j;
	size_t *slot;

	while (cap < 2 * n)
		cap *= 2;
	slot = xmalloc(cap * sizeof(*slot));
	for (i = 0; i < cap; i++)
		slot[i] = SIZE_MAX;
	r->cls = xcalloc(n ? n : 1, sizeof(*r->cls));
	r->vcls = xmalloc((n ? n : 1) * sizeof(*r->vcls));
	for (i = 0; i < n; i++) {
		if (i > 0 && vms[i].requirements == vms[i - 1].requirements &&
		    vms[i].policy == vms[i - 1].policy &&
		    vm_rank(&vms[i]) == vm_rank(&vms[i - 1])) {
			r->vcls[i] = r->vcls[i - 1];
			r->cls[r->vcls[i]].nvms++;
			continue;
		}
		j = (size_t)vm_hash(&vms[i]) & (cap - 1);
		while (slot[j] != SIZE_MAX &&
		    !same_class(&r->cls[slot[j]], &vms[i]))
			j = (j + 1) & (cap - 1);
		if (slot[j] == SIZE_MAX) {
			struct cls *c = &r->cls[r->ncls];

			c->req = vms[i].requirements;
			c->rank = vm_rank(&vms[i]);
			c->policy = vms[i].policy;
			c->req_static = !c->req || expr_static(c->req);
			c->min_cpu = c->min_memory = c->min_disk = LLONG_MAX;
			slot[j] = r->ncls++;
		}
		r->vcls[i] = slot[j];
		r->cls[slot[j]].nvms++;
	}
	for (i = 0; i < n; i++) {
		struct cls *c = &r->cls[r->vcls[i]];

		if (vms[i].cpu < c->min_cpu)
			c->min_cpu = vms[i].cpu;
		if (vms[i].memory < c->min_memory)
			c->min_memory = vms[i].memory;
		if (vms[i].disk < c->min_disk)
			c->min_disk = vms[i].disk;
	}
	for (i = 0; i < r->ncls; i++)
		r->cls[i].left = r->cls[i].nvms;
	free(slot);
}

static bool
passes(const struct run *r, const struct cls *c, size_t h)
{
	const struct pl_host *ph = &r->in->hosts[h];

	if (c->pass)
		return c->pass[h] && (c->req_static ||
		    expr_test(c->req, &ph->attr));
	return ph->enabled && (!c->req || expr_test(c->req, &ph->attr));
}

/* ---- trees ---- */

static void
tree_pull(struct node *t, size_t i)
{
	const struct node *a = &t[2 * i], *b = &t[2 * i + 1];
	struct node *n = &t[i];

	n->cpu = a->cpu > b->cpu ? a->cpu : b->cpu;
	n->memory = a->memory > b->memory ? a->memory : b->memory;
	n->disk = a->disk > b->disk ? a->disk : b->disk;
	if (better(b->key, b->best, a->key, a->best)) {
		n->key = b->key;
		n->best = b->best;
	} else {
		n->key = a->key;
		n->best = a->best;
	}
}

/* A host without room for the class's smallest VM drops out of its tree:
 * room only shrinks during a pass, so it never comes back. */
static bool
room_for_any(const struct cls *c, const struct pl_host *h)
{
	return free_cpu(h) >= c->min_cpu && free_memory(h) >= c->min_memory &&
	    free_disk(h) >= c->min_disk;
}

static void
leaf_set(const struct run *r, struct cls *c, size_t p)
{
	struct node *n = &c->tree[r->leaves + p];
	size_t h = c->host_at && p < r->in->nhosts ? c->host_at[p] : p;
	const struct pl_host *ph = &r->in->hosts[h];

	if (h >= r->in->nhosts || !room_for_any(c, ph) || !passes(r, c, h)) {
		n->cpu = n->memory = n->disk = LLONG_MIN;
		n->key = -HUGE_VAL;
		n->best = -1;
		return;
	}
	n->cpu = free_cpu(ph);
	n->memory = free_memory(ph);
	n->disk = free_disk(ph);
	n->key = host_key(c, ph);
	n->best = (int)h;
}

static bool
same_node(const struct node *a, const struct node *b)
{
	return a->cpu == b->cpu && a->memory == b->memory &&
	    a->disk == b->disk && a->key == b->key && a->best == b->best;
}

static void
tree_update(const struct run *r, struct cls *c, size_t h)
{
	size_t p = c->pos ? c->pos[h] : h, i = (r->leaves + p) / 2;

	leaf_set(r, c, p);
	for (; i >= 1; i /= 2) {
		struct node was = c->tree[i];

		tree_pull(c->tree, i);
		/* an unchanged node leaves its ancestors as they are */
		if (same_node(&was, &c->tree[i]))
			break;
	}
}

static bool
static_keys(const struct cls *c)
{
	return c->policy == PL_LOAD || (c->policy == PL_RANK && (!c->rank ||
	    expr_static(c->rank)));
}

struct keyed {
	double key;
	size_t h;
};

static int
by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

/*
 * When keys never change (load, a static rank), hosts fill in key order;
 * with leaves in tree order by index, the filled ones would be scattered
 * and every search would wade through them.  In key order they form a
 * prefix whose subtrees the room check prunes whole.
 */
static void
sort_leaves(const struct run *r, struct cls *c)
{
	size_t n = r->in->nhosts, i;
	struct keyed *k = xmalloc((n ? n : 1) * sizeof(*k));

	for (i = 0; i < n; i++) {
		k[i].key = host_key(c, &r->in->hosts[i]);
		k[i].h = i;
	}
	qsort(k, n, sizeof(*k), by_key);
	c->host_at = xmalloc((n ? n : 1) * sizeof(*c->host_at));
	c->pos = xmalloc((n ? n : 1) * sizeof(*c->pos));
	for (i = 0; i < n; i++) {
		c->host_at[i] = k[i].h;
		c->pos[k[i].h] = i;
	}
	free(k);
}

/* The static part of the requirement, tested once per host. */
static void
cls_prepare(const struct run *r, struct cls *c, bool tree)
{
	size_t h, i;

	c->pass = xmalloc(r->in->nhosts ? r->in->nhosts : 1);
	for (h = 0; h < r->in->nhosts; h++) {
		const struct pl_host *ph = &r->in->hosts[h];

		c->pass[h] = ph->enabled && (!c->req || !c->req_static ||
		    expr_test(c->req, &ph->attr));
	}
	if (!tree)
		return;
	if (static_keys(c))
		sort_leaves(r, c);
	c->tree = xmalloc(2 * r->leaves * sizeof(*c->tree));
	for (h = 0; h < r->leaves; h++)
		leaf_set(r, c, h);
	for (i = r->leaves - 1; i >= 1; i--)
		tree_pull(c->tree, i);
}

static int
by_nvms(const void *a, const void *b, void *arg)
{
	const struct cls *c = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (c[x].nvms != c[y].nvms)
		return c[x].nvms > c[y].nvms ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Trees for the classes with most VMs, within the budget. */
static void
prepare_all(struct run *r)
{
	size_t *o = xmalloc((r->ncls ? r->ncls : 1) * sizeof(*o));
	size_t i, nodes = 0;

	for (i = 0; i < r->ncls; i++)
		o[i] = i;
	qsort_r(o, r->ncls, sizeof(*o), by_nvms, r->cls);
	for (i = 0; i < r->ncls; i++) {
		struct cls *c = &r->cls[o[i]];
		bool tree = c->nvms > 1 && nodes + 2 * r->leaves <=
		    TREE_BUDGET;

		if (tree)
			nodes += 2 * r->leaves;
		cls_prepare(r, c, tree);
	}
	free(o);
}

struct found {
	double key;
	long host;
};

static bool
excluded(const struct run *r, int anti, size_t h)
{
	return anti >= 0 && gh_count(&r->gh, anti, h) > 0;
}

static void
tree_search(const struct run *r, const struct cls *c, size_t i,
    const struct pl_vm *vm, int anti, struct found *f)
{
	const struct node *n = &c->tree[i];
	size_t first;

	if (n->best < 0 || n->cpu < vm->cpu || n->memory < vm->memory ||
	    n->disk < vm->disk || !better(n->key, n->best, f->key, f->host))
		return;
	if (i >= r->leaves) {
		if (!excluded(r, anti, (size_t)n->best)) {
			f->key = n->key;
			f->host = n->best;
		}
		return;
	}
	/* the child holding the best key first, so the bound bites early */
	first = c->tree[2 * i].best == n->best ? 2 * i : 2 * i + 1;
	tree_search(r, c, first, vm, anti, f);
	tree_search(r, c, first ^ 1, vm, anti, f);
}

static void
scan_search(const struct run *r, const struct cls *c, const struct pl_vm *vm,
    int anti, struct found *f)
{
	size_t h;

	for (h = 0; h < r->in->nhosts; h++) {
		const struct pl_host *ph = &r->in->hosts[h];
		double k;

		if (!fits(ph, vm) || excluded(r, anti, h) || !passes(r, c, h))
			continue;
		k = host_key(c, ph);
		if (better(k, (long)h, f->key, f->host)) {
			f->key = k;
			f->host = (long)h;
		}
	}
}

/* The best host for vm in its class, avoiding the anti-affinity group
 * anti (-1: none); -1 when none has room. */
static long
cls_best(const struct run *r, const struct cls *c, const struct pl_vm *vm,
    int anti)
{
	struct found f = { -HUGE_VAL, -1 };

	if (c->tree)
		tree_search(r, c, 1, vm, anti, &f);
	else
		scan_search(r, c, vm, anti, &f);
	return f.host;
}

/* ---- the pass ---- */

static int
by_prio(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int
by_size(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* A VM's size against the mean enabled host, for packing big ones first. */
static void
sizes(const struct pl_input *in, struct ord *o)
{
	double cpu = 0, mem = 0, disk = 0;
	size_t i, n = 0, nd = 0;

	for (i = 0; i < in->nhosts; i++) {
		if (!in->hosts[i].enabled)
			continue;
		cpu += (double)in->hosts[i].cpu;
		mem += (double)in->hosts[i].memory;
		n++;
		if (in->hosts[i].disk > 0) {
			disk += (double)in->hosts[i].disk;
			nd++;
		}
	}
	for (i = 0; i < in->nvms; i++) {
		const struct pl_vm *vm = &in->vms[o[i].i];

		double a = cpu > 0 ? vm->cpu * (double)n / cpu : 0;
		double b = mem > 0 ? (double)vm->memory * (double)n / mem : 0;
		double d = disk > 0 ? (double)vm->disk * (double)nd / disk : 0;

		o[i].size = a > b ? a : b;
		o[i].size = d > o[i].size ? d : o[i].size;
	}
}

/*
 * The VMs of an affinity group that share a priority go together, when
 * the first of them comes: placed one by one with others between, the
 * others would fill the group's host (pack picks the fullest) before the
 * last member came.
 */
static void
together(const struct pl_input *in, struct ord *o)
{
	size_t n = in->nvms, ng = in->ngroups, i, k = 0, j;
	size_t *start = xcalloc(ng + 2, sizeof(*start)), *list;
	unsigned char *done = xcalloc(n ? n : 1, 1);
	struct ord *t = xmalloc((n ? n : 1) * sizeof(*t));
	int g;

	for (i = 0; i < n; i++)
		if ((g = in->vms[o[i].i].group) >= 0 && !in->groups[g].anti)
			start[g + 2]++;
	for (j = 0; j < ng; j++)
		start[j + 2] += start[j + 1];
	list = xmalloc((start[ng + 1] ? start[ng + 1] : 1) * sizeof(*list));
	for (i = 0; i < n; i++)
		if ((g = in->vms[o[i].i].group) >= 0 && !in->groups[g].anti)
			list[start[g + 1]++] = i;
	/* start[g] .. start[g + 1] now holds group g's places, in order */
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		g = in->vms[o[i].i].group;
		if (g < 0 || in->groups[g].anti) {
			t[k++] = o[i];
			done[i] = 1;
			continue;
		}
		for (j = start[g]; j < start[g + 1]; j++)
			if (!done[list[j]] && o[list[j]].prio == o[i].prio) {
				t[k++] = o[list[j]];
				done[list[j]] = 1;
			}
	}
	memcpy(o, t, n * sizeof(*o));
	free(t);
	free(list);
	free(done);
	free(start);
}

/*
 * Priority first, then input order; but within one priority the pack VMs
 * take the pack VMs' places largest first (best fit decreasing), which
 * comes within a few percent of the fewest hosts where input order can
 * waste a tenth.  Other policies keep input order.  Then affinity groups
 * are drawn together (above).
 */
static struct ord *
order(const struct pl_input *in)
{
	struct ord *o = xmalloc((in->nvms ? in->nvms : 1) * sizeof(*o));
	struct ord *tmp = xmalloc((in->nvms ? in->nvms : 1) * sizeof(*tmp));
	size_t i, j, k, n;

	for (i = 0; i < in->nvms; i++) {
		o[i].prio = in->vms[i].priority;
		o[i].i = i;
	}
	sizes(in, o);
	qsort(o, in->nvms, sizeof(*o), by_prio);
	for (i = 0; i < in->nvms; i = j) {
		for (j = i, n = 0; j < in->nvms && o[j].prio == o[i].prio; j++)
			if (in->vms[o[j].i].policy == PL_PACK)
				tmp[n++] = o[j];
		qsort(tmp, n, sizeof(*tmp), by_size);
		for (k = i, n = 0; k < j; k++)
			if (in->vms[o[k].i].policy == PL_PACK)
				o[k] = tmp[n++];
	}
	free(tmp);
	together(in, o);
	return o;
}

static void
place(struct run *r, size_t v, size_t h)
{
	struct pl_host *ph = &r->in->hosts[h];
	const struct pl_vm *vm = &r->in->vms[v];
	size_t i;

	ph->used_cpu += vm->cpu;
	ph->used_memory += vm->memory;
	ph->used_disk += vm->disk;
	ph->running_vms++;
	sync_attr(ph);
	if (vm->group >= 0) {
		gh_add(&r->gh, vm->group, h, 1);
		if (r->ghost[vm->group] < 0)
			r->ghost[vm->group] = (long long)h;
	}
	for (i = 0; i < r->ncls; i++)
		if (r->cls[i].tree && r->cls[i].left > 0 && r->cls[i].pass[h])
			tree_update(r, &r->cls[i], h);
}

static void
place_one(struct run *r, size_t v, struct pl_result *res)
{
	const struct pl_vm *vm = &r->in->vms[v];
	const struct pl_group *g = vm->group >= 0 ?
	    &r->in->groups[vm->group] : NULL;
	struct cls *c = &r->cls[r->vcls[v]];
	long h;

	if (g && !g->anti && r->ghost[vm->group] >= 0) {
		h = (long)r->ghost[vm->group];
		if (!fits(&r->in->hosts[h], vm) || !passes(r, c, (size_t)h))
			h = -1;
	} else if (g && !g->anti) {
		/* the first of an affinity group chooses for all of them:
		 * a host with room for the whole group, if there is one */
		h = cls_best(r, c, &r->gneed[vm->group], -1);
		if (h < 0)
			h = cls_best(r, c, vm, -1);
	} else {
		h = cls_best(r, c, vm, g && g->anti ? vm->group : -1);
	}
	c->left--;
	if (h < 0)
		return;
	res->reason = PL_PLACED;
	res->host = (size_t)h;
	place(r, v, (size_t)h);
}

static void
group_needs(struct run *r)
{
	const struct pl_input *in = r->in;
	size_t i;

	r->gneed = xcalloc(in->ngroups ? in->ngroups : 1, sizeof(*r->gneed));
	for (i = 0; i < in->nvms; i++) {
		struct pl_vm *n;

		if (in->vms[i].group < 0)
			continue;
		n = &r->gneed[in->vms[i].group];
		n->cpu = n->cpu > INT_MAX - in->vms[i].cpu ? INT_MAX :
		    n->cpu + in->vms[i].cpu;
		n->memory += in->vms[i].memory;
		n->disk += in->vms[i].disk;
	}
}

/* ---- why VMs stay pending ---- */

struct tally {
	size_t pass, fit, cpu, memory, disk;
};

static void
tally(const struct run *r, const struct cls *c, const struct pl_vm *vm,
    struct tally *t)
{
	size_t h;

	memset(t, 0, sizeof(*t));
	for (h = 0; h < r->in->nhosts; h++) {
		const struct pl_host *ph = &r->in->hosts[h];
		bool short_ = false;

		if (!passes(r, c, h))
			continue;
		t->pass++;
		if (free_cpu(ph) < vm->cpu) {
			t->cpu++;
			short_ = true;
		}
		if (free_memory(ph) < vm->memory) {
			t->memory++;
			short_ = true;
		}
		if (free_disk(ph) < vm->disk) {
			t->disk++;
			short_ = true;
		}
		if (!short_)
			t->fit++;
	}
}

static void
why(const struct run *r, const struct pl_vm *vm, const struct tally *t,
    bool any_enabled, struct pl_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!any_enabled)
		res->reason = PL_NO_HOSTS;
	else if (t->pass == 0)
		res->reason = PL_REQUIREMENTS;
	else if (t->fit > 0 && vm->group >= 0)
		res->reason = r->in->groups[vm->group].anti ?
		    PL_ANTI_AFFINITY : PL_AFFINITY;
	else if (t->fit > 0)
		/* room now, none when its turn came: a requirement that
		 * reads free_* or running_vms turned true later */
		res->reason = PL_REQUIREMENTS;
	else {
		res->reason = PL_CAPACITY;
		res->short_cpu = t->cpu;
		res->short_memory = t->memory;
		res->short_disk = t->disk;
	}
}

static int
by_need(const void *a, const void *b, void *arg)
{
	const struct run *r = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct pl_vm *p = &r->in->vms[x], *q = &r->in->vms[y];

	if (r->vcls[x] != r->vcls[y])
		return r->vcls[x] < r->vcls[y] ? -1 : 1;
	if (p->cpu != q->cpu)
		return p->cpu < q->cpu ? -1 : 1;
	if (p->memory != q->memory)
		return p->memory < q->memory ? -1 : 1;
	if (p->disk != q->disk)
		return p->disk < q->disk ? -1 : 1;
	return x < y ? -1 : x > y;
}

static bool
same_need(const struct run *r, size_t x, size_t y)
{
	const struct pl_vm *p = &r->in->vms[x], *q = &r->in->vms[y];

	return r->vcls[x] == r->vcls[y] && p->cpu == q->cpu &&
	    p->memory == q->memory && p->disk == q->disk;
}

/*
 * Reasons are taken from the state after the pass, the one the caller
 * sees, and one scan of the hosts serves every pending VM of the same
 * class and size: a cost per distinct need, not per VM.
 */
static void
explain(const struct run *r, struct pl_result *out)
{
	size_t *p = xmalloc((r->in->nvms ? r->in->nvms : 1) * sizeof(*p));
	size_t i, n = 0;
	bool any = false;
	struct tally t;

	for (i = 0; i < r->in->nhosts && !any; i++)
		any = r->in->hosts[i].enabled;
	for (i = 0; i < r->in->nvms; i++)
		if (out[i].reason != PL_PLACED)
			p[n++] = i;
	qsort_r(p, n, sizeof(*p), by_need, (void *)r);
	for (i = 0; i < n; i++) {
		const struct pl_vm *vm = &r->in->vms[p[i]];

		if (i == 0 || !same_need(r, p[i - 1], p[i]))
			tally(r, &r->cls[r->vcls[p[i]]], vm, &t);
		why(r, vm, &t, any, &out[p[i]]);
	}
	free(p);
}

int
placement_run(struct pl_input *in, struct pl_result *out)
{
	struct run r = { .in = in };
	struct ord *o;
	size_t i;

	for (i = 0; i < in->nhosts; i++)
		sync_attr(&in->hosts[i]);
	for (r.leaves = 1; r.leaves < in->nhosts; r.leaves *= 2)
		;
	r.ghost = xmalloc((in->ngroups ? in->ngroups : 1) *
	    sizeof(*r.ghost));
	for (i = 0; i < in->ngroups; i++)
		r.ghost[i] = -1;
	for (i = 0; i < in->nmembers; i++) {
		const struct pl_member *m = &in->members[i];

		gh_add(&r.gh, m->group, m->host, 1);
		if (r.ghost[m->group] < 0)
			r.ghost[m->group] = (long long)m->host;
	}
	group_needs(&r);
	classify(&r);
	prepare_all(&r);
	for (i = 0; i < in->nvms; i++)
		out[i].reason = PL_NO_HOSTS;
	o = order(in);
	for (i = 0; i < in->nvms; i++)
		place_one(&r, o[i].i, &out[o[i].i]);
	explain(&r, out);
	free(o);
	for (i = 0; i < r.ncls; i++) {
		free(r.cls[i].pass);
		free(r.cls[i].tree);
		free(r.cls[i].host_at);
		free(r.cls[i].pos);
	}
	free(r.gneed);
	free(r.cls);
	free(r.vcls);
	free(r.ghost);
	gh_release(&r.gh);
	return 0;
}

void
placement_reason(const struct pl_result *r, const struct pl_vm *vm,
    char *buf, size_t len)
{
	const char *what[] = { "cpu", "memory", "disk" };
	size_t count[] = { r->short_cpu, r->short_memory, r->short_disk };
	size_t i, n = 0;
	int k;

	if (!len)
		return;
	switch (r->reason) {
	case PL_PLACED:
		snprintf(buf, len, "placed");
		return;
	case PL_NO_HOSTS:
		snprintf(buf, len, "no enabled host");
		return;
	case PL_REQUIREMENTS:
		if (vm && vm->requirements)
			snprintf(buf, len, "no host passes the requirements "
			    "'%s'", expr_source(vm->requirements));
		else
			snprintf(buf, len, "no host passes the requirements");
		return;
	case PL_AFFINITY:
		snprintf(buf, len, "no room on the host of its affinity "
		    "group");
		return;
	case PL_ANTI_AFFINITY:
		snprintf(buf, len, "room only on hosts of its anti-affinity "
		    "group");
		return;
	case PL_CAPACITY:
		break;
	}
	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(count); i++) {
		if (!count[i])
			continue;
		k = snprintf(buf + n, len - n, "%s%s on %zu host%s",
		    n ? ", " : "not enough ", what[i], count[i],
		    count[i] == 1 ? "" : "s");
		if (k < 0 || (size_t)k >= len - n)
			return;
		n += (size_t)k;
	}
	if (!n)
		snprintf(buf, len, "not enough room on any host");
}

/* ---- rebalance ---- */

struct rbmove {
	size_t vm, host, from;
};

struct rb {
	const struct pl_input *in;
	struct pl_host *hosts;	/* a copy, moves applied */
	size_t *where;			/* each VM's host now */
	struct ghash gh;
	struct rbmove *moves;
	size_t nmoves, cap;
	long max;
};

/* An affinity group moves together or not at all: its VMs stay. */
static bool
rb_movable(const struct rb *b, size_t v)
{
	const struct pl_vm *vm = &b->in->vms[v];

	return b->where[v] < b->in->nhosts &&
	    (vm->group < 0 || b->in->groups[vm->group].anti);
}

static bool
rb_can(const struct rb *b, size_t v, size_t h)
{
	const struct pl_vm *vm = &b->in->vms[v];
	const struct pl_host *ph = &b->hosts[h];

	return h != b->where[v] && ph->enabled && fits(ph, vm) &&
	    (!vm->requirements || expr_test(vm->requirements, &ph->attr)) &&
	    (vm->group < 0 || gh_count(&b->gh, vm->group, h) == 0);
}

static bool
rb_room(const struct rb *b)
{
	return b->max < 0 || b->nmoves < (size_t)b->max;
}

static void
rb_shift(struct rb *b, size_t v, size_t h)
{
	const struct pl_vm *vm = &b->in->vms[v];
	struct pl_host *from = &b->hosts[b->where[v]], *to = &b->hosts[h];

	from->used_cpu -= vm->cpu;
	from->used_memory -= vm->memory;
	from->used_disk -= vm->disk;
	from->running_vms--;
	sync_attr(from);
	to->used_cpu += vm->cpu;
	to->used_memory += vm->memory;
	to->used_disk += vm->disk;
	to->running_vms++;
	sync_attr(to);
	if (vm->group >= 0) {
		gh_add(&b->gh, vm->group, b->where[v], -1);
		gh_add(&b->gh, vm->group, h, 1);
	}
	b->where[v] = h;
}

static void
rb_move(struct rb *b, size_t v, size_t h)
{
	xgrow(&b->moves, &b->cap, b->nmoves + 1, sizeof(*b->moves));
	b->moves[b->nmoves].vm = v;
	b->moves[b->nmoves].host = h;
	b->moves[b->nmoves].from = b->where[v];
	b->nmoves++;
	rb_shift(b, v, h);
}

static void
rb_undo(struct rb *b, size_t mark)
{
	while (b->nmoves > mark) {
		b->nmoves--;
		rb_shift(b, b->moves[b->nmoves].vm, b->moves[b->nmoves].from);
	}
}

static bool
in_use(const struct pl_host *h)
{
	return h->used_cpu > 0 || h->used_memory > 0 || h->running_vms > 0;
}

/* The fullest host in use, other than from, with room for v. */
static long
rb_pack_target(const struct rb *b, size_t v, size_t from,
    const unsigned char *drained)
{
	long best = -1;
	double key = -HUGE_VAL, k;
	size_t h;

	for (h = 0; h < b->in->nhosts; h++) {
		if (h == from || drained[h] || !in_use(&b->hosts[h]) ||
		    !rb_can(b, v, h))
			continue;
		k = share(&b->hosts[h]);
		if (better(k, (long)h, key, best)) {
			key = k;
			best = (long)h;
		}
	}
	return best;
}

struct rbhost {
	size_t h, nvms;
	double share;
};

static int
by_emptiest(const void *a, const void *b)
{
	const struct rbhost *x = a, *y = b;

	if (x->nvms != y->nvms)
		return x->nvms < y->nvms ? -1 : 1;
	if (x->share != y->share)
		return x->share < y->share ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

/* Try to empty s; all or nothing.  vs lists its VMs. */
static bool
rb_drain(struct rb *b, size_t s, const size_t *vs, size_t n,
    unsigned char *drained, unsigned char *received)
{
	size_t mark = b->nmoves, i;
	long t;

	if (b->max >= 0 && b->nmoves + n > (size_t)b->max)
		return false;
	for (i = 0; i < n; i++)
		if (!rb_movable(b, vs[i]))
			return false;
	for (i = 0; i < n; i++) {
		t = rb_pack_target(b, vs[i], s, drained);
		if (t < 0)
			break;
		rb_move(b, vs[i], (size_t)t);
	}
	/* allocation the VMs do not explain keeps the host in use */
	if (i < n || in_use(&b->hosts[s])) {
		rb_undo(b, mark);
		return false;
	}
	for (i = mark; i < b->nmoves; i++)
		received[b->moves[i].host] = 1;
	drained[s] = 1;
	return true;
}

/*
 * Pack: empty the hosts with fewest VMs first onto fuller hosts still in
 * use, best fit, each host wholly or not at all (a half-emptied host saves
 * nothing).  Hosts that received VMs are not emptied again: that would
 * move the same VM twice.
 */
static void
rb_pack(struct rb *b)
{
	size_t nh = b->in->nhosts, nv = b->in->nvms, i, n = 0;
	struct rbhost *o = xcalloc(nh ? nh : 1, sizeof(*o));
	unsigned char *drained = xcalloc(nh ? nh : 1, 1);
	unsigned char *received = xcalloc(nh ? nh : 1, 1);
	struct ord *vo = xmalloc((nv ? nv : 1) * sizeof(*vo));
	size_t *vs = xmalloc((nv ? nv : 1) * sizeof(*vs));
	size_t *start = xcalloc(nh + 1, sizeof(*start));
	size_t *pos = xcalloc(nh + 1, sizeof(*pos));

	for (i = 0; i < nh; i++) {
		o[i].h = i;
		o[i].share = share(&b->hosts[i]);
	}
	for (i = 0; i < nv; i++) {
		vo[i].i = i;
		vo[i].prio = 0;
		if (b->where[i] < nh)
			o[b->where[i]].nvms++;
	}
	/* each host's VMs side by side, largest first */
	sizes(b->in, vo);
	qsort(vo, nv, sizeof(*vo), by_size);
	for (i = 0; i < nh; i++)
		start[i + 1] = start[i] + o[i].nvms;
	for (i = 0; i < nh; i++)
		pos[i] = start[i];
	for (i = 0; i < nv; i++)
		if (b->where[vo[i].i] < nh)
			vs[pos[b->where[vo[i].i]]++] = vo[i].i;
	for (i = 0; i < nh; i++)
		if (o[i].nvms > 0)
			o[n++] = o[i];
	qsort(o, n, sizeof(*o), by_emptiest);
	for (i = 0; i < n && rb_room(b); i++) {
		size_t s = o[i].h;

		if (!received[s])
			rb_drain(b, s, vs + start[s], o[i].nvms, drained,
			    received);
	}
	free(pos);
	free(start);
	free(vo);
	free(vs);
	free(o);
	free(drained);
	free(received);
}

static double
share_with(const struct pl_host *h, const struct pl_vm *vm)
{
	struct pl_host t = *h;

	t.used_cpu += vm->cpu;
	t.used_memory += vm->memory;
	return share(&t);
}

/*
 * Spread: from the most allocated host, the move that leaves its target
 * least allocated, as long as the target ends below where the source
 * was: the pair's larger share falls with every move, so on uniform
 * hosts and VMs this stops within one VM of even.
 */
static bool
rb_spread_step(struct rb *b)
{
	size_t nh = b->in->nhosts, v, h, a = SIZE_MAX, bv = 0, bh = 0;
	double top = -1, best = HUGE_VAL, k;

	for (v = 0; v < b->in->nvms; v++) {
		if (!rb_movable(b, v))
			continue;
		k = share(&b->hosts[b->where[v]]);
		if (k > top || (k == top && b->where[v] < a)) {
			top = k;
			a = b->where[v];
		}
	}
	if (a == SIZE_MAX)
		return false;
	for (v = 0; v < b->in->nvms; v++) {
		if (b->where[v] != a || !rb_movable(b, v))
			continue;
		for (h = 0; h < nh; h++) {
			if (!rb_can(b, v, h))
				continue;
			k = share_with(&b->hosts[h], &b->in->vms[v]);
			if (k < top && k < best) {
				best = k;
				bv = v;
				bh = h;
			}
		}
	}
	if (best == HUGE_VAL)
		return false;
	rb_move(b, bv, bh);
	return true;
}

int
placement_rebalance(struct pl_input *in, const size_t *placed,
    enum pl_policy policy, long max_moves, struct pl_move **out)
{
	struct rb b = { .in = in, .max = max_moves };
	size_t i, guard = 4 * in->nvms + in->nhosts;

	*out = NULL;
	if (policy != PL_PACK && policy != PL_SPREAD)
		return 0;
	b.hosts = xmalloc((in->nhosts ? in->nhosts : 1) * sizeof(*b.hosts));
	b.where = xmalloc((in->nvms ? in->nvms : 1) * sizeof(*b.where));
	for (i = 0; i < in->nhosts; i++) {
		b.hosts[i] = in->hosts[i];
		sync_attr(&b.hosts[i]);
	}
	for (i = 0; i < in->nmembers; i++)
		gh_add(&b.gh, in->members[i].group, in->members[i].host, 1);
	for (i = 0; i < in->nvms; i++) {
		b.where[i] = placed[i];
		if (in->vms[i].group >= 0 && placed[i] < in->nhosts)
			gh_add(&b.gh, in->vms[i].group, placed[i], 1);
	}
	if (policy == PL_PACK)
		rb_pack(&b);
	else
		while (guard-- > 0 && rb_room(&b) && rb_spread_step(&b))
			;
	if (b.nmoves) {
		*out = xmalloc(b.nmoves * sizeof(**out));
		for (i = 0; i < b.nmoves; i++) {
			(*out)[i].vm = b.moves[i].vm;
			(*out)[i].host = b.moves[i].host;
		}
	}
	free(b.moves);
	free(b.hosts);
	free(b.where);
	gh_release(&b.gh);
	return (int)b.nmoves;
}
