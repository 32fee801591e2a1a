/*
 * img-copy.c - service: the bytes of images, copied and checked: into the
 * repository (a file's import, hashed while it is copied; a clone, by
 * reflink or in the kernel) and out of it (the image of a VM's disk,
 * checked against its checksum before its first upload to a host).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "digest.h"
#include "fault.h"
#include "img.h"
#include "img-int.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

/* The bytes a file of size bytes takes on disk: holes take none. */
unsigned long long
img_copy_held(int fd, unsigned long long size)
{
	struct stat sb;
	unsigned long long used;

	if (fstat(fd, &sb) != 0)
		return size;
	used = (unsigned long long)sb.st_blocks * 512;
	return used < size ? used : size;
}

/* The next n bytes of the image through its digests. */
void
img_copy_sink_hash(struct sink *s, const void *p, size_t n)
{
	digest_update(s->ck, p, n);
	if (s->dg)
		digest_update(s->dg, p, n);
}

/* Write all n bytes of p to fd; dst names it in messages. */
int
img_copy_write_all(int fd, const void *buf, size_t n, const char *dst,
    struct cerr *err)
{
	const unsigned char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
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

/* Keep the first bytes for inspect and write p to the file; the digest
 * is the caller's (the hashing thread of img_copy_fd). */
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
	return img_copy_write_all(s->fd, p, n, dst, err);
}

/*
 * The copy of a file: a hashing thread digests each chunk (the checksum,
 * and the sha256 when asked: as slow as a copy from the page cache) while
 * this one writes it and reads the next; the import then takes about as
 * long as the slower of the two, not their sum.  Chunks go round NCHUNK
 * buffers in order.
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
	struct sink *s;
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
		img_copy_sink_hash(h->s, h->buf[i % NCHUNK],
		    h->len[i % NCHUNK]);
		pthread_mutex_lock(&h->mu);
		h->hashed = i + 1;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int
img_copy_fd(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err)
{
	struct hasher h = { .s = s };
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
 * (the caller falls back to img_copy_fd).
 */
#define RANGE_STEP (16 << 20)

/* Hash [off, end) of the file read back through fd: data where it lies
 * in the page cache (mmap: no copy to a buffer, so the digest costs only
 * itself), holes as the zeros they read as, without touching them (a
 * read of a hole through a mapping would allocate a page for it). */
static int
trail_hash(struct sink *s, int fd, unsigned long long off,
    unsigned long long end)
{
	static const unsigned char zeros[65536];
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long at, stop;
	const unsigned char *p;
	unsigned char *m;
	off_t data, hole;
	size_t len, k;

	while (off < end) {
		data = lseek(fd, (off_t)off, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			data = (off_t)off;	/* no SEEK_DATA: all data */
		else if (data < 0 || (unsigned long long)data > end)
			data = (off_t)end;	/* a hole to the end */
		if ((unsigned long long)data > off) {
			stop = (unsigned long long)data;
			m = NULL;
			p = zeros;
		} else {
			hole = lseek(fd, (off_t)off, SEEK_HOLE);
			stop = hole < 0 || (unsigned long long)hole > end ?
			    end : (unsigned long long)hole;
			at = off & ~(unsigned long long)(page - 1);
			len = (size_t)(stop - at);
			m = mmap(NULL, len, PROT_READ, MAP_SHARED |
			    MAP_POPULATE, fd, (off_t)at);
			if (m == MAP_FAILED)
				return errno;
			(void)madvise(m, len, MADV_SEQUENTIAL);
			p = m + (off - at);
		}
		while (off < stop) {
			k = (size_t)(stop - off);
			if (m == NULL && k > sizeof(zeros))
				k = sizeof(zeros);
			if (s->nprobe < sizeof(s->probe) && off == s->nprobe) {
				size_t c = sizeof(s->probe) - s->nprobe;

				memcpy(s->probe + s->nprobe, p, c < k ? c : k);
				s->nprobe += c < k ? c : k;
			}
			img_copy_sink_hash(s, p, k);
			off += k;
			if (m)
				p += k;
		}
		if (m)
			munmap(m, len);
	}
	return 0;
}

/*
 * A new file of the repository at path, the caller's only (0600): never
 * made through a link, nor into a file someone put there first (a
 * repository open to tenants is theirs to write; once made, the sticky
 * bit keeps the file ours).  One that is there already (what a dead
 * import left, or a tenant's link) is removed first when it may be.
 * Returns the descriptor, or -1 with err set.
 */
int
img_copy_repo_create(const char *path, int flags, struct cerr *err)
{
	int fd;

	flags |= O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	fd = open(path, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, flags, 0600);
	if (fd < 0)
		cerr_set(err, errno == ENOSPC ? CERR_CAPACITY : CERR_FAIL,
		    "cannot create '%s': %s", path, strerror(errno));
	return fd;
}

/*
 * An image's file (fd) against what was recorded when it came: its size
 * always, and its checksum (xxh128, or sha256 for an image from before
 * checksums) when checksum is given.  A file changed since (truncated,
 * altered, swapped) is CERR_FAIL; what names the image ("image 'x'",
 * "cannot export image 'x'").
 */
int
img_copy_file_matches(int fd, const char *what, long long size,
    const char *checksum, struct cerr *err)
{
	struct sink sk = { .fd = -1 };
	struct stat sb;
	char hex[65], found[80];
	const char *want;
	off_t at;
	bool xxh;
	int rerr;

	if (fstat(fd, &sb) != 0)
		return cerr_set(err, CERR_FAIL, "%s: cannot read its file: %s",
		    what, strerror(errno));
	if (size >= 0 && (long long)sb.st_size != size)
		return cerr_set(err, CERR_FAIL, "%s: its file has %lld bytes, "
		    "not the %lld recorded", what, (long long)sb.st_size, size);
	if (checksum == NULL || *checksum == '\0')
		return 0;
	xxh = strncmp(checksum, "xxh128:", 7) == 0;
	want = xxh ? checksum + 7 : checksum;
	if (digest_new_algo(&sk.ck, xxh ? "XXH128" : "SHA256", err))
		return err->code;
	/* as the import hashed it: holes as zeros, never read */
	at = lseek(fd, 0, SEEK_CUR);
	rerr = trail_hash(&sk, fd, 0, (unsigned long long)sb.st_size);
	if (at >= 0)
		(void)lseek(fd, at, SEEK_SET);
	if (rerr) {
		digest_free(sk.ck);
		return cerr_set(err, CERR_FAIL, "%s: cannot read its file: %s",
		    what, strerror(rerr));
	}
	digest_hex(sk.ck, hex);
	digest_free(sk.ck);
	if (strcasecmp(hex, want) != 0) {
		snprintf(found, sizeof(found), "%s%s", xxh ? "xxh128:" : "",
		    hex);
		return cerr_set(err, CERR_FAIL, "%s: its file does not match "
		    "its checksum (%s recorded, %s found)", what, checksum,
		    found);
	}
	return 0;
}

int
img_disk_verify(const struct img_disk *d, int fd, struct cerr *err)
{
	struct buf what = BUF_INIT;

	buf_printf(&what, "image '%s'", d->name);
	img_copy_file_matches(fd, what.s, (long long)d->bytes, d->checksum,
	    err);
	buf_release(&what);
	return err->code;
}

void *
img_copy_trail_run(void *arg)
{
	struct trail *t = arg;
	unsigned long long off = t->start, end;
	int fd;

	/* its own file description: seeking for holes must not move the
	 * offset the writer writes at */
	if ((fd = open(t->path, O_RDONLY | O_CLOEXEC)) < 0) {
		t->rerr = errno;
		return NULL;
	}
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (off == t->copied && !t->done)
			pthread_cond_wait(&t->cv, &t->mu);
		if (off == t->copied)
			break;
		end = t->copied;
		pthread_mutex_unlock(&t->mu);
		if ((t->rerr = trail_hash(t->s, fd, off, end)) != 0) {
			close(fd);
			return NULL;
		}
		off = end;
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	close(fd);
	return NULL;
}

/* The trail may hash up to end. */
void
img_copy_trail_advance(struct trail *t, unsigned long long end)
{
	pthread_mutex_lock(&t->mu);
	t->copied = end;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static int range_rw(int in, int out, off_t off, off_t end, const char *src,
    const char *dst, struct cerr *err);

/*
 * The data of the file is found with SEEK_DATA and copied in the kernel,
 * extent by extent; a hole only makes the file longer (ftruncate), so a
 * sparse image stays sparse, and the trail hashes it as the zeros it
 * reads as.  Where the kernel cannot copy between the files, the extent
 * is read and written.
 */
int
img_copy_range(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err)
{
	struct trail t = { .s = s, .path = dst };
	off_t size = (off_t)total, pos = 0, data, hole, o, w;
	bool kernel = true;
	pthread_t th;
	ssize_t r;

	/* a pipe, a device, an empty file: read and write */
	if (total == 0 || (lseek(in, 0, SEEK_DATA) < 0 && errno != ENXIO))
		return 1;
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	if (pthread_create(&th, NULL, img_copy_trail_run, &t) != 0) {
		pthread_cond_destroy(&t.cv);
		pthread_mutex_destroy(&t.mu);
		return cerr_set(err, CERR_FAIL, "cannot start a thread");
	}
	while (pos < size && err->code == 0) {
		data = lseek(in, pos, SEEK_DATA);
		if (data < 0 || data > size)
			data = size;	/* a hole to the end */
		hole = data < size ? lseek(in, data, SEEK_HOLE) : size;
		if (hole < 0 || hole > size)
			hole = size;
		if (data > pos) {
			if (ftruncate(s->fd, data) != 0) {
				cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
				    CERR_FAIL, "cannot write '%s': %s", dst,
				    strerror(errno));
				break;
			}
			img_copy_trail_advance(&t, (unsigned long long)data);
		}
		for (o = data; o < hole && err->code == 0;) {
			if (!kernel) {
				if (range_rw(in, s->fd, o, hole, source, dst,
				    err) == 0)
					o = hole;
				break;
			}
			w = o;
			r = copy_file_range(in, &o, s->fd, &w, (size_t)(hole -
			    o < RANGE_STEP ? hole - o : RANGE_STEP), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EXDEV || errno == ENOSYS ||
			    errno == EINVAL || errno == EOPNOTSUPP ||
			    errno == EBADF)) {
				kernel = false;
				continue;
			}
			if (r < 0) {
				cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
				    CERR_FAIL, "cannot copy '%s' to '%s': %s",
				    source, dst, strerror(errno));
				break;
			}
			if (r == 0) {	/* the file shrank meanwhile */
				size = hole = o;
				break;
			}
			img_copy_trail_advance(&t, (unsigned long long)o);
			if (progress)
				progress(ctx, (unsigned long long)o, total);
		}
		if (err->code == 0)
			img_copy_trail_advance(&t, (unsigned long long)o);
		pos = hole;
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

/* The digest (algo: as digest_new_algo takes) of the file at path, with its
 * size and its first bytes in probe (up to *nprobe; set to the count). */
int
img_copy_hash_file(const char *path, const char *algo, char hex[65],
    unsigned long long *size, unsigned char *probe, size_t *nprobe,
    struct cerr *err)
{
	struct digest *dg = NULL;
	unsigned char *b = NULL;
	unsigned long long n = 0;
	size_t want = nprobe ? *nprobe : 0, got = 0, k;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cerr_set(err, CERR_FAIL, "cannot read '%s': %s", path,
		    strerror(errno));
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (digest_new_algo(&dg, algo, err))
		goto out;
	if ((b = malloc(COPY_BUF)) == NULL) {
		cerr_set(err, CERR_FAIL, "out of memory");
		goto out;
	}
	while ((r = read(fd, b, COPY_BUF)) > 0) {
		if (got < want) {
			k = want - got < (size_t)r ? want - got : (size_t)r;
			memcpy(probe + got, b, k);
			got += k;
		}
		digest_update(dg, b, (size_t)r);
		n += (unsigned long long)r;
	}
	if (r < 0) {
		cerr_set(err, CERR_FAIL, "cannot read '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	digest_hex(dg, hex);
	if (size)
		*size = n;
	if (nprobe)
		*nprobe = got;
out:
	free(b);
	digest_free(dg);
	close(fd);
	return err->code;
}

/* Copy the bytes [off, end) of in to the same place in out, in the
 * kernel; returns 1 when the kernel cannot copy between these files. */
static int
range_copy(int in, int out, off_t off, off_t end, const char *src,
    const char *dst, struct cerr *err)
{
	off_t o = off;
	ssize_t r;

	while (o < end) {
		r = copy_file_range(in, &o, out, &(off_t){ o },
		    (size_t)(end - o < RANGE_STEP ? end - o : RANGE_STEP), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && o == off && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP))
			return 1;
		if (r < 0)
			return cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
			    CERR_FAIL, "cannot copy '%s' to '%s': %s", src, dst,
			    strerror(errno));
		if (r == 0)
			break;
	}
	return 0;
}

/* The same with read and write. */
static int
range_rw(int in, int out, off_t off, off_t end, const char *src,
    const char *dst, struct cerr *err)
{
	unsigned char *b = malloc(COPY_BUF);
	ssize_t r;
	size_t n;

	if (b == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	if (lseek(out, off, SEEK_SET) < 0)
		cerr_set(err, CERR_FAIL, "cannot seek '%s': %s", dst,
		    strerror(errno));
	while (err->code == 0 && off < end) {
		n = (size_t)(end - off < COPY_BUF ? end - off : COPY_BUF);
		r = pread(in, b, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				cerr_set(err, CERR_FAIL, "cannot read '%s': %s",
				    src, strerror(errno));
			break;
		}
		if (img_copy_write_all(out, b, (size_t)r, dst, err))
			break;
		off += r;
	}
	free(b);
	return err->code;
}

/*
 * Copy in (size bytes) to out: a reflink where the file system shares
 * blocks, else in the kernel, else with read and write; holes stay holes
 * (only the data SEEK_DATA finds is copied), as cp keeps them.
 */
static int
file_copy(int in, int out, off_t size, const char *src, const char *dst,
    struct cerr *err)
{
	off_t pos = 0, data, hole;
	bool kernel = true;
	int rc;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	while (pos < size) {
		data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;		/* a hole to the end */
		if (data < 0) {		/* no SEEK_DATA here: all data */
			data = pos;
			hole = size;
		} else if ((hole = lseek(in, data, SEEK_HOLE)) < 0) {
			hole = size;
		}
		if (hole > size)
			hole = size;
		rc = kernel ? range_copy(in, out, data, hole, src, dst, err) :
		    1;
		if (rc == 1) {
			kernel = false;
			rc = range_rw(in, out, data, hole, src, dst, err);
		}
		if (rc)
			return err->code;
		pos = hole;
	}
	if (ftruncate(out, size) != 0)
		return cerr_set(err, errno == ENOSPC ? CERR_CAPACITY :
		    CERR_FAIL, "cannot write '%s': %s", dst, strerror(errno));
	return 0;
}

int
img_clone(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err)
{
	struct doc *cur = NULL;
	struct buf dir, src, dst, lock, what;
	struct img_spec spec = { 0 };
	struct limits lim;
	long long id = -1, from;
	char now[32], idbuf[32];
	int in = -1, fd = -1, lockfd = -1;
	struct stat sb;

	buf_init(&dir);
	buf_init(&src);
	buf_init(&dst);
	buf_init(&lock);
	buf_init(&what);
	if (valid_name("image", name, err) || img_find(ctx, ref, &cur, NULL,
	    err))
		goto out;
	from = doc_map_get(cur, "id")->u.i;
	if (strcmp(doc_get_str(cur, "state"), "ready") != 0 &&
	    strcmp(doc_get_str(cur, "state"), "used") != 0) {
		cerr_set(err, CERR_CONFLICT, "cannot clone image '%s': it is "
		    "%s", ref, doc_get_str(cur, "state"));
		goto out;
	}
	if (img_repo_limits_read(ctx, &lim, err) || img_repo_ensure(ctx, &dir, err))
		goto out;
	buf_printf(&src, "%s/%lld", dir.s, from);
	buf_printf(&what, "clone image '%s'", ref);
	if ((in = open(src.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(in, &sb) != 0) {
		cerr_set(err, CERR_FAIL, "cannot %s: cannot read '%s': %s",
		    what.s, src.s, strerror(errno));
		goto out;
	}
	{
		const struct doc *v = doc_map_get(cur, "size");
		struct buf w = BUF_INIT;

		buf_printf(&w, "cannot %s", what.s);
		img_copy_file_matches(in, w.s, v && v->type == DOC_INT ?
		    v->u.i : -1, NULL, err);
		buf_release(&w);
		if (err->code)
			goto out;
	}
	if (img_repo_room(dir.s, img_copy_held(in,
	    (unsigned long long)sb.st_size), img_repo_limits_reserve(&lim, dir.s),
	    what.s, err))
		goto out;
	spec.description = doc_get_str(cur, "description");
	spec.os = doc_get_str(cur, "os");
	spec.arch = doc_get_str(cur, "arch");
	{
		struct buf json = BUF_INIT;

		if (img_labels_json(doc_map_get(cur, "labels"), &json,
		    err) == 0)
			img_import_row(ctx, &spec, name, doc_get_str(cur,
			    "source"), json.s, dir.s, &id, &lockfd, &lock,
			    err);
		buf_release(&json);
		if (err->code)
			goto out;
	}
	buf_printf(&dst, "%s/%lld", dir.s, id);
	if ((fd = img_copy_repo_create(dst.s, O_WRONLY, err)) < 0)
		goto undo;
	if (file_copy(in, fd, sb.st_size, src.s, dst.s, err))
		goto undo_file;
	fault_point("img.clone.copied");
	if (close(fd) != 0) {
		fd = -1;
		cerr_set(err, CERR_FAIL, "cannot write '%s': %s", dst.s,
		    strerror(errno));
		goto undo_file;
	}
	fd = -1;
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto undo_file;
	if (catalog_exec(ctx->cat, err, "UPDATE images SET state = 'ready', "
	    "(format, size, virtual_size, checksum, sha256, cpu, memory) = "
	    "(SELECT format, size, virtual_size, checksum, sha256, cpu, "
	    "memory FROM images WHERE id = ?), updated = ? WHERE id = ? AND state = 'locked'",
	    "isi", from, now, id) ||
	    (catalog_changes(ctx->cat) != 1 && cerr_set(err, CERR_CONFLICT,
	    "cannot %s: image '%s' was deleted meanwhile", what.s, name)) ||
	    acct_audit(ctx, "clone", "Image", id, name, doc_get_str(cur,
	    "name"), err) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto undo_file;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	img_show(ctx, idbuf, out, err);
	goto out;
undo_file:
	unlink(dst.s);
undo:
	img_import_undo(ctx, id);
out:
	img_unlock_row(&lockfd, &lock);
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	doc_free(cur);
	buf_release(&dir);
	buf_release(&src);
	buf_release(&dst);
	buf_release(&lock);
	buf_release(&what);
	return err->code;
}

/* Whether some host has the image of checksum key in its cache. */
static bool
on_a_host(struct ctx *ctx, const char *key, struct cerr *err)
{
	struct cstmt *st = NULL;
	bool yes = false;

	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM image_hosts "
	    "WHERE checksum = ? AND state = 'ready' LIMIT 1", "s", key) == 0)
		yes = cstmt_row(st, err);
	cstmt_free(st);
	return yes;
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
	long long size;
	ssize_t n;
	int fd = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&path);
	if (id > 0 ? catalog_query(ctx->cat, &st, err, "SELECT i.id, i.name, "
	    "coalesce(i.checksum, i.sha256), i.format, i.virtual_size, "
	    "i.state, i.size FROM images i WHERE i.id = ?", "i", id) :
	    catalog_query(ctx->cat, &st, err, "SELECT i.id, i.name, "
	    "coalesce(i.checksum, i.sha256), i.format, i.virtual_size, "
	    "i.state, i.size FROM images i WHERE " IMG_VISIBLE "AND (i.id = ?3 OR (?3 < 0 AND "
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
	snprintf(out->checksum, sizeof(out->checksum), "%s",
	    cstmt_text(st, 2) ? cstmt_text(st, 2) : "");
	snprintf(out->format, sizeof(out->format), "%s",
	    cstmt_text(st, 3) ? cstmt_text(st, 3) : "");
	out->virtual_size = cstmt_int(st, 4);
	size = cstmt_null(st, 6) ? -1 : cstmt_int(st, 6);
	if (strcmp(out->format, "raw") != 0 &&
	    strcmp(out->format, "qcow2") != 0) {
		cerr_set(err, CERR_USAGE, "image '%s' is %s, not a raw or qcow2 "
		    "disk a VM's disk can be cloned from", out->name,
		    out->format);
		goto out;
	}
	if (img_repo_checked(ctx, &path, err))
		goto out;
	buf_printf(&path, "/%lld", out->id);
	if ((fd = open(path.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
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
	/* the size always; the checksum before a first upload */
	{
		struct buf what = BUF_INIT;

		buf_printf(&what, "image '%s'", out->name);
		if (img_copy_file_matches(fd, what.s, size, NULL, err) == 0 &&
		    ref && !on_a_host(ctx, out->checksum, err) &&
		    err->code == 0)
			/* a new disk of an image no host has yet: its
			 * first upload is ahead, so a changed file is
			 * refused now, before anything is written */
			img_copy_file_matches(fd, what.s, -1, out->checksum,
			    err);
		buf_release(&what);
		if (err->code)
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
