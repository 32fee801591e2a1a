/*
 * host-monitor.c - service: the monitoring pass over hosts (capacity, load,
 * free memory, datastores and each domain's usage), each host polled by a
 * thread of its own under one deadline, recorded in one transaction.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "catalog.h"
#include "host-int.h"
#include "host.h"
#include "hv.h"
#include "mono.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

/*
 * Monitoring.  Each host is polled by a detached thread of its own that
 * touches no catalog (the connection is not shared between threads); the
 * caller waits until every thread is done or the deadline passes, then
 * records what came back in one transaction.  A thread still stuck in a
 * hung libvirtd is left behind: the job and the pool are reference counted
 * so whichever side lets go last frees them.
 */
struct poll_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t pending;
	int refs;
};

struct poll_job {
	struct poll_pool *pool;
	long long id;
	char *name, *uri;
	int sample_ms;
	/* the host's datastores, whose capacity the poll reads too */
	struct poll_ds {
		long long id;
		char *pool;
		struct hv_pool_info pi;	/* written by the thread */
		int ok;
	} *ds;
	size_t nds;
	/* written by the thread, read by the caller once done is set */
	struct hv_stats st;
	struct cerr err;
	int done, refs;
};

static void
poll_job_free(struct poll_job *j)
{
	size_t i;

	for (i = 0; i < j->nds; i++)
		free(j->ds[i].pool);
	free(j->ds);
	hv_stats_release(&j->st);
	free(j->name);
	free(j->uri);
	free(j);
}

static void
poll_pool_free(struct poll_pool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/* Let go of j (and its pool); the caller holds the pool's lock, which
 * this releases. */
static void
poll_release(struct poll_job *j)
{
	struct poll_pool *p = j->pool;
	int job_gone = --j->refs == 0, pool_gone = --p->refs == 0;

	pthread_mutex_unlock(&p->mu);
	if (job_gone)
		poll_job_free(j);
	if (pool_gone)
		poll_pool_free(p);
}

static void *
poll_thread(void *arg)
{
	struct poll_job *j = arg;
	struct hv_stats st = { 0 };
	struct cerr err = { 0 };
	struct hv *hv = NULL;

	size_t i;

	if (hv_connect(j->uri, &hv, &err) == 0 &&
	    hv_poll(hv, j->sample_ms, &st, &err) != 0)
		hv_stats_release(&st);
	/* datastores: what each pool holds and has free now */
	for (i = 0; err.code == 0 && i < j->nds; i++) {
		struct cerr e = { 0 };

		j->ds[i].ok = hv_pool_info(hv, j->ds[i].pool, &j->ds[i].pi,
		    &e) == 0;
	}
	hv_close(hv);
	pthread_mutex_lock(&j->pool->mu);
	j->st = st;
	j->err = err;
	j->done = 1;
	j->pool->pending--;
	pthread_cond_broadcast(&j->pool->cv);
	poll_release(j);
	return NULL;
}

static void
push_job(struct cstmt *st, struct poll_job ***jobs, size_t *n, size_t *cap)
{
	struct poll_job *j = xcalloc(1, sizeof(*j));

	j->id = cstmt_int(st, 0);
	j->name = xstrdup(cstmt_text(st, 1));
	j->uri = xstrdup(cstmt_text(st, 2));
	j->refs = 1;
	xgrow(jobs, cap, *n + 1, sizeof(**jobs));
	(*jobs)[(*n)++] = j;
}

/* The hosts to poll: those refs name, or all. */
/* The datastores of job j's host, for the poll to read. */
static int
job_datastores(struct ctx *ctx, struct poll_job *j, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t cap = 0;

	if (catalog_query(ctx->cat, &st, err, "SELECT d.id, d.name FROM "
	    "datastore_hosts x JOIN datastores d ON d.id = x.datastore_id "
	    "WHERE x.host_id = ? ORDER BY d.id", "i", j->id))
		return err->code;
	while (cstmt_row(st, err)) {
		char pool[200];

		snprintf(pool, sizeof(pool), VOL_DS_POOL_PREFIX "%s",
		    cstmt_text(st, 1));
		xgrow(&j->ds, &cap, j->nds + 1, sizeof(*j->ds));
		memset(&j->ds[j->nds], 0, sizeof(*j->ds));
		j->ds[j->nds].id = cstmt_int(st, 0);
		j->ds[j->nds].pool = xstrdup(pool);
		j->nds++;
	}
	cstmt_free(st);
	return err->code;
}

static int
monitor_hosts(struct ctx *ctx, const char *const *refs, size_t n,
    struct poll_job ***jobs, size_t *njobs, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t i, cap = 0;
	long long id;

	if (n == 0) {
		if (catalog_query(ctx->cat, &st, err, "SELECT id, name, uri "
		    "FROM hosts ORDER BY id", ""))
			return err->code;
		while (cstmt_row(st, err))
			push_job(st, jobs, njobs, &cap);
		cstmt_free(st);
		return err->code;
	}
	for (i = 0; i < n; i++) {
		if (!valid_id(refs[i], &id))
			id = -1;
		if (catalog_query(ctx->cat, &st, err, "SELECT id, name, uri "
		    "FROM hosts WHERE id = ? OR (? < 0 AND name = ?)", "iis",
		    id, id, refs[i]))
			return err->code;
		if (cstmt_row(st, err))
			push_job(st, jobs, njobs, &cap);
		else if (err->code == 0)
			cerr_set(err, CERR_NOTFOUND, "no host '%s'", refs[i]);
		cstmt_free(st);
		if (err->code)
			return err->code;
	}
	return 0;
}

/* The hosts to poll (those refs name, or all), with their datastores. */
static int
monitor_targets(struct ctx *ctx, const char *const *refs, size_t n,
    struct poll_job ***jobs, size_t *njobs, struct cerr *err)
{
	size_t i;

	if (monitor_hosts(ctx, refs, n, jobs, njobs, err))
		return err->code;
	for (i = 0; i < *njobs; i++)
		if (job_datastores(ctx, (*jobs)[i], err))
			return err->code;
	return 0;
}

/* Record one host's poll (inside the transaction). */
static int
monitor_record(struct ctx *ctx, const struct poll_job *j, const char *now,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	char *state = NULL, *prev = NULL, detail[1100];
	const struct cerr *e = &j->err;
	size_t i;
	int found;

	if (catalog_query(ctx->cat, &st, err, "SELECT state, prev_state FROM "
	    "hosts WHERE id = ?", "i", j->id))
		return err->code;
	if ((found = cstmt_row(st, err))) {
		state = xstrdup(cstmt_text(st, 0));
		prev = host_dup_or_null(cstmt_text(st, 1));
	}
	cstmt_free(st);
	if (err->code || !found)	/* removed meanwhile: nothing to do */
		goto out;
	if (e->code) {
		if (catalog_exec(ctx->cat, err, "UPDATE hosts SET error = ?, "
		    "prev_state = CASE WHEN state = 'error' THEN prev_state "
		    "ELSE state END, state = 'error', updated = CASE WHEN "
		    "state = 'error' THEN updated ELSE ? END WHERE id = ?",
		    "ssi", e->msg, now, j->id))
			goto out;
		if (strcmp(state, "error") != 0) {
			snprintf(detail, sizeof(detail), "%s -> error: %s",
			    state, e->msg);
			acct_audit(ctx, "error", "Host", j->id, j->name, detail,
			    err);
		}
		goto out;
	}
	if (catalog_exec(ctx->cat, err, "UPDATE hosts SET cpu = ?, memory = ?, "
	    "monitored = ?, load = CASE WHEN ? < 0 THEN NULL ELSE ? END, "
	    "measured_free_memory = nullif(?, -1), error = NULL, "
	    "state = CASE WHEN state = 'error' THEN COALESCE(prev_state, "
	    "'enabled') ELSE state END, prev_state = NULL, updated = CASE "
	    "WHEN state = 'error' THEN ? ELSE updated END WHERE id = ?",
	    "disffisi", j->st.node.cpu, j->st.node.memory, now, j->st.load,
	    j->st.load, j->st.free_memory, now, j->id))
		goto out;
	if (strcmp(state, "error") == 0) {
		snprintf(detail, sizeof(detail), "error -> %s", prev ? prev :
		    "enabled");
		if (acct_audit(ctx, "recover", "Host", j->id, j->name, detail,
		    err))
			goto out;
	}
	for (i = 0; i < j->nds && err->code == 0; i++)
		if (j->ds[i].ok)
			catalog_exec(ctx->cat, err, "UPDATE datastore_hosts SET "
			    "capacity = ?, available = ?, monitored = ? WHERE "
			    "datastore_id = ? AND host_id = ?", "iisii",
			    j->ds[i].pi.capacity, j->ds[i].pi.available, now,
			    j->ds[i].id, j->id);
	for (i = 0; i < j->st.ndoms && err->code == 0; i++) {
		const struct hv_dom_stats *d = &j->st.doms[i];

		/* only the VMs the catalog places on this host */
		catalog_exec(ctx->cat, err, "INSERT OR REPLACE INTO vm_stats "
		    "(vm_id, host_id, cpu_time, memory, rss, monitored) "
		    "SELECT id, host_id, nullif(?, -1), nullif(?, -1), "
		    "nullif(?, -1), ? FROM vms WHERE uuid = ? AND host_id = ? "
		    "AND state != 'done'", "iiissi", d->cpu_time, d->memory,
		    d->rss, now, d->uuid, j->id);
	}
out:
	free(state);
	free(prev);
	return err->code;
}

int
host_monitor(struct ctx *ctx, const char *const *refs, size_t n,
    long timeout_ms, emit_fn emit, void (*note)(struct ctx *, const char *),
    struct cerr *err)
{
	struct poll_job **jobs = NULL;
	struct poll_pool *pool = NULL;
	pthread_attr_t ta;
	struct timespec deadline;
	size_t njobs = 0, i, failed = 0;
	char now[32], id[32];

	if (acct_require_admin(ctx, "monitor hosts", err) ||
	    monitor_targets(ctx, refs, n, &jobs, &njobs, err))
		goto out;
	pool = xcalloc(1, sizeof(*pool));
	pthread_mutex_init(&pool->mu, NULL);
	mono_cond_init(&pool->cv);
	pool->refs = 1;
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	deadline = mono_after_ms(timeout_ms);
	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < njobs; i++) {
		pthread_t t;
		struct poll_job *j = jobs[i];

		j->pool = pool;
		/* the load sample takes a share of the time allowed */
		j->sample_ms = timeout_ms >= 2000 ? 500 : (int)(timeout_ms / 4);
		j->refs = 2;
		pool->refs++;
		pool->pending++;
		if (pthread_create(&t, &ta, poll_thread, j) != 0) {
			j->refs--;
			pool->refs--;
			pool->pending--;
			cerr_set(&j->err, CERR_FAIL, "no thread to poll it");
			j->done = 1;
		}
	}
	pthread_attr_destroy(&ta);
	while (pool->pending > 0 && pthread_cond_timedwait(&pool->cv,
	    &pool->mu, &deadline) != ETIMEDOUT)
		;
	for (i = 0; i < njobs; i++) {
		struct poll_job *j;

		if (jobs[i]->done)
			continue;
		/* still stuck: the job is its thread's from now on; we
		 * record the timeout on a copy */
		j = xcalloc(1, sizeof(*j));
		j->id = jobs[i]->id;
		j->name = xstrdup(jobs[i]->name);
		j->refs = 1;
		cerr_set(&j->err, CERR_UNREACHABLE, "no answer within %g s",
		    timeout_ms / 1000.0);
		jobs[i]->refs--;
		jobs[i] = j;
	}
	pthread_mutex_unlock(&pool->mu);
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	for (i = 0; i < njobs; i++)
		if (monitor_record(ctx, jobs[i], now, err))
			break;
	if (err->code || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	for (i = 0; i < njobs && err->code == 0; i++) {
		struct doc *d = NULL;
		struct cerr gone = { 0 };

		snprintf(id, sizeof(id), "%lld", jobs[i]->id);
		if (host_show(ctx, id, &d, &gone) == 0)
			emit(ctx, d, err);
		doc_free(d);
	}
	for (i = 0; i < njobs; i++)
		if (jobs[i]->err.code)
			failed++;
	if (err->code || failed == 0)
		goto out;
	for (i = 0; i < njobs; i++) {
		char msg[sizeof(err->msg) + 300];

		if (jobs[i]->err.code == 0)
			continue;
		snprintf(msg, sizeof(msg), "cannot monitor host '%s': %s",
		    jobs[i]->name, jobs[i]->err.msg);
		if (njobs == 1) {
			cerr_set(err, jobs[i]->err.code, "%s", msg);
			goto out;
		}
		note(ctx, msg);
	}
	if (failed == njobs)
		cerr_set(err, CERR_UNREACHABLE, "no host answered (%zu hosts)",
		    njobs);
	else
		cerr_set(err, CERR_PARTIAL, "%zu of %zu hosts did not answer",
		    failed, njobs);
out:
	/* every job left is ours alone: done, or a copy */
	for (i = 0; i < njobs; i++)
		poll_job_free(jobs[i]);
	if (pool) {
		pthread_mutex_lock(&pool->mu);
		if (--pool->refs == 0) {
			pthread_mutex_unlock(&pool->mu);
			poll_pool_free(pool);
		} else {
			pthread_mutex_unlock(&pool->mu);
		}
	}
	free(jobs);
	return err->code;
}
