/*
 * img-wait.c - service: waiting for images to reach a state (cimg wait).
 *
 * As vm-wait.c does for VMs: the images named are found once, then read by
 * id, one short SELECT each in autocommit, every 100 ms at first and then
 * less often, up to every second, sleeping in between and holding no lock.
 * An image is locked while an import copies it, and ready once the import
 * has checked the whole file; an import that fails leaves no row, and an
 * image whose row is gone has failed the wait, as has one in a state from
 * which the one asked for never comes without a command (img_wait_next).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "catalog.h"
#include "mono.h"
#include "img.h"
#include "img-int.h"
#include "xalloc.h"
#include "compat.h"

#define WAIT_FIRST_MS	100
#define WAIT_MAX_MS	1000

/* The states of images (images.state), and where each leads by itself. */
static const struct {
	const char *name;
	unsigned next;		/* bits of the states it reaches */
} img_wait_next[] = {
	{ "locked", 0x2 | 0x4 | 0x8 },	/* the import ends */
	{ "ready", 0x4 },
	{ "used", 0x2 },
	{ "error", 0 },
};

#define NSTATES (sizeof(img_wait_next) / sizeof(img_wait_next[0]))

static int
state_index(const char *name)
{
	size_t i;

	for (i = 0; name && i < NSTATES; i++)
		if (strcasecmp(name, img_wait_next[i].name) == 0)
			return (int)i;
	return -1;
}

/* The state of image id now (-1: its row is gone), in autocommit. */
static int
state_now(struct ctx *ctx, long long id, int *s, struct cerr *err)
{
	struct cstmt *st = NULL;

	*s = -1;
	if (catalog_query(ctx->cat, &st, err, "SELECT state FROM images "
	    "WHERE id = ?", "i", id) == 0 && cstmt_row(st, err))
		*s = state_index(cstmt_text(st, 0));
	cstmt_free(st);
	return err->code;
}

/* Whether state want comes from state s with no command. */
static int
reaches(int s, int want)
{
	unsigned seen = 1u << s, todo = img_wait_next[s].next;
	size_t i;

	while (todo & ~seen) {
		for (i = 0; i < NSTATES; i++)
			if (todo & ~seen & (1u << i)) {
				seen |= 1u << i;
				todo |= img_wait_next[i].next;
			}
	}
	return (seen >> want) & 1;
}

int
img_wait(struct ctx *ctx, const char *const *refs, size_t n,
    const char *state, int timeout, emit_fn emit, struct cerr *err)
{
	struct timespec deadline;
	struct buf b = BUF_INIT;
	long long *ids = NULL, nap = WAIT_FIRST_MS, left;
	char **names = NULL;
	int want = state_index(state), s = -1, fs = -1;
	size_t i, behind, first = 0;

	if (want < 0) {
		for (i = 0; i < NSTATES; i++)
			buf_printf(&b, "%s%s", i ? ", " : "",
			    img_wait_next[i].name);
		cerr_set(err, CERR_USAGE, "unknown state '%s' (one of %s)",
		    state, b.s);
		buf_release(&b);
		return err->code;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	ids = xcalloc(n + 1, sizeof(*ids));
	names = xcalloc(n + 1, sizeof(*names));
	/* all found first: one missing waits for none */
	for (i = 0; i < n; i++) {
		struct doc *d = NULL;

		if (img_find(ctx, refs[i], &d, NULL, err))
			goto out;
		ids[i] = doc_map_get(d, "id")->u.i;
		names[i] = xstrdup(doc_get_str(d, "name"));
		doc_free(d);
	}
	for (;;) {
		behind = 0;
		for (i = 0; i < n; i++) {
			if (state_now(ctx, ids[i], &s, err))
				goto out;
			if (s == want)
				continue;
			if (s < 0) {
				cerr_set(err, CERR_CONFLICT, "cannot wait for "
				    "image '%s' to be %s: it is gone (its "
				    "import failed, or it was deleted)",
				    names[i], img_wait_next[want].name);
				goto out;
			}
			if (!reaches(s, want)) {
				cerr_set(err, CERR_CONFLICT, "cannot wait for "
				    "image '%s' to be %s: it is %s (only a "
				    "command leads from there)", names[i],
				    img_wait_next[want].name,
				    img_wait_next[s].name);
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
			char more[48] = "";

			if (behind > 1)
				snprintf(more, sizeof(more), " (and %zu more)",
				    behind - 1);
			cerr_set(err, CERR_UNREACHABLE, "timed out after %d s "
			    "waiting for image '%s' to be %s: it is %s%s",
			    timeout, names[first], img_wait_next[want].name,
			    img_wait_next[fs].name, more);
			goto out;
		}
		mono_sleep_ms(nap < left ? nap : left);
		nap = nap * 2 < WAIT_MAX_MS ? nap * 2 : WAIT_MAX_MS;
	}
	for (i = 0; i < n && emit; i++) {
		struct doc *d = NULL;
		char ref[32];

		snprintf(ref, sizeof(ref), "%lld", ids[i]);
		if (img_find(ctx, ref, &d, NULL, err) == 0)
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
