/*
 * vm-wait.c - service: waiting for VMs to reach a state (cvm wait).
 *
 * The VMs named are found once (by id afterwards, so a VM deleted while it
 * is waited for is still seen, as done), then the catalog is read until
 * every one is in the state asked for, with a back-off from 100 ms that
 * doubles up to 1 s: each read is one short SELECT per VM in autocommit,
 * so no lock is held between reads and the writers never wait for us, and
 * the process sleeps between reads, so it costs no CPU while it waits.
 *
 * Some states never lead to the one asked for without a command (a VM in
 * poweroff is not running until someone runs cvm start).  The edges a VM
 * follows by itself are a table, wait_next: those made by the passes
 * (csched pass, cvm reconcile), by the outcome of an action already in
 * flight, and by the guest or its host (the guest powers itself off or
 * crashes, the host falls silent).  A VM in a state from which no chain of
 * those edges reaches the state asked for has failed the wait
 * (CERR_CONFLICT), at once.  unknown (a silent host) leads back to
 * whatever the host shows when it answers again, so it is waited through
 * when a VM is in it, but never followed from another state: a host that
 * may fall silent does not make a powered-off VM one that may run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "catalog.h"
#include "mono.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "compat.h"

#define WAIT_FIRST_MS	100
#define WAIT_MAX_MS	1000

#define B(s) VM_STATE_BIT(VM_STATE_##s)

/* The states each state leads to with no command (see above). */
static const unsigned wait_next[] = {
	[VM_STATE_PENDING] = B(DEPLOYING),
	[VM_STATE_HOLD] = 0,
	[VM_STATE_DEPLOYING] = B(RUNNING) | B(PENDING) | B(FAILED) |
	    B(STOPPED),
	[VM_STATE_RUNNING] = B(POWEROFF) | B(FAILED) | B(UNKNOWN),
	[VM_STATE_SUSPENDED] = B(UNKNOWN),
	[VM_STATE_STOPPED] = B(UNKNOWN),
	[VM_STATE_POWEROFF] = B(UNKNOWN),
	[VM_STATE_MIGRATING] = B(RUNNING) | B(SUSPENDED) | B(POWEROFF) |
	    B(FAILED),
	[VM_STATE_SHUTTING_DOWN] = B(POWEROFF) | B(STOPPED) | B(DONE) |
	    B(RUNNING) | B(SUSPENDED) | B(UNKNOWN) | B(FAILED),
	[VM_STATE_FAILED] = 0,
	[VM_STATE_UNKNOWN] = B(RUNNING) | B(SUSPENDED) | B(POWEROFF) |
	    B(STOPPED) | B(FAILED) | B(DEPLOYING),
	[VM_STATE_DONE] = 0,
};

#define WAIT_NSTATES (sizeof(wait_next) / sizeof(wait_next[0]))

/* The states from reaches with no command, itself included. */
static unsigned
reach(enum vm_state from)
{
	unsigned seen = 0, todo = VM_STATE_BIT(from);
	size_t s;

	while (todo) {
		for (s = 0; !(todo & (1u << s)); s++)
			;
		todo &= ~(1u << s);
		seen |= 1u << s;
		/* unknown is waited through, never followed into */
		if (s != (size_t)VM_STATE_UNKNOWN || s == (size_t)from)
			todo |= wait_next[s] & ~seen;
	}
	return seen;
}

/* The state of VM id now, read in autocommit (no lock kept). */
static int
state_now(struct ctx *ctx, long long id, enum vm_state *s, struct cerr *err)
{
	struct cstmt *st = NULL;

	*s = VM_STATE_NONE;
	if (catalog_query(ctx->cat, &st, err, "SELECT state FROM vms WHERE "
	    "id = ?", "i", id) == 0 && cstmt_row(st, err))
		vm_state_parse(cstmt_text(st, 0), s);
	cstmt_free(st);
	return err->code;
}

int
vm_wait_state(const char *name, enum vm_state *s, struct cerr *err)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < WAIT_NSTATES; i++)
		if (strcasecmp(name, vm_state_name((enum vm_state)i)) == 0) {
			*s = (enum vm_state)i;
			return 0;
		}
	for (i = 0; i < WAIT_NSTATES; i++)
		buf_printf(&b, "%s%s", i ? ", " : "",
		    vm_state_name((enum vm_state)i));
	cerr_set(err, CERR_USAGE, "unknown state '%s' (one of %s)", name,
	    b.s);
	buf_release(&b);
	return err->code;
}

int
vm_wait(struct ctx *ctx, const char *const *refs, size_t n,
    enum vm_state want, int timeout, emit_fn emit, struct cerr *err)
{
	struct timespec deadline;
	long long *ids = NULL, nap = WAIT_FIRST_MS, left;
	char **names = NULL;
	enum vm_state s = VM_STATE_NONE, fs = VM_STATE_NONE;
	size_t i, behind = 0, first = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	ids = xcalloc(n + 1, sizeof(*ids));
	names = xcalloc(n + 1, sizeof(*names));
	/* all found first: one missing waits for none */
	for (i = 0; i < n; i++) {
		struct vmrow r = { 0 };

		if (vm_load(ctx, refs[i], &r, err))
			goto out;
		ids[i] = r.id;
		names[i] = xstrdup(r.name);
		vm_row_release(&r);
	}
	for (;;) {
		behind = 0;
		for (i = 0; i < n; i++) {
			if (state_now(ctx, ids[i], &s, err))
				goto out;
			if (s == want)
				continue;
			if (s == VM_STATE_NONE || !(reach(s) &
			    VM_STATE_BIT(want))) {
				cerr_set(err, CERR_CONFLICT, "cannot wait for "
				    "vm '%s' to be %s: it is %s (only a "
				    "command leads from there)", names[i],
				    vm_state_name(want), vm_state_name(s));
				goto out;
			}
			if (behind++ == 0) {
				first = i;
				fs = s;
			}
		}
		if (behind == 0)
			break;
		if ((left = mono_ms_left(&deadline)) <= 0) {
			/* the first VM still behind speaks for the others */
			char more[48] = "";

			if (behind > 1)
				snprintf(more, sizeof(more), " (and %zu more)",
				    behind - 1);
			cerr_set(err, CERR_UNREACHABLE, "timed out after %d s "
			    "waiting for vm '%s' to be %s: it is %s%s",
			    timeout, names[first], vm_state_name(want),
			    vm_state_name(fs), more);
			goto out;
		}
		mono_sleep_ms(nap < left ? nap : left);
		nap = nap * 2 < WAIT_MAX_MS ? nap * 2 : WAIT_MAX_MS;
	}
	/* every one is there: each as it is now */
	for (i = 0; i < n && emit; i++) {
		struct doc *d = NULL;

		if (vm_show_id(ctx, ids[i], &d, err) == 0)
			emit(ctx, d, err);
		doc_free(d);
		if (err->code)
			break;
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ids);
	return err->code;
}

/*
 * cvm list --watch: each look lists the VMs again and keeps each one's
 * document as JSON, by id; a VM whose document differs from the last
 * look's (or that is new) is emitted, and so is one that left the
 * selection, as it is now (a deleted VM, done).  vm_list hands documents
 * to an emit_fn, which carries no argument of ours: the look in progress
 * is this file's one static, set only for the length of the call.
 */
struct vm_watch {
	long long *ids;
	char **seen;		/* each VM's document as JSON */
	bool *here;		/* listed by the look in progress */
	size_t n, cap;
};

static struct {
	struct vm_watch *w;
	emit_fn emit;
	size_t changed;
} look;

static int
look_one(struct ctx *ctx, const struct doc *d, struct cerr *err)
{
	struct vm_watch *w = look.w;
	struct buf b = BUF_INIT;
	const struct doc *idd = doc_map_get(d, "id");
	long long id = idd && idd->type == DOC_INT ? idd->u.i : 0;
	size_t i;

	doc_json(&b, d);
	for (i = 0; i < w->n && w->ids[i] != id; i++)
		;
	if (i == w->n) {
		xgrow(&w->ids, &w->cap, w->n + 1, sizeof(*w->ids));
		w->seen = xrealloc(w->seen, w->cap * sizeof(*w->seen));
		w->here = xrealloc(w->here, w->cap * sizeof(*w->here));
		w->ids[i] = id;
		w->seen[i] = NULL;
		w->n++;
	}
	w->here[i] = true;
	if (w->seen[i] && strcmp(w->seen[i], b.s) == 0) {
		buf_release(&b);
		return 0;
	}
	free(w->seen[i]);
	w->seen[i] = buf_detach(&b);
	look.changed++;
	return look.emit ? look.emit(ctx, d, err) : 0;
}

int
vm_watch_look(struct ctx *ctx, const struct vm_filter *f, struct vm_watch **w,
    emit_fn emit, size_t *changed, struct cerr *err)
{
	size_t i;

	if (*w == NULL)
		*w = xcalloc(1, sizeof(**w));
	for (i = 0; i < (*w)->n; i++)
		(*w)->here[i] = false;
	look.w = *w;
	look.emit = emit;
	look.changed = 0;
	vm_list(ctx, f, look_one, err);
	/* those that left the selection, as they are now */
	for (i = 0; i < (*w)->n && err->code == 0; i++) {
		struct doc *d = NULL;
		struct cerr gone = { 0 };

		if ((*w)->here[i] || (*w)->seen[i] == NULL)
			continue;
		free((*w)->seen[i]);
		(*w)->seen[i] = NULL;
		look.changed++;
		if (emit && vm_show_id(ctx, (*w)->ids[i], &d, &gone) == 0)
			emit(ctx, d, err);
		doc_free(d);
	}
	*changed = look.changed;
	look.w = NULL;
	return err->code;
}

void
vm_watch_free(struct vm_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->seen[i]);
	free(w->seen);
	free(w->here);
	free(w->ids);
	free(w);
}
