/*
 * hv.c - adapter: hypervisors over libvirt: connections within a
 * deadline, the keepalive loop, the node, and libvirt's errors turned
 * into ours.  The hv family (hv.c, hv-dom.c, hv-pool.c, hv-net.c) alone
 * includes <libvirt/libvirt.h> and <libvirt/virterror.h>.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"
#include "hv-int.h"
#include "mono.h"
#include "xalloc.h"
#include "compat.h"

static pthread_once_t hv_once = PTHREAD_ONCE_INIT;

/* libvirt prints every error on stderr by default; ours are reported once,
 * by the face, with libvirt's text kept in the message. */
static void
quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

/*
 * Deadlines.  A host that accepts the connection and never answers (a
 * stopped libvirtd, a frozen machine, a half-open TCP path) would hold a
 * libvirt call forever, so:
 *  - the open (libvirt's own first RPCs) runs in a thread of its own and
 *    the caller gives up at the deadline, leaving the thread behind, stuck
 *    in the dead socket; it closes what it opened if it ever returns;
 *  - every connection then has libvirt's keepalive on: a ping after
 *    interval seconds of silence, the connection closed after count
 *    pings go unanswered, which fails the call in progress (and every
 *    later one) as unreachable.  A long call whose host keeps answering
 *    pings (a migration, an upload) runs as long as it needs.
 * Keepalive needs libvirt's event loop, run here by one thread per
 * process from the first connection on; the console uses it too.
 */
static pthread_mutex_t hv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hv_cv;		/* an open finished */
int hv_loop_runs;		/* keepalive can work */

static void *
hv_loop(void *arg)
{
	(void)arg;
	while (virEventRunDefaultImpl() == 0)
		;
	return NULL;
}

/* Start a detached thread that takes no signals: they stay the main
 * thread's, as the programs expect (csched pass --loop, the console). */
static int
hv_thread(void *(*run)(void *), void *arg)
{
	sigset_t all, old;
	pthread_attr_t ta;
	pthread_t t;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &ta, run, arg);
	pthread_attr_destroy(&ta);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
hv_init(void)
{
	virInitialize();
	virSetErrorFunc(NULL, quiet);
	mono_cond_init(&hv_cv);
	/* the event loop must exist before the first connection opens */
	if (virEventRegisterDefaultImpl() < 0) {
		virResetLastError();
		return;
	}
	hv_loop_runs = hv_thread(hv_loop, NULL) == 0;
}

int
hv_timeout(double *seconds, struct cerr *err)
{
	const char *s = getenv("CLOUDOS_HOST_TIMEOUT");
	char *end = NULL;
	double v;

	*seconds = HV_TIMEOUT_DEFAULT;
	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0 && v <= 3600))
		return cerr_set(err, CERR_USAGE, "CLOUDOS_HOST_TIMEOUT: "
		    "expected seconds above 0 and at most 3600, found '%s'", s);
	*seconds = v;
	return 0;
}

/* Translate libvirt's last error once: code first, then our words. */
int
hv_fail(struct hv *hv, struct cerr *err, const char *fmt, ...)
{
	va_list ap;
	virErrorPtr e = virGetLastError();
	char what[256], msg[1024];
	int code = CERR_FAIL;

	/* copied now: the next libvirt call (virConnectIsAlive below)
	 * resets the error it points into */
	snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message :
	    "unknown error");

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e) {
		switch (e->code) {
		case VIR_ERR_NO_DOMAIN:
		case VIR_ERR_NO_STORAGE_POOL:
		case VIR_ERR_NO_STORAGE_VOL:
		case VIR_ERR_NO_NWFILTER:
			code = CERR_NOTFOUND;
			break;
		case VIR_ERR_OPERATION_INVALID:
		case VIR_ERR_OPERATION_DENIED:
			code = CERR_CONFLICT;
			break;
		case VIR_ERR_NO_CONNECT:
		case VIR_ERR_INVALID_CONN:
		case VIR_ERR_RPC:
		case VIR_ERR_AUTH_FAILED:
		case VIR_ERR_AUTH_UNAVAILABLE:
			code = CERR_UNREACHABLE;
			break;
		case VIR_ERR_SYSTEM_ERROR:
			if (e->domain == VIR_FROM_RPC ||
			    e->domain == VIR_FROM_REMOTE)
				code = CERR_UNREACHABLE;
			break;
		default:
			break;
		}
		/* a connection that died under us */
		if (hv && hv->conn && virConnectIsAlive(hv->conn) == 0)
			code = CERR_UNREACHABLE;
	}
	if (code == CERR_UNREACHABLE)
		cerr_set(err, code, "%s: host %s is unreachable (%s)", what,
		    hv ? hv->uri : "?", msg);
	else
		cerr_set(err, code, "%s: %s", what, msg);
	virResetLastError();
	return code;
}

/* One open, shared by the caller and the thread doing it (hv_mu guards
 * done and refs); whichever lets go last frees it. */
struct hv_open {
	char *uri;
	int interval;		/* keepalive */
	virConnectPtr conn;
	char msg[900];		/* libvirt's text when the open failed */
	int done, refs;
};

static void
open_release(struct hv_open *o)
{
	int gone;

	pthread_mutex_lock(&hv_mu);
	gone = --o->refs == 0;
	pthread_mutex_unlock(&hv_mu);
	if (!gone)
		return;
	if (o->conn)
		virConnectClose(o->conn);
	free(o->uri);
	free(o);
}

static void *
open_thread(void *arg)
{
	struct hv_open *o = arg;
	virConnectPtr conn;

	conn = virConnectOpenAuth(o->uri, virConnectAuthPtrDefault, 0);
	if (conn == NULL) {
		snprintf(o->msg, sizeof(o->msg), "%s",
		    virGetLastErrorMessage());
	} else if (hv_loop_runs &&
	    virConnectSetKeepAlive(conn, o->interval, 2) < 0) {
		/* drivers that are not remote have no keepalive, and
		 * need none: they run in this process */
		virResetLastError();
	}
	virResetLastError();
	pthread_mutex_lock(&hv_mu);
	o->conn = conn;
	o->done = 1;
	pthread_cond_broadcast(&hv_cv);
	pthread_mutex_unlock(&hv_mu);
	open_release(o);
	return NULL;
}

int
hv_connect_all(const char *const *uris, size_t n, struct hv **out,
    struct cerr *errs)
{
	struct hv_open **os = xcalloc(n + 1, sizeof(*os));
	struct timespec deadline;
	struct cerr terr = { 0 };
	double secs;
	size_t i, failed = 0;
	long ms;

	pthread_once(&hv_once, hv_init);
	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (hv_timeout(&secs, &terr)) {
		for (i = 0; i < n; i++)
			errs[i] = terr;
		free(os);
		return terr.code;
	}
	ms = (long)(secs * 1000);
	deadline = mono_after_ms(ms);
	for (i = 0; i < n; i++) {
		os[i] = xcalloc(1, sizeof(*os[i]));
		os[i]->uri = xstrdup(uris[i]);
		/* dead after about the deadline: three silent intervals */
		os[i]->interval = secs >= 4.5 ? (int)(secs / 3 + 0.5) : 1;
		os[i]->refs = 2;
		if (hv_thread(open_thread, os[i]) != 0) {
			os[i]->refs = 1;
			snprintf(os[i]->msg, sizeof(os[i]->msg), "no thread "
			    "to connect with");
			os[i]->done = 1;
		}
	}
	pthread_mutex_lock(&hv_mu);
	for (i = 0; i < n; i++)
		while (!os[i]->done && pthread_cond_timedwait(&hv_cv, &hv_mu,
		    &deadline) != ETIMEDOUT)
			;
	for (i = 0; i < n; i++) {
		struct hv_open *o = os[i];

		memset(&errs[i], 0, sizeof(errs[i]));
		if (o->done && o->conn) {
			out[i] = xcalloc(1, sizeof(*out[i]));
			out[i]->conn = o->conn;
			out[i]->uri = xstrdup(o->uri);
			o->conn = NULL;
		} else if (o->done) {
			cerr_set(&errs[i], CERR_UNREACHABLE, "cannot connect "
			    "to '%s': %s", o->uri, o->msg);
		} else {
			/* still stuck: the thread keeps the open */
			cerr_set(&errs[i], CERR_UNREACHABLE, "cannot connect "
			    "to '%s': no answer within %g s", o->uri, secs);
		}
		if (errs[i].code)
			failed++;
	}
	pthread_mutex_unlock(&hv_mu);
	for (i = 0; i < n; i++)
		open_release(os[i]);
	free(os);
	return failed ? CERR_UNREACHABLE : 0;
}

int
hv_connect(const char *uri, struct hv **out, struct cerr *err)
{
	struct cerr e = { 0 };

	if (hv_connect_all(&uri, 1, out, &e))
		return cerr_set(err, e.code, "%s", e.msg);
	return 0;
}

void
hv_close(struct hv *hv)
{
	if (hv == NULL)
		return;
	if (hv->conn)
		virConnectClose(hv->conn);
	free(hv->uri);
	free(hv);
}

int
hv_node_info(struct hv *hv, struct hv_node *node, struct cerr *err)
{
	virNodeInfo info;
	const char *type;
	char *caps = NULL, *host = NULL;
	size_t i;

	memset(node, 0, sizeof(*node));
	if (virNodeGetInfo(hv->conn, &info) < 0)
		return hv_fail(hv, err, "cannot read node info of '%s'",
		    hv->uri);
	node->cpu = (int)info.cpus;
	node->memory = (long long)(info.memory / 1024);
	if ((type = virConnectGetType(hv->conn)) == NULL)
		return hv_fail(hv, err, "cannot read hypervisor type of '%s'",
		    hv->uri);
	snprintf(node->hypervisor, sizeof(node->hypervisor), "%s", type);
	for (i = 0; node->hypervisor[i]; i++)
		node->hypervisor[i] = (char)tolower(
		    (unsigned char)node->hypervisor[i]);
	if ((host = virConnectGetHostname(hv->conn)) != NULL) {
		snprintf(node->hostname, sizeof(node->hostname), "%s", host);
		free(host);
	} else {
		virResetLastError();
	}
	/* domains of a qemu host use kvm where the host has it, else TCG */
	snprintf(node->domain_type, sizeof(node->domain_type), "%s",
	    node->hypervisor);
	if (strcmp(node->hypervisor, "qemu") == 0) {
		if ((caps = virConnectGetCapabilities(hv->conn)) == NULL)
			return hv_fail(hv, err, "cannot read capabilities of "
			    "'%s'", hv->uri);
		if (strstr(caps, "<domain type='kvm'"))
			snprintf(node->domain_type,
			    sizeof(node->domain_type), "kvm");
		free(caps);
	}
	return 0;
}

/* Busy and total CPU time of the host, in ns; -1 when unknown. */
static int
cpu_times(struct hv *hv, unsigned long long *busy, unsigned long long *total)
{
	virNodeCPUStatsPtr params = NULL;
	int n = 0, i, rc = -1;

	*busy = *total = 0;
	if (virNodeGetCPUStats(hv->conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL,
	    &n, 0) < 0 || n <= 0)
		goto out;
	params = xcalloc((size_t)n, sizeof(*params));
	if (virNodeGetCPUStats(hv->conn, VIR_NODE_CPU_STATS_ALL_CPUS, params,
	    &n, 0) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (strcmp(params[i].field, VIR_NODE_CPU_STATS_KERNEL) == 0 ||
		    strcmp(params[i].field, VIR_NODE_CPU_STATS_USER) == 0) {
			*busy += params[i].value;
			*total += params[i].value;
		} else if (strcmp(params[i].field,
		    VIR_NODE_CPU_STATS_IDLE) == 0 || strcmp(params[i].field,
		    VIR_NODE_CPU_STATS_IOWAIT) == 0) {
			*total += params[i].value;
		}
	}
	rc = 0;
out:
	if (rc)
		virResetLastError();
	free(params);
	return rc;
}

static void
dom_stats(struct hv *hv, struct hv_stats *st)
{
	virDomainStatsRecordPtr *recs = NULL;
	int n, i, j;

	n = virConnectGetAllDomainStats(hv->conn, VIR_DOMAIN_STATS_CPU_TOTAL |
	    VIR_DOMAIN_STATS_BALLOON, &recs,
	    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
	if (n < 0) {
		/* drivers without domain stats: the host still answered */
		virResetLastError();
		return;
	}
	st->doms = xcalloc((size_t)n + 1, sizeof(*st->doms));
	for (i = 0; i < n; i++) {
		struct hv_dom_stats *d = &st->doms[st->ndoms];
		unsigned long long v;

		if (virDomainGetUUIDString(recs[i]->dom, d->uuid) < 0) {
			virResetLastError();
			continue;
		}
		d->cpu_time = d->memory = d->rss = -1;
		for (j = 0; j < recs[i]->nparams; j++) {
			virTypedParameterPtr p = &recs[i]->params[j];

			if (p->type != VIR_TYPED_PARAM_ULLONG)
				continue;
			v = p->value.ul;
			if (strcmp(p->field, "cpu.time") == 0)
				d->cpu_time = (long long)v;
			else if (strcmp(p->field, "balloon.current") == 0)
				d->memory = (long long)(v / 1024);
			else if (strcmp(p->field, "balloon.rss") == 0)
				d->rss = (long long)(v / 1024);
		}
		st->ndoms++;
	}
	virDomainStatsRecordListFree(recs);
}

int
hv_poll(struct hv *hv, int sample_ms, struct hv_stats *st, struct cerr *err)
{
	unsigned long long b0, t0, b1, t1, free_bytes;
	struct timespec pause = { sample_ms / 1000,
	    (long)(sample_ms % 1000) * 1000000L };
	int sampled;

	virNodeInfo info;

	memset(st, 0, sizeof(*st));
	st->load = -1;
	st->free_memory = -1;
	/* capacity only: capabilities make a qemu host probe its binaries,
	 * which takes seconds, and the domain type does not change */
	if (virNodeGetInfo(hv->conn, &info) < 0)
		return hv_fail(hv, err, "cannot read node info of '%s'",
		    hv->uri);
	st->node.cpu = (int)info.cpus;
	st->node.memory = (long long)(info.memory / 1024);
	sampled = cpu_times(hv, &b0, &t0) == 0;
	if ((free_bytes = virNodeGetFreeMemory(hv->conn)) > 0)
		st->free_memory = (long long)(free_bytes >> 20);
	else
		virResetLastError();
	dom_stats(hv, st);
	if (sampled) {
		nanosleep(&pause, NULL);
		if (cpu_times(hv, &b1, &t1) == 0 && t1 > t0 && b1 >= b0)
			st->load = 100.0 * (double)(b1 - b0) /
			    (double)(t1 - t0);
	}
	/* a connection that died half-way is no answer */
	if (virConnectIsAlive(hv->conn) == 0)
		return cerr_set(err, CERR_UNREACHABLE, "host %s is "
		    "unreachable (the connection dropped)", hv->uri);
	return 0;
}

void
hv_stats_release(struct hv_stats *st)
{
	free(st->doms);
	st->doms = NULL;
	st->ndoms = 0;
}

/* Was libvirt's last error `code`?  Then forget it. */
int
hv_last_error_is(int code)
{
	virErrorPtr e = virGetLastError();

	if (e && e->code == code) {
		virResetLastError();
		return 1;
	}
	return 0;
}
