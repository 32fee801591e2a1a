/*
 * img.c - service: the image repository.  Uses the catalog, digest and
 * imgfmt modules; reads and writes image files, never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "digest.h"
#include "http.h"
#include "img.h"
#include "imgfmt.h"
#include "labels.h"
#include "valid.h"
#include "xalloc.h"
#include "rows.h"
#include "compat.h"

/* Large reads and writes: a copy runs at the speed of the disks. */
#define COPY_BUF (4 << 20)
#define MIB 1048576ULL

#define IMG_COLS \
	"SELECT i.id, i.name, i.description, i.os, i.arch, i.labels, " \
	"i.format, i.size, i.virtual_size, i.sha256, i.state, " \
	"i.visibility, u.name, g.name, i.source, i.created, i.updated, " \
	"i.owner FROM images i JOIN users u ON u.id = i.owner " \
	"JOIN groups g ON g.id = i.group_id "
/* What the caller may see: binds ?1 (admin), ?2 (user id). */
#define IMG_VISIBLE "(?1 OR i.owner = ?2 OR i.visibility = 'public') "

static struct doc *
img_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Image");
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "name", cstmt_text(st, 1));
	doc_set_str(d, "description", cstmt_text(st, 2));
	doc_set_str(d, "os", cstmt_text(st, 3));
	doc_set_str(d, "arch", cstmt_text(st, 4));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st, 5)));
	doc_set_str(d, "format", cstmt_text(st, 6));
	if (cstmt_null(st, 7))
		doc_set_str(d, "size", NULL);
	else
		doc_set_int(d, "size", cstmt_int(st, 7));
	if (cstmt_null(st, 8))
		doc_set_str(d, "virtual_size", NULL);
	else
		doc_set_int(d, "virtual_size", cstmt_int(st, 8));
	doc_set_str(d, "sha256", cstmt_text(st, 9));
	doc_set_str(d, "state", cstmt_text(st, 10));
	doc_set_str(d, "visibility", cstmt_text(st, 11));
	doc_set_str(d, "owner", cstmt_text(st, 12));
	doc_set_str(d, "group_owner", cstmt_text(st, 13));
	doc_set_str(d, "source", cstmt_text(st, 14));
	doc_set_str(d, "created", cstmt_text(st, 15));
	doc_set_str(d, "updated", cstmt_text(st, 16));
	return d;
}

/* The image ref names (an id or a name), if the caller may see it; with
 * owner, also its owner's user id. */
static int
img_find(struct ctx *ctx, const char *ref, struct doc **out,
    long long *owner, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id;

	if (!valid_id(ref, &id))
		id = -1;
	if (catalog_query(ctx->cat, &st, err, IMG_COLS "WHERE " IMG_VISIBLE
	    "AND (i.id = ?3 OR (?3 < 0 AND i.name = ?4))", "iiis",
	    (long long)ctx->who.admin, ctx->who.user_id, id, ref))
		return err->code;
	if (cstmt_row(st, err)) {
		*out = img_doc(st);
		if (owner)
			*owner = cstmt_int(st, 17);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no image '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

int
img_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	return img_find(ctx, ref, out, NULL, err);
}

int
img_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, IMG_COLS "WHERE " IMG_VISIBLE
	    "ORDER BY i.id", "ii", (long long)ctx->who.admin,
	    ctx->who.user_id))
		return err->code;
	rows_emit(ctx, st, img_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

/* The image ref names, for a change: CERR_PERM unless the caller owns it
 * or is an admin. */
static int
img_find_mine(struct ctx *ctx, const char *ref, const char *what,
    struct doc **out, struct cerr *err)
{
	long long owner = 0;

	if (img_find(ctx, ref, out, &owner, err))
		return err->code;
	if (!ctx->who.admin && owner != ctx->who.user_id) {
		doc_free(*out);
		*out = NULL;
		return cerr_set(err, CERR_PERM, "cannot %s image '%s': it is "
		    "not yours", what, ref);
	}
	return 0;
}

/* The repository folder: the catalog's folder + "/images". */
static void
img_repo(struct ctx *ctx, struct buf *b)
{
	const char *path = catalog_path(ctx->cat);
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		buf_puts(b, ".");
	else if (slash == path)
		buf_puts(b, "/");
	else
		buf_add(b, path, (size_t)(slash - path));
	buf_puts(b, "/images");
}

static int
img_repo_ensure(struct ctx *ctx, struct buf *dir, struct cerr *err)
{
	img_repo(ctx, dir);
	if (mkdir(dir->s, 0700) != 0 && errno != EEXIST)
		return cerr_set(err, errno == EACCES ? CERR_PERM : CERR_FAIL,
		    "cannot make the image repository '%s': %s", dir->s,
		    strerror(errno));
	return 0;
}

static int
check_text(const char *field, const char *s, struct cerr *err)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n > 4096 || !valid_utf8(s, n))
		return cerr_set(err, CERR_USAGE, "%s: expected UTF-8 text of "
		    "at most 4096 bytes", field);
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n' &&
		    s[i] != '\t') || s[i] == 0x7f)
			return cerr_set(err, CERR_USAGE, "%s: holds a control "
			    "character", field);
	return 0;
}

/* A short field (os, arch): one line, no control characters. */
static int
check_word(const char *field, const char *s, struct cerr *err)
{
	if (s == NULL)
		return 0;
	if (strlen(s) > NAME_MAX_LEN || strchr(s, '\n'))
		return cerr_set(err, CERR_USAGE, "%s: expected one line of at "
		    "most %d bytes", field, NAME_MAX_LEN);
	return check_text(field, s, err);
}

static int
check_spec(const struct img_spec *spec, struct cerr *err)
{
	if ((spec->name && valid_name("image", spec->name, err)) ||
	    check_text("description", spec->description, err) ||
	    check_word("os", spec->os, err) ||
	    check_word("arch", spec->arch, err))
		return err->code;
	return 0;
}

/* Where the bytes of an import go: the file, the digest, and the first
 * bytes kept to read the format from. */
struct sink {
	int fd;
	struct digest *dg;
	unsigned char probe[IMGFMT_PROBE_LEN];
	size_t nprobe;
	unsigned long long bytes;
};

/* Keep the first bytes for inspect and write p to the file; the digest
 * is the caller's (sink_write, or the hashing thread of copy_fd). */
static int
sink_put(struct sink *s, const unsigned char *p, size_t n, const char *dst,
    struct cerr *err)
{
	size_t k;

	if (s->nprobe < sizeof(s->probe)) {
		k = sizeof(s->probe) - s->nprobe;
		if (k > n)
			k = n;
		memcpy(s->probe + s->nprobe, p, k);
		s->nprobe += k;
	}
	s->bytes += n;
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
			    CERR_FAIL, "cannot write '%s': %s", dst,
			    strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
sink_write(struct sink *s, const unsigned char *p, size_t n, const char *dst,
    struct cerr *err)
{
	digest_update(s->dg, p, n);
	return sink_put(s, p, n, dst, err);
}

/* Open source for reading: CERR_NOTFOUND, CERR_PERM, CERR_USAGE for a
 * folder. */
static int
open_source(const char *source, int *fd, unsigned long long *size,
    struct cerr *err)
{
	struct stat sb;

	*fd = open(source, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return cerr_set(err, CERR_NOTFOUND, "cannot import '%s': no "
		    "such file", source);
	if (*fd < 0)
		return cerr_set(err, errno == EACCES ? CERR_PERM : CERR_FAIL,
		    "cannot import '%s': %s", source, errno == EACCES ?
		    "permission denied" : strerror(errno));
	if (fstat(*fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
		cerr_set(err, CERR_USAGE, "cannot import '%s': %s", source,
		    S_ISDIR(sb.st_mode) ? "it is a folder, not a file" :
		    strerror(errno));
		close(*fd);
		*fd = -1;
		return err->code;
	}
	*size = S_ISREG(sb.st_mode) ? (unsigned long long)sb.st_size : 0;
	(void)posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

/*
 * The copy of a file: sha256 is as fast as a copy from the page cache, so
 * a hashing thread digests each chunk while this one writes it and reads
 * the next; the import then takes about as long as the slower of the two,
 * not their sum.  Chunks go round NCHUNK buffers in order.
 */
#define NCHUNK 4
#define CHUNK (2 << 20)

struct hasher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[NCHUNK];
	size_t len[NCHUNK];
	unsigned long long submitted, hashed;
	bool done;
	struct digest *dg;
};

static void *
hasher_run(void *arg)
{
	struct hasher *h = arg;
	unsigned long long i;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->hashed == h->submitted && !h->done)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->hashed == h->submitted)
			break;
		i = h->hashed;
		pthread_mutex_unlock(&h->mu);
		digest_update(h->dg, h->buf[i % NCHUNK], h->len[i % NCHUNK]);
		pthread_mutex_lock(&h->mu);
		h->hashed = i + 1;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static int
copy_fd(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err)
{
	struct hasher h = { .dg = s->dg };
	unsigned char *mem = malloc((size_t)NCHUNK * CHUNK);
	unsigned long long i;
	pthread_t th;
	unsigned char *b;
	ssize_t r;
	size_t k;

	if (mem == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	for (k = 0; k < NCHUNK; k++)
		h.buf[k] = mem + k * CHUNK;
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	if (pthread_create(&th, NULL, hasher_run, &h) != 0) {
		pthread_cond_destroy(&h.cv);
		pthread_mutex_destroy(&h.mu);
		free(mem);
		return cerr_set(err, CERR_FAIL, "cannot start a thread");
	}
	for (i = 0;; i++) {
		/* the buffer's last chunk must be hashed before it is reused */
		pthread_mutex_lock(&h.mu);
		while (i >= NCHUNK && h.hashed < i - NCHUNK + 1)
			pthread_cond_wait(&h.cv, &h.mu);
		pthread_mutex_unlock(&h.mu);
		b = h.buf[i % NCHUNK];
		do
			r = read(in, b, CHUNK);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			cerr_set(err, CERR_FAIL, "cannot read '%s': %s",
			    source, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		pthread_mutex_lock(&h.mu);
		h.len[i % NCHUNK] = (size_t)r;
		h.submitted = i + 1;
		pthread_cond_broadcast(&h.cv);
		pthread_mutex_unlock(&h.mu);
		if (sink_put(s, b, (size_t)r, dst, err))
			break;
		if (progress)
			progress(ctx, s->bytes, total);
	}
	pthread_mutex_lock(&h.mu);
	h.done = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(th, NULL);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
	free(mem);
	return err->code;
}

/*
 * The fast path for a regular file: the kernel copies (copy_file_range, as
 * cp does), and a thread hashes what has landed in the repository file,
 * trailing the copy, so the digest is of the stored bytes.  Returns 1,
 * with nothing written, when the kernel cannot copy between these files
 * (the caller falls back to copy_fd).
 */
#define RANGE_STEP (16 << 20)

struct trail {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long long copied;
	bool done;
	struct sink *s;
	int rerr;
};

static void *
trail_run(void *arg)
{
	struct trail *t = arg;
	struct sink *s = t->s;
	unsigned long long off = 0, end, at;
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *m;
	size_t len, k;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (off == t->copied && !t->done)
			pthread_cond_wait(&t->cv, &t->mu);
		if (off == t->copied)
			break;
		end = t->copied;
		pthread_mutex_unlock(&t->mu);
		/* hashed where it lies in the page cache: no copy to a
		 * buffer, so the digest costs only itself */
		at = off & ~(unsigned long long)(page - 1);
		len = (size_t)(end - at);
		m = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd, (off_t)at);
		if (m == MAP_FAILED) {
			t->rerr = errno;
			return NULL;
		}
		(void)madvise(m, len, MADV_SEQUENTIAL | MADV_WILLNEED);
		if (s->nprobe < sizeof(s->probe) && off == s->nprobe) {
			k = sizeof(s->probe) - s->nprobe;
			if (k > end - off)
				k = (size_t)(end - off);
			memcpy(s->probe + s->nprobe, m + (off - at), k);
			s->nprobe += k;
		}
		digest_update(s->dg, m + (off - at), (size_t)(end - off));
		munmap(m, len);
		off = end;
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static int
copy_range(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err)
{
	struct trail t = { .s = s };
	pthread_t th;
	ssize_t r;

	r = copy_file_range(in, NULL, s->fd, NULL, RANGE_STEP, 0);
	if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
	    errno == EOPNOTSUPP || errno == EBADF))
		return 1;
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	if (pthread_create(&th, NULL, trail_run, &t) != 0) {
		pthread_cond_destroy(&t.cv);
		pthread_mutex_destroy(&t.mu);
		return cerr_set(err, CERR_FAIL, "cannot start a thread");
	}
	for (;;) {
		if (r < 0 && errno == EINTR) {
			r = copy_file_range(in, NULL, s->fd, NULL, RANGE_STEP,
			    0);
			continue;
		}
		if (r < 0) {
			cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
			    CERR_FAIL, "cannot copy '%s' to '%s': %s", source,
			    dst, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		pthread_mutex_lock(&t.mu);
		t.copied += (unsigned long long)r;
		pthread_cond_broadcast(&t.cv);
		pthread_mutex_unlock(&t.mu);
		if (progress)
			progress(ctx, t.copied, total);
		r = copy_file_range(in, NULL, s->fd, NULL, RANGE_STEP, 0);
	}
	pthread_mutex_lock(&t.mu);
	t.done = true;
	pthread_cond_broadcast(&t.cv);
	pthread_mutex_unlock(&t.mu);
	pthread_join(th, NULL);
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mu);
	s->bytes = t.copied;
	if (err->code == 0 && t.rerr)
		cerr_set(err, CERR_FAIL, "cannot read back '%s': %s", dst,
		    strerror(t.rerr));
	return err->code;
}

/* The format and virtual size (MiB) of the imported bytes; CERR_USAGE for
 * a corrupt qcow2. */
static int
inspect(const struct sink *s, const char **format, long long *vmib,
    struct cerr *err)
{
	enum imgfmt f = imgfmt_detect(s->probe, s->nprobe);
	unsigned long long vsize = s->bytes;

	if (f == IMGFMT_QCOW2 && imgfmt_qcow2_size(s->probe, s->nprobe,
	    &vsize, err))
		return err->code;
	if (f == IMGFMT_VMDK && imgfmt_vmdk_size(s->probe, s->nprobe))
		vsize = imgfmt_vmdk_size(s->probe, s->nprobe);
	*format = imgfmt_name(f);
	*vmib = (long long)((vsize + MIB - 1) / MIB);
	return 0;
}

/*
 * An import holds an flock on REPO/ID.lock from before its locked row is
 * committed until it ends, so a locked image whose lock is free was left
 * by an import that died (kill -9, a crash) and may be deleted.
 */
static int
import_lock(const char *dir, long long id, struct buf *lock,
    struct cerr *err)
{
	int fd;

	buf_printf(lock, "%s/%lld.lock", dir, id);
	fd = open(lock->s, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		cerr_set(err, CERR_FAIL, "cannot lock '%s': %s", lock->s,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* True while an import of image id runs. */
static bool
importing(struct ctx *ctx, long long id)
{
	struct buf lock;
	bool alive = false;
	int fd;

	buf_init(&lock);
	img_repo(ctx, &lock);
	buf_printf(&lock, "/%lld.lock", id);
	fd = open(lock.s, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		alive = flock(fd, LOCK_EX | LOCK_NB) != 0 &&
		    errno == EWOULDBLOCK;
		close(fd);
	}
	buf_release(&lock);
	return alive;
}

/* Forget an import that failed: its file and its locked row. */
static void
import_undo(struct ctx *ctx, long long id)
{
	struct cerr e2 = { 0 };

	if (id < 0)
		return;
	if (catalog_begin(ctx->cat, &e2) == 0) {
		if (catalog_exec(ctx->cat, &e2, "DELETE FROM images WHERE "
		    "id = ? AND state = 'locked'", "i", id) ||
		    catalog_commit(ctx->cat, &e2))
			catalog_rollback(ctx->cat);
	}
}

/* The labels of spec as JSON in *json ("{}" for none). */
static int
labels_json(const struct doc *labels, struct buf *json, struct cerr *err)
{
	if (labels == NULL) {
		buf_puts(json, "{}");
		return 0;
	}
	return labels_to_json(labels, json, err);
}

/* A download into the sink: starting over when the server ignores the
 * range. */
struct fetch {
	struct sink *s;
	const char *dst;
	unsigned long long offset;
	struct ctx *ctx;
	img_progress_fn progress;
};

static int
fetch_begin(void *arg, long status, unsigned long long total,
    struct cerr *err)
{
	struct fetch *f = arg;
	struct sink *s = f->s;

	(void)total;
	if (f->offset > 0 && status != 206) {
		/* the whole file again: forget the partial one */
		digest_free(s->dg);
		s->dg = NULL;
		if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0)
			return cerr_set(err, CERR_FAIL, "cannot truncate '%s': "
			    "%s", f->dst, strerror(errno));
		s->nprobe = 0;
		s->bytes = 0;
		if (digest_new(&s->dg, err))
			return err->code;
	}
	return 0;
}

static int
fetch_write(void *arg, const void *data, size_t n, struct cerr *err)
{
	struct fetch *f = arg;

	return sink_write(f->s, data, n, f->dst, err);
}

static void
fetch_progress(void *arg, unsigned long long done, unsigned long long total)
{
	struct fetch *f = arg;

	f->progress(f->ctx, done, total);
}

/*
 * Download url into dir/HASH.part (HASH the sha256 of the URL), resuming
 * from the bytes a broken transfer left there: they are read back through
 * the digest first, so the digest covers the whole file.  On success
 * *part is the file's path; on failure the bytes received stay for the
 * next try.
 */
static int
fetch_url(struct ctx *ctx, const char *url, const char *dir, struct sink *s,
    long stall, img_progress_fn progress, struct buf *part,
    struct cerr *err)
{
	struct digest *uh = NULL;
	struct fetch f = { .s = s, .ctx = ctx, .progress = progress };
	struct http_get g = { 0 };
	unsigned char *b = NULL;
	char hex[65];
	ssize_t r;

	if (digest_new(&uh, err))
		return err->code;
	digest_update(uh, url, strlen(url));
	digest_hex(uh, hex);
	digest_free(uh);
	buf_printf(part, "%s/%s.part", dir, hex);
	s->fd = open(part->s, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return cerr_set(err, CERR_FAIL, "cannot open '%s': %s",
		    part->s, strerror(errno));
	if (flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		/* the file is the other import's: not ours to remove */
		close(s->fd);
		s->fd = -1;
		return cerr_set(err, CERR_CONFLICT, "cannot import '%s': "
		    "another import of it is running", url);
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
		digest_update(s->dg, b, (size_t)r);
		s->bytes += (unsigned long long)r;
	}
	free(b);
	if (r < 0)
		return cerr_set(err, CERR_FAIL, "cannot read '%s': %s",
		    part->s, strerror(errno));
	f.dst = part->s;
	f.offset = s->bytes;
	g.url = url;
	g.offset = s->bytes;
	g.connect_timeout = 30;
	g.stall_timeout = stall;
	g.begin = fetch_begin;
	g.write = fetch_write;
	g.progress = progress ? fetch_progress : NULL;
	g.arg = &f;
	return http_fetch(&g, err);
}

int
img_import(struct ctx *ctx, const char *source, const struct img_spec *spec,
    img_progress_fn progress, struct doc **out, struct cerr *err)
{
	struct buf dir, path, part, lock, json;
	struct sink s = { .fd = -1 };
	unsigned long long total = 0;
	const char *format = NULL;
	long long id = -1, vmib = 0;
	char now[32], hex[65], *abs = NULL;
	bool url = http_is_url(source);
	int in = -1, lockfd = -1, rc;

	buf_init(&dir);
	buf_init(&path);
	buf_init(&part);
	buf_init(&lock);
	buf_init(&json);
	if (spec->name == NULL) {
		cerr_set(err, CERR_USAGE, "import needs --name");
		goto out;
	}
	if (check_spec(spec, err) || labels_json(spec->labels, &json, err))
		goto out;
	if (spec->sha256 && !digest_valid_hex(spec->sha256)) {
		cerr_set(err, CERR_USAGE, "--sha256: expected 64 hex digits, "
		    "found '%s'", spec->sha256);
		goto out;
	}
	if (!url && strstr(source, "://")) {
		cerr_set(err, CERR_USAGE, "cannot import '%s': only http:// "
		    "and https:// URLs are fetched", source);
		goto out;
	}
	if (url)
		abs = strdup(source);
	else if ((abs = realpath(source, NULL)) == NULL)
		abs = strdup(source);
	if ((!url && open_source(source, &in, &total, err)) ||
	    img_repo_ensure(ctx, &dir, err) || digest_new(&s.dg, err))
		goto out;

	/* the name is taken at once; the image stays locked while it comes */
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "INSERT INTO images (name, "
	    "description, os, arch, labels, state, owner, group_id, source, "
	    "created, updated) VALUES (?, ?, ?, ?, ?, 'locked', ?, ?, ?, ?, ?)",
	    "sssssiisss", spec->name, spec->description, spec->os, spec->arch,
	    json.s, ctx->who.user_id, ctx->who.group_id, abs, now, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "image '%s' exists "
			    "already", spec->name);
		}
		catalog_rollback(ctx->cat);
		goto out;
	}
	id = catalog_last_id(ctx->cat);
	if ((lockfd = import_lock(dir.s, id, &lock, err)) < 0 ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		id = -1;
		goto out;
	}

	buf_printf(&path, "%s/%lld", dir.s, id);
	if (url) {
		if (fetch_url(ctx, source, dir.s, &s, spec->stall_timeout > 0 ?
		    spec->stall_timeout : 60, progress, &part, err)) {
			/* the bytes received stay for a resume; an empty
			 * partial file is no use to anyone */
			if (s.fd >= 0 && s.bytes == 0)
				unlink(part.s);
			goto undo;
		}
	} else {
		s.fd = open(path.s, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (s.fd < 0) {
			cerr_set(err, CERR_FAIL, "cannot create '%s': %s",
			    path.s, strerror(errno));
			goto undo;
		}
		rc = copy_range(ctx, in, source, &s, path.s, total, progress,
		    err);
		if (rc == 1)
			rc = copy_fd(ctx, in, source, &s, path.s, total,
			    progress, err);
		if (rc)
			goto undo_file;
	}
	if (close(s.fd) != 0) {
		s.fd = -1;
		cerr_set(err, CERR_FAIL, "cannot write '%s': %s", path.s,
		    strerror(errno));
		goto undo_file;
	}
	s.fd = -1;
	digest_hex(s.dg, hex);
	if (spec->sha256 && strcasecmp(spec->sha256, hex) != 0) {
		cerr_set(err, CERR_USAGE, "cannot import '%s': sha256 is %s, "
		    "not %s as given", source, hex, spec->sha256);
		goto undo_file;
	}
	if (inspect(&s, &format, &vmib, err)) {
		cerr_wrap(err, "cannot import '%s'", source);
		goto undo_file;
	}
	if (url && rename(part.s, path.s) != 0) {
		cerr_set(err, CERR_FAIL, "cannot rename '%s': %s", part.s,
		    strerror(errno));
		goto undo_file;
	}

	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto undo_file;
	if (catalog_exec(ctx->cat, err, "UPDATE images SET state = 'ready', "
	    "format = ?, size = ?, virtual_size = ?, sha256 = ?, updated = ? "
	    "WHERE id = ? AND state = 'locked'", "siissi", format,
	    (long long)s.bytes, vmib, hex, now, id) ||
	    (catalog_changes(ctx->cat) != 1 && cerr_set(err, CERR_CONFLICT,
	    "cannot import '%s': image '%s' was deleted meanwhile", source,
	    spec->name)) || acct_audit(ctx, "create", "Image", id, spec->name,
	    abs, err) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto undo_file;
	}
	img_show(ctx, spec->name, out, err);
	goto out;
undo_file:
	/* a whole file that is wrong: no resume can mend it */
	if (part.len)
		unlink(part.s);
	unlink(path.s);
undo:
	import_undo(ctx, id);
out:
	if (lockfd >= 0) {
		unlink(lock.s);
		close(lockfd);
	}
	if (s.fd >= 0)
		close(s.fd);
	if (in >= 0)
		close(in);
	digest_free(s.dg);
	free(abs);
	buf_release(&dir);
	buf_release(&path);
	buf_release(&part);
	buf_release(&lock);
	buf_release(&json);
	return err->code;
}

int
img_update(struct ctx *ctx, const char *ref, const struct img_spec *spec,
    struct doc **out, struct cerr *err)
{
	struct doc *cur = NULL, *merged = NULL;
	struct buf json;
	const struct doc *labels = spec->labels;
	long long id;
	char now[32];
	size_t i;

	buf_init(&json);
	if (check_spec(spec, err) || catalog_begin(ctx->cat, err))
		goto out;
	if (img_find_mine(ctx, ref, "change", &cur, err))
		goto fail;
	id = doc_map_get(cur, "id")->u.i;
	if (labels && spec->merge_labels) {
		merged = doc_copy(doc_map_get(cur, "labels"));
		for (i = 0; i < labels->u.map.n; i++)
			doc_map_set(merged, labels->u.map.kv[i].key,
			    doc_copy(labels->u.map.kv[i].val));
		labels = merged;
	}
	if (labels && labels_to_json(labels, &json, err))
		goto fail;
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "UPDATE images SET "
	    "name = coalesce(?, name), description = coalesce(?, description), "
	    "os = coalesce(?, os), arch = coalesce(?, arch), "
	    "labels = coalesce(?, labels), updated = ? WHERE id = ?",
	    "ssssssi", spec->name, spec->description, spec->os, spec->arch,
	    labels ? json.s : NULL, now, id)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "image '%s' exists "
			    "already", spec->name);
		}
		goto fail;
	}
	if (acct_audit(ctx, "update", "Image", id, spec->name ? spec->name :
	    doc_get_str(cur, "name"), NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	doc_free(cur);
	cur = NULL;
	{
		char idbuf[32];

		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		img_show(ctx, idbuf, out, err);
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	doc_free(cur);
	doc_free(merged);
	buf_release(&json);
	return err->code;
}

int
img_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err)
{
	struct doc *cur = NULL;
	long long id;
	char now[32], idbuf[32];

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (img_find_mine(ctx, ref, strcmp(vis, "public") == 0 ? "publish" :
	    "unpublish", &cur, err))
		goto fail;
	id = doc_map_get(cur, "id")->u.i;
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "UPDATE images SET visibility = ?, "
	    "updated = ? WHERE id = ?", "ssi", vis, now, id) ||
	    acct_audit(ctx, strcmp(vis, "public") == 0 ? "publish" :
	    "unpublish", "Image", id, doc_get_str(cur, "name"), NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	doc_free(cur);
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	return img_show(ctx, idbuf, out, err);
fail:
	catalog_rollback(ctx->cat);
	doc_free(cur);
	return err->code;
}

int
img_delete(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct doc *cur = NULL;
	struct buf path;
	const char *state;
	long long id;

	buf_init(&path);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (img_find_mine(ctx, ref, "delete", &cur, err))
		goto fail;
	id = doc_map_get(cur, "id")->u.i;
	state = doc_get_str(cur, "state");
	if (strcmp(state, "used") == 0 || (strcmp(state, "locked") == 0 &&
	    importing(ctx, id))) {
		cerr_set(err, CERR_CONFLICT, "cannot delete image '%s': it is "
		    "%s", doc_get_str(cur, "name"), strcmp(state, "used") == 0 ?
		    "used by a VM" : "being imported");
		goto fail;
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM images WHERE id = ?",
	    "i", id) || acct_audit(ctx, "delete", "Image", id,
	    doc_get_str(cur, "name"), NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	/* the row is gone first: a file left by a crash here is garbage no
	 * image names, never an image without its file */
	img_repo(ctx, &path);
	buf_printf(&path, "/%lld", id);
	unlink(path.s);
	buf_puts(&path, ".lock");	/* what a dead import left */
	unlink(path.s);
	buf_release(&path);
	doc_free(cur);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	buf_release(&path);
	doc_free(cur);
	return err->code;
}

int
img_disk(struct ctx *ctx, const char *ref, long long id, struct img_disk *out,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct buf path;
	unsigned char head[32];
	struct stat sb;
	const char *state;
	ssize_t n;
	int fd = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&path);
	if (id > 0 ? catalog_query(ctx->cat, &st, err, "SELECT i.id, i.name, "
	    "i.sha256, i.format, i.virtual_size, i.state FROM images i WHERE "
	    "i.id = ?", "i", id) : catalog_query(ctx->cat, &st, err,
	    "SELECT i.id, i.name, i.sha256, i.format, i.virtual_size, i.state "
	    "FROM images i WHERE " IMG_VISIBLE "AND (i.id = ?3 OR (?3 < 0 AND "
	    "i.name = ?4))", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, valid_id(ref, &id) ? id : -1LL, ref))
		return err->code;
	if (!cstmt_row(st, err)) {
		if (err->code == 0)
			cerr_set(err, CERR_NOTFOUND, "no image '%s'", ref);
		goto out;
	}
	out->id = cstmt_int(st, 0);
	out->name = xstrdup(cstmt_text(st, 1));
	state = cstmt_text(st, 5);
	if (strcmp(state, "ready") != 0 && strcmp(state, "used") != 0) {
		cerr_set(err, CERR_CONFLICT, "image '%s' is %s (a disk needs "
		    "it ready)", out->name, state);
		goto out;
	}
	snprintf(out->sha256, sizeof(out->sha256), "%s",
	    cstmt_text(st, 2) ? cstmt_text(st, 2) : "");
	snprintf(out->format, sizeof(out->format), "%s",
	    cstmt_text(st, 3) ? cstmt_text(st, 3) : "");
	out->virtual_size = cstmt_int(st, 4);
	if (strcmp(out->format, "raw") != 0 &&
	    strcmp(out->format, "qcow2") != 0) {
		cerr_set(err, CERR_USAGE, "image '%s' is %s, not a raw or qcow2 "
		    "disk a VM's disk can be cloned from", out->name,
		    out->format);
		goto out;
	}
	img_repo(ctx, &path);
	buf_printf(&path, "/%lld", out->id);
	if ((fd = open(path.s, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0) {
		cerr_set(err, CERR_FAIL, "cannot read the file of image '%s' "
		    "('%s'): %s", out->name, path.s, strerror(errno));
		goto out;
	}
	out->bytes = (unsigned long long)sb.st_size;
	/* a qcow2 header's backing file offset, big-endian at byte 8 */
	n = pread(fd, head, sizeof(head), 0);
	if (strcmp(out->format, "qcow2") == 0 && (n < 16 ||
	    (head[8] | head[9] | head[10] | head[11] | head[12] | head[13] |
	    head[14] | head[15]) != 0)) {
		cerr_set(err, CERR_USAGE, "image '%s' is a qcow2 image with a "
		    "backing file of its own (import it flattened)", out->name);
		goto out;
	}
	out->path = buf_detach(&path);
out:
	if (fd >= 0)
		close(fd);
	cstmt_free(st);
	buf_release(&path);
	if (err->code)
		img_disk_release(out);
	return err->code;
}

void
img_disk_release(struct img_disk *d)
{
	free(d->name);
	free(d->path);
	memset(d, 0, sizeof(*d));
}

/* A string field of an Image document, or NULL when absent. */
static int
doc_field(const struct doc *d, const char *key, const char *where,
    const char **out, struct cerr *err)
{
	const struct doc *v = doc_map_get(d, key);

	*out = NULL;
	if (v == NULL || v->type == DOC_NULL)
		return 0;
	if (v->type != DOC_STR) {
		cerr_set(err, CERR_USAGE, "%s: expected a string", key);
		return cerr_wrap(err, "%s", where);
	}
	*out = v->u.s;
	return 0;
}

int
img_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	struct img_spec spec = { 0 };
	const char *source = NULL;
	struct doc *cur = NULL;
	const struct doc *lab = doc_map_get(d, "labels");

	if (doc_field(d, "name", where, &spec.name, err) ||
	    doc_field(d, "description", where, &spec.description, err) ||
	    doc_field(d, "os", where, &spec.os, err) ||
	    doc_field(d, "arch", where, &spec.arch, err) ||
	    doc_field(d, "sha256", where, &spec.sha256, err) ||
	    doc_field(d, "source", where, &source, err))
		return err->code;
	if (spec.name == NULL) {
		cerr_set(err, CERR_USAGE, "name: missing");
		return cerr_wrap(err, "%s", where);
	}
	if (lab && lab->type != DOC_NULL) {
		if (lab->type != DOC_MAP) {
			cerr_set(err, CERR_USAGE, "labels: expected a map");
			return cerr_wrap(err, "%s", where);
		}
		spec.labels = lab;
	}
	if (img_find(ctx, spec.name, &cur, NULL, err) == 0) {
		const char *name = spec.name;

		doc_free(cur);
		spec.name = NULL;	/* found by it: unchanged */
		spec.sha256 = NULL;
		if (img_update(ctx, name, &spec, out, err))
			return cerr_wrap(err, "%s", where);
		return 0;
	}
	if (err->code != CERR_NOTFOUND)
		return err->code;
	cerr_clear(err);
	if (source == NULL) {
		cerr_set(err, CERR_USAGE, "source: missing (image '%s' does "
		    "not exist yet, so it is imported from its source)",
		    spec.name);
		return cerr_wrap(err, "%s", where);
	}
	return img_import(ctx, source, &spec, NULL, out, err);
}

void
img_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT i.name FROM images i "
	    "WHERE " IMG_VISIBLE "AND substr(i.name, 1, length(?3)) = ?3 "
	    "ORDER BY i.name", "iis", (long long)ctx->who.admin,
	    ctx->who.user_id, prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
