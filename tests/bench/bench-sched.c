/*
 * bench-sched - times one placement pass over a generated cloud.
 *
 *   bench-sched [-h HOSTS] [-v VMS] [-p pack|spread|load|rank] [-s SEED]
 *       [-u] [-r]
 *
 * Hosts: 64 cpu and 256 GiB each, in zones a, b, c (round robin), every
 * other one labelled ssd=yes, loads spread over 0..99.  VMs: cpu 1, 2, 4
 * or 8 with 512 MiB to 4 GiB per cpu (at most 16 GiB); 60% without
 * requirements, 10% each labels.zone == "a" / "b" / "c" and
 * labels.ssd == "yes" (shared expressions); 3 of every 40 in an
 * anti-affinity group, 2 of every 40 in an affinity group.  -u: uniform
 * work instead (2 cpu, 4 GiB, no requirements, no groups).
 *
 * Prints one line: sched: hosts=H vms=V placed=P seconds=S peak_mb=M
 * hosts_used=U lower_bound=L (S is placement_run's wall time alone, M the
 * process's peak resident size, L the larger of total cpu and total memory
 * over one host's).  -r adds the count of each reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "expr.h"
#include "placement.h"
#include "xalloc.h"
#include "compat.h"

#define HOST_CPU 64
#define HOST_MEM (256LL * 1024)

static const char *const zone_key[] = { "ssd", "zone" };
static const char *const zone_val[3][2] = {
	{ "no", "a" }, { "no", "b" }, { "no", "c" },
};
static const char *const zone_ssd[3][2] = {
	{ "yes", "a" }, { "yes", "b" }, { "yes", "c" },
};
static const char *const reqs[] = {
	"labels.zone == \"a\"", "labels.zone == \"b\"",
	"labels.zone == \"c\"", "labels.ssd == \"yes\"",
};

static unsigned long long rng;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng >> 33) % n;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-sched [-h HOSTS] [-v VMS] "
	    "[-p pack|spread|load|rank] [-s SEED] [-u] [-r]\n");
	exit(2);
}

static long
number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 0)
		usage();
	return v;
}

static void
make_hosts(struct pl_host *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h[i].id = (long long)i + 1;
		h[i].enabled = true;
		h[i].cpu = HOST_CPU;
		h[i].memory = HOST_MEM;
		h[i].disk = -1;
		h[i].attr.name = "host";
		h[i].attr.cluster = "";
		h[i].attr.hypervisor = "kvm";
		h[i].attr.load = rnd(100);
		h[i].attr.label_keys = zone_key;
		h[i].attr.label_values = i % 2 ? zone_ssd[i % 3] :
		    zone_val[i % 3];
		h[i].attr.nlabels = 2;
	}
}

static void
make_vms(struct pl_vm *v, size_t n, enum pl_policy p, bool uniform,
    struct expr **req, struct expr *rank, struct pl_group *g,
    size_t *ngroups)
{
	static const int cpus[] = { 1, 2, 4, 8 };
	size_t i;
	unsigned k;

	for (i = 0; i < n; i++) {
		v[i].id = (long long)i + 1;
		v[i].policy = p;
		v[i].rank = rank;
		v[i].group = -1;
		if (uniform) {
			v[i].cpu = 2;
			v[i].memory = 4096;
			continue;
		}
		v[i].cpu = cpus[rnd(4)];
		v[i].memory = (512LL << rnd(4)) * v[i].cpu;
		if (v[i].memory > 16384)
			v[i].memory = 16384;
		k = rnd(10);
		v[i].requirements = k < 4 ? req[k] : NULL;
		/* consecutive VMs form groups, as a tier is created */
		if (i % 40 < 3 || (i % 40 >= 10 && i % 40 < 12)) {
			if (i % 40 == 0 || i % 40 == 10) {
				g[*ngroups].name = "g";
				g[*ngroups].anti = i % 40 == 0;
				(*ngroups)++;
			}
			v[i].group = (int)*ngroups - 1;
			/* a group shares its requirements */
			if (i % 40 != 0 && i % 40 != 10)
				v[i].requirements = v[i - 1].requirements;
		}
	}
}

int
main(int argc, char **argv)
{
	size_t nh = 10000, nv = 100000, i, placed = 0, used = 0;
	enum pl_policy p = PL_PACK;
	bool uniform = false;
	struct expr *req[4], *rank;
	struct pl_input in = { 0 };
	struct pl_result *out;
	struct pl_group *g;
	struct timespec t0, t1;
	struct rusage ru;
	struct cerr err = { 0 };
	long long cpu = 0, mem = 0, lb;
	size_t why[PL_ANTI_AFFINITY + 1] = { 0 };
	bool verbose = false;
	int c;

	rng = 42;
	while ((c = getopt(argc, argv, "h:v:p:s:ur")) != -1) {
		switch (c) {
		case 'h': nh = (size_t)number(optarg); break;
		case 'v': nv = (size_t)number(optarg); break;
		case 's': rng = (unsigned long long)number(optarg); break;
		case 'u': uniform = true; break;
		case 'r': verbose = true; break;
		case 'p':
			if (strcmp(optarg, "pack") == 0)
				p = PL_PACK;
			else if (strcmp(optarg, "spread") == 0)
				p = PL_SPREAD;
			else if (strcmp(optarg, "load") == 0)
				p = PL_LOAD;
			else if (strcmp(optarg, "rank") == 0)
				p = PL_RANK;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	for (i = 0; i < 4; i++)
		if (expr_compile(reqs[i], &req[i], &err) != 0)
			goto fail;
	if (expr_compile("free_memory", &rank, &err) != 0)
		goto fail;
	in.hosts = xcalloc(nh ? nh : 1, sizeof(*in.hosts));
	in.nhosts = nh;
	in.vms = xcalloc(nv ? nv : 1, sizeof(*in.vms));
	in.nvms = nv;
	g = xcalloc(nv / 20 + 1, sizeof(*g));
	in.groups = g;
	make_hosts(in.hosts, nh);
	make_vms((struct pl_vm *)in.vms, nv, p, uniform, req, rank, g,
	    &in.ngroups);
	out = xcalloc(nv ? nv : 1, sizeof(*out));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (placement_run(&in, out) != 0) {
		fprintf(stderr, "bench-sched: out of memory\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (i = 0; i < nv; i++) {
		cpu += in.vms[i].cpu;
		mem += in.vms[i].memory;
		placed += out[i].reason == PL_PLACED;
		why[out[i].reason]++;
	}
	for (i = 0; i < nh; i++)
		used += in.hosts[i].running_vms > 0;
	lb = (cpu + HOST_CPU - 1) / HOST_CPU;
	if ((mem + HOST_MEM - 1) / HOST_MEM > lb)
		lb = (mem + HOST_MEM - 1) / HOST_MEM;
	getrusage(RUSAGE_SELF, &ru);
	printf("sched: hosts=%zu vms=%zu placed=%zu seconds=%.3f peak_mb=%ld "
	    "hosts_used=%zu lower_bound=%lld\n", nh, nv, placed,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	    ru.ru_maxrss / 1024, used, lb);
	if (verbose)
		fprintf(stderr, "pending: no_hosts=%zu requirements=%zu "
		    "capacity=%zu affinity=%zu anti_affinity=%zu\n",
		    why[PL_NO_HOSTS], why[PL_REQUIREMENTS], why[PL_CAPACITY],
		    why[PL_AFFINITY], why[PL_ANTI_AFFINITY]);
	return 0;
fail:
	fprintf(stderr, "bench-sched: %s\n", err.msg);
	return 1;
}
