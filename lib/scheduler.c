/*
 * scheduler.c - service: scheduling.  Passes, plans, placements applied,
 * rebalancing and explanations: the pending VMs are added to fit's model
 * of the cloud, the placement engine decides, and what it decides is
 * recorded and dispatched.  Also the affinity groups csched manages, and
 * draining a host (migrating every VM off it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct.h"
#include "catalog.h"
#include "fit.h"
#include "host.h"
#include "owner.h"
#include "placement.h"
#include "scheduler.h"
#include "valid.h"
#include "vm.h"
#include "xalloc.h"
#include "rows.h"
#include "compat.h"

/* Groups: visible, as networks are, to their owner, to their owner's
 * group when shared with it, to all when public, and to admins; only
 * their owner (or an admin) changes or removes them. */

#define GROUP_COLS \
	"SELECT g.id, g.name, g.anti, u.name, g.created, " \
	"(SELECT count(*) FROM vms v WHERE v.vm_group = g.id AND " \
	"v.state != 'done'), g.visibility, g.owner FROM vm_groups g " \
	"JOIN users u ON u.id = g.owner "

/* The columns of GROUP_COLS, in its order: a row is read by these names. */
enum group_col {
	GROUP_COL_ID, GROUP_COL_NAME,
	GROUP_COL_ANTI,			/* 1 for anti-affinity */
	GROUP_COL_OWNER,		/* u.name */
	GROUP_COL_CREATED,
	GROUP_COL_VMS,			/* its VMs that are not done */
	GROUP_COL_VISIBILITY,
	GROUP_COL_OWNER_ID,		/* g.owner */
};

static struct doc *
group_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "AffinityGroup");
	doc_set_int(d, "id", cstmt_int(st, GROUP_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, GROUP_COL_NAME));
	doc_set_str(d, "rule", cstmt_int(st, GROUP_COL_ANTI) ?
	    "anti-affinity" : "affinity");
	doc_set_int(d, "vms", cstmt_int(st, GROUP_COL_VMS));
	doc_set_str(d, "owner", cstmt_text(st, GROUP_COL_OWNER));
	doc_set_str(d, "visibility", cstmt_text(st, GROUP_COL_VISIBILITY));
	doc_set_str(d, "created", cstmt_text(st, GROUP_COL_CREATED));
	return d;
}

/* The group ref names (an id or a name), if the caller may see it. */
static int
group_query(struct ctx *ctx, const char *ref, struct cstmt **st,
    struct cerr *err)
{
	long long id = -1;

	if (!valid_id(ref, &id))
		id = -1;
	return catalog_query(ctx->cat, st, err, GROUP_COLS "WHERE "
	    FIT_GROUP_VISIBLE " AND (g.id = ?4 OR (?4 < 0 AND g.name = ?5))",
	    "iiiis", (long long)ctx->who.admin, ctx->who.user_id,
	    ctx->who.group_id, id, ref);
}

/* *vis, in any case, becomes its canonical name (valid_enum). */
static int
group_visibility_ok(const char **vis, struct cerr *err)
{
	static const char *const names[] = { "private", "group", "public" };
	size_t i;

	if (valid_enum(*vis, names, ARRAY_SIZE(names), &i, "visibility", err))
		return err->code;
	*vis = names[i];
	return 0;
}

int
sched_group_create(struct ctx *ctx, const char *name, bool anti,
    const char *visibility, struct doc **out, struct cerr *err)
{
	char now[32];

	if (visibility == NULL)
		visibility = "private";
	if (valid_name("group", name, err) ||
	    group_visibility_ok(&visibility, err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "INSERT INTO vm_groups (name, anti, "
	    "owner, group_id, created, visibility) VALUES (?, ?, ?, ?, ?, ?)",
	    "siiiss", name, (long long)anti, ctx->who.user_id,
	    ctx->who.group_id, now, visibility)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "group '%s' exists "
			    "already", name);
		}
		goto fail;
	}
	if (acct_audit(ctx, "create", "AffinityGroup",
	    catalog_last_id(ctx->cat), name, anti ? "anti-affinity" :
	    "affinity", err) || catalog_commit(ctx->cat, err))
		goto fail;
	return sched_group_show(ctx, name, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
sched_group_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (group_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = group_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no group '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
sched_group_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, GROUP_COLS "WHERE "
	    FIT_GROUP_VISIBLE " ORDER BY g.id", "iii",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id))
		return err->code;
	rows_emit(ctx, st, group_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

/* Inside a transaction: the group ref names, visible to the caller
 * (CERR_NOTFOUND) and the caller's to change (CERR_PERM); *name is the
 * caller's to free. */
static int
group_find_mine(struct ctx *ctx, const char *ref, const char *verb,
    long long *id, char **name, long long *vms, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long owner = 0;
	int found;

	if (group_query(ctx, ref, &st, err))
		return err->code;
	if ((found = cstmt_row(st, err))) {
		*id = cstmt_int(st, GROUP_COL_ID);
		*name = xstrdup(cstmt_text(st, GROUP_COL_NAME));
		*vms = cstmt_int(st, GROUP_COL_VMS);
		owner = cstmt_int(st, GROUP_COL_OWNER_ID);
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (!found)
		return cerr_set(err, CERR_NOTFOUND, "no group '%s'", ref);
	if (!ctx->who.admin && owner != ctx->who.user_id)
		return cerr_set(err, CERR_PERM, "cannot %s group '%s': it is "
		    "not yours", verb, *name);
	return 0;
}

int
sched_group_set_visibility(struct ctx *ctx, const char *ref,
    const char *visibility, struct doc **out, struct cerr *err)
{
	long long id = 0, vms = 0;
	char *name = NULL, idbuf[32];

	if (group_visibility_ok(&visibility, err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (group_find_mine(ctx, ref, "change", &id, &name, &vms, err))
		goto fail;
	if (catalog_exec(ctx->cat, err, "UPDATE vm_groups SET visibility = ? "
	    "WHERE id = ? AND visibility != ?1", "si", visibility, id))
		goto fail;
	if (catalog_changes(ctx->cat) > 0 && acct_audit(ctx, "set",
	    "AffinityGroup", id, name, visibility, err))
		goto fail;
	if (catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	return sched_group_show(ctx, idbuf, out, err);
fail:
	catalog_rollback(ctx->cat);
	free(name);
	return err->code;
}

int
sched_group_remove(struct ctx *ctx, const char *ref, struct cerr *err)
{
	long long id = 0, vms = 0;
	char *name = NULL;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (group_find_mine(ctx, ref, "remove", &id, &name, &vms, err))
		goto fail;
	if (vms > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove group '%s': %lld "
		    "VM%s in it", name, vms, vms == 1 ? " is" : "s are");
		goto fail;
	}
	/* done VMs keep their history, not their group */
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET vm_group = NULL WHERE "
	    "vm_group = ?", "i", id) ||
	    catalog_exec(ctx->cat, err, "DELETE FROM vm_groups WHERE id = ?",
	    "i", id) ||
	    acct_audit(ctx, "delete", "AffinityGroup", id, name, NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	free(name);
	return err->code;
}

void
sched_group_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT g.name FROM vm_groups g "
	    "WHERE " FIT_GROUP_VISIBLE " AND substr(g.name, 1, length(?4)) "
	    "= ?4 ORDER BY g.name", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}

/* The columns of a VM that say what it asks of a host, and the request
 * they make; a query adds its own after them, from REQ_COL_N on. */
#define REQ_COLS \
	"v.id, v.name, v.cpu, v.memory, (SELECT COALESCE(sum(d.size), 0) " \
	"FROM vm_disks d WHERE d.vm_id = v.id), v.requirements, v.policy, " \
	"v.rank, COALESCE(v.vm_group, 0)"

/* The columns of REQ_COLS, in its order: a row is read by these names. */
enum req_col {
	REQ_COL_ID, REQ_COL_NAME, REQ_COL_CPU, REQ_COL_MEMORY,
	REQ_COL_DISK,			/* the sum of its disks' sizes */
	REQ_COL_REQUIREMENTS, REQ_COL_POLICY, REQ_COL_RANK,
	REQ_COL_GROUP,			/* v.vm_group, 0 for none */
	REQ_COL_N			/* the first column a query adds */
};

static struct fit_req
req_of(struct cstmt *st)
{
	struct fit_req q = {
		.name = cstmt_text(st, REQ_COL_NAME),
		.cpu = (int)cstmt_int(st, REQ_COL_CPU),
		.memory = cstmt_int(st, REQ_COL_MEMORY),
		.disk = cstmt_int(st, REQ_COL_DISK),
		.requirements = cstmt_text(st, REQ_COL_REQUIREMENTS),
		.policy = cstmt_text(st, REQ_COL_POLICY),
		.rank = cstmt_text(st, REQ_COL_RANK),
		.group = cstmt_int(st, REQ_COL_GROUP),
	};

	return q;
}

/* The pending VMs a pass considers, oldest first within a priority;
 * ids[i] and names[i] go with m->vms[i]. */
struct pending {
	long long *ids;
	char **names;
	char **reasons;		/* as recorded */
	size_t n, cap;
};

static void
pending_release(struct pending *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->names[i]);
		free(p->reasons[i]);
	}
	free(p->ids);
	free(p->names);
	free(p->reasons);
	memset(p, 0, sizeof(*p));
}

static int
model_pending(struct ctx *ctx, struct fit_model *m, struct pending *p,
    long max_vms, struct cerr *err)
{
	/* the columns this query adds to REQ_COLS */
	enum { COL_PRIORITY = REQ_COL_N, COL_AVOID_HOST, COL_REASON };
	struct cstmt *st = NULL;
	char now[32];

	catalog_now(now);
	if (catalog_query(ctx->cat, &st, err, "SELECT " REQ_COLS ", "
	    "v.priority, h.name, v.reason "
	    "FROM vms v LEFT JOIN hosts h ON h.id = v.avoid_host "
	    "WHERE v.state = 'pending' AND (v.retry_after IS NULL OR "
	    "v.retry_after <= ?1) ORDER BY v.priority DESC, v.id "
	    "LIMIT CASE WHEN ?2 > 0 THEN ?2 ELSE -1 END", "si", now,
	    (long long)max_vms))
		return err->code;
	while (cstmt_row(st, err)) {
		struct fit_req q = req_of(st);
		size_t cap = p->cap, cap2 = p->cap;

		if (fit_model_vm(m, &q, cstmt_int(st, REQ_COL_ID),
		    (int)cstmt_int(st, COL_PRIORITY),
		    cstmt_text(st, COL_AVOID_HOST), err)) {
			/* a stored expression that no longer compiles:
			 * left pending, with the reason */
			cerr_wrap(err, "vm '%s'", q.name);
			break;
		}
		xgrow(&p->ids, &p->cap, p->n + 1, sizeof(*p->ids));
		xgrow(&p->names, &cap, p->n + 1, sizeof(*p->names));
		xgrow(&p->reasons, &cap2, p->n + 1, sizeof(*p->reasons));
		p->ids[p->n] = cstmt_int(st, REQ_COL_ID);
		p->names[p->n] = xstrdup(q.name);
		p->reasons[p->n] = cstmt_null(st, COL_REASON) ? NULL :
		    xstrdup(cstmt_text(st, COL_REASON));
		p->n++;
	}
	cstmt_free(st);
	return err->code;
}

static struct doc *
sched_placement_doc(const char *vm, long long vm_id, const char *host,
    const char *action)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Placement");
	doc_set_int(d, "id", vm_id);	/* its VM's: -o ids feeds cvm */
	doc_set_str(d, "vm", vm);
	doc_set_int(d, "vm_id", vm_id);
	doc_set_str(d, "host", host);
	doc_set_str(d, "action", action);
	return d;
}

int
sched_plan(struct ctx *ctx, const struct sched_opts *o, emit_fn emit,
    struct cerr *err)
{
	struct fit_model m = { 0 };
	struct pending p = { 0 };
	struct pl_result *res = NULL;
	size_t i;

	if (acct_require_admin(ctx, "plan placements", err))
		return err->code;
	if (fit_model_load(ctx, &m, err) ||
	    model_pending(ctx, &m, &p, o ? o->max_vms : 0, err) ||
	    fit_model_run(&m, &res, err))
		goto out;
	for (i = 0; i < m.nvms && err->code == 0; i++) {
		struct doc *d;

		if (res[i].reason != PL_PLACED)
			continue;
		d = sched_placement_doc(p.names[i], p.ids[i],
		    m.hosts[res[i].host].attr.name, "deploy");
		emit(ctx, d, err);
		doc_free(d);
	}
out:
	free(res);
	pending_release(&p);
	fit_model_release(&m);
	return err->code;
}

/* The lease: one pass at a time, across processes and machines sharing
 * the catalog.  A lease whose holder is gone, or that expired, is taken
 * over. */
#define LEASE_SECONDS 600

static int
lease_take(struct ctx *ctx, struct cerr *err)
{
	struct cstmt *st = NULL;
	char now[32], until[32], holder[300], host[256] = "";
	time_t t = time(NULL) + LEASE_SECONDS;
	struct tm tm;
	long long pid = 0;
	int held = 0;

	catalog_now(now);
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gethostname(host, sizeof(host) - 1);
	snprintf(holder, sizeof(holder), "%s:%ld", host, (long)getpid());
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT pid, holder, expires > ? "
	    "FROM sched_lease WHERE id = 1", "s", now))
		goto fail;
	if (cstmt_row(st, err)) {
		char prefix[270];

		pid = cstmt_int(st, 0);
		snprintf(prefix, sizeof(prefix), "%s:", host);
		/* alive: unexpired, and (on this machine) its pid runs */
		held = cstmt_int(st, 2) != 0 &&
		    (strncmp(cstmt_text(st, 1), prefix, strlen(prefix)) != 0 ||
		    kill((pid_t)pid, 0) == 0 || errno == EPERM);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (held) {
		cerr_set(err, CERR_CONFLICT, "another csched pass runs (pid "
		    "%lld); one at a time", pid);
		goto fail;
	}
	if (catalog_exec(ctx->cat, err, "INSERT OR REPLACE INTO sched_lease "
	    "(id, pid, holder, expires) VALUES (1, ?, ?, ?)", "iss",
	    (long long)getpid(), holder, until) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	return 0;
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

static void
lease_drop(struct ctx *ctx)
{
	struct cerr err = { 0 };

	catalog_exec(ctx->cat, &err, "DELETE FROM sched_lease WHERE id = 1 "
	    "AND pid = ?", "i", (long long)getpid());
}

/* One round: place what is pending (under the catalog's write lock, so
 * the snapshot holds), record the intents and the reasons, and hand back
 * the VMs to deploy, grouped by host. */
struct dispatch {
	long long host_id;
	long long *vms;
	size_t n, cap;
};

static int
pass_place(struct ctx *ctx, const struct sched_opts *o, struct dispatch **dp,
    size_t *ndp, struct cerr *err)
{
	struct fit_model m = { 0 };
	struct pending p = { 0 };
	struct pl_result *res = NULL;
	char now[32], why[512];
	size_t i, j, cap = 0;

	*dp = NULL;
	*ndp = 0;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (fit_model_load(ctx, &m, err) ||
	    model_pending(ctx, &m, &p, o->max_vms, err) ||
	    fit_model_run(&m, &res, err))
		goto fail;
	catalog_now(now);
	for (i = 0; i < m.nvms; i++) {
		if (res[i].reason != PL_PLACED) {
			placement_reason(&res[i], &m.vms[i], why, sizeof(why));
			if (p.reasons[i] && strcmp(p.reasons[i], why) == 0)
				continue;	/* said already */
			if (catalog_exec(ctx->cat, err, "UPDATE vms SET "
			    "reason = ? WHERE id = ?", "si", why, p.ids[i]))
				goto fail;
			continue;
		}
		if (catalog_exec(ctx->cat, err, "UPDATE vms SET state = "
		    "'deploying', host_id = ?, target = 'running', "
		    "intent_pid = ?, intent_owner = nullif(?, ''), reason = "
		    "NULL, updated = ? WHERE id = ? AND state = 'pending'",
		    "iissi", m.hosts[res[i].host].id, (long long)getpid(),
		    owner_self(), now, p.ids[i]) ||
		    acct_audit(ctx, "schedule", "VM", p.ids[i], p.names[i],
		    m.hosts[res[i].host].attr.name, err))
			goto fail;
		for (j = 0; j < *ndp; j++)
			if ((*dp)[j].host_id == m.hosts[res[i].host].id)
				break;
		if (j == *ndp) {
			xgrow(dp, &cap, *ndp + 1, sizeof(**dp));
			memset(&(*dp)[j], 0, sizeof(**dp));
			(*dp)[j].host_id = m.hosts[res[i].host].id;
			(*ndp)++;
		}
		xgrow(&(*dp)[j].vms, &(*dp)[j].cap, (*dp)[j].n + 1,
		    sizeof(*(*dp)[j].vms));
		(*dp)[j].vms[(*dp)[j].n++] = p.ids[i];
	}
	if (catalog_commit(ctx->cat, err))
		goto fail;
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(res);
	pending_release(&p);
	fit_model_release(&m);
	return err->code;
}

/* Dispatch: a thread per host (at most max_dispatch at once), each with
 * its own catalog connection, deploying its host's VMs one by one. */
struct worker {
	struct ctx ctx;
	const char *path;
	struct dispatch *d;
	size_t placed, failed;
	struct cerr err;
	char **notes;
	size_t nnotes, capnotes;
};

static void
worker_note(struct worker *w, const char *msg)
{
	xgrow(&w->notes, &w->capnotes, w->nnotes + 1, sizeof(*w->notes));
	w->notes[w->nnotes++] = xstrdup(msg);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct catalog *cat = NULL;
	size_t i;

	if (catalog_open(w->path, 0, &cat, &w->err))
		return NULL;
	w->ctx.cat = cat;
	for (i = 0; i < w->d->n; i++) {
		struct cerr e = { 0 };
		char id[32];

		snprintf(id, sizeof(id), "%lld", w->d->vms[i]);
		if (vm_dispatch(&w->ctx, id, &e) == 0) {
			w->placed++;
		} else {
			w->failed++;
			worker_note(w, e.msg);
		}
	}
	catalog_close(cat);
	return NULL;
}

static int
pass_dispatch(struct ctx *ctx, const struct sched_opts *o,
    struct dispatch *dp, size_t ndp, size_t *failed,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct worker *w = xcalloc(ndp + 1, sizeof(*w));
	pthread_t *t = xcalloc(ndp + 1, sizeof(*t));
	size_t i, j, started = 0, width = o->max_dispatch > 0 ?
	    (size_t)o->max_dispatch : 8;

	*failed = 0;
	for (i = 0; i < ndp; i += width) {
		for (j = i; j < ndp && j < i + width; j++) {
			w[j].ctx = *ctx;
			w[j].path = catalog_path(ctx->cat);
			w[j].d = &dp[j];
			if (pthread_create(&t[j], NULL, worker_run, &w[j]))
				worker_run(&w[j]);	/* run it here */
			else
				started |= 0;
		}
		for (j = i; j < ndp && j < i + width; j++)
			pthread_join(t[j], NULL);
	}
	for (i = 0; i < ndp; i++) {
		*failed += w[i].failed;
		for (j = 0; j < w[i].nnotes; j++) {
			note(ctx, w[i].notes[j]);
			free(w[i].notes[j]);
		}
		free(w[i].notes);
		if (w[i].err.code && err->code == 0)
			cerr_set(err, w[i].err.code, "%s", w[i].err.msg);
	}
	(void)started;
	free(w);
	free(t);
	return err->code;
}

static void
dispatch_release(struct dispatch *dp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dp[i].vms);
	free(dp);
}

static void
quiet_note(struct ctx *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int
sched_pass(struct ctx *ctx, const struct sched_opts *o, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct dispatch *dp = NULL;
	struct cerr rec = { 0 };
	size_t ndp = 0, failed = 0, round, i, j;

	if (acct_require_admin(ctx, "run a scheduler pass", err) ||
	    lease_take(ctx, err))
		return err->code;
	/* hosts that did not answer the reconcile (each bounded by the
	 * host timeout) do not stop the pass: the others are scheduled,
	 * and the pass ends partial */
	if (o->reconcile && vm_reconcile(ctx, emit, note ? note : quiet_note,
	    &rec)) {
		if (rec.code != CERR_PARTIAL && rec.code != CERR_UNREACHABLE) {
			cerr_set(err, rec.code, "%s", rec.msg);
			goto out;
		}
	}
	/* a deploy that fails puts its VM back to pending, to be tried on
	 * another host at once; a second failure waits (back-off) */
	for (round = 0; round < 3 && err->code == 0; round++) {
		if (pass_place(ctx, o, &dp, &ndp, err) || ndp == 0)
			break;
		if (pass_dispatch(ctx, o, dp, ndp, &failed, note, err) == 0) {
			for (i = 0; i < ndp && err->code == 0; i++) {
				for (j = 0; j < dp[i].n && err->code == 0;
				    j++) {
					struct doc *d = NULL;
					char id[32];

					snprintf(id, sizeof(id), "%lld",
					    dp[i].vms[j]);
					if (vm_show(ctx, id, &d, err) == 0)
						emit(ctx, d, err);
					doc_free(d);
				}
			}
		}
		dispatch_release(dp, ndp);
		dp = NULL;
		ndp = 0;
		if (failed == 0)
			break;
	}
	if (err->code == 0 && rec.code)
		cerr_set(err, rec.code, "%s", rec.msg);
out:
	dispatch_release(dp, ndp);
	lease_drop(ctx);
	return err->code;
}

int
sched_check(const struct doc *d, const char *where, struct cerr *err)
{
	const char *vm = doc_get_str(d, "vm"), *host = doc_get_str(d, "host");
	const char *action = doc_get_str(d, "action"), *k;

	if ((k = doc_get_str(d, "kind")) && strcmp(k, "Placement") != 0)
		return cerr_set(err, CERR_USAGE, "%s: kind '%s' is not "
		    "Placement", where, k);
	if (vm == NULL || host == NULL || action == NULL)
		return cerr_set(err, CERR_USAGE, "%s: a Placement needs vm, "
		    "host and action", where);
	if (strcmp(action, "migrate") != 0 && strcmp(action, "deploy") != 0)
		return cerr_set(err, CERR_USAGE, "%s: action '%s' is not "
		    "deploy or migrate", where, action);
	return 0;
}

int
sched_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	const char *vm = doc_get_str(d, "vm"), *host = doc_get_str(d, "host");
	const char *action = doc_get_str(d, "action");
	/* the columns this query adds to REQ_COLS */
	enum { COL_STATE = REQ_COL_N, COL_HOST_ID };
	struct cstmt *st = NULL;
	enum vm_state state;
	long long vid = 0, hid = 0;
	char id[32];
	int ok = 0;

	if (acct_require_admin(ctx, "apply placements", err) ||
	    sched_check(d, where, err))
		return err->code;
	if (strcmp(action, "migrate") == 0)
		return vm_migrate(ctx, vm, host, true, out, err);
	/* deploy: the VM must still be pending and the host must take it
	 * now, by the VM's own requirements and group */
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT " REQ_COLS ", "
	    "v.state, h.id FROM vms v, hosts h "
	    "WHERE (v.name = ?1 AND v.state != 'done' OR v.uuid = ?1) AND "
	    "h.name = ?2", "ss", vm, host))
		goto fail;
	if (cstmt_row(st, err)) {
		struct fit_req q = req_of(st);
		struct fit_model m = { 0 };
		struct pl_result *res = NULL;
		char why[512];
		long hi;
		size_t i;

		vid = cstmt_int(st, REQ_COL_ID);
		hid = cstmt_int(st, COL_HOST_ID);
		ok = 1;
		if (vm_state_parse(cstmt_text(st, COL_STATE), &state) ||
		    state != VM_STATE_PENDING) {
			cerr_set(err, CERR_CONFLICT, "cannot deploy vm '%s': "
			    "it is %s (deploy needs pending)", q.name,
			    cstmt_text(st, COL_STATE));
		} else if (fit_model_load(ctx, &m, err) == 0 &&
		    fit_model_vm(&m, &q, vid, 0, NULL, err) == 0) {
			/* only the named host is a candidate */
			hi = fit_host_index(&m, hid);
			for (i = 0; i < m.nhosts; i++)
				m.hosts[i].enabled = m.hosts[i].enabled &&
				    (long)i == hi;
			if (fit_model_run(&m, &res, err) == 0 &&
			    res[0].reason != PL_PLACED) {
				placement_reason(&res[0], &m.vms[0], why,
				    sizeof(why));
				cerr_set(err, CERR_CAPACITY, "host '%s' cannot "
				    "take vm '%s' now: %s", host, q.name, why);
			}
		}
		free(res);
		fit_model_release(&m);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (!ok) {
		cerr_set(err, CERR_NOTFOUND, "no pending vm '%s' or no host "
		    "'%s'", vm, host);
		goto fail;
	}
	{
		char now[32];

		catalog_now(now);
		if (catalog_exec(ctx->cat, err, "UPDATE vms SET state = "
		    "'deploying', host_id = ?, target = 'running', intent_pid "
		    "= ?, intent_owner = nullif(?, ''), reason = NULL, "
		    "updated = ? WHERE id = ? AND state = 'pending'", "iissi",
		    hid, (long long)getpid(), owner_self(), now, vid) ||
		    acct_audit(ctx, "schedule", "VM", vid, vm, host, err) ||
		    catalog_commit(ctx->cat, err))
			goto fail;
	}
	snprintf(id, sizeof(id), "%lld", vid);
	vm_dispatch(ctx, id, err);
	if (err->code == 0 || err->code != CERR_USAGE) {
		struct cerr e = { 0 };

		vm_show(ctx, id, out, &e);
	}
	return err->code;
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
sched_rebalance(struct ctx *ctx, const char *policy, long max_moves,
    emit_fn emit, struct cerr *err)
{
	/* the column the query of movable VMs adds to REQ_COLS */
	enum { COL_HOST_ID = REQ_COL_N };
	static const char *const policies[] = { "pack", "spread" };
	struct fit_model m = { 0 };
	struct cstmt *st = NULL;
	struct pl_move *moves = NULL;
	size_t *placed = NULL, cap = 0, capids = 0, i;
	long long *ids = NULL;
	char **names = NULL;
	long n;
	enum pl_policy pol;

	if (acct_require_admin(ctx, "rebalance", err))
		return err->code;
	if (valid_enum(policy, policies, ARRAY_SIZE(policies), &i, "policy",
	    err))
		return err->code;
	pol = i == 0 ? PL_PACK : PL_SPREAD;
	if (fit_model_load(ctx, &m, err))
		goto out;
	/* the VMs that can move: those a migration takes */
	if (catalog_query(ctx->cat, &st, err, "SELECT " REQ_COLS ", "
	    "v.host_id FROM vms v WHERE v.state IN "
	    "('running', 'suspended', 'poweroff') AND v.host_id IS NOT NULL "
	    "ORDER BY v.id", ""))
		goto out;
	while (cstmt_row(st, err)) {
		struct fit_req q = req_of(st);
		long h = fit_host_index(&m, cstmt_int(st, COL_HOST_ID));
		size_t c2 = capids;

		if (h < 0 || fit_model_vm(&m, &q, cstmt_int(st, REQ_COL_ID), 0,
		    NULL, err))
			break;
		xgrow(&placed, &cap, m.nvms, sizeof(*placed));
		xgrow(&ids, &capids, m.nvms, sizeof(*ids));
		xgrow(&names, &c2, m.nvms, sizeof(*names));
		placed[m.nvms - 1] = (size_t)h;
		ids[m.nvms - 1] = cstmt_int(st, REQ_COL_ID);
		names[m.nvms - 1] = xstrdup(q.name);
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	{
		struct pl_input in = {
			.hosts = m.hosts, .nhosts = m.nhosts,
			.groups = m.groups, .ngroups = m.ngroups,
			.members = m.members, .nmembers = m.nmembers,
			.vms = m.vms, .nvms = m.nvms,
		};

		if ((n = placement_rebalance(&in, placed, pol, max_moves,
		    &moves)) < 0) {
			cerr_set(err, CERR_FAIL, "the placement engine ran out "
			    "of memory");
			goto out;
		}
	}
	for (i = 0; i < (size_t)n && err->code == 0; i++) {
		struct doc *d = sched_placement_doc(names[moves[i].vm],
		    ids[moves[i].vm], m.hosts[moves[i].host].attr.name,
		    "migrate");

		emit(ctx, d, err);
		doc_free(d);
	}
out:
	for (i = 0; i < m.nvms && names; i++)
		free(names[i]);
	free(names);
	free(ids);
	free(placed);
	free(moves);
	fit_model_release(&m);
	return err->code;
}

int
sched_explain(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct doc *vm = NULL, *d;
	struct cstmt *st = NULL;
	const char *state;
	enum vm_state s;

	if (vm_show(ctx, ref, &vm, err))
		return err->code;
	state = doc_get_str(vm, "state");
	d = doc_new(DOC_MAP);
	doc_set_str(d, "kind", "Placement");
	doc_map_set(d, "id", doc_copy(doc_map_get(vm, "id")));
	doc_set_str(d, "vm", doc_get_str(vm, "name"));
	doc_map_set(d, "vm_id", doc_copy(doc_map_get(vm, "id")));
	doc_set_str(d, "state", state);
	doc_set_str(d, "host", doc_get_str(vm, "host"));
	if (state && vm_state_parse(state, &s) == 0 &&
	    s == VM_STATE_PENDING) {
		long long id = doc_map_get(vm, "id")->u.i;

		if (catalog_query(ctx->cat, &st, err, "SELECT reason, "
		    "attempts, retry_after FROM vms WHERE id = ?", "i", id) ==
		    0 && cstmt_row(st, err)) {
			if (!cstmt_null(st, 0))
				doc_set_str(d, "reason", cstmt_text(st, 0));
			doc_set_int(d, "failed_deploys", cstmt_int(st, 1));
			if (!cstmt_null(st, 2))
				doc_set_str(d, "retry_after",
				    cstmt_text(st, 2));
		}
		cstmt_free(st);
		/* what a pass would do now, with every pending VM */
		if (err->code == 0) {
			struct fit_model m = { 0 };
			struct pending p = { 0 };
			struct pl_result *res = NULL;
			char why[512] = "waiting for its back-off to end";
			size_t i;

			if (fit_model_load(ctx, &m, err) == 0 &&
			    model_pending(ctx, &m, &p, 0, err) == 0 &&
			    fit_model_run(&m, &res, err) == 0) {
				for (i = 0; i < m.nvms; i++) {
					if (p.ids[i] != id)
						continue;
					if (res[i].reason == PL_PLACED)
						snprintf(why, sizeof(why),
						    "would go to host '%s'",
						    m.hosts[res[i].host].attr.name);
					else
						placement_reason(&res[i],
						    &m.vms[i], why,
						    sizeof(why));
				}
				doc_set_str(d, "now", why);
			}
			free(res);
			pending_release(&p);
			fit_model_release(&m);
		}
	}
	doc_free(vm);
	if (err->code)
		doc_free(d);
	else
		*out = d;
	return err->code;
}

int
host_drain(struct ctx *ctx, const char *ref, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct doc *h = NULL;
	struct cstmt *st = NULL;
	long long *ids = NULL, hid;
	size_t n = 0, cap = 0, i, failed = 0;
	int code = 0;

	if (host_set_state(ctx, ref, "disabled", &h, err))
		return err->code;
	hid = doc_map_get(h, "id")->u.i;
	if (catalog_query(ctx->cat, &st, err, "SELECT id FROM vms WHERE "
	    "host_id = ? AND state IN ('running', 'suspended', 'poweroff') "
	    "ORDER BY id", "i", hid))
		goto out;
	while (cstmt_row(st, err)) {
		xgrow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	for (i = 0; i < n && err->code == 0; i++) {
		struct cerr one = { 0 };
		struct doc *vm = NULL;
		char id[32];

		snprintf(id, sizeof(id), "%lld", ids[i]);
		if (vm_migrate(ctx, id, NULL, true, &vm, &one)) {
			note(ctx, one.msg);
			code = failed++ == 0 || code == one.code ? one.code :
			    CERR_PARTIAL;
			continue;
		}
		emit(ctx, vm, err);
		doc_free(vm);
	}
	if (err->code == 0 && failed)
		cerr_set(err, failed < n ? CERR_PARTIAL : code, "host '%s' is "
		    "disabled, but %zu of its %zu VMs did not move",
		    doc_get_str(h, "name"), failed, n);
out:
	free(ids);
	doc_free(h);
	return err->code;
}
