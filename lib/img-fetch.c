/*
 * img-fetch.c - service: images imported from http:// and https:// URLs
 * through the http adapter, into a partial file that a broken download
 * leaves for the next import of the same URL to resume.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "http.h"
#include "img.h"
#include "img-int.h"
#include "compat.h"

/* A download into the sink: starting over when the server ignores the
 * range. */
/* Where the download of url goes until it is whole: named by a digest of
 * the URL as stored and shown (credentials stripped, http_url_public), so
 * that cimg delete finds it from the image's source.  0, or a code. */
static int
part_path(const char *dir, const char *url, struct buf *out,
    struct cerr *err)
{
	struct digest *uh = NULL;
	char hex[65];

	if (digest_new(&uh, err))
		return err->code;
	digest_update(uh, url, strlen(url));
	digest_hex(uh, hex);
	digest_free(uh);
	buf_printf(out, "%s/%s.part", dir, hex);
	return 0;
}

struct fetch {
	struct sink *s;
	const char *dst;
	const char *dir;
	const char *url;
	struct trail t;		/* hashes what is written, in a thread */
	pthread_t th;
	bool hashing;
	unsigned long long offset;
	unsigned long long signalled;	/* bytes the thread was told of */
	unsigned long long reserve;	/* free bytes never to eat into */
	unsigned long long max;		/* the most bytes taken, 0: any */
	unsigned long long checked;	/* bytes at the last look at room */
	struct ctx *ctx;
	img_progress_fn progress;
};

#define TRAIL_STEP (4 << 20)	/* a download wakes the hashing thread */

/* A download stops once it would pass its largest size, or the free space
 * would fall under the reserve: a server that sends without end, or more
 * than it said, is stopped there.  The free space is looked at every
 * ROOM_STEP bytes. */
#define ROOM_STEP (1 << 20)

static int
too_large(const struct fetch *f, struct cerr *err)
{
	return cerr_set(err, CERR_CAPACITY, "cannot import '%s': it is larger "
	    "than the maximum size of %llu MiB (--max-size)", f->url,
	    f->max / MIB);
}

static int
fetch_begin(void *arg, long status, unsigned long long total,
    struct cerr *err)
{
	struct fetch *f = arg;
	struct sink *s = f->s;

	if (total > 0) {
		struct buf w = BUF_INIT;

		if (f->max > 0 && total > f->max)
			return too_large(f, err);
		/* what is still to come must fit */
		buf_printf(&w, "import '%s'", f->url);
		img_repo_room(f->dir, total - (status == 206 &&
		    total > f->offset ? f->offset : 0), f->reserve, w.s, err);
		buf_release(&w);
		if (err->code)
			return err->code;
	}
	if (f->offset > 0 && status != 206) {
		/* the whole file again: forget the partial one */
		bool sha = s->dg != NULL;

		digest_free(s->ck);
		digest_free(s->dg);
		s->ck = s->dg = NULL;
		if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0)
			return cerr_set(err, CERR_FAIL, "cannot truncate '%s': "
			    "%s", f->dst, strerror(errno));
		s->nprobe = 0;
		s->bytes = 0;
		if (digest_new_algo(&s->ck, "XXH128", err) ||
		    (sha && digest_new(&s->dg, err)))
			return err->code;
	}
	/* from here the digest and the probe are the thread's */
	f->t.s = s;
	f->t.path = f->dst;
	f->t.start = f->t.copied = f->signalled = s->bytes;
	pthread_mutex_init(&f->t.mu, NULL);
	pthread_cond_init(&f->t.cv, NULL);
	if (pthread_create(&f->th, NULL, img_copy_trail_run, &f->t) != 0) {
		pthread_cond_destroy(&f->t.cv);
		pthread_mutex_destroy(&f->t.mu);
		return cerr_set(err, CERR_FAIL, "cannot start a thread");
	}
	f->hashing = true;
	return 0;
}

/* Wait for the hashing thread to catch up and end. */
static int
fetch_end(struct fetch *f, struct cerr *err)
{
	if (!f->hashing)
		return err->code;
	pthread_mutex_lock(&f->t.mu);
	f->t.copied = f->s->bytes;	/* what came since the last step */
	f->t.done = true;
	pthread_cond_broadcast(&f->t.cv);
	pthread_mutex_unlock(&f->t.mu);
	pthread_join(f->th, NULL);
	pthread_cond_destroy(&f->t.cv);
	pthread_mutex_destroy(&f->t.mu);
	f->hashing = false;
	if (err->code == 0 && f->t.rerr)
		cerr_set(err, CERR_FAIL, "cannot read back '%s': %s", f->dst,
		    strerror(f->t.rerr));
	return err->code;
}

static int
fetch_write(void *arg, const void *data, size_t n, struct cerr *err)
{
	struct fetch *f = arg;
	struct sink *s = f->s;

	/* the thread hashes the bytes once they are in the file, as the
	 * copy of a local file does: the transfer does not wait for it.  It
	 * is woken a TRAIL_STEP at a time, not for each of curl's small
	 * writes (each wake-up seeks and maps) */
	if (f->max > 0 && s->bytes + n > f->max)
		return too_large(f, err);
	if (f->reserve > 0 && s->bytes + n - f->checked >= ROOM_STEP) {
		struct statvfs sv;

		f->checked = s->bytes;
		if (statvfs(f->dir, &sv) == 0 &&
		    (unsigned long long)sv.f_bavail * sv.f_frsize <
		    f->reserve + n + ROOM_STEP)
			return cerr_set(err, CERR_CAPACITY, "cannot import "
			    "'%s': the image repository's free space would "
			    "fall under its reserve of %llu MiB after %llu "
			    "MiB (cimg config --reserve)", f->url,
			    (f->reserve + MIB - 1) / MIB, s->bytes / MIB);
	}
	if (img_copy_write_all(s->fd, data, n, f->dst, err))
		return err->code;
	s->bytes += n;
	if (s->bytes - f->signalled >= TRAIL_STEP) {
		f->signalled = s->bytes;
		img_copy_trail_advance(&f->t, s->bytes);
	}
	return 0;
}

static void
fetch_progress(void *arg, unsigned long long done, unsigned long long total)
{
	struct fetch *f = arg;

	f->progress(f->ctx, done, total);
}

/* A repository open to tenants: the bytes another uid left there (or put
 * there) are never taken for an image. */
static int
not_mine(const char *url, const char *part, struct cerr *err)
{
	return cerr_set(err, CERR_CONFLICT, "cannot import '%s': its partial "
	    "file '%s' is another user's", url, part);
}

/*
 * Download url into dir/HASH.part (HASH the sha256 of the URL), resuming
 * from the bytes a broken transfer left there: they are read back through
 * the digest first, so the digest covers the whole file.  On success
 * *part is the file's path; on failure the bytes received stay for the
 * next try.
 */
int
img_fetch_url(struct ctx *ctx, const char *url, const char *shown,
    const char *dir, struct sink *s, long stall, unsigned long long reserve,
    unsigned long long max, img_progress_fn progress, struct buf *part,
    struct cerr *err)
{
	struct fetch f = { .s = s, .ctx = ctx, .progress = progress,
	    .dir = dir, .url = shown, .reserve = reserve, .max = max };
	struct http_get g = { 0 };
	unsigned char *b = NULL;
	struct stat sb;
	ssize_t r;

	if (part_path(dir, shown, part, err))
		return err->code;
	if (lstat(part->s, &sb) == 0 && sb.st_uid != geteuid())
		return not_mine(shown, part->s, err);
	s->fd = open(part->s, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (s->fd < 0)
		return cerr_set(err, CERR_FAIL, "cannot open '%s': %s",
		    part->s, strerror(errno));
	if (flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		/* the file is the other import's: not ours to remove */
		close(s->fd);
		s->fd = -1;
		return cerr_set(err, CERR_CONFLICT, "cannot import '%s': "
		    "another import of it is running", shown);
	}
	if (fstat(s->fd, &sb) == 0 && sb.st_uid != geteuid()) {
		close(s->fd);
		s->fd = -1;
		return not_mine(shown, part->s, err);
	}
	/* what a broken transfer left: hashed again, then continued */
	if ((b = malloc(COPY_BUF)) == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	while ((r = read(s->fd, b, COPY_BUF)) > 0) {
		if (s->nprobe < sizeof(s->probe)) {
			size_t k = sizeof(s->probe) - s->nprobe;

			if (k > (size_t)r)
				k = (size_t)r;
			memcpy(s->probe + s->nprobe, b, k);
			s->nprobe += k;
		}
		img_copy_sink_hash(s, b, (size_t)r);
		s->bytes += (unsigned long long)r;
	}
	free(b);
	if (r < 0)
		return cerr_set(err, CERR_FAIL, "cannot read '%s': %s",
		    part->s, strerror(errno));
	if (max > 0 && s->bytes > max)
		return too_large(&f, err);
	f.dst = part->s;
	f.offset = f.checked = s->bytes;
	g.url = url;
	g.offset = s->bytes;
	g.connect_timeout = 30;
	g.stall_timeout = stall;
	g.begin = fetch_begin;
	g.write = fetch_write;
	g.progress = progress ? fetch_progress : NULL;
	g.arg = &f;
	http_fetch(&g, err);
	return fetch_end(&f, err);
}

/* The partial download of url (the image's source, as stored) a dead
 * import left, unless an import of it runs (holds its lock). */
void
img_fetch_drop_part(struct ctx *ctx, const char *url)
{
	struct cerr e2 = { 0 };
	struct buf dir = BUF_INIT, part = BUF_INIT;
	int fd;

	img_repo(ctx, &dir);
	if (part_path(dir.s, url, &part, &e2)) {
		buf_release(&dir);
		return;
	}
	buf_release(&dir);
	fd = open(part.s, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlink(part.s);
	if (fd >= 0)
		close(fd);
	buf_release(&part);
}
