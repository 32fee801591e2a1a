/*
 * test-placement - the placement engine: each policy, requirements,
 * groups, every reason, priority order, capacity, rebalancing, and the
 * properties pack (near the lower bound) and spread (even within one VM)
 * on generated workloads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "placement.h"
#include "tap.h"

#define MAXH 128
#define MAXV 4096
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const zone_key[] = { "zone" };
static const char *const zone_val[] = { "a", "b", "c" };

struct fix {
	struct pl_host h[MAXH];
	struct pl_vm v[MAXV];
	struct pl_group g[8];
	struct pl_member m[8];
	struct pl_result r[MAXV];
	struct pl_input in;
};

static struct fix F;

static void
reset(void)
{
	memset(&F, 0, sizeof(F));
	F.in.hosts = F.h;
	F.in.vms = F.v;
	F.in.groups = F.g;
	F.in.members = F.m;
}

/* A host with no load known; zone "a", "b" or "c" by zone (-1: none). */
static size_t
host(int cpu, long long memory, int zone)
{
	struct pl_host *h = &F.h[F.in.nhosts];

	h->id = (long long)F.in.nhosts + 1;
	h->enabled = true;
	h->cpu = cpu;
	h->memory = memory;
	h->disk = -1;
	h->attr.name = "h";
	h->attr.cluster = "";
	h->attr.hypervisor = "test";
	h->attr.load = -1;
	if (zone >= 0) {
		h->attr.label_keys = zone_key;
		h->attr.label_values = &zone_val[zone];
		h->attr.nlabels = 1;
	}
	return F.in.nhosts++;
}

static size_t
vm(int cpu, long long memory, enum pl_policy p)
{
	struct pl_vm *v = &F.v[F.in.nvms];

	v->id = (long long)F.in.nvms + 1;
	v->cpu = cpu;
	v->memory = memory;
	v->policy = p;
	v->group = -1;
	return F.in.nvms++;
}

static struct expr *
ex(const char *src)
{
	struct cerr err = { 0 };
	struct expr *e = NULL;

	if (expr_compile(src, &e, &err) != 0) {
		printf("# cannot compile '%s': %s\n", src, err.msg);
		exit(99);
	}
	return e;
}

static int
run(void)
{
	return placement_run(&F.in, F.r);
}

static bool
at(size_t v, size_t h)
{
	return F.r[v].reason == PL_PLACED && F.r[v].host == h;
}

static bool
within_capacity(void)
{
	size_t i;

	for (i = 0; i < F.in.nhosts; i++)
		if (F.h[i].used_cpu > F.h[i].cpu ||
		    F.h[i].used_memory > F.h[i].memory ||
		    (F.h[i].disk >= 0 && F.h[i].used_disk > F.h[i].disk))
			return false;
	return true;
}

static void
test_pack(void)
{
	size_t i;

	reset();
	host(8, 16384, -1);
	host(8, 16384, -1);
	host(8, 16384, -1);
	F.h[1].used_cpu = 2;		/* the fullest: pack starts there */
	F.h[1].used_memory = 2048;
	for (i = 0; i < 4; i++)
		vm(2, 2048, PL_PACK);
	ok(run() == 0, "pack: runs");
	ok(at(0, 1) && at(1, 1) && at(2, 1), "pack: the fullest host first");
	ok(at(3, 0), "pack: then the first listed");
	ok(F.h[1].used_cpu == 8 && F.h[1].running_vms == 3 &&
	    F.h[1].attr.free_cpu == 0, "pack: the host's allocation and "
	    "attributes follow");
}

static void
test_spread(void)
{
	size_t i;

	reset();
	for (i = 0; i < 3; i++)
		host(16, 32768, -1);
	for (i = 0; i < 6; i++)
		vm(1, 1024, PL_SPREAD);
	run();
	ok(at(0, 0) && at(1, 1) && at(2, 2) && at(3, 0) && at(4, 1) &&
	    at(5, 2), "spread: round the hosts, ties to the first listed");

	reset();
	host(16, 32768, -1);
	host(4, 8192, -1);		/* small: a quarter full after one */
	for (i = 0; i < 5; i++)
		vm(1, 2048, PL_SPREAD);
	run();
	ok(at(0, 0) && at(1, 1) && at(2, 0) && at(3, 0) && at(4, 0),
	    "spread: by allocated share, not by count");
}

static void
test_load(void)
{
	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	F.h[0].attr.load = 50;
	F.h[1].attr.load = 120;
	F.h[2].attr.load = -1;		/* unknown: 100 */
	F.h[3].attr.load = 10;
	vm(1, 512, PL_LOAD);
	run();
	ok(at(0, 3), "load: the lowest load wins");
	F.h[3].enabled = false;
	F.h[0].attr.load = 200;
	F.h[3].used_cpu = 0;
	vm(1, 512, PL_LOAD);
	run();
	ok(at(1, 2), "load: unknown counts as 100 (beats 120 and 200)");
}

static void
test_rank(void)
{
	struct expr *fm = ex("free_memory"), *cpu = ex("cpu");
	size_t v;

	reset();
	host(8, 10240, -1);
	host(8, 8192, -1);
	for (v = 0; v < 3; v++) {
		vm(1, 4096, PL_RANK);
		F.v[v].rank = fm;
	}
	run();
	ok(at(0, 0) && at(1, 1) && at(2, 0), "rank: free_memory is "
	    "recomputed after each placement");

	reset();
	host(4, 8192, -1);
	host(16, 8192, -1);
	host(16, 8192, -1);
	v = vm(1, 512, PL_RANK);
	F.v[v].rank = cpu;
	run();
	ok(at(v, 1), "rank: a static rank, ties to the first listed");
	expr_free(fm);
	expr_free(cpu);
}

static void
test_requirements(void)
{
	struct expr *b = ex("labels.zone == \"b\""), *x = ex("labels.zone "
	    "== \"x\""), *fc = ex("free_cpu >= 6");
	char line[200];
	size_t i;

	reset();
	host(8, 8192, 0);
	host(8, 8192, 1);
	host(8, 8192, -1);
	host(8, 8192, 1);
	F.h[1].enabled = false;
	i = vm(1, 512, PL_PACK);
	F.v[i].requirements = b;
	i = vm(1, 512, PL_PACK);
	F.v[i].requirements = x;
	vm(1, 512, PL_PACK);
	run();
	ok(at(0, 3), "requirements: only a passing enabled host");
	ok(F.r[1].reason == PL_REQUIREMENTS, "requirements: none passes");
	placement_reason(&F.r[1], &F.v[1], line, sizeof(line));
	is_str(line, "no host passes the requirements 'labels.zone == "
	    "\"x\"'", "requirements: the reason names the expression");
	ok(F.r[2].reason == PL_PLACED, "requirements: none is any host");

	/* a requirement on free_cpu is tested against the current state */
	reset();
	host(8, 65536, -1);
	host(8, 65536, -1);
	for (i = 0; i < 4; i++) {
		vm(2, 512, PL_PACK);
		F.v[i].requirements = fc;
	}
	run();
	ok(at(0, 0) && at(1, 0) && at(2, 1) && at(3, 1), "requirements: "
	    "free_cpu >= 6 follows the placements");
	expr_free(b);
	expr_free(x);
	expr_free(fc);
}

static void
test_affinity(void)
{
	char line[200];
	size_t i;

	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	F.g[0].name = "web";
	F.in.ngroups = 1;
	F.m[0].group = 0;
	F.m[0].host = 2;
	F.in.nmembers = 1;
	for (i = 0; i < 5; i++) {
		vm(2, 1024, PL_PACK);
		F.v[i].group = 0;
	}
	F.h[2].used_cpu = 2;
	run();
	ok(at(0, 2) && at(1, 2) && at(2, 2), "affinity: the group's host, "
	    "though pack would pick another");
	ok(F.r[3].reason == PL_AFFINITY && F.r[4].reason == PL_AFFINITY,
	    "affinity: no room there, room elsewhere");
	placement_reason(&F.r[3], &F.v[3], line, sizeof(line));
	is_str(line, "no room on the host of its affinity group",
	    "affinity: the reason");

	/* without members the first VM chooses, the others follow */
	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	F.h[0].used_cpu = 1;
	F.g[0].name = "db";
	F.in.ngroups = 1;
	for (i = 0; i < 3; i++) {
		vm(1, 512, PL_SPREAD);
		F.v[i].group = 0;
	}
	run();
	ok(at(0, 1) && at(1, 1) && at(2, 1), "affinity: the first VM "
	    "chooses, the group follows it");
}

static void
test_anti(void)
{
	char line[200];
	size_t i;

	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	F.g[0].name = "ha";
	F.g[0].anti = true;
	F.in.ngroups = 1;
	F.m[0].group = 0;
	F.m[0].host = 0;
	F.in.nmembers = 1;
	for (i = 0; i < 4; i++) {
		vm(1, 512, PL_PACK);
		F.v[i].group = 0;
	}
	vm(1, 512, PL_PACK);		/* no group: packs onto host 0 */
	run();
	ok(at(0, 1) && at(1, 2) && at(2, 3), "anti-affinity: one host each, "
	    "never the member's");
	ok(F.r[3].reason == PL_ANTI_AFFINITY, "anti-affinity: room only "
	    "where the group is");
	ok(at(4, 1), "anti-affinity: other VMs are not held back");
	placement_reason(&F.r[3], &F.v[3], line, sizeof(line));
	is_str(line, "room only on hosts of its anti-affinity group",
	    "anti-affinity: the reason");
}

static void
test_reasons(void)
{
	struct pl_result r;
	char line[200];
	size_t i;

	reset();
	vm(1, 512, PL_PACK);
	run();
	ok(F.r[0].reason == PL_NO_HOSTS, "reason: no hosts at all");
	reset();
	host(8, 8192, -1);
	F.h[0].enabled = false;
	vm(1, 512, PL_SPREAD);
	run();
	ok(F.r[0].reason == PL_NO_HOSTS, "reason: no enabled host");
	placement_reason(&F.r[0], &F.v[0], line, sizeof(line));
	is_str(line, "no enabled host", "reason: no enabled host, the line");

	reset();
	host(2, 65536, -1);
	host(16, 1024, -1);
	host(2, 1024, -1);
	host(16, 65536, -1);
	F.h[3].disk = 100;
	F.h[3].used_disk = 90;
	for (i = 0; i < 3; i++) {
		vm(4, 4096, PL_PACK);
		F.v[i].disk = 20;
	}
	run();
	ok(F.r[0].reason == PL_CAPACITY && F.r[0].short_cpu == 2 &&
	    F.r[0].short_memory == 2 && F.r[0].short_disk == 1,
	    "reason: capacity with the hosts short of each (%zu %zu %zu)",
	    F.r[0].short_cpu, F.r[0].short_memory, F.r[0].short_disk);
	ok(F.r[2].reason == PL_CAPACITY && F.r[2].short_cpu == 2,
	    "reason: the same for the same need");
	placement_reason(&F.r[0], &F.v[0], line, sizeof(line));
	is_str(line, "not enough cpu on 2 hosts, memory on 2 hosts, disk on "
	    "1 host", "reason: capacity, the line");

	memset(&r, 0, sizeof(r));
	r.reason = PL_CAPACITY;
	r.short_memory = 3;
	placement_reason(&r, NULL, line, sizeof(line));
	is_str(line, "not enough memory on 3 hosts", "reason: one resource");
	placement_reason(&r, NULL, line, 12);
	ok(strlen(line) < 12, "reason: a short buffer is not overrun");
	r.reason = PL_PLACED;
	placement_reason(&r, NULL, line, sizeof(line));
	is_str(line, "placed", "reason: placed");
	r.reason = PL_REQUIREMENTS;
	placement_reason(&r, NULL, line, sizeof(line));
	is_str(line, "no host passes the requirements", "reason: "
	    "requirements without an expression");
}

static void
test_priority(void)
{
	reset();
	host(4, 4096, -1);
	vm(4, 1024, PL_PACK);
	vm(4, 1024, PL_PACK);
	F.v[1].priority = 5;
	vm(2, 512, PL_SPREAD);
	vm(2, 512, PL_SPREAD);
	F.v[2].priority = -1;
	F.v[3].priority = -1;
	run();
	ok(at(1, 0) && F.r[0].reason == PL_CAPACITY, "priority: higher "
	    "first, whatever the input order");
	ok(F.r[2].reason == PL_CAPACITY && F.r[3].reason == PL_CAPACITY,
	    "priority: the lowest last");

	reset();
	host(4, 4096, -1);
	vm(2, 512, PL_SPREAD);
	vm(4, 512, PL_SPREAD);
	vm(2, 512, PL_SPREAD);
	run();
	ok(at(0, 0) && at(2, 0) && F.r[1].reason == PL_CAPACITY,
	    "priority: input order within one (spread)");

	reset();
	host(4, 4096, -1);
	vm(2, 512, PL_PACK);
	vm(4, 512, PL_PACK);
	vm(2, 512, PL_PACK);
	run();
	ok(at(1, 0) && F.r[0].reason == PL_CAPACITY, "priority: pack "
	    "takes the largest first within one");
}

static unsigned long rng = 12345;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33) % n;
}

/* Uniform hosts of 32 cpu and 64 GiB; mixed VMs with correlated memory. */
static long long
mixed(size_t nh, size_t nv, enum pl_policy p, bool groups)
{
	static const int cpus[] = { 1, 2, 4, 8 };
	long long cpu = 0, mem = 0, lb;
	size_t i;

	reset();
	for (i = 0; i < nh; i++)
		host(32, 65536, (int)(i % 3));
	if (groups) {
		F.g[0].anti = true;
		F.g[1].anti = false;
		F.in.ngroups = 2;
	}
	for (i = 0; i < nv; i++) {
		int c = cpus[rnd(4)];
		long long m = 512LL << rnd(4);

		m = m * c > 16384 ? 16384 : m * c;
		vm(c, m, p);
		if (groups && i % 100 == 0)
			F.v[i].group = 0;
		if (groups && i % 250 == 1)
			F.v[i].group = 1;
		cpu += c;
		mem += m;
	}
	lb = (cpu + 31) / 32;
	if ((mem + 65535) / 65536 > lb)
		lb = (mem + 65535) / 65536;
	return lb;
}

static size_t
hosts_used(void)
{
	size_t i, n = 0;

	for (i = 0; i < F.in.nhosts; i++)
		n += F.h[i].running_vms > 0;
	return n;
}

static void
test_properties(void)
{
	size_t round, i, placed;
	long long lb;
	bool pack_ok = true, cap_ok = true, spread_ok = true, all = true;

	for (round = 0; round < 20; round++) {
		lb = mixed(MAXH, 200 + 40 * round, PL_PACK, round % 2);
		run();
		for (i = 0, placed = 0; i < F.in.nvms; i++)
			placed += F.r[i].reason == PL_PLACED;
		if (placed != F.in.nvms)
			printf("# round %zu: %zu of %zu placed\n", round,
			    placed, F.in.nvms);
		all = all && placed == F.in.nvms;
		cap_ok = cap_ok && within_capacity();
		if ((double)hosts_used() > ceil(1.03 * (double)lb)) {
			printf("# round %zu: %zu hosts, lower bound %lld\n",
			    round, hosts_used(), lb);
			pack_ok = false;
		}
	}
	ok(all, "properties: every generated VM placed");
	ok(pack_ok, "properties: pack within 3%% of the lower bound");
	ok(cap_ok, "properties: capacity never exceeded");

	for (round = 0; round < 20; round++) {
		int lo = 1 << 30, hi = 0;

		reset();
		for (i = 0; i < 10 + round; i++)
			host(64, 131072, -1);
		for (i = 0; i < 37 * (round + 1); i++)
			vm(2, 2048, PL_SPREAD);
		run();
		for (i = 0; i < F.in.nhosts; i++) {
			lo = F.h[i].running_vms < lo ? F.h[i].running_vms : lo;
			hi = F.h[i].running_vms > hi ? F.h[i].running_vms : hi;
		}
		spread_ok = spread_ok && hi - lo <= 1;
	}
	ok(spread_ok, "properties: spread within one VM on uniform work");

	mixed(MAXH, MAXV, PL_SPREAD, true);
	run();
	ok(within_capacity(), "properties: capacity kept when overfull");
}

static double
ref_share(const struct pl_host *h)
{
	double c = (double)h->used_cpu / (double)h->cpu;
	double m = (double)h->used_memory / (double)h->memory;

	return c > m ? c : m;
}

static double
ref_key(const struct pl_vm *v, const struct pl_host *h)
{
	switch (v->policy) {
	case PL_SPREAD:
		return -ref_share(h);
	case PL_LOAD:
		return h->attr.load < 0 ? -100 : -h->attr.load;
	default:
		return expr_rank(v->rank, &h->attr);
	}
}

/* The obvious placer, hosts x VMs, for policies whose order is the
 * input's: the engine's trees must choose exactly as it does. */
static void
reference(struct pl_host *h, size_t nh, const struct pl_vm *v, size_t nv,
    long *where)
{
	size_t i, k, j;
	int prio;

	for (i = 0; i < nh; i++) {
		h[i].attr.cpu = (double)h[i].cpu;
		h[i].attr.memory = (double)h[i].memory;
		h[i].attr.free_cpu = (double)(h[i].cpu - h[i].used_cpu);
		h[i].attr.free_memory = (double)(h[i].memory -
		    h[i].used_memory);
	}
	for (prio = 3; prio >= 0; prio--)
		for (i = 0; i < nv; i++) {
			long best = -1;
			double bk = 0, key;

			if (v[i].priority != prio)
				continue;
			for (k = 0; k < nh; k++) {
				if (!h[k].enabled || h[k].cpu - h[k].used_cpu <
				    v[i].cpu || h[k].memory - h[k].used_memory <
				    v[i].memory || (v[i].requirements &&
				    !expr_test(v[i].requirements, &h[k].attr)))
					continue;
				key = ref_key(&v[i], &h[k]);
				if (best < 0 || key > bk) {
					best = (long)k;
					bk = key;
				}
			}
			where[i] = best;
			if (best < 0)
				continue;
			j = (size_t)best;
			h[j].used_cpu += v[i].cpu;
			h[j].used_memory += v[i].memory;
			h[j].running_vms++;
			h[j].attr.free_cpu = (double)(h[j].cpu - h[j].used_cpu);
			h[j].attr.free_memory = (double)(h[j].memory -
			    h[j].used_memory);
			h[j].attr.running_vms = h[j].running_vms;
		}
}

static void
test_reference(void)
{
	static struct pl_host copy[MAXH];
	static long where[MAXV];
	struct expr *e[] = { ex("labels.zone == \"a\""), ex("labels.zone "
	    "!= \"c\""), ex("free_cpu >= 6"), ex("free_memory"), ex("cpu") };
	enum pl_policy pol[] = { PL_SPREAD, PL_LOAD, PL_RANK };
	static struct expr *own[MAXV];
	char src[64];
	size_t round, i, bad;

	/* rounds 12..14: an expression of its own per VM, so that every
	 * class has one VM and the engine scans instead of using trees */
	for (round = 0; round < 15; round++) {
		reset();
		for (i = 0; i < 100; i++) {
			host(8 << rnd(3), 8192LL << rnd(3), (int)rnd(4) - 1);
			F.h[i].enabled = rnd(10) != 0;
			F.h[i].attr.load = (double)rnd(120) - 10;
			F.h[i].used_cpu = rnd(4);
		}
		for (i = 0; i < 1500; i++) {
			vm(1 << rnd(3), 512LL << rnd(5), pol[round % 3]);
			F.v[i].priority = (int)rnd(4);
			F.v[i].requirements = rnd(2) ? e[rnd(3)] : NULL;
			F.v[i].rank = e[3 + round / 3 % 2];
			if (round >= 12) {
				snprintf(src, sizeof(src), "cpu >= %u.%06zu",
				    8 << rnd(3), i);
				own[i] = ex(src);
				F.v[i].requirements = own[i];
			}
		}
		memcpy(copy, F.h, sizeof(copy));
		reference(copy, F.in.nhosts, F.v, F.in.nvms, where);
		run();
		for (i = 0, bad = 0; i < F.in.nvms; i++)
			if (F.r[i].reason == PL_PLACED ? where[i] !=
			    (long)F.r[i].host : where[i] >= 0)
				bad++;
		ok(bad == 0, "reference: %s%s%s, %zu of %zu choices differ",
		    round % 3 == 0 ? "spread" : round % 3 == 1 ? "load" :
		    "rank ", round % 3 != 2 ? "" : round / 3 % 2 ?
		    "cpu" : "free_memory", round >= 12 ? " (scans)" : "",
		    bad, F.in.nvms);
		for (i = 0; round >= 12 && i < F.in.nvms; i++)
			expr_free(own[i]);
	}
	for (i = 0; i < ARRAY_LEN(e); i++)
		expr_free(e[i]);
}

/* Replay moves, checking each against capacity; returns hosts in use. */
static size_t
replay(size_t *where, const struct pl_move *m, int n, bool *valid)
{
	size_t i, used = 0;
	int k;

	*valid = true;
	for (k = 0; k < n; k++) {
		const struct pl_vm *v = &F.v[m[k].vm];
		struct pl_host *from = &F.h[where[m[k].vm]], *to =
		    &F.h[m[k].host];

		from->used_cpu -= v->cpu;
		from->used_memory -= v->memory;
		from->running_vms--;
		to->used_cpu += v->cpu;
		to->used_memory += v->memory;
		to->running_vms++;
		where[m[k].vm] = m[k].host;
		*valid = *valid && within_capacity() && to->enabled;
	}
	for (i = 0; i < F.in.nhosts; i++)
		used += F.h[i].running_vms > 0;
	return used;
}

/* Put VM v on host h as already running there. */
static void
put(size_t *where, size_t v, size_t h)
{
	where[v] = h;
	F.h[h].used_cpu += F.v[v].cpu;
	F.h[h].used_memory += F.v[v].memory;
	F.h[h].running_vms++;
}

static void
test_rebalance_pack(void)
{
	struct expr *a = ex("labels.zone == \"a\"");
	struct pl_move *m = NULL;
	size_t where[16];
	bool valid;
	int n;

	reset();
	host(8, 8192, 0);
	host(8, 8192, 0);
	host(8, 8192, 1);
	host(8, 8192, 0);
	put(where, vm(4, 2048, PL_PACK), 0);
	put(where, vm(2, 2048, PL_PACK), 1);
	put(where, vm(1, 1024, PL_PACK), 1);
	put(where, vm(2, 1024, PL_PACK), 2);
	put(where, vm(4, 4096, PL_PACK), 3);
	F.v[4].requirements = a;
	n = placement_rebalance(&F.in, where, PL_PACK, -1, &m);
	ok(n == 2, "rebalance pack: two moves (got %d)", n);
	ok(replay(where, m, n, &valid) == 2 && valid, "rebalance pack: two "
	    "hosts emptied, every step within capacity");
	ok(where[4] == 1 && where[3] == 0,
	    "rebalance pack: requirements kept");
	free(m);

	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	host(8, 8192, -1);
	put(where, vm(4, 2048, PL_PACK), 0);
	put(where, vm(1, 1024, PL_PACK), 1);
	put(where, vm(1, 1024, PL_PACK), 1);
	put(where, vm(1, 1024, PL_PACK), 2);
	n = placement_rebalance(&F.in, where, PL_PACK, 1, &m);
	ok(n == 1 && m[0].vm == 3 && m[0].host == 0, "rebalance pack: "
	    "max_moves 1 empties the host one move frees");
	free(m);
	n = placement_rebalance(&F.in, where, PL_PACK, 0, &m);
	ok(n == 0 && m == NULL, "rebalance pack: max_moves 0 moves nothing");

	/* anti-affinity: the group's VMs may not share a host */
	reset();
	host(8, 8192, -1);
	host(8, 8192, -1);
	F.g[0].anti = true;
	F.in.ngroups = 1;
	put(where, vm(1, 512, PL_PACK), 0);
	put(where, vm(1, 512, PL_PACK), 1);
	F.v[0].group = F.v[1].group = 0;
	n = placement_rebalance(&F.in, where, PL_PACK, -1, &m);
	ok(n == 0, "rebalance pack: anti-affinity holds");
	free(m);
	expr_free(a);
}

static void
test_rebalance_spread(void)
{
	struct pl_move *m = NULL;
	size_t where[64], i;
	bool valid;
	int n, lo = 99, hi = 0;

	reset();
	for (i = 0; i < 4; i++)
		host(16, 16384, -1);
	for (i = 0; i < 7; i++)
		put(where, vm(2, 1024, PL_SPREAD), 0);
	put(where, vm(2, 1024, PL_SPREAD), 1);
	n = placement_rebalance(&F.in, where, PL_SPREAD, -1, &m);
	replay(where, m, n, &valid);
	for (i = 0; i < 4; i++) {
		lo = F.h[i].running_vms < lo ? F.h[i].running_vms : lo;
		hi = F.h[i].running_vms > hi ? F.h[i].running_vms : hi;
	}
	ok(valid && hi - lo <= 1 && n == 5, "rebalance spread: within one "
	    "VM in 5 moves (%d moves, %d..%d)", n, lo, hi);
	free(m);

	reset();
	for (i = 0; i < 4; i++)
		host(16, 16384, -1);
	for (i = 0; i < 8; i++)
		put(where, vm(2, 1024, PL_SPREAD), 0);
	n = placement_rebalance(&F.in, where, PL_SPREAD, 2, &m);
	ok(n == 2 && m[0].host != m[1].host, "rebalance spread: max_moves "
	    "2, to two hosts");
	free(m);
	n = placement_rebalance(&F.in, where, PL_LOAD, -1, &m);
	ok(n == 0 && m == NULL, "rebalance: other policies move nothing");
}

int
main(void)
{
	test_pack();
	test_spread();
	test_load();
	test_rank();
	test_requirements();
	test_affinity();
	test_anti();
	test_reasons();
	test_priority();
	test_properties();
	test_reference();
	test_rebalance_pack();
	test_rebalance_spread();
	return tap_done();
}
