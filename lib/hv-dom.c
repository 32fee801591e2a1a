/*
 * hv-dom.c - adapter: domains over libvirt: deploy, the life cycle,
 * migration, state, console, devices and snapshots (virsh's domain
 * commands).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "buf.h"
#include "fault.h"
#include "hv.h"
#include "hv-int.h"
#include "mono.h"
#include "xalloc.h"
#include "compat.h"

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
		if (!hv_last_error_is(VIR_ERR_NO_DOMAIN))
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
		    !hv_last_error_is(VIR_ERR_NO_DOMAIN))
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
    int force, int *held, struct cerr *err)
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
	*held = 0;
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
	if ((st = virStreamNew(hv->conn, VIR_STREAM_NONBLOCK)) == NULL) {
		hv_fail(hv, err, "cannot open the console of domain %s", uuid);
		goto out;
	}
	if (virDomainOpenConsole(dom, NULL, st, force ?
	    VIR_DOMAIN_CONSOLE_FORCE : VIR_DOMAIN_CONSOLE_SAFE) < 0) {
		virErrorPtr e = virGetLastError();
		struct cerr why = { 0 };

		/* a session open elsewhere is all that fails this way
		 * (libvirt's chardev is busy, or its lock file is held) */
		if (!force && e && e->code == VIR_ERR_OPERATION_FAILED) {
			*held = 1;
			hv_fail(hv, &why, "another client holds it");
			cerr_set(err, CERR_CONFLICT, "%s", why.msg);
		} else {
			hv_fail(hv, err, "cannot open the console of domain %s",
			    uuid);
		}
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
		if (hv_last_error_is(VIR_ERR_NO_DOMAIN_SNAPSHOT))
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
