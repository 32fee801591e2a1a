/*
 * hv.c - adapter over libvirt.  Includes <libvirt/libvirt.h> and
 * <libvirt/virterror.h>; nothing else may.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "buf.h"
#include "fault.h"
#include "hv.h"
#include "mono.h"
#include "xalloc.h"
#include "compat.h"

struct hv {
	virConnectPtr conn;
	char *uri;
};

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
static int hv_loop_runs;		/* keepalive can work */

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
static int hv_fail(struct hv *hv, struct cerr *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
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

static virDomainPtr
lookup(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);

	if (dom == NULL)
		hv_fail(hv, err, "no domain %s", uuid);
	return dom;
}

/* Fault points hv.starting and hv.incoming: a thread that watches a
 * domain, on its own connection, and fires the point as soon as the
 * domain is there paused while libvirt starts it (a start that has not
 * finished; the destination of a migration whose memory has not all
 * arrived).  A test kills the command there every run, not by chance. */
struct pause_watch {
	const char *uri;
	const char *uuid;
	const char *point;
	atomic_int done;
	pthread_t thread;
	int on;
};

static void *
pause_watch_run(void *arg)
{
	struct pause_watch *w = arg;
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	virConnectPtr c = virConnectOpenAuth(w->uri, virConnectAuthPtrDefault,
	    0);
	virDomainPtr dom;
	int st, reason;

	while (c && !atomic_load(&w->done)) {
		if ((dom = virDomainLookupByUUIDString(c, w->uuid)) != NULL) {
			if (virDomainGetState(dom, &st, &reason, 0) == 0 &&
			    st == VIR_DOMAIN_PAUSED)
				fault_point(w->point);
			virDomainFree(dom);
		}
		virResetLastError();
		nanosleep(&pause, NULL);
	}
	if (c)
		virConnectClose(c);
	return NULL;
}

static void
pause_watch_start(struct pause_watch *w, const char *point, const char *uri,
    const char *uuid)
{
	memset(w, 0, sizeof(*w));
	w->uri = uri;
	w->uuid = uuid;
	w->point = point;
	w->on = fault_armed(point) &&
	    pthread_create(&w->thread, NULL, pause_watch_run, w) == 0;
}

static void
pause_watch_stop(struct pause_watch *w)
{
	if (!w->on)
		return;
	atomic_store(&w->done, 1);
	pthread_join(w->thread, NULL);
	w->on = 0;
}

int
hv_deploy(struct hv *hv, const char *xml, struct cerr *err)
{
	virDomainPtr dom;
	struct pause_watch w;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int rc = 0;

	if ((dom = virDomainDefineXML(hv->conn, xml)) == NULL)
		return hv_fail(hv, err, "cannot define domain on '%s'",
		    hv->uri);
	fault_point("hv.define");
	if (virDomainGetUUIDString(dom, uuid) < 0)
		uuid[0] = '\0';
	pause_watch_start(&w, "hv.starting", hv->uri, uuid);
	rc = virDomainCreate(dom);
	pause_watch_stop(&w);
	if (rc < 0) {
		rc = hv_fail(hv, err, "cannot start domain on '%s'", hv->uri);
		if (virDomainUndefine(dom) < 0)
			virResetLastError();
	}
	virDomainFree(dom);
	fault_point("hv.start");
	return rc;
}

int
hv_start(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	struct pause_watch w;
	int rc = 0;

	if (dom == NULL)
		return err->code;
	if (virDomainIsActive(dom) != 1) {
		pause_watch_start(&w, "hv.starting", hv->uri, uuid);
		rc = virDomainCreate(dom);
		pause_watch_stop(&w);
		if (rc < 0)
			rc = hv_fail(hv, err, "cannot start domain %s", uuid);
	}
	virDomainFree(dom);
	return rc;
}

int
hv_poweroff(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0;

	if (dom == NULL)
		return err->code;
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
		rc = hv_fail(hv, err, "cannot power off domain %s", uuid);
	virDomainFree(dom);
	return rc;
}

int
hv_suspend(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0, st, reason;

	if (dom == NULL)
		return err->code;
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
	else if (st != VIR_DOMAIN_PAUSED && virDomainSuspend(dom) < 0)
		rc = hv_fail(hv, err, "cannot suspend domain %s", uuid);
	virDomainFree(dom);
	return rc;
}

int
hv_resume(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0, st, reason;

	if (dom == NULL)
		return err->code;
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
	else if (st == VIR_DOMAIN_PAUSED && virDomainResume(dom) < 0)
		rc = hv_fail(hv, err, "cannot resume domain %s", uuid);
	virDomainFree(dom);
	return rc;
}

int
hv_reboot(struct hv *hv, const char *uuid, int hard, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0;

	if (dom == NULL)
		return err->code;
	if ((hard ? virDomainReset(dom, 0) : virDomainReboot(dom, 0)) < 0)
		rc = hv_fail(hv, err, "cannot reboot domain %s", uuid);
	virDomainFree(dom);
	return rc;
}

int
hv_shutdown(struct hv *hv, const char *uuid, int timeout, int *forced,
    struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	int rc = 0, i, active;

	*forced = 0;
	if (dom == NULL)
		return err->code;
	if (virDomainIsActive(dom) != 1)
		goto out;
	/* a guest that ignores ACPI still gets powered off below */
	if (virDomainShutdown(dom) < 0)
		virResetLastError();
	for (i = 0; i < timeout * 5; i++) {
		if ((active = virDomainIsActive(dom)) == 0)
			goto out;
		if (active < 0) {
			rc = hv_fail(hv, err, "cannot watch domain %s", uuid);
			goto out;
		}
		nanosleep(&pause, NULL);
	}
	if (virDomainIsActive(dom) == 1) {
		*forced = 1;
		if (virDomainDestroy(dom) < 0)
			rc = hv_fail(hv, err, "cannot power off domain %s",
			    uuid);
	}
out:
	virDomainFree(dom);
	return rc;
}

int
hv_migrate(struct hv *src, struct hv *dst, const char *uuid, int live,
    int copy_disks, const char *address, struct cerr *err)
{
	virDomainPtr dom = lookup(src, uuid, err), ddom = NULL;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, rc = 0;
	char *xml = NULL, uri[300];

	if (dom == NULL)
		return err->code;
	if (virDomainIsActive(dom) == 1) {
		unsigned int flags = VIR_MIGRATE_PERSIST_DEST |
		    VIR_MIGRATE_UNDEFINE_SOURCE | (live ? VIR_MIGRATE_LIVE : 0) |
		    (copy_disks == HV_COPY_TOP ? VIR_MIGRATE_NON_SHARED_INC :
		    copy_disks ? VIR_MIGRATE_NON_SHARED_DISK : 0);

		if (address && *address) {
			snprintf(uri, sizeof(uri), "tcp://%s", address);
			if (virTypedParamsAddString(&params, &nparams,
			    &maxparams, VIR_MIGRATE_PARAM_URI, uri) < 0) {
				rc = hv_fail(src, err, "cannot migrate domain "
				    "%s", uuid);
				goto out;
			}
		}
		struct pause_watch w;

		pause_watch_start(&w, "hv.incoming", dst->uri, uuid);
		ddom = virDomainMigrate3(dom, dst->conn, params,
		    (unsigned int)nparams, flags);
		pause_watch_stop(&w);
		if (ddom == NULL)
			rc = hv_fail(src, err, "cannot migrate domain %s to "
			    "'%s'", uuid, dst->uri);
		goto out;
	}
	/* cold: the definition moves; there is no memory to carry */
	if ((xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE |
	    VIR_DOMAIN_XML_SECURE)) == NULL) {
		rc = hv_fail(src, err, "cannot read domain %s", uuid);
		goto out;
	}
	if ((ddom = virDomainDefineXML(dst->conn, xml)) == NULL) {
		rc = hv_fail(dst, err, "cannot define domain %s on '%s'", uuid,
		    dst->uri);
		goto out;
	}
	fault_point("hv.migrate");
	if (virDomainUndefine(dom) < 0)
		rc = hv_fail(src, err, "cannot undefine domain %s on '%s'",
		    uuid, src->uri);
out:
	virTypedParamsFree(params, nparams);
	free(xml);
	if (ddom)
		virDomainFree(ddom);
	virDomainFree(dom);
	return rc;
}

static int last_error_is(int code);

int
hv_remove(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);
	virErrorPtr e;
	int rc = 0;

	if (dom == NULL) {
		e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_DOMAIN) {
			virResetLastError();
			return 0;	/* already gone */
		}
		return hv_fail(hv, err, "cannot look up domain %s", uuid);
	}
	/* a domain that goes meanwhile (a transient one libvirt ends, such
	 * as the copy an unfinished incoming migration left) is gone */
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
		if (!last_error_is(VIR_ERR_NO_DOMAIN))
			rc = hv_fail(hv, err, "cannot power off domain %s",
			    uuid);
		virResetLastError();
		goto out;
	}
	fault_point("hv.destroy");
	if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
	    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
	    VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
	    VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
		/* drivers without those flags (the test driver) */
		virResetLastError();
		if (virDomainUndefine(dom) < 0 &&
		    !last_error_is(VIR_ERR_NO_DOMAIN))
			rc = hv_fail(hv, err, "cannot undefine domain %s",
			    uuid);
		virResetLastError();
	}
out:
	virDomainFree(dom);
	return rc;
}

static enum hv_state state_of(int st, int reason);

int
hv_dom_state(struct hv *hv, const char *uuid, struct hv_dom *d,
    struct cerr *err)
{
	virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);
	virDomainControlInfo ci;
	virErrorPtr e;
	int st, reason, rc = 0;

	memset(d, 0, sizeof(*d));
	if (dom == NULL) {
		e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_DOMAIN) {
			virResetLastError();
			d->state = HV_ABSENT;
			return 0;
		}
		return hv_fail(hv, err, "cannot look up domain %s", uuid);
	}
	if (virDomainGetState(dom, &st, &reason, 0) < 0) {
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
		goto out;
	}
	d->state = state_of(st, reason);
	if (st == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_STARTING_UP)
		d->why = HV_WHY_STARTING;
	else if (st == VIR_DOMAIN_PAUSED &&
	    (reason == VIR_DOMAIN_PAUSED_MIGRATION ||
	    reason == VIR_DOMAIN_PAUSED_POSTCOPY ||
	    reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED))
		d->why = HV_WHY_MIGRATION;
	/* drivers without a control state (the test driver) have no jobs
	 * that outlive a call */
	if (virDomainGetControlInfo(dom, &ci, 0) == 0)
		d->job = ci.state == VIR_DOMAIN_CONTROL_JOB ||
		    ci.state == VIR_DOMAIN_CONTROL_OCCUPIED;
	else
		virResetLastError();
out:
	virDomainFree(dom);
	return rc;
}

static enum hv_state
state_of(int st, int reason)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING: return HV_RUNNING;
	case VIR_DOMAIN_PAUSED: return HV_PAUSED;
	case VIR_DOMAIN_CRASHED: return HV_CRASHED;
	case VIR_DOMAIN_SHUTOFF:
		return reason == VIR_DOMAIN_SHUTOFF_CRASHED ? HV_CRASHED :
		    HV_SHUTOFF;
	default: return HV_OTHER;
	}
}

int
hv_domains(struct hv *hv, void (*each)(void *arg, const char *uuid,
    const char *name, enum hv_state state), void *arg, struct cerr *err)
{
	virDomainPtr *doms = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int n, i, st, reason;

	if ((n = virConnectListAllDomains(hv->conn, &doms, 0)) < 0)
		return hv_fail(hv, err, "cannot list domains of '%s'",
		    hv->uri);
	for (i = 0; i < n; i++) {
		if (virDomainGetUUIDString(doms[i], uuid) == 0 &&
		    virDomainGetState(doms[i], &st, &reason, 0) == 0)
			each(arg, uuid, virDomainGetName(doms[i]),
			    state_of(st, reason));
		else
			virResetLastError();
		virDomainFree(doms[i]);
	}
	free(doms);
	return 0;
}

int
hv_state(struct hv *hv, const char *uuid, enum hv_state *state,
    struct cerr *err)
{
	struct hv_dom d;

	if (hv_dom_state(hv, uuid, &d, err))
		return err->code;
	*state = d.state;
	return 0;
}

const char *
hv_state_name(enum hv_state s)
{
	static const char *const names[] = {
		"absent", "running", "paused", "shutoff", "crashed", "other",
	};

	return names[s];
}

int
hv_save(struct hv *hv, const char *uuid, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0, active;

	if (dom == NULL)
		return err->code;
	if ((active = virDomainIsActive(dom)) < 0) {
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
	} else if (active == 0) {
		/* saved already (a retry), or off with nothing to save */
		if (virDomainHasManagedSaveImage(dom, 0) != 1)
			rc = cerr_set(err, CERR_CONFLICT, "domain %s is off "
			    "and has no saved state", uuid);
	} else if (virDomainManagedSave(dom, VIR_DOMAIN_SAVE_RUNNING) < 0) {
		/* restored running, even when saved while paused */
		rc = hv_fail(hv, err, "cannot save domain %s", uuid);
	}
	virDomainFree(dom);
	return rc;
}

int
hv_has_saved(struct hv *hv, const char *uuid, int *saved, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0;

	*saved = 0;
	if (dom == NULL)
		return err->code;
	if ((*saved = virDomainHasManagedSaveImage(dom, 0)) < 0) {
		*saved = 0;
		rc = hv_fail(hv, err, "cannot read saved state of domain %s",
		    uuid);
	}
	virDomainFree(dom);
	return rc;
}

int
hv_resize(struct hv *hv, const char *uuid, int cpu, long long memory,
    struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	unsigned long kib = (unsigned long)memory * 1024;
	unsigned int cfg = VIR_DOMAIN_AFFECT_CONFIG;
	virDomainInfo info;
	int active, rc = 0, grow;

	if (dom == NULL)
		return err->code;
	if ((active = virDomainIsActive(dom)) < 0 ||
	    virDomainGetInfo(dom, &info) < 0) {
		rc = hv_fail(hv, err, "cannot read domain %s", uuid);
		goto out;
	}
	if (active) {
		/* what libvirt can change on a running guest: vCPUs up to
		 * the boot maximum, memory by balloon below it */
		unsigned int f = VIR_DOMAIN_AFFECT_LIVE | cfg;

		if (cpu > 0 && cpu != (int)info.nrVirtCpu &&
		    virDomainSetVcpusFlags(dom, (unsigned int)cpu, f) < 0) {
			rc = hv_fail(hv, err, "cannot change the vCPUs of "
			    "running domain %s", uuid);
			goto out;
		}
		if (memory > 0 && kib != info.memory &&
		    virDomainSetMemoryFlags(dom, kib, f) < 0)
			rc = hv_fail(hv, err, "cannot change the memory of "
			    "running domain %s", uuid);
		goto out;
	}
	/* off: the maximum and the current size move together, in the
	 * order that keeps current <= maximum at every step */
	if (cpu > 0) {
		grow = cpu > (int)info.nrVirtCpu;
		if ((grow && virDomainSetVcpusFlags(dom, (unsigned int)cpu,
		    cfg | VIR_DOMAIN_VCPU_MAXIMUM) < 0) ||
		    virDomainSetVcpusFlags(dom, (unsigned int)cpu, cfg) < 0 ||
		    (!grow && virDomainSetVcpusFlags(dom, (unsigned int)cpu,
		    cfg | VIR_DOMAIN_VCPU_MAXIMUM) < 0)) {
			rc = hv_fail(hv, err, "cannot change the vCPUs of "
			    "domain %s", uuid);
			goto out;
		}
	}
	if (memory > 0) {
		grow = kib > info.maxMem;
		if ((grow && virDomainSetMemoryFlags(dom, kib,
		    cfg | VIR_DOMAIN_MEM_MAXIMUM) < 0) ||
		    virDomainSetMemoryFlags(dom, kib, cfg) < 0 ||
		    (!grow && virDomainSetMemoryFlags(dom, kib,
		    cfg | VIR_DOMAIN_MEM_MAXIMUM) < 0))
			rc = hv_fail(hv, err, "cannot change the memory of "
			    "domain %s", uuid);
	}
out:
	virDomainFree(dom);
	return rc;
}

/* The console: a stream from the domain's serial port, driven by
 * libvirt's event loop (its thread, see hv_init) together with the
 * terminal.  The callbacks run in that thread; the caller waits for
 * quit.  The state is shared with libvirt, which may call a callback
 * while we remove it: it is freed when the last of the caller and the
 * two callbacks' free functions lets go. */
struct console {
	pthread_mutex_t mu;	/* guards quit, rc, err and refs */
	pthread_cond_t cv;	/* quit was set, or n went down */
	virStreamPtr st;
	int in, out, esc, in_watch, quit, closed, rc, refs;
	struct cerr err;
	char buf[4096];
	size_t n;		/* bytes of buf waiting for the stream */
};

static void
console_release(void *opaque)
{
	struct console *c = opaque;
	int gone;

	pthread_mutex_lock(&c->mu);
	gone = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!gone)
		return;
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* Leave, with the stream's error when failed. */
static void
console_quit(struct console *c, int failed)
{
	if (failed && c->rc == 0)
		c->rc = cerr_set(&c->err, CERR_FAIL, "console stream "
		    "failed: %s", virGetLastErrorMessage());
	c->quit = 1;
	pthread_cond_broadcast(&c->cv);
}

static void
console_stream(virStreamPtr st, int events, void *opaque)
{
	struct console *c = opaque;
	char data[4096];
	int got;

	pthread_mutex_lock(&c->mu);
	if (c->closed)
		goto out;
	if (events & VIR_STREAM_EVENT_READABLE) {
		while ((got = virStreamRecv(st, data, sizeof(data))) > 0) {
			ssize_t off = 0, w;

			while (off < got && (w = write(c->out, data + off,
			    (size_t)(got - off))) > 0)
				off += w;
		}
		if (got == 0 || got == -1) {
			/* 0: the guest's side closed */
			console_quit(c, got == -1);
			goto out;
		}
	}
	if ((events & VIR_STREAM_EVENT_WRITABLE) && c->n > 0) {
		int sent = virStreamSend(st, c->buf, c->n);

		if (sent > 0) {
			memmove(c->buf, c->buf + sent, c->n - (size_t)sent);
			c->n -= (size_t)sent;
			pthread_cond_broadcast(&c->cv);
		} else if (sent == -1) {
			console_quit(c, 1);
			goto out;
		}
	}
	if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) {
		console_quit(c, 0);
		goto out;
	}
	virStreamEventUpdateCallback(st, VIR_STREAM_EVENT_READABLE |
	    (c->n ? VIR_STREAM_EVENT_WRITABLE : 0));
out:
	pthread_mutex_unlock(&c->mu);
}

static void
console_input(int watch, int fd, int events, void *opaque)
{
	struct console *c = opaque;
	ssize_t got, i;
	char data[1024];

	(void)watch;
	pthread_mutex_lock(&c->mu);
	if (c->closed || c->quit || c->n >= sizeof(c->buf))
		goto out;	/* gone, leaving, or the stream is behind */
	got = read(fd, data, sizeof(data) < sizeof(c->buf) - c->n ?
	    sizeof(data) : sizeof(c->buf) - c->n);
	if (got <= 0) {
		if (got == 0 || (errno != EINTR && errno != EAGAIN) ||
		    (events & VIR_EVENT_HANDLE_HANGUP))
			console_quit(c, 0);	/* end of input: as Ctrl-] */
		goto out;
	}
	for (i = 0; i < got; i++) {
		if (data[i] == c->esc) {
			console_quit(c, 0);
			got = i;
			break;
		}
	}
	memcpy(c->buf + c->n, data, (size_t)got);
	c->n += (size_t)got;
	if (c->n)
		virStreamEventUpdateCallback(c->st, VIR_STREAM_EVENT_READABLE |
		    VIR_STREAM_EVENT_WRITABLE);
out:
	pthread_mutex_unlock(&c->mu);
}

int
hv_console(const char *uri, const char *uuid, int in, int out, int esc,
    int force, struct cerr *err)
{
	struct console *c = xcalloc(1, sizeof(*c));
	virDomainPtr dom = NULL;
	virStreamPtr st = NULL;
	struct hv *hv = NULL;
	struct timespec until;
	int watched = 0;

	pthread_mutex_init(&c->mu, NULL);
	mono_cond_init(&c->cv);
	c->in = in;
	c->out = out;
	c->esc = esc;
	c->in_watch = -1;
	c->refs = 1;
	if (hv_connect(uri, &hv, err) != 0)
		goto out;
	if (!hv_loop_runs) {
		cerr_set(err, CERR_FAIL, "no event loop for the console");
		goto out;
	}
	if ((dom = lookup(hv, uuid, err)) == NULL)
		goto out;
	if (virDomainIsActive(dom) != 1) {
		cerr_set(err, CERR_CONFLICT, "domain %s is not running", uuid);
		goto out;
	}
	if ((st = virStreamNew(hv->conn, VIR_STREAM_NONBLOCK)) == NULL ||
	    virDomainOpenConsole(dom, NULL, st, force ?
	    VIR_DOMAIN_CONSOLE_FORCE : VIR_DOMAIN_CONSOLE_SAFE) < 0) {
		hv_fail(hv, err, "cannot open the console of domain %s", uuid);
		goto out;
	}
	/* the callbacks may run as soon as they are added */
	pthread_mutex_lock(&c->mu);
	c->st = st;
	c->refs++;
	if (virStreamEventAddCallback(st, VIR_STREAM_EVENT_READABLE,
	    console_stream, c, console_release) < 0) {
		c->refs--;
	} else {
		watched = 1;
		c->refs++;
		if ((c->in_watch = virEventAddHandle(in,
		    VIR_EVENT_HANDLE_READABLE, console_input, c,
		    console_release)) < 0)
			c->refs--;
	}
	pthread_mutex_unlock(&c->mu);
	if (!watched || c->in_watch < 0) {
		hv_fail(hv, err, "cannot watch the console of domain %s",
		    uuid);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->quit)
		pthread_cond_wait(&c->cv, &c->mu);
	/* what was typed before Ctrl-] still reaches the guest: a second
	 * at most */
	until = mono_after_ms(1000);
	while (c->rc == 0 && c->n > 0 && pthread_cond_timedwait(&c->cv,
	    &c->mu, &until) != ETIMEDOUT)
		;
	c->closed = 1;
	if (c->rc)
		cerr_set(err, c->rc, "%s", c->err.msg);
	pthread_mutex_unlock(&c->mu);
out:
	if (c->in_watch >= 0)
		virEventRemoveHandle(c->in_watch);
	if (st) {
		if (watched)
			virStreamEventRemoveCallback(st);
		if (virStreamFinish(st) < 0)
			virStreamAbort(st);
		virStreamFree(st);
	}
	if (dom)
		virDomainFree(dom);
	hv_close(hv);
	virResetLastError();
	console_release(c);
	return err->code;
}

/* Storage: the pool of domain files. */

/* Was libvirt's last error `code`?  Then forget it. */
static int
last_error_is(int code)
{
	virErrorPtr e = virGetLastError();

	if (e && e->code == code) {
		virResetLastError();
		return 1;
	}
	return 0;
}

static int vol_remove(struct hv *hv, virStoragePoolPtr pool,
    const char *name, struct cerr *err);

/* Define, build, start and autostart the dir pool name at path, as far
 * as it is missing. */
static int
pool_ensure(struct hv *hv, const char *name, const char *path,
    struct cerr *err)
{
	struct buf xml = BUF_INIT;
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);
	struct cerr defined = { 0 };
	int active, autostart = 0, rc = 0;

	if (pool == NULL) {
		if (!last_error_is(VIR_ERR_NO_STORAGE_POOL))
			return hv_fail(hv, err, "cannot look up storage pool "
			    "'%s' on '%s'", name, hv->uri);
		buf_puts(&xml, "<pool type='dir'>\n  <name>");
		buf_xml(&xml, name);
		buf_puts(&xml, "</name>\n  <target><path>");
		buf_xml(&xml, path);
		buf_puts(&xml, "</path></target>\n</pool>\n");
		pool = virStoragePoolDefineXML(hv->conn, xml.s, 0);
		buf_release(&xml);
		if (pool == NULL) {
			/* another command may have defined it meanwhile */
			hv_fail(hv, &defined, "cannot define storage pool '%s' "
			    "on '%s'", name, hv->uri);
			pool = virStoragePoolLookupByName(hv->conn, name);
			if (pool == NULL) {
				virResetLastError();
				return cerr_set(err, defined.code, "%s",
				    defined.msg);
			}
		}
		fault_point("hv.pool");
	}
	if ((active = virStoragePoolIsActive(pool)) == 0) {
		/* build makes the folder; one that exists is fine */
		if (virStoragePoolBuild(pool, 0) < 0)
			virResetLastError();
		if (virStoragePoolCreate(pool, 0) < 0 &&
		    virStoragePoolIsActive(pool) != 1) {
			rc = hv_fail(hv, err, "cannot start storage pool '%s' "
			    "on '%s'", name, hv->uri);
			goto out;
		}
		virResetLastError();
	} else if (active < 0) {
		rc = hv_fail(hv, err, "cannot read storage pool '%s' on '%s'",
		    name, hv->uri);
		goto out;
	}
	if (virStoragePoolGetAutostart(pool, &autostart) < 0 ||
	    (!autostart && virStoragePoolSetAutostart(pool, 1) < 0))
		rc = hv_fail(hv, err, "cannot make storage pool '%s' start "
		    "with '%s'", name, hv->uri);
out:
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pool_ensure(struct hv *hv, struct cerr *err)
{
	return pool_ensure(hv, HV_POOL, HV_POOL_PATH, err);
}

int
hv_pool_define(struct hv *hv, const char *name, const char *path,
    struct cerr *err)
{
	return pool_ensure(hv, name, path, err);
}

/* Pool name, or NULL with err set (CERR_NOTFOUND when missing). */
static virStoragePoolPtr
named_pool(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);

	if (pool == NULL)
		hv_fail(hv, err, "no storage pool '%s' on '%s'", name,
		    hv->uri);
	return pool;
}

int
hv_pool_undefine(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);
	int rc = 0;

	if (pool == NULL) {
		if (last_error_is(VIR_ERR_NO_STORAGE_POOL)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up storage pool '%s' on "
		    "'%s'", name, hv->uri);
	}
	if (virStoragePoolIsActive(pool) == 1) {
		/* the folder goes when empty; one holding files stays */
		if (virStoragePoolDelete(pool, 0) < 0)
			virResetLastError();
		if (virStoragePoolDestroy(pool) < 0 &&
		    virStoragePoolIsActive(pool) == 1) {
			rc = hv_fail(hv, err, "cannot stop storage pool '%s' "
			    "on '%s'", name, hv->uri);
			goto out;
		}
	}
	virResetLastError();
	if (virStoragePoolUndefine(pool) < 0 &&
	    !last_error_is(VIR_ERR_NO_STORAGE_POOL))
		rc = hv_fail(hv, err, "cannot undefine storage pool '%s' on "
		    "'%s'", name, hv->uri);
	virResetLastError();
out:
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pool_info(struct hv *hv, const char *name, struct hv_pool_info *pi,
    struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, name, err);
	virStoragePoolInfo info;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if (virStoragePoolRefresh(pool, 0) < 0)
		virResetLastError();
	if (virStoragePoolGetInfo(pool, &info) < 0) {
		rc = hv_fail(hv, err, "cannot read storage pool '%s' on '%s'",
		    name, hv->uri);
	} else {
		pi->active = info.state == VIR_STORAGE_POOL_RUNNING ||
		    info.state == VIR_STORAGE_POOL_DEGRADED;
		pi->capacity = (long long)(info.capacity >> 20);
		pi->allocation = (long long)(info.allocation >> 20);
		pi->available = (long long)(info.available >> 20);
	}
	virStoragePoolFree(pool);
	return rc;
}

/* Volume name of pool, or NULL with err set. */
static virStorageVolPtr
named_vol(struct hv *hv, virStoragePoolPtr pool, const char *pname,
    const char *name, struct cerr *err)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);

	if (vol == NULL)
		hv_fail(hv, err, "no volume '%s' in storage pool '%s' on '%s'",
		    name, pname, hv->uri);
	return vol;
}

int
hv_pvol_create(struct hv *hv, const char *pname, const char *name,
    long long size, const char *backing, const char *backing_fmt, char **path,
    struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr vol = NULL;
	struct buf xml = BUF_INIT;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	buf_puts(&xml, "<volume>\n  <name>");
	buf_xml(&xml, name);
	buf_printf(&xml, "</name>\n  <capacity unit='MiB'>%lld</capacity>\n"
	    "  <target>\n    <format type='qcow2'/>\n  </target>\n", size);
	if (backing) {
		buf_puts(&xml, "  <backingStore>\n    <path>");
		buf_xml(&xml, backing);
		buf_puts(&xml, "</path>\n    <format type='");
		buf_xml(&xml, backing_fmt ? backing_fmt : "qcow2");
		buf_puts(&xml, "'/>\n  </backingStore>\n");
	}
	buf_puts(&xml, "</volume>\n");
	if ((vol = virStorageVolCreateXML(pool, xml.s, 0)) == NULL) {
		rc = hv_fail(hv, err, "cannot create volume '%s' in storage "
		    "pool '%s' on '%s'", name, pname, hv->uri);
		goto out;
	}
	if (path && (*path = virStorageVolGetPath(vol)) == NULL)
		rc = hv_fail(hv, err, "cannot read the path of volume '%s' on "
		    "'%s'", name, hv->uri);
out:
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

int
hv_pvol_path(struct hv *hv, const char *pname, const char *name,
    char **path, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr vol;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((vol = named_vol(hv, pool, pname, name, err)) == NULL) {
		rc = err->code;
	} else {
		if ((*path = virStorageVolGetPath(vol)) == NULL)
			rc = hv_fail(hv, err, "cannot read the path of volume "
			    "'%s' on '%s'", name, hv->uri);
		virStorageVolFree(vol);
	}
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_delete(struct hv *hv, const char *pname, const char *name,
    struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, pname);
	int rc;

	if (pool == NULL) {
		if (last_error_is(VIR_ERR_NO_STORAGE_POOL)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up storage pool '%s' on "
		    "'%s'", pname, hv->uri);
	}
	rc = vol_remove(hv, pool, name, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_resize(struct hv *hv, const char *pname, const char *name,
    long long size, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr vol;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((vol = named_vol(hv, pool, pname, name, err)) == NULL) {
		rc = err->code;
	} else {
		if (virStorageVolResize(vol, (unsigned long long)size << 20,
		    0) < 0)
			rc = hv_fail(hv, err, "cannot resize volume '%s' on "
			    "'%s'", name, hv->uri);
		virStorageVolFree(vol);
	}
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_clone(struct hv *hv, const char *pname, const char *src,
    const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr sv = NULL, dv = NULL;
	struct buf xml = BUF_INIT;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((sv = named_vol(hv, pool, pname, src, err)) == NULL) {
		rc = err->code;
		goto out;
	}
	buf_puts(&xml, "<volume>\n  <name>");
	buf_xml(&xml, name);
	buf_puts(&xml, "</name>\n  <capacity unit='bytes'>0</capacity>\n"
	    "  <target>\n    <format type='qcow2'/>\n  </target>\n"
	    "</volume>\n");
	if ((dv = virStorageVolCreateXMLFrom(pool, xml.s, sv, 0)) == NULL)
		rc = hv_fail(hv, err, "cannot clone volume '%s' into '%s' on "
		    "'%s'", src, name, hv->uri);
out:
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

/* Pool pname, or NULL: *missing tells a missing pool from an error. */
static virStoragePoolPtr
pool_named(struct hv *hv, const char *pname, int *missing, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, pname);

	*missing = 0;
	if (pool == NULL) {
		if (last_error_is(VIR_ERR_NO_STORAGE_POOL))
			*missing = 1;
		else
			hv_fail(hv, err, "cannot look up storage pool '%s' on "
			    "'%s'", pname, hv->uri);
	}
	return pool;
}

/* The pool, or NULL: *missing tells a missing pool from an error. */
static virStoragePoolPtr
pool_lookup(struct hv *hv, int *missing, struct cerr *err)
{
	return pool_named(hv, HV_POOL, missing, err);
}

static int
vol_remove(struct hv *hv, virStoragePoolPtr pool, const char *name,
    struct cerr *err)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
	int rc = 0;

	if (vol == NULL) {
		if (last_error_is(VIR_ERR_NO_STORAGE_VOL))
			return 0;
		return hv_fail(hv, err, "cannot look up volume '%s' on '%s'",
		    name, hv->uri);
	}
	if (virStorageVolDelete(vol, 0) < 0 &&
	    !last_error_is(VIR_ERR_NO_STORAGE_VOL))
		rc = hv_fail(hv, err, "cannot delete volume '%s' on '%s'",
		    name, hv->uri);
	virStorageVolFree(vol);
	return rc;
}

int
hv_vol_upload(struct hv *hv, const char *name, const void *data,
    size_t len, char **path, struct cerr *err)
{
	size_t off = 0;
	ssize_t n;
	int fd = memfd_create("cloudos-upload", MFD_CLOEXEC);

	/* the bytes go the one way uploads go: from a file */
	if (fd < 0)
		return cerr_set(err, CERR_FAIL, "cannot upload volume '%s': "
		    "memfd_create: %s", name, strerror(errno));
	while (off < len) {
		n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cerr_set(err, CERR_FAIL, "cannot upload volume '%s': "
			    "%s", name, strerror(errno));
			close(fd);
			return err->code;
		}
		off += (size_t)n;
	}
	hv_vol_upload_fd(hv, name, fd, len, path, err);
	close(fd);
	return err->code;
}

/* Uploads look for zeros in blocks of this many bytes. */
#define ZERO_BLOCK 65536

static bool
all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The length of the run of whole zero blocks at p (0 when none). */
static ssize_t
zero_run(const char *p, ssize_t n)
{
	ssize_t r = 0;

	while (r < n) {
		size_t b = n - r < ZERO_BLOCK ? (size_t)(n - r) : ZERO_BLOCK;

		if (b < ZERO_BLOCK || !all_zero(p + r, b))
			break;
		r += (ssize_t)b;
	}
	return r;
}

/* The length of the data at p up to the next whole zero block. */
static ssize_t
data_run(const char *p, ssize_t n)
{
	ssize_t r = 0;

	while (r < n) {
		size_t b = n - r < ZERO_BLOCK ? (size_t)(n - r) : ZERO_BLOCK;

		if (r > 0 && b == ZERO_BLOCK && all_zero(p + r, b))
			break;
		r += (ssize_t)b;
	}
	return r;
}

int
hv_vol_upload_fd(struct hv *hv, const char *name, int fd,
    unsigned long long len, char **path, struct cerr *err)
{
	virStoragePoolPtr pool = NULL;
	virStorageVolPtr vol = NULL;
	virStreamPtr st = NULL;
	struct buf xml = BUF_INIT;
	unsigned long long off = 0;
	char *data = NULL, *p;
	int missing = 0, rc = 0, sent;
	ssize_t got, done;

	if (hv_pool_ensure(hv, err) ||
	    (pool = pool_lookup(hv, &missing, err)) == NULL) {
		if (missing)
			cerr_set(err, CERR_NOTFOUND, "storage pool '%s' "
			    "vanished from '%s'", HV_POOL, hv->uri);
		return err->code;
	}
	if (vol_remove(hv, pool, name, err))
		goto out;
	buf_puts(&xml, "<volume>\n  <name>");
	buf_xml(&xml, name);
	buf_printf(&xml, "</name>\n  <capacity unit='bytes'>%llu</capacity>\n"
	    "  <allocation>0</allocation>\n"
	    "  <target>\n    <format type='raw'/>\n"
	    "    <permissions><mode>0644</mode></permissions>\n"
	    "  </target>\n</volume>\n", len);
	if ((vol = virStorageVolCreateXML(pool, xml.s, 0)) == NULL) {
		rc = hv_fail(hv, err, "cannot create volume '%s' on '%s'",
		    name, hv->uri);
		goto out;
	}
	/* sparse: the file's holes travel as holes, and stay holes */
	if ((st = virStreamNew(hv->conn, 0)) == NULL ||
	    virStorageVolUpload(vol, st, 0, len,
	    VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0)
		goto fail;
	data = xmalloc(HV_UPLOAD_CHUNK);
	while (off < len) {
		size_t want = len - off < HV_UPLOAD_CHUNK ?
		    (size_t)(len - off) : HV_UPLOAD_CHUNK;
		off_t next = lseek(fd, (off_t)off, SEEK_DATA), end;

		if (next < 0 && errno == ENXIO)
			next = (off_t)len;	/* a hole to the end */
		else if (next < 0)
			next = (off_t)off;	/* no hole detection */
		if ((unsigned long long)next > off) {
			unsigned long long hole = ((unsigned long long)next >
			    len ? len : (unsigned long long)next) - off;

			if (virStreamSendHole(st, (long long)hole, 0) < 0)
				goto fail;
			off += hole;
			continue;
		}
		/* data up to the next hole */
		if ((end = lseek(fd, (off_t)off, SEEK_HOLE)) > (off_t)off &&
		    (unsigned long long)(end - (off_t)off) < want)
			want = (size_t)(end - (off_t)off);
		got = pread(fd, data, want, (off_t)off);
		if (got <= 0) {
			rc = cerr_set(err, CERR_FAIL, "cannot read the bytes "
			    "of volume '%s' at %llu: %s", name, off,
			    got < 0 ? strerror(errno) : "the file is shorter");
			goto abort;
		}
		/* runs of zeros go as holes too (the file need not be
		 * sparse itself), data as data */
		for (done = 0; done < got; ) {
			ssize_t run = zero_run(data + done, got - done);

			if (run > 0) {
				if (virStreamSendHole(st, (long long)run, 0) < 0)
					goto fail;
				done += run;
				continue;
			}
			run = data_run(data + done, got - done);
			while (run > 0) {
				if ((sent = virStreamSend(st, data + done,
				    (size_t)run)) < 0)
					goto fail;
				done += sent;
				run -= sent;
			}
		}
		off += (unsigned long long)got;
	}
	fault_point("hv.upload");
	if (virStreamFinish(st) < 0)
		goto fail;
	if (path) {
		if ((p = virStorageVolGetPath(vol)) == NULL) {
			rc = hv_fail(hv, err, "cannot read the path of volume "
			    "'%s' on '%s'", name, hv->uri);
			goto out;
		}
		*path = p;
	}
	goto out;
fail:
	rc = hv_fail(hv, err, "cannot upload volume '%s' to '%s'", name,
	    hv->uri);
abort:
	if (st && virStreamAbort(st) < 0)
		virResetLastError();
	if (virStorageVolDelete(vol, 0) < 0)
		virResetLastError();
out:
	free(data);
	if (st)
		virStreamFree(st);
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

int
hv_vol_path(struct hv *hv, const char *name, char **path, struct cerr *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr vol;
	int missing, rc = 0;

	if ((pool = pool_lookup(hv, &missing, err)) == NULL)
		return missing ? cerr_set(err, CERR_NOTFOUND, "no volume '%s' "
		    "on '%s' (no storage pool '%s')", name, hv->uri, HV_POOL) :
		    err->code;
	if ((vol = virStorageVolLookupByName(pool, name)) == NULL)
		rc = hv_fail(hv, err, "no volume '%s' on '%s'", name, hv->uri);
	else if ((*path = virStorageVolGetPath(vol)) == NULL)
		rc = hv_fail(hv, err, "cannot read the path of volume '%s' on "
		    "'%s'", name, hv->uri);
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_vol_delete(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool;
	int missing, rc;

	if ((pool = pool_lookup(hv, &missing, err)) == NULL)
		return missing ? 0 : err->code;
	rc = vol_remove(hv, pool, name, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvols(struct hv *hv, const char *pname,
    void (*each)(void *arg, const char *name), void *arg, struct cerr *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr *vols = NULL;
	int missing, n, i;

	if ((pool = pool_named(hv, pname, &missing, err)) == NULL)
		return missing ? 0 : err->code;
	if ((n = virStoragePoolListAllVolumes(pool, &vols, 0)) < 0) {
		virStoragePoolFree(pool);
		return hv_fail(hv, err, "cannot list volumes of '%s' on '%s'",
		    pname, hv->uri);
	}
	for (i = 0; i < n; i++) {
		const char *name = virStorageVolGetName(vols[i]);

		if (name)
			each(arg, name);
		else
			virResetLastError();
		virStorageVolFree(vols[i]);
	}
	free(vols);
	virStoragePoolFree(pool);
	return 0;
}

int
hv_vols(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	return hv_pvols(hv, HV_POOL, each, arg, err);
}

int
hv_pools(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	virStoragePoolPtr *pools = NULL;
	int n, i;

	if ((n = virConnectListAllStoragePools(hv->conn, &pools, 0)) < 0)
		return hv_fail(hv, err, "cannot list storage pools on '%s'",
		    hv->uri);
	for (i = 0; i < n; i++) {
		const char *name = virStoragePoolGetName(pools[i]);

		if (name)
			each(arg, name);
		else
			virResetLastError();
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	return 0;
}

int
hv_vol_create(struct hv *hv, const char *name, long long size, char **path,
    struct cerr *err)
{
	virStoragePoolPtr pool = NULL;
	virStorageVolPtr vol = NULL;
	struct buf xml = BUF_INIT;
	int missing = 0, rc = 0;

	if (hv_pool_ensure(hv, err) ||
	    (pool = pool_lookup(hv, &missing, err)) == NULL) {
		if (missing)
			cerr_set(err, CERR_NOTFOUND, "storage pool '%s' "
			    "vanished from '%s'", HV_POOL, hv->uri);
		return err->code;
	}
	if ((vol = virStorageVolLookupByName(pool, name)) == NULL) {
		if (!last_error_is(VIR_ERR_NO_STORAGE_VOL)) {
			rc = hv_fail(hv, err, "cannot look up volume '%s' on "
			    "'%s'", name, hv->uri);
			goto out;
		}
		buf_puts(&xml, "<volume>\n  <name>");
		buf_xml(&xml, name);
		buf_printf(&xml, "</name>\n  <capacity unit='MiB'>%lld"
		    "</capacity>\n  <target>\n    <format type='qcow2'/>\n"
		    "  </target>\n</volume>\n", size);
		if ((vol = virStorageVolCreateXML(pool, xml.s, 0)) == NULL) {
			rc = hv_fail(hv, err, "cannot create volume '%s' on "
			    "'%s'", name, hv->uri);
			goto out;
		}
	}
	if (path && (*path = virStorageVolGetPath(vol)) == NULL)
		rc = hv_fail(hv, err, "cannot read the path of volume '%s' on "
		    "'%s'", name, hv->uri);
out:
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

int
hv_vol_copy(struct hv *src, struct hv *dst, const char *name,
    struct cerr *err)
{
	if (hv_pool_ensure(dst, err))
		return err->code;
	return hv_pvol_copy(src, dst, HV_POOL, name, err);
}

int
hv_pvol_copy(struct hv *src, struct hv *dst, const char *pname,
    const char *name, struct cerr *err)
{
	virStoragePoolPtr sp = NULL, dp = NULL;
	virStorageVolPtr sv = NULL, dv = NULL;
	virStreamPtr in = NULL, out = NULL;
	char *xml = NULL, data[256 * 1024];
	int missing, rc = 0, got, sent, off;

	if ((sp = pool_named(src, pname, &missing, err)) == NULL)
		return missing ? cerr_set(err, CERR_NOTFOUND, "no volume '%s' "
		    "on '%s'", name, src->uri) : err->code;
	if ((sv = virStorageVolLookupByName(sp, name)) == NULL) {
		rc = hv_fail(src, err, "no volume '%s' on '%s'", name,
		    src->uri);
		goto done;
	}
	if ((dp = pool_named(dst, pname, &missing, err)) == NULL) {
		rc = err->code ? err->code : cerr_set(err, CERR_NOTFOUND,
		    "no storage pool '%s' on '%s'", pname, dst->uri);
		goto done;
	}
	/* the same volume (name, capacity, format) on dst, then its bytes */
	if ((rc = vol_remove(dst, dp, name, err)) != 0)
		goto done;
	if ((xml = virStorageVolGetXMLDesc(sv, 0)) == NULL ||
	    (dv = virStorageVolCreateXML(dp, xml, 0)) == NULL) {
		rc = hv_fail(xml ? dst : src, err, "cannot create volume '%s' "
		    "on '%s'", name, dst->uri);
		goto done;
	}
	if ((in = virStreamNew(src->conn, 0)) == NULL ||
	    (out = virStreamNew(dst->conn, 0)) == NULL ||
	    virStorageVolDownload(sv, in, 0, 0, 0) < 0 ||
	    virStorageVolUpload(dv, out, 0, 0, 0) < 0) {
		rc = hv_fail(in && out ? dst : src, err, "cannot copy volume "
		    "'%s' to '%s'", name, dst->uri);
		goto fail;
	}
	while ((got = virStreamRecv(in, data, sizeof(data))) > 0) {
		for (off = 0; off < got; off += sent) {
			if ((sent = virStreamSend(out, data + off,
			    (size_t)(got - off))) < 0) {
				rc = hv_fail(dst, err, "cannot copy volume "
				    "'%s' to '%s'", name, dst->uri);
				goto fail;
			}
		}
	}
	if (got < 0 || virStreamFinish(in) < 0) {
		rc = hv_fail(src, err, "cannot read volume '%s' on '%s'", name,
		    src->uri);
		goto fail;
	}
	if (virStreamFinish(out) < 0) {
		rc = hv_fail(dst, err, "cannot copy volume '%s' to '%s'", name,
		    dst->uri);
		goto fail;
	}
	goto done;
fail:
	if (in && virStreamAbort(in) < 0)
		virResetLastError();
	if (out && virStreamAbort(out) < 0)
		virResetLastError();
	if (dv && virStorageVolDelete(dv, 0) < 0)
		virResetLastError();
done:
	if (in)
		virStreamFree(in);
	if (out)
		virStreamFree(out);
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	if (sp)
		virStoragePoolFree(sp);
	if (dp)
		virStoragePoolFree(dp);
	free(xml);
	return rc;
}

int
hv_block_resize(struct hv *hv, const char *uuid, const char *target,
    long long size, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	int rc = 0;

	if (dom == NULL)
		return err->code;
	if (virDomainBlockResize(dom, target, (unsigned long long)size << 20,
	    VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0)
		rc = hv_fail(hv, err, "cannot resize disk %s of domain %s",
		    target, uuid);
	virDomainFree(dom);
	return rc;
}

static int
device_change(struct hv *hv, const char *uuid, const char *xml, int attach,
    struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	unsigned int flags = VIR_DOMAIN_AFFECT_CONFIG;
	int rc = 0, active;

	if (dom == NULL)
		return err->code;
	if ((active = virDomainIsActive(dom)) < 0) {
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
		goto out;
	}
	if (active)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if ((attach ? virDomainAttachDeviceFlags(dom, xml, flags) :
	    virDomainDetachDeviceFlags(dom, xml, flags)) < 0) {
		/* a retry: already there, or already gone */
		virErrorPtr e = virGetLastError();

		if (!attach && e && (e->code == VIR_ERR_DEVICE_MISSING ||
		    e->code == VIR_ERR_OPERATION_FAILED) &&
		    e->message && strstr(e->message, "not found")) {
			virResetLastError();
			goto out;
		}
		rc = hv_fail(hv, err, "cannot %s a device %s domain %s",
		    attach ? "attach" : "detach", attach ? "to" : "from",
		    uuid);
	}
out:
	virDomainFree(dom);
	return rc;
}

int
hv_device_attach(struct hv *hv, const char *uuid, const char *xml,
    struct cerr *err)
{
	return device_change(hv, uuid, xml, 1, err);
}

int
hv_device_detach(struct hv *hv, const char *uuid, const char *xml,
    struct cerr *err)
{
	return device_change(hv, uuid, xml, 0, err);
}

int
hv_snapshot_create(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	virDomainSnapshotPtr snap;
	struct buf xml = BUF_INIT;
	int rc = 0;

	if (dom == NULL)
		return err->code;
	buf_puts(&xml, "<domainsnapshot>\n  <name>");
	buf_xml(&xml, name);
	buf_puts(&xml, "</name>\n</domainsnapshot>\n");
	if ((snap = virDomainSnapshotCreateXML(dom, xml.s, 0)) == NULL)
		rc = hv_fail(hv, err, "cannot snapshot domain %s", uuid);
	else
		virDomainSnapshotFree(snap);
	virDomainFree(dom);
	buf_release(&xml);
	return rc;
}

/* The text of <tag> in xml (the first), into out. */
static void
xml_text(const char *xml, const char *tag, char *out, size_t len)
{
	char open[64];
	const char *p, *q;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	if ((p = strstr(xml, open)) == NULL)
		return;
	p += strlen(open);
	if ((q = strchr(p, '<')) == NULL)
		return;
	snprintf(out, len, "%.*s", (int)(q - p), p);
}

/* Oldest first; snapshots of the same second keep libvirt's topological
 * order (a parent before its children). */
static int
snap_cmp(const void *a, const void *b)
{
	const struct hv_snapshot *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int
hv_snapshot_list(struct hv *hv, const char *uuid, struct hv_snapshot **out,
    size_t *n, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	virDomainSnapshotPtr *snaps = NULL;
	int i, count, rc = 0;
	char tmp[64];

	*out = NULL;
	*n = 0;
	if (dom == NULL)
		return err->code;
	if ((count = virDomainListAllSnapshots(dom, &snaps,
	    VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)) < 0) {
		rc = hv_fail(hv, err, "cannot list snapshots of domain %s",
		    uuid);
		goto out;
	}
	*out = xcalloc((size_t)count + 1, sizeof(**out));
	for (i = 0; i < count; i++) {
		struct hv_snapshot *s = &(*out)[*n];
		char *xml = virDomainSnapshotGetXMLDesc(snaps[i],
		    VIR_DOMAIN_SNAPSHOT_XML_SECURE);

		/* the name comes back escaped in the XML: take it from
		 * libvirt's own accessor */
		snprintf(s->name, sizeof(s->name), "%s",
		    virDomainSnapshotGetName(snaps[i]));
		if (xml) {
			xml_text(xml, "creationTime", tmp, sizeof(tmp));
			s->created = atoll(tmp);
			xml_text(xml, "state", s->state, sizeof(s->state));
			free(xml);
		} else {
			virResetLastError();
		}
		s->current = virDomainSnapshotIsCurrent(snaps[i], 0) == 1;
		s->order = i;
		virDomainSnapshotFree(snaps[i]);
		(*n)++;
	}
	qsort(*out, *n, sizeof(**out), snap_cmp);
out:
	free(snaps);
	virDomainFree(dom);
	return rc;
}

static virDomainSnapshotPtr
snap_lookup(struct hv *hv, virDomainPtr dom, const char *uuid,
    const char *name, struct cerr *err)
{
	virDomainSnapshotPtr snap = virDomainSnapshotLookupByName(dom, name, 0);

	if (snap == NULL) {
		if (last_error_is(VIR_ERR_NO_DOMAIN_SNAPSHOT))
			cerr_set(err, CERR_NOTFOUND, "no snapshot '%s'", name);
		else
			hv_fail(hv, err, "cannot look up snapshot '%s' of "
			    "domain %s", name, uuid);
	}
	return snap;
}

/* Revert to, or delete, snapshot name of domain uuid. */
static int
snap_act(struct hv *hv, const char *uuid, const char *name, int revert,
    struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	virDomainSnapshotPtr snap = NULL;
	int rc = 0;

	if (dom == NULL)
		return err->code;
	if ((snap = snap_lookup(hv, dom, uuid, name, err)) == NULL)
		rc = err->code;
	else if (revert && virDomainRevertToSnapshot(snap, 0) < 0)
		rc = hv_fail(hv, err, "cannot revert domain %s to snapshot "
		    "'%s'", uuid, name);
	else if (!revert && virDomainSnapshotDelete(snap, 0) < 0)
		rc = hv_fail(hv, err, "cannot delete snapshot '%s' of domain "
		    "%s", name, uuid);
	if (snap)
		virDomainSnapshotFree(snap);
	virDomainFree(dom);
	return rc;
}

int
hv_snapshot_revert(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err)
{
	return snap_act(hv, uuid, name, 1, err);
}

int
hv_snapshot_delete(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err)
{
	return snap_act(hv, uuid, name, 0, err);
}

/*
 * Network filters (nwfilter).  A filter keeps its UUID across
 * redefinitions: libvirt refuses a definition of an existing name under
 * another UUID, so the one it has goes into the new XML.
 */
int
hv_nwfilter_define(struct hv *hv, const char *name, const char *xml,
    struct cerr *err)
{
	virNWFilterPtr f;
	struct buf doc = BUF_INIT;
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *gt = strchr(xml, '>');

	if (strncmp(xml, "<filter", 7) != 0 || gt == NULL)
		return cerr_set(err, CERR_FAIL, "cannot define network filter "
		    "'%s': not a <filter> document", name);
	if ((f = virNWFilterLookupByName(hv->conn, name)) != NULL) {
		if (virNWFilterGetUUIDString(f, uuid) < 0) {
			virNWFilterFree(f);
			return hv_fail(hv, err, "cannot read network filter "
			    "'%s'", name);
		}
		virNWFilterFree(f);
		buf_add(&doc, xml, (size_t)(gt - xml) + 1);
		buf_printf(&doc, "<uuid>%s</uuid>", uuid);
		buf_puts(&doc, gt + 1);
	} else if (last_error_is(VIR_ERR_NO_NWFILTER)) {
		buf_puts(&doc, xml);
	} else {
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	}
	f = virNWFilterDefineXML(hv->conn, doc.s);
	buf_release(&doc);
	if (f == NULL)
		return hv_fail(hv, err, "cannot define network filter '%s'",
		    name);
	virNWFilterFree(f);
	return 0;
}

int
hv_nwfilter_undefine(struct hv *hv, const char *name, struct cerr *err)
{
	virNWFilterPtr f = virNWFilterLookupByName(hv->conn, name);
	int rc = 0;

	if (f == NULL) {
		/* none of that name, or a driver that keeps none */
		if (last_error_is(VIR_ERR_NO_NWFILTER) ||
		    last_error_is(VIR_ERR_NO_SUPPORT)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	}
	if (virNWFilterUndefine(f) < 0)
		rc = hv_fail(hv, err, "cannot undefine network filter '%s'",
		    name);
	virNWFilterFree(f);
	return rc;
}

int
hv_nwfilters(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	virNWFilterPtr *fs = NULL;
	int n, i;

	if ((n = virConnectListAllNWFilters(hv->conn, &fs, 0)) < 0)
		return hv_fail(hv, err, "cannot list network filters");
	for (i = 0; i < n; i++) {
		each(arg, virNWFilterGetName(fs[i]));
		virNWFilterFree(fs[i]);
	}
	free(fs);
	return 0;
}

int
hv_nwfilter_xml(struct hv *hv, const char *name, char **xml,
    struct cerr *err)
{
	virNWFilterPtr f = virNWFilterLookupByName(hv->conn, name);

	if (f == NULL && last_error_is(VIR_ERR_NO_SUPPORT)) {
		/* a driver without filters (libvirt's test driver) has none */
		virResetLastError();
		return cerr_set(err, CERR_NOTFOUND, "host '%s' keeps no network "
		    "filters", hv->uri);
	}
	if (f == NULL)
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	*xml = virNWFilterGetXMLDesc(f, 0);
	virNWFilterFree(f);
	if (*xml == NULL)
		return hv_fail(hv, err, "cannot read network filter '%s'",
		    name);
	return 0;
}

int
hv_net_ensure(struct hv *hv, const char *name, const char *xml,
    struct cerr *err)
{
	virNetworkPtr net = virNetworkLookupByName(hv->conn, name);
	struct cerr defined = { 0 };
	int active, autostart = 0, rc = 0;

	if (net == NULL) {
		if (!last_error_is(VIR_ERR_NO_NETWORK))
			return hv_fail(hv, err, "cannot look up network '%s' "
			    "on '%s'", name, hv->uri);
		virResetLastError();
		net = virNetworkDefineXML(hv->conn, xml);
		if (net == NULL) {
			/* another command may have defined it meanwhile */
			hv_fail(hv, &defined, "cannot define network '%s' on "
			    "'%s'", name, hv->uri);
			net = virNetworkLookupByName(hv->conn, name);
			if (net == NULL) {
				virResetLastError();
				return cerr_set(err, defined.code, "%s",
				    defined.msg);
			}
		}
		fault_point("hv.network");
	}
	if ((active = virNetworkIsActive(net)) == 0) {
		if (virNetworkCreate(net) < 0 &&
		    virNetworkIsActive(net) != 1) {
			rc = hv_fail(hv, err, "cannot start network '%s' on "
			    "'%s'", name, hv->uri);
			goto out;
		}
		virResetLastError();
	} else if (active < 0) {
		rc = hv_fail(hv, err, "cannot read network '%s' on '%s'", name,
		    hv->uri);
		goto out;
	}
	if (virNetworkGetAutostart(net, &autostart) < 0 ||
	    (!autostart && virNetworkSetAutostart(net, 1) < 0))
		rc = hv_fail(hv, err, "cannot make network '%s' start with "
		    "'%s'", name, hv->uri);
out:
	virNetworkFree(net);
	return rc;
}

int
hv_net_remove(struct hv *hv, const char *name, struct cerr *err)
{
	virNetworkPtr net = virNetworkLookupByName(hv->conn, name);
	int rc = 0;

	if (net == NULL) {
		if (last_error_is(VIR_ERR_NO_NETWORK)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up network '%s' on '%s'",
		    name, hv->uri);
	}
	if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0 &&
	    virNetworkIsActive(net) == 1) {
		rc = hv_fail(hv, err, "cannot stop network '%s' on '%s'", name,
		    hv->uri);
		goto out;
	}
	virResetLastError();
	if (virNetworkUndefine(net) < 0 && !last_error_is(VIR_ERR_NO_NETWORK))
		rc = hv_fail(hv, err, "cannot undefine network '%s' on '%s'",
		    name, hv->uri);
	virResetLastError();
out:
	virNetworkFree(net);
	return rc;
}

/* Did libvirt's last error say the device is not there?  Then forget. */
static int
device_missing(void)
{
	virErrorPtr e = virGetLastError();

	if (e && (e->code == VIR_ERR_DEVICE_MISSING ||
	    e->code == VIR_ERR_OPERATION_FAILED) && e->message &&
	    strstr(e->message, "not found")) {
		virResetLastError();
		return 1;
	}
	return 0;
}

int
hv_nic_detach(struct hv *hv, const char *uuid, const char *xml,
    const char *mac, struct cerr *err)
{
	virDomainPtr dom = lookup(hv, uuid, err);
	char *live = NULL, needle[64];
	int rc = 0, active;

	if (dom == NULL)
		return err->code;
	if ((active = virDomainIsActive(dom)) < 0) {
		rc = hv_fail(hv, err, "cannot read state of domain %s", uuid);
		goto out;
	}
	if (active) {
		if (virDomainDetachDeviceFlags(dom, xml,
		    VIR_DOMAIN_AFFECT_LIVE) < 0 && !device_missing()) {
			virErrorPtr e = virGetLastError();

			/* an unplug asked for before and still pending */
			if (e == NULL || e->code != VIR_ERR_OPERATION_FAILED) {
				rc = hv_fail(hv, err, "cannot detach a NIC from "
				    "domain %s", uuid);
				goto out;
			}
			virResetLastError();
		}
		if ((live = virDomainGetXMLDesc(dom, 0)) == NULL) {
			rc = hv_fail(hv, err, "cannot read domain %s", uuid);
			goto out;
		}
		snprintf(needle, sizeof(needle), "address='%s'", mac);
		if (strstr(live, needle)) {
			rc = cerr_set(err, CERR_CONFLICT, "the guest of domain %s "
			    "has not released NIC %s (a PCI NIC leaves a "
			    "running guest only with the guest's help; try "
			    "again, or power the VM off)", uuid, mac);
			goto out;
		}
	}
	if (virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_CONFIG) < 0 &&
	    !device_missing())
		rc = hv_fail(hv, err, "cannot detach a NIC from the definition "
		    "of domain %s", uuid);
out:
	free(live);
	virDomainFree(dom);
	return rc;
}
