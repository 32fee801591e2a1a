/*
 * img.c - service: the image repository.  Uses the catalog, digest and
 * imgfmt modules; reads and writes image files, never prints.
 */
#include <ctype.h>
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>

#include "acct.h"
#include "arc.h"
#include "buf.h"
#include "catalog.h"
#include "digest.h"
#include "fault.h"
#include "http.h"
#include "img.h"
#include "imgfmt.h"
#include "labels.h"
#include "ovf.h"
#include "valid.h"
#include "xalloc.h"
#include "rows.h"
#include "units.h"
#include "compat.h"

/* Large reads and writes: a copy runs at the speed of the disks. */
#define COPY_BUF (4 << 20)
#define MIB 1048576ULL

#define IMG_COLS \
	"SELECT i.id, i.name, i.description, i.os, i.arch, i.labels, " \
	"i.format, i.size, i.virtual_size, i.sha256, i.state, " \
	"i.visibility, u.name, g.name, i.source, i.created, i.updated, " \
	"i.owner, i.cpu, i.memory, i.checksum FROM images i " \
	"JOIN users u ON u.id = i.owner " \
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
	doc_set_str(d, "checksum", cstmt_text(st, 20));
	doc_set_str(d, "sha256", cstmt_text(st, 9));
	doc_set_str(d, "state", cstmt_text(st, 10));
	doc_set_str(d, "visibility", cstmt_text(st, 11));
	doc_set_str(d, "owner", cstmt_text(st, 12));
	doc_set_str(d, "group_owner", cstmt_text(st, 13));
	doc_set_str(d, "source", cstmt_text(st, 14));
	if (cstmt_null(st, 18))
		doc_set_str(d, "cpu", NULL);
	else
		doc_set_int(d, "cpu", cstmt_int(st, 18));
	if (cstmt_null(st, 19))
		doc_set_str(d, "memory", NULL);
	else
		doc_set_int(d, "memory", cstmt_int(st, 19));
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

/*
 * The repository is the cloud's, whoever imports first: it belongs to the
 * catalog file's owner and takes the catalog's access.  The owner has
 * rwx; group and others get r-x where they may read the catalog, -wx
 * where they may write it (tenants who run the programs as their own uids
 * against a catalog an admin opened to them), and then the sticky bit, so
 * no one renames or deletes another's file.  A repository of anyone else
 * is refused: a tenant who owned it could swap the files of every image.
 */
static mode_t
repo_mode(mode_t cat)
{
	mode_t m = S_IRWXU;

	if (cat & S_IRGRP)
		m |= S_IRGRP | S_IXGRP;
	if (cat & S_IWGRP)
		m |= S_IWGRP | S_IXGRP;
	if (cat & S_IROTH)
		m |= S_IROTH | S_IXOTH;
	if (cat & S_IWOTH)
		m |= S_IWOTH | S_IXOTH;
	if (cat & (S_IWGRP | S_IWOTH))
		m |= S_ISVTX;
	return m;
}

/* CERR_FAIL unless dir is a folder of the catalog's owner that no one
 * else may rename files in; the owner (or root) brings its mode in line
 * with the catalog's. */
static int
repo_check(const char *dir, const struct stat *csb, struct cerr *err)
{
	struct stat sb;
	mode_t want = repo_mode(csb->st_mode);
	uid_t me = geteuid();

	if (stat(dir, &sb) != 0)
		return cerr_set(err, errno == EACCES ? CERR_PERM : CERR_FAIL,
		    "cannot use the image repository '%s': %s", dir,
		    strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return cerr_set(err, CERR_FAIL, "image repository '%s' is not "
		    "a folder", dir);
	if (sb.st_uid != csb->st_uid)
		return cerr_set(err, CERR_FAIL, "image repository '%s' belongs "
		    "to uid %u, not to the catalog's owner (uid %u)", dir,
		    (unsigned)sb.st_uid, (unsigned)csb->st_uid);
	if ((sb.st_mode & 07777) != want && (me == sb.st_uid || me == 0) &&
	    chmod(dir, want) == 0)
		sb.st_mode = (sb.st_mode & ~07777u) | want;
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX))
		return cerr_set(err, CERR_FAIL, "image repository '%s' may be "
		    "written by others without the sticky bit (mode %04o)", dir,
		    (unsigned)(sb.st_mode & 07777));
	return 0;
}

/* The catalog file's owner and mode. */
static int
repo_owner(struct ctx *ctx, struct stat *csb, struct cerr *err)
{
	if (stat(catalog_path(ctx->cat), csb) != 0)
		return cerr_set(err, CERR_FAIL, "cannot read the catalog "
		    "'%s': %s", catalog_path(ctx->cat), strerror(errno));
	return 0;
}

/* The repository in dir, checked (see repo_check). */
static int
img_repo_checked(struct ctx *ctx, struct buf *dir, struct cerr *err)
{
	struct stat csb;

	img_repo(ctx, dir);
	if (repo_owner(ctx, &csb, err))
		return err->code;
	return repo_check(dir->s, &csb, err);
}

/* The repository in dir, made when missing: by the catalog's owner, or
 * by root for it. */
static int
img_repo_ensure(struct ctx *ctx, struct buf *dir, struct cerr *err)
{
	struct stat csb;
	uid_t me = geteuid();

	img_repo(ctx, dir);
	if (repo_owner(ctx, &csb, err))
		return err->code;
	if (access(dir->s, F_OK) != 0 && errno == ENOENT) {
		if (me != csb.st_uid && me != 0)
			return cerr_set(err, CERR_PERM, "cannot make the image "
			    "repository '%s': it is the catalog owner's (uid "
			    "%u), made by that user or root", dir->s,
			    (unsigned)csb.st_uid);
		if (mkdir(dir->s, 0700) == 0) {
			if (chmod(dir->s, repo_mode(csb.st_mode)) != 0 ||
			    (me != csb.st_uid && chown(dir->s, csb.st_uid,
			    csb.st_gid) != 0)) {
				cerr_set(err, CERR_FAIL, "cannot make the image "
				    "repository '%s': %s", dir->s,
				    strerror(errno));
				rmdir(dir->s);
				return err->code;
			}
		} else if (errno != EEXIST) {
			return cerr_set(err, errno == EACCES ? CERR_PERM :
			    CERR_FAIL, "cannot make the image repository "
			    "'%s': %s", dir->s, strerror(errno));
		}
	}
	return repo_check(dir->s, &csb, err);
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
	return valid_text(field, s, err);
}

static int
check_spec(const struct img_spec *spec, struct cerr *err)
{
	/* no more than a VM may have: a VM takes what its image suggests */
	if (spec->cpu < 0 || spec->cpu > VM_MAX_CPU)
		return cerr_set(err, CERR_USAGE, "cpu: expected 1 to %d "
		    "vCPUs, found %lld", VM_MAX_CPU, spec->cpu);
	if (spec->memory < 0)
		return cerr_set(err, CERR_USAGE, "memory: expected a size");
	if ((spec->name && valid_name("image", spec->name, err)) ||
	    valid_description(spec->description, err) ||
	    check_word("os", spec->os, err) ||
	    check_word("arch", spec->arch, err))
		return err->code;
	return 0;
}

/* The bytes a file of size bytes takes on disk: holes take none. */
static unsigned long long
held(int fd, unsigned long long size)
{
	struct stat sb;
	unsigned long long used;

	if (fstat(fd, &sb) != 0)
		return size;
	used = (unsigned long long)sb.st_blocks * 512;
	return used < size ? used : size;
}

/*
 * The repository's limits, which cimg config keeps in the settings table:
 * a reserve of free space no import may eat into (the catalog sits beside
 * the repository, and a full file system leaves it unable to record even
 * the undoing of a failed import), and a largest size for one import.
 * The reserve is a size or a percentage of the file system; by default
 * the smaller of 5% and 1 GiB: 1 GiB is far more than the catalog and its
 * write-ahead log need, 5% keeps a small file system usable.
 */
#define RESERVE_DEFAULT_PCT 5
#define RESERVE_DEFAULT_MIB 1024LL
#define KEY_RESERVE "img.reserve"
#define KEY_MAX_SIZE "img.max_size"

struct limits {
	long long reserve_mib;	/* a set size, or -1 */
	int reserve_pct;	/* a set percentage, or -1 */
	long long max_mib;	/* 0: no largest size */
};

/* Parse "N%" (0 to 50) or a size into l's reserve. */
static int
reserve_parse(const char *s, struct limits *l, struct cerr *err)
{
	char *end;
	long v;

	l->reserve_mib = l->reserve_pct = -1;
	if (strcmp(s, "default") == 0)
		return 0;
	if (*s >= '0' && *s <= '9' && s[strlen(s) - 1] == '%') {
		v = strtol(s, &end, 10);
		if (*end != '%' || end[1] != '\0' || v > 50)
			return cerr_set(err, CERR_USAGE, "--reserve: expected a "
			    "size or 0%% to 50%% of the file system, found "
			    "'%s'", s);
		l->reserve_pct = (int)v;
		return 0;
	}
	if (units_parse_mib(s, &l->reserve_mib, err))
		return cerr_wrap(err, "--reserve");
	return 0;
}

static int
limits_read(struct ctx *ctx, struct limits *l, struct cerr *err)
{
	struct cstmt *st = NULL;

	l->reserve_mib = l->reserve_pct = -1;
	l->max_mib = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT key, value FROM "
	    "settings WHERE key IN ('" KEY_RESERVE "', '" KEY_MAX_SIZE "')",
	    ""))
		return err->code;
	while (cstmt_row(st, err)) {
		const char *k = cstmt_text(st, 0), *v = cstmt_text(st, 1);
		struct cerr e2 = { 0 };

		if (v == NULL)
			continue;
		if (strcmp(k, KEY_RESERVE) == 0)
			reserve_parse(v, l, &e2);
		else
			l->max_mib = strtoll(v, NULL, 10);
	}
	cstmt_free(st);
	return err->code;
}

/* The reserve in bytes on the file system of dir. */
static unsigned long long
limits_reserve(const struct limits *l, const char *dir)
{
	struct statvfs sv;
	unsigned long long fs, pct;

	if (l->reserve_mib >= 0)
		return (unsigned long long)l->reserve_mib * MIB;
	if (statvfs(dir, &sv) != 0)
		return l->reserve_pct >= 0 ? 0 : RESERVE_DEFAULT_MIB * MIB;
	fs = (unsigned long long)sv.f_blocks * sv.f_frsize;
	pct = fs / 100 * (unsigned long long)(l->reserve_pct >= 0 ?
	    l->reserve_pct : RESERVE_DEFAULT_PCT);
	if (l->reserve_pct < 0 && pct > RESERVE_DEFAULT_MIB * MIB)
		pct = RESERVE_DEFAULT_MIB * MIB;
	return pct;
}

/* CERR_CAPACITY unless the repository's file system has need bytes free
 * above the reserve. */
static int
repo_room(const char *dir, unsigned long long need,
    unsigned long long reserve, const char *what, struct cerr *err)
{
	struct statvfs sv;
	unsigned long long avail;

	if (statvfs(dir, &sv) != 0)
		return 0;	/* cannot tell: the write will say */
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (need > avail)
		return cerr_set(err, CERR_CAPACITY, "cannot %s: it needs %llu "
		    "MiB and the image repository has %llu MiB free", what,
		    (need + MIB - 1) / MIB, avail / MIB);
	if (need + reserve > avail)
		return cerr_set(err, CERR_CAPACITY, "cannot %s: it needs %llu "
		    "MiB and the image repository has %llu MiB free above "
		    "its reserve of %llu MiB (cimg config --reserve)", what,
		    (need + MIB - 1) / MIB, avail > reserve ?
		    (avail - reserve) / MIB : 0, (reserve + MIB - 1) / MIB);
	return 0;
}

int
img_config(struct ctx *ctx, const char *reserve, const char *max_size,
    struct doc **out, struct cerr *err)
{
	struct limits l;
	struct buf v = BUF_INIT;
	long long mib = 0;

	if (reserve && reserve_parse(reserve, &l, err))
		return err->code;
	if (max_size && strcmp(max_size, "none") != 0 &&
	    (units_parse_mib(max_size, &mib, err) || (mib < 1 &&
	    cerr_set(err, CERR_USAGE, "invalid size '%s'", max_size))))
		return cerr_wrap(err, "--max-size");
	if (reserve || max_size) {
		if (acct_require_admin(ctx, "change the image repository's "
		    "limits", err) || catalog_begin(ctx->cat, err))
			return err->code;
		if (reserve && (strcmp(reserve, "default") == 0 ?
		    catalog_exec(ctx->cat, err, "DELETE FROM settings WHERE "
		    "key = '" KEY_RESERVE "'", "") :
		    catalog_exec(ctx->cat, err, "INSERT INTO settings (key, "
		    "value) VALUES ('" KEY_RESERVE "', ?1) ON CONFLICT (key) "
		    "DO UPDATE SET value = ?1", "s", l.reserve_pct >= 0 ?
		    reserve : (buf_printf(&v, "%lld", l.reserve_mib), v.s))))
			goto fail;
		if (max_size && (mib == 0 ? catalog_exec(ctx->cat, err,
		    "DELETE FROM settings WHERE key = '" KEY_MAX_SIZE "'",
		    "") : catalog_exec(ctx->cat, err, "INSERT INTO settings "
		    "(key, value) VALUES ('" KEY_MAX_SIZE "', ?1) ON CONFLICT "
		    "(key) DO UPDATE SET value = ?1", "i", mib)))
			goto fail;
		buf_reset(&v);
		if (reserve)
			buf_printf(&v, "reserve=%s", reserve);
		if (max_size)
			buf_printf(&v, "%smax_size=%s", reserve ? " " : "",
			    max_size);
		if (acct_audit(ctx, "config", "Image", 0, "limits", v.s,
		    err) || catalog_commit(ctx->cat, err))
			goto fail;
	}
	buf_release(&v);
	if (limits_read(ctx, &l, err))
		return err->code;
	*out = doc_new(DOC_MAP);
	doc_set_str(*out, "kind", "Config");
	doc_set_int(*out, "id", 0);
	doc_set_str(*out, "name", "cimg");
	if (l.reserve_mib >= 0) {
		doc_set_int(*out, "reserve", l.reserve_mib);
	} else {
		buf_printf(&v, "%d%%", l.reserve_pct >= 0 ? l.reserve_pct :
		    RESERVE_DEFAULT_PCT);
		if (l.reserve_pct < 0)
			buf_printf(&v, ", at most %lld MiB",
			    RESERVE_DEFAULT_MIB);
		doc_set_str(*out, "reserve", v.s);
	}
	if (l.max_mib > 0)
		doc_set_int(*out, "max_size", l.max_mib);
	else
		doc_set_str(*out, "max_size", NULL);
	buf_release(&v);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	buf_release(&v);
	return err->code;
}

/* Where the bytes of an import go: the file, the digest, and the first
 * bytes kept to read the format from. */
struct sink {
	int fd;
	struct digest *ck;	/* XXH128: every image's checksum */
	struct digest *dg;	/* SHA256: only when asked (NULL else) */
	unsigned char probe[IMGFMT_PROBE_LEN];
	size_t nprobe;
	unsigned long long bytes;
};

/* The next n bytes of the image through its digests. */
static void
sink_hash(struct sink *s, const void *p, size_t n)
{
	digest_update(s->ck, p, n);
	if (s->dg)
		digest_update(s->dg, p, n);
}

/* Write all n bytes of p to fd; dst names it in messages. */
static int
write_all(int fd, const void *buf, size_t n, const char *dst,
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
 * is the caller's (the hashing thread of copy_fd). */
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
	return write_all(s->fd, p, n, dst, err);
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
		return cerr_set(err, cerr_errno_code(errno, CERR_FAIL),
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
		sink_hash(h->s, h->buf[i % NCHUNK], h->len[i % NCHUNK]);
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
 * (the caller falls back to copy_fd).
 */
#define RANGE_STEP (16 << 20)
#define TRAIL_STEP (4 << 20)	/* a download wakes the hashing thread */

struct trail {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long long start;	/* hashed already */
	unsigned long long copied;
	bool done;
	struct sink *s;
	const char *path;	/* the file s->fd writes, read back */
	int rerr;
};

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
			sink_hash(s, p, k);
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
static int
repo_create(const char *path, int flags, struct cerr *err)
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
static int
file_matches(int fd, const char *what, long long size, const char *checksum,
    struct cerr *err)
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
	file_matches(fd, what.s, (long long)d->bytes, d->checksum, err);
	buf_release(&what);
	return err->code;
}

static void *
trail_run(void *arg)
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
static void
trail_advance(struct trail *t, unsigned long long end)
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
static int
copy_range(struct ctx *ctx, int in, const char *source, struct sink *s,
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
	if (pthread_create(&th, NULL, trail_run, &t) != 0) {
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
			trail_advance(&t, (unsigned long long)data);
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
			trail_advance(&t, (unsigned long long)o);
			if (progress)
				progress(ctx, (unsigned long long)o, total);
		}
		if (err->code == 0)
			trail_advance(&t, (unsigned long long)o);
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
	/* the id is new: no one may hold its lock, nor have put a link
	 * there */
	fd = open(lock->s, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
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
	fd = open(lock.s, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
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
		repo_room(f->dir, total - (status == 206 && total > f->offset ?
		    f->offset : 0), f->reserve, w.s, err);
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
	if (pthread_create(&f->th, NULL, trail_run, &f->t) != 0) {
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
	if (write_all(s->fd, data, n, f->dst, err))
		return err->code;
	s->bytes += n;
	if (s->bytes - f->signalled >= TRAIL_STEP) {
		f->signalled = s->bytes;
		trail_advance(&f->t, s->bytes);
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
static int
fetch_url(struct ctx *ctx, const char *url, const char *shown, const char *dir,
    struct sink *s, long stall, unsigned long long reserve,
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
		sink_hash(s, b, (size_t)r);
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

/*
 * A new locked row for image name, holding its import lock (see
 * import_lock): *id, *lockfd and lock are set on success.  CERR_CONFLICT
 * when the name is taken.
 */
static int
import_row(struct ctx *ctx, const struct img_spec *spec, const char *name,
    const char *source, const char *labels, const char *dir, long long *id,
    int *lockfd, struct buf *lock, struct cerr *err)
{
	char now[32];

	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_exec(ctx->cat, err, "INSERT INTO images (name, "
	    "description, os, arch, labels, state, owner, group_id, source, "
	    "created, updated) VALUES (?, ?, ?, ?, ?, 'locked', ?, ?, ?, ?, ?)",
	    "sssssiisss", name, spec->description, spec->os, spec->arch,
	    labels, ctx->who.user_id, ctx->who.group_id, source, now, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "image '%s' exists "
			    "already", name);
		}
		catalog_rollback(ctx->cat);
		return err->code;
	}
	*id = catalog_last_id(ctx->cat);
	if ((*lockfd = import_lock(dir, *id, lock, err)) < 0 ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		if (*lockfd >= 0) {
			unlink(lock->s);
			close(*lockfd);
			*lockfd = -1;
		}
		*id = -1;
		return err->code;
	}
	return 0;
}

static void
unlock_row(int *lockfd, struct buf *lock)
{
	if (*lockfd >= 0) {
		unlink(lock->s);
		close(*lockfd);
		*lockfd = -1;
	}
}

/* The digest (algo: as digest_new_algo takes) of the file at path, with its
 * size and its first bytes in probe (up to *nprobe; set to the count). */
static int
hash_file(const char *path, const char *algo, char hex[65],
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

/*
 * Run qemu-img with argv (argv[0] is "qemu-img"): no shell, stdin and
 * stdout on /dev/null, the first line of its stderr in msg.  Returns its
 * exit status, or -1 when it cannot be started.
 */
static int
run_qemu_img(char *const argv[], struct buf *msg)
{
	char b[4096];
	size_t n = 0;
	ssize_t r;
	int p[2], st, nul;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		nul = open("/dev/null", O_RDWR);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
		    dup2(p[1], 2) < 0)
			_exit(126);
		execvp("qemu-img", argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], b + n, sizeof(b) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
		if (n == sizeof(b) - 1) {	/* drain the rest */
			char junk[512];

			while (read(p[0], junk, sizeof(junk)) > 0)
				;
			break;
		}
	}
	close(p[0]);
	b[n] = '\0';
	b[strcspn(b, "\n")] = '\0';
	buf_puts(msg, b);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == 127 && msg->len == 0 ? -1 :
	    WEXITSTATUS(st);
}

/* A qemu-img source for the file at path in format fmt that reads no
 * other file: the driver named, a backing file refused. */
static void
qemu_source(struct buf *b, const char *path, const char *fmt)
{
	struct doc *p = doc_new_str(path);

	buf_printf(b, "json:{\"driver\":\"%s\",%s\"file\":{\"driver\":"
	    "\"file\",\"filename\":", fmt, strcmp(fmt, "raw") == 0 ? "" :
	    "\"backing\":null,");
	doc_json(b, p);
	buf_puts(b, "}}");
	doc_free(p);
}

/* qemu-img convert from src (format fmt) to dst in format out with
 * options opts (or NULL).  A failure: CERR_CAPACITY when the disk is
 * full, bad (CERR_USAGE for input, CERR_FAIL for our own) otherwise. */
static int
qemu_convert(const char *src, const char *fmt, const char *dst,
    const char *out, const char *opts, int bad, const char *what,
    struct cerr *err)
{
	struct buf in, msg;
	char *argv[10];
	int n = 0, rc;

	buf_init(&in);
	buf_init(&msg);
	qemu_source(&in, src, fmt);
	argv[n++] = (char *)"qemu-img";
	argv[n++] = (char *)"convert";
	argv[n++] = (char *)"-q";
	argv[n++] = (char *)"-O";
	argv[n++] = (char *)out;
	if (opts) {
		argv[n++] = (char *)"-o";
		argv[n++] = (char *)opts;
	}
	argv[n++] = in.s;
	argv[n++] = (char *)dst;
	argv[n] = NULL;
	rc = run_qemu_img(argv, &msg);
	if (rc < 0)
		cerr_set(err, CERR_FAIL, "%s: cannot run qemu-img (is it "
		    "installed?)", what);
	else if (rc > 0 && strstr(msg.s, "No space left"))
		cerr_set(err, CERR_CAPACITY, "%s: the image repository is "
		    "full (%s)", what, msg.s);
	else if (rc > 0)
		cerr_set(err, bad, "%s: %s", what, msg.len ? msg.s :
		    "qemu-img failed");
	buf_release(&in);
	buf_release(&msg);
	return err->code;
}

/*
 * OVA import.  The tar is read twice: first its names, descriptor and
 * manifest (the data of other entries is skipped), then the bytes of
 * the disks the descriptor names, each into a temporary file in the
 * repository, hashed against the manifest, converted to qcow2 by
 * qemu-img.  One image a disk: the first takes the name asked for, the
 * others NAME-disk2, NAME-disk3, ...
 */
#define OVF_MAX (8 << 20)
#define OVA_MAX_FILES 4096	/* a package is a few files, not a tar bomb */

struct ova_disk {
	const struct ovf_disk *d;
	const char *file;		/* its entry's name */
	const struct ovf_mf_line *mf;
	unsigned long long entry_size;
	long long id;
	int lockfd;
	bool got;
	struct buf name, lock, tmp, path;
	char checksum[80];		/* of its qcow2: "xxh128:HEX" */
	unsigned long long size, vsize;
};

struct ova {
	char *ovf, *mf;
	size_t novf, nmf;
	char *ovf_name, *mf_name;
	char **names;		/* every regular file's name */
	unsigned long long *sizes;
	size_t n;
};

static void
ova_release(struct ova *o)
{
	size_t i;

	free(o->ovf);
	free(o->mf);
	free(o->ovf_name);
	free(o->mf_name);
	for (i = 0; i < o->n; i++)
		free(o->names[i]);
	free(o->names);
	free(o->sizes);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Read the current entry (at most max bytes) into *out. */
static int
arc_slurp(struct arc *a, unsigned long long size, size_t max,
    const char *what, const char *name, char **out, size_t *len,
    struct cerr *err)
{
	size_t got, n = 0;
	char *b;

	if (size > max)
		return cerr_set(err, CERR_USAGE, "%s: '%s' is larger than "
		    "%zu MiB", what, name, max >> 20);
	if ((b = malloc((size_t)size + 1)) == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	for (;;) {
		if (arc_read(a, b + n, (size_t)size - n, &got, err)) {
			free(b);
			return err->code;
		}
		if (got == 0 || n + got == size) {
			n += got;
			break;
		}
		n += got;
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

/* The first pass: every name, the descriptor and the manifest. */
static int
ova_scan(const char *path, const char *what, struct ova *o,
    struct cerr *err)
{
	struct arc *a = NULL;
	const char *name;
	unsigned long long size;

	if (arc_open(path, what, &a, err))
		return err->code;
	for (;;) {
		if (arc_next(a, &name, &size, err))
			goto out;
		if (name == NULL)
			break;
		if (o->n == OVA_MAX_FILES) {
			cerr_set(err, CERR_USAGE, "%s: holds more than %d "
			    "files", what, OVA_MAX_FILES);
			goto out;
		}
		o->names = realloc(o->names, (o->n + 1) * sizeof(*o->names));
		o->sizes = realloc(o->sizes, (o->n + 1) * sizeof(*o->sizes));
		if (o->names == NULL || o->sizes == NULL)
			abort();
		o->names[o->n] = strdup(name);
		o->sizes[o->n++] = size;
		if (o->ovf == NULL && ends_with(name, ".ovf")) {
			if (arc_slurp(a, size, OVF_MAX, what, name, &o->ovf,
			    &o->novf, err))
				goto out;
			o->ovf_name = strdup(name);
		} else if (o->mf == NULL && ends_with(name, ".mf")) {
			if (arc_slurp(a, size, OVF_MAX, what, name, &o->mf,
			    &o->nmf, err))
				goto out;
			o->mf_name = strdup(name);
		}
	}
	if (o->ovf == NULL)
		cerr_set(err, CERR_USAGE, "%s: holds no OVF descriptor (.ovf)",
		    what);
out:
	arc_free(a);
	return err->code;
}

/* An OVF href as the name of an entry: relative, inside the package. */
static const char *
href_entry(const char *href)
{
	const char *p;

	while (href[0] == '.' && href[1] == '/')
		href += 2;
	if (*href == '\0' || *href == '/' || strstr(href, "://") ||
	    strcmp(href, "..") == 0 || strncmp(href, "../", 3) == 0)
		return NULL;
	for (p = href; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return NULL;
	return href;
}

/* Check the digest the manifest gives for a file; NULL line: none. */
static int
mf_check(const struct ovf_mf_line *l, const char *name, const char *hex,
    const char *what, struct cerr *err)
{
	if (l && strcmp(l->hex, hex) != 0)
		return cerr_set(err, CERR_USAGE, "%s: the manifest gives %s "
		    "%s for '%s', its bytes have %s", what, l->algo, l->hex,
		    name, hex);
	return 0;
}

/* The second pass: the disks' bytes into their temporary files. */
static int
ova_extract(struct ctx *ctx, const char *path, const char *what,
    struct ova_disk *dk, size_t nd, unsigned long long total,
    img_progress_fn progress, struct cerr *err)
{
	struct arc *a = NULL;
	struct digest *dg = NULL;
	unsigned char *b = NULL;
	unsigned long long size, done = 0;
	const char *name;
	char hex[65];
	size_t i, got;
	int fd = -1;

	if ((b = malloc(COPY_BUF)) == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	if (arc_open(path, what, &a, err))
		goto out;
	for (;;) {
		if (arc_next(a, &name, &size, err))
			goto out;
		if (name == NULL)
			break;
		for (i = 0; i < nd; i++)
			if (!dk[i].got && strcmp(dk[i].file, name) == 0)
				break;
		if (i == nd)
			continue;
		fd = open(dk[i].tmp.s, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (fd < 0) {
			cerr_set(err, CERR_FAIL, "cannot create '%s': %s",
			    dk[i].tmp.s, strerror(errno));
			goto out;
		}
		if (dk[i].mf && digest_new_algo(&dg, dk[i].mf->algo, err))
			goto out;
		for (;;) {
			if (arc_read(a, b, COPY_BUF, &got, err))
				goto out;
			if (got == 0)
				break;
			if (dg)
				digest_update(dg, b, got);
			if (write_all(fd, b, got, dk[i].tmp.s, err))
				goto out;
			done += got;
			if (progress)
				progress(ctx, done, total);
		}
		if (close(fd) != 0) {
			fd = -1;
			cerr_set(err, CERR_FAIL, "cannot write '%s': %s",
			    dk[i].tmp.s, strerror(errno));
			goto out;
		}
		fd = -1;
		if (dg) {
			digest_hex(dg, hex);
			digest_free(dg);
			dg = NULL;
			if (mf_check(dk[i].mf, name, hex, what, err))
				goto out;
		}
		dk[i].got = true;
	}
out:
	if (fd >= 0)
		close(fd);
	digest_free(dg);
	arc_free(a);
	free(b);
	return err->code;
}

/* Convert disk k's temporary file to qcow2 at its path and read back
 * what the catalog keeps. */
static int
ova_convert(struct ova_disk *k, const char *what, struct cerr *err)
{
	unsigned char probe[IMGFMT_PROBE_LEN];
	size_t np = sizeof(probe);
	const char *fmt;
	char hex[65];
	struct buf w;
	int fd;

	buf_init(&w);
	buf_printf(&w, "%s: disk file '%s'", what, k->file);
	if (hash_file(k->tmp.s, "XXH128", hex, NULL, probe, &np, err))
		goto out;
	if (imgfmt_standalone(probe, np, err)) {
		cerr_wrap(err, "%s is refused", w.s);
		goto out;
	}
	fmt = imgfmt_name(imgfmt_detect(probe, np));
	/* qemu-img writes into a file of ours, not through a link */
	if ((fd = repo_create(k->path.s, O_WRONLY, err)) < 0)
		goto out;
	close(fd);
	if (qemu_convert(k->tmp.s, fmt, k->path.s, "qcow2", NULL, CERR_USAGE,
	    w.s, err))
		goto out;
	(void)chmod(k->path.s, 0600);	/* as every image file */
	np = sizeof(probe);
	if (hash_file(k->path.s, "XXH128", hex, &k->size, probe, &np,
	    err) || imgfmt_qcow2_size(probe, np, &k->vsize, err))
		goto out;
	snprintf(k->checksum, sizeof(k->checksum), "xxh128:%s", hex);
out:
	unlink(k->tmp.s);
	buf_release(&w);
	return err->code;
}

/* An OVA checked and ready to import. */
struct ova_job {
	struct ova o;
	struct ovf *ovf;
	struct ovf_mf *mf;
	struct ova_disk *dk;
	size_t nd;
	unsigned long long total;
	unsigned long long reserve;	/* the repository's, in bytes */
};

/*
 * Everything that can be checked before an image row is made: the tar's
 * entries, the descriptor, the manifest's digest of it, that every disk
 * file is in the tar and listed by the manifest, the room.
 */
static int
ova_prepare(const char *path, const char *what, const char *dir,
    struct ova_job *j, struct cerr *err)
{
	struct ova *o = &j->o;
	struct digest *dg = NULL;
	unsigned long long need = 0;
	const char *ent;
	char hex[65];
	size_t i, k, m;

	if (ova_scan(path, what, o, err))
		return err->code;
	if (ovf_parse(o->ovf, o->novf, o->ovf_name, &j->ovf, err) ||
	    (o->mf && ovf_manifest(o->mf, o->nmf, o->mf_name, &j->mf, err)))
		return cerr_wrap(err, "%s", what);
	if (j->ovf->ndisks == 0)
		return cerr_set(err, CERR_USAGE, "%s: the OVF descriptor names "
		    "no disk file", what);
	if (j->mf) {
		const struct ovf_mf_line *l = ovf_mf_find(j->mf, o->ovf_name);

		if (l == NULL)
			return cerr_set(err, CERR_USAGE, "%s: the manifest "
			    "does not list '%s'", what, o->ovf_name);
		if (digest_new_algo(&dg, l->algo, err))
			return err->code;
		digest_update(dg, o->ovf, o->novf);
		digest_hex(dg, hex);
		digest_free(dg);
		if (mf_check(l, o->ovf_name, hex, what, err))
			return err->code;
	}
	j->nd = j->ovf->ndisks;
	if ((j->dk = calloc(j->nd, sizeof(*j->dk))) == NULL)
		abort();
	for (i = 0; i < j->nd; i++) {
		struct ova_disk *d = &j->dk[i];

		d->id = -1;
		d->lockfd = -1;
		buf_init(&d->name);
		buf_init(&d->lock);
		buf_init(&d->tmp);
		buf_init(&d->path);
		d->d = &j->ovf->disks[i];
	}
	for (i = 0; i < j->nd; i++) {
		struct ova_disk *d = &j->dk[i];

		if (d->d->compressed)
			return cerr_set(err, CERR_USAGE, "%s: disk file '%s' is "
			    "compressed (ovf:compression), which is not "
			    "supported", what, d->d->file);
		if ((ent = href_entry(d->d->file)) == NULL)
			return cerr_set(err, CERR_USAGE, "%s: the OVF names "
			    "disk file '%s', outside the package", what,
			    d->d->file);
		d->file = ent;
		for (k = 0; k < o->n; k++)
			if (strcmp(o->names[k], ent) == 0)
				break;
		if (k == o->n)
			return cerr_set(err, CERR_USAGE, "%s: the OVF names "
			    "disk file '%s', which the archive does not hold",
			    what, ent);
		d->entry_size = o->sizes[k];
		for (m = 0; m < i; m++)
			if (strcmp(j->dk[m].file, ent) == 0)
				return cerr_set(err, CERR_USAGE, "%s: the OVF "
				    "names disk file '%s' for two disks", what,
				    ent);
		if (j->mf && (d->mf = ovf_mf_find(j->mf, ent)) == NULL)
			return cerr_set(err, CERR_USAGE, "%s: the manifest "
			    "does not list '%s'", what, ent);
		/* the file while it is converted, and what it becomes: a
		 * qcow2 of at least its bytes (more when it was compressed) */
		need += 2 * o->sizes[k];
		j->total += o->sizes[k];
	}
	{
		struct buf w = BUF_INIT;

		buf_printf(&w, "import '%s'", what);
		repo_room(dir, need, j->reserve, w.s, err);
		buf_release(&w);
	}
	return err->code;
}

/* Forget a job; when it failed, with its files and its further rows. */
static void
ova_release_job(struct ctx *ctx, struct ova_job *j, bool failed)
{
	size_t i;

	for (i = 0; j->dk && i < j->nd; i++) {
		struct ova_disk *d = &j->dk[i];

		if (failed) {
			if (d->tmp.len)
				unlink(d->tmp.s);
			if (d->path.len)
				unlink(d->path.s);
			if (i > 0)
				import_undo(ctx, d->id);
		}
		unlock_row(&d->lockfd, &d->lock);
		buf_release(&d->name);
		buf_release(&d->lock);
		buf_release(&d->tmp);
		buf_release(&d->path);
	}
	free(j->dk);
	ovf_mf_free(j->mf);
	ovf_free(j->ovf);
	ova_release(&j->o);
	memset(j, 0, sizeof(*j));
}

/* Import a prepared OVA: the first disk into the locked row id0, the
 * others into new rows. */
static int
ova_run(struct ctx *ctx, struct ova_job *j, const char *path,
    const char *what, const char *source, const struct img_spec *spec,
    const char *labels, long long id0, const char *dir,
    img_progress_fn progress, struct cerr *err)
{
	struct ova_disk *dk = j->dk;
	char now[32];
	size_t i;

	for (i = 0; i < j->nd; i++) {
		if (i == 0) {
			buf_puts(&dk[i].name, spec->name);
			dk[i].id = id0;
		} else {
			buf_printf(&dk[i].name, "%s-disk%zu", spec->name,
			    i + 1);
		}
		if (i > 0 && import_row(ctx, spec, dk[i].name.s, source,
		    labels, dir, &dk[i].id, &dk[i].lockfd, &dk[i].lock, err))
			return err->code;
		buf_printf(&dk[i].path, "%s/%lld", dir, dk[i].id);
		buf_printf(&dk[i].tmp, "%s/%lld.ova-disk", dir, dk[i].id);
	}
	if (ova_extract(ctx, path, what, dk, j->nd, j->total, progress, err))
		return err->code;
	fault_point("img.ova.extracted");
	for (i = 0; i < j->nd; i++)
		if (ova_convert(&dk[i], what, err))
			return err->code;
	fault_point("img.ova.converted");

	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	for (i = 0; i < j->nd; i++)
		if (catalog_exec(ctx->cat, err, "UPDATE images SET state = "
		    "'ready', format = 'qcow2', size = ?, virtual_size = ?, "
		    "checksum = ?, cpu = nullif(?, 0), memory = nullif(?, 0), "
		    "description = coalesce(description, ?), "
		    "os = coalesce(os, ?), updated = ? "
		    "WHERE id = ? AND state = 'locked'", "iisiisssi",
		    (long long)dk[i].size, (long long)((dk[i].vsize + MIB - 1) /
		    MIB), dk[i].checksum, j->ovf->cpu, j->ovf->memory,
		    j->ovf->annotation, j->ovf->os, now, dk[i].id) ||
		    (catalog_changes(ctx->cat) != 1 && cerr_set(err,
		    CERR_CONFLICT, "cannot import '%s': image '%s' was "
		    "deleted meanwhile", what, dk[i].name.s)) ||
		    acct_audit(ctx, "create", "Image", dk[i].id, dk[i].name.s,
		    source, err)) {
			catalog_rollback(ctx->cat);
			return err->code;
		}
	if (catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		return err->code;
	}
	if (spec->more)
		for (i = 1; i < j->nd; i++) {
			struct doc *d = NULL;
			struct cerr e2 = { 0 };
			char idbuf[32];

			snprintf(idbuf, sizeof(idbuf), "%lld", dk[i].id);
			if (img_show(ctx, idbuf, &d, &e2) == 0)
				doclist_push(spec->more, d);
		}
	return 0;
}

int
img_import(struct ctx *ctx, const char *source, const struct img_spec *spec,
    img_progress_fn progress, struct doc **out, struct cerr *err)
{
	struct buf dir, path, part, lock, json, what, pub;
	struct sink s = { .fd = -1 };
	struct ova_job job = { 0 };
	struct limits lim;
	unsigned long long total = 0, max = 0;
	const char *format = NULL;
	long long id = -1, vmib = 0;
	char now[32], hex[65], ckhex[65], checksum[80], idbuf[32],
	    *abs = NULL;
	unsigned char head[512];
	bool url = http_is_url(source), tar = false;
	const char *shown = source;	/* in messages: no credentials */
	int in = -1, lockfd = -1, rc;

	buf_init(&dir);
	buf_init(&path);
	buf_init(&part);
	buf_init(&lock);
	buf_init(&json);
	buf_init(&what);
	buf_init(&pub);
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
	if (url) {
		/* what is kept and shown: no credentials */
		http_url_public(source, &pub);
		shown = pub.s;
		abs = strdup(pub.s);
	} else if ((abs = realpath(source, NULL)) == NULL) {
		abs = strdup(source);
	}
	if ((!url && open_source(source, &in, &total, err)) ||
	    limits_read(ctx, &lim, err) ||
	    img_repo_ensure(ctx, &dir, err) ||
	    digest_new_algo(&s.ck, "XXH128", err) ||
	    (spec->sha256 && digest_new(&s.dg, err)))
		goto out;
	/* the smaller of the import's own and the configured largest size */
	if (spec->max_size > 0 && (lim.max_mib == 0 ||
	    spec->max_size < lim.max_mib))
		lim.max_mib = spec->max_size;
	max = (unsigned long long)lim.max_mib * MIB;
	job.reserve = limits_reserve(&lim, dir.s);
	buf_printf(&what, "import '%s'", shown);
	if (!url && max > 0 && total > max) {
		cerr_set(err, CERR_CAPACITY, "cannot import '%s': it is larger "
		    "than the maximum size of %lld MiB (--max-size)", source,
		    lim.max_mib);
		goto out;
	}
	if (!url) {
		/* an OVA is a tar: known by its header, as formats are */
		tar = pread(in, head, sizeof(head), 0) == (ssize_t)sizeof(head)
		    && arc_is_tar(head, sizeof(head));
		if (!tar && repo_room(dir.s, held(in, total), job.reserve,
		    what.s, err))
			goto out;
		if (tar) {
			close(in);
			in = -1;
			if (spec->sha256) {
				if (hash_file(source, "SHA256", hex, NULL, NULL,
				    NULL, err))
					goto out;
				if (strcasecmp(spec->sha256, hex) != 0) {
					cerr_set(err, CERR_USAGE, "cannot "
					    "import '%s': sha256 is %s, not %s "
					    "as given", source, hex,
					    spec->sha256);
					goto out;
				}
			}
			if (ova_prepare(source, source, dir.s, &job, err))
				goto out;
		}
	}

	/* the name is taken at once; the image stays locked while it comes */
	if (import_row(ctx, spec, spec->name, abs, json.s, dir.s, &id,
	    &lockfd, &lock, err))
		goto out;

	buf_printf(&path, "%s/%lld", dir.s, id);
	if (url) {
		if (fetch_url(ctx, source, shown, dir.s, &s,
		    spec->stall_timeout > 0 ? spec->stall_timeout : 60,
		    job.reserve, max, progress, &part, err)) {
			/* the bytes received stay for a resume; an empty
			 * partial file is no use to anyone, nor one that
			 * is too large or ran out of room: it goes before
			 * the row, so the row can go on a full disk */
			if (s.fd >= 0 && (s.bytes == 0 ||
			    err->code == CERR_CAPACITY)) {
				unlink(part.s);
				close(s.fd);	/* frees its room */
				s.fd = -1;
			}
			goto undo;
		}
	} else if (tar) {
		if (ova_run(ctx, &job, source, source, abs, spec, json.s, id,
		    dir.s, progress, err))
			goto undo_file;
		goto done;
	} else {
		if ((s.fd = repo_create(path.s, O_RDWR, err)) < 0)
			goto undo;
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
	digest_hex(s.ck, ckhex);
	snprintf(checksum, sizeof(checksum), "xxh128:%s", ckhex);
	if (s.dg)
		digest_hex(s.dg, hex);
	if (s.dg && strcasecmp(spec->sha256, hex) != 0) {
		cerr_set(err, CERR_USAGE, "cannot import '%s': sha256 is %s, "
		    "not %s as given", shown, hex, spec->sha256);
		goto undo_file;
	}
	if (url && arc_is_tar(s.probe, s.nprobe)) {
		/* an OVA served over HTTP: imported from the download */
		rc = ova_prepare(part.s, shown, dir.s, &job, err) ||
		    ova_run(ctx, &job, part.s, shown, abs, spec, json.s, id,
		    dir.s, progress, err);
		unlink(part.s);
		if (rc)
			goto undo_file;
		goto done;
	}
	if (inspect(&s, &format, &vmib, err)) {
		cerr_wrap(err, "cannot import '%s'", shown);
		goto undo_file;
	}
	/* an image VMs boot must not make qemu open files of the host */
	if ((strcmp(format, "qcow2") == 0 || strcmp(format, "vmdk") == 0) &&
	    imgfmt_standalone(s.probe, s.nprobe, err)) {
		cerr_wrap(err, "cannot import '%s'", shown);
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
	    "format = ?, size = ?, virtual_size = ?, checksum = ?, "
	    "sha256 = ?, updated = ? WHERE id = ? AND state = 'locked'",
	    "siisssi", format, (long long)s.bytes, vmib, checksum,
	    s.dg ? hex : NULL, now, id) ||
	    (catalog_changes(ctx->cat) != 1 && cerr_set(err, CERR_CONFLICT,
	    "cannot import '%s': image '%s' was deleted meanwhile", shown,
	    spec->name)) || acct_audit(ctx, "create", "Image", id, spec->name,
	    abs, err) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto undo_file;
	}
done:
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	img_show(ctx, idbuf, out, err);
	goto out;
undo_file:
	/* a whole file that is wrong: no resume can mend it.  Files go
	 * before the row that names them, their room freed (closed), so the
	 * row can go when they filled the disk */
	if (part.len)
		unlink(part.s);
	unlink(path.s);
	if (s.fd >= 0) {
		close(s.fd);
		s.fd = -1;
	}
undo:
	import_undo(ctx, id);
out:
	ova_release_job(ctx, &job, err->code != 0);
	unlock_row(&lockfd, &lock);
	if (s.fd >= 0)
		close(s.fd);
	if (in >= 0)
		close(in);
	digest_free(s.ck);
	digest_free(s.dg);
	free(abs);
	buf_release(&dir);
	buf_release(&path);
	buf_release(&part);
	buf_release(&lock);
	buf_release(&json);
	buf_release(&what);
	buf_release(&pub);
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
		if (write_all(out, b, (size_t)r, dst, err))
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
	if (limits_read(ctx, &lim, err) || img_repo_ensure(ctx, &dir, err))
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
		file_matches(in, w.s, v && v->type == DOC_INT ? v->u.i : -1,
		    NULL, err);
		buf_release(&w);
		if (err->code)
			goto out;
	}
	if (repo_room(dir.s, held(in, (unsigned long long)sb.st_size),
	    limits_reserve(&lim, dir.s), what.s, err))
		goto out;
	spec.description = doc_get_str(cur, "description");
	spec.os = doc_get_str(cur, "os");
	spec.arch = doc_get_str(cur, "arch");
	{
		struct buf json = BUF_INIT;

		if (labels_json(doc_map_get(cur, "labels"), &json, err) == 0)
			import_row(ctx, &spec, name, doc_get_str(cur,
			    "source"), json.s, dir.s, &id, &lockfd, &lock,
			    err);
		buf_release(&json);
		if (err->code)
			goto out;
	}
	buf_printf(&dst, "%s/%lld", dir.s, id);
	if ((fd = repo_create(dst.s, O_WRONLY, err)) < 0)
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
	import_undo(ctx, id);
out:
	unlock_row(&lockfd, &lock);
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

/* A name for files inside an OVA: the image's, with anything but
 * letters, digits, '.', '_' and '-' made '_'. */
static void
ova_base(struct buf *b, const char *name)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p; p++)
		buf_add(b, (isalnum(*p) || strchr("._-", *p)) && *p < 0x80 ?
		    (const char *)p : "_", 1);
}

int
img_export(struct ctx *ctx, const char *ref, const char *file,
    struct cerr *err)
{
	struct doc *cur = NULL;
	struct buf dir, src, tmp, what, base, ovfname, mfname, diskname, ovfx,
	    mft;
	struct ovf_spec os = { 0 };
	struct arc *a = NULL;
	struct digest *dg = NULL;
	const struct doc *v;
	unsigned char probe[512], *b = NULL;
	size_t np = sizeof(probe);
	unsigned long long vsz = 0;
	char ovfhex[65], diskhex[65];
	const char *state, *fmt;
	int fd = -1, in = -1;
	ssize_t r;

	buf_init(&dir);
	buf_init(&src);
	buf_init(&tmp);
	buf_init(&what);
	buf_init(&base);
	buf_init(&ovfname);
	buf_init(&mfname);
	buf_init(&diskname);
	buf_init(&ovfx);
	buf_init(&mft);
	buf_printf(&what, "cannot export image '%s'", ref);
	if (file == NULL && isatty(STDOUT_FILENO)) {
		cerr_set(err, CERR_USAGE, "%s: standard output is a terminal "
		    "(redirect it, or give -f FILE)", what.s);
		goto out;
	}
	if (img_find(ctx, ref, &cur, NULL, err))
		goto out;
	state = doc_get_str(cur, "state");
	fmt = doc_get_str(cur, "format");
	if (strcmp(state, "ready") != 0 && strcmp(state, "used") != 0) {
		cerr_set(err, CERR_CONFLICT, "%s: it is %s", what.s, state);
		goto out;
	}
	if (fmt == NULL || strcmp(fmt, "iso") == 0) {
		cerr_set(err, CERR_USAGE, "%s: an ISO image is not a disk",
		    what.s);
		goto out;
	}
	if (img_repo_checked(ctx, &dir, err))
		goto out;
	buf_printf(&src, "%s/%lld", dir.s, doc_map_get(cur, "id")->u.i);
	/* what goes out is what came in: its size and checksum */
	v = doc_map_get(cur, "size");
	if ((in = open(src.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cerr_set(err, CERR_FAIL, "%s: cannot read its file: %s",
		    what.s, strerror(errno));
		goto out;
	}
	if (file_matches(in, what.s, v && v->type == DOC_INT ? v->u.i : -1,
	    doc_get_str(cur, "checksum") ? doc_get_str(cur, "checksum") :
	    doc_get_str(cur, "sha256"), err))
		goto out;
	close(in);
	in = -1;
	buf_printf(&tmp, "%s/%lld.export-%ld.vmdk", dir.s,
	    doc_map_get(cur, "id")->u.i, (long)getpid());
	if (file) {
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		if (fd < 0) {
			cerr_set(err, cerr_errno_code(errno, CERR_FAIL),
			    "%s: cannot create '%s': %s", what.s, file,
			    strerror(errno));
			goto out;
		}
	}
	/* qemu-img writes into a file of ours, not through a link */
	if ((r = repo_create(tmp.s, O_WRONLY, err)) < 0)
		goto fail;
	close((int)r);
	if (qemu_convert(src.s, fmt, tmp.s, "vmdk",
	    "subformat=streamOptimized", CERR_FAIL, what.s, err) ||
	    hash_file(tmp.s, "SHA256", diskhex, &os.file_size, probe, &np,
	    err))
		goto fail;
	vsz = imgfmt_vmdk_size(probe, np);
	ova_base(&base, doc_get_str(cur, "name"));
	buf_printf(&ovfname, "%s.ovf", base.s);
	buf_printf(&mfname, "%s.mf", base.s);
	buf_printf(&diskname, "%s-disk1.vmdk", base.s);
	os.name = doc_get_str(cur, "name");
	os.description = doc_get_str(cur, "description");
	os.os = doc_get_str(cur, "os");
	v = doc_map_get(cur, "cpu");
	os.cpu = v && v->type == DOC_INT ? v->u.i : 1;
	v = doc_map_get(cur, "memory");
	os.memory = v && v->type == DOC_INT ? v->u.i : 1024;
	os.file = diskname.s;
	os.capacity = vsz;
	if (ovf_write(&os, &ovfx, err) || digest_new(&dg, err))
		goto fail;
	digest_update(dg, ovfx.s, ovfx.len);
	digest_hex(dg, ovfhex);
	buf_printf(&mft, "SHA256(%s)= %s\nSHA256(%s)= %s\n", ovfname.s,
	    ovfhex, diskname.s, diskhex);
	/* the descriptor first, the manifest next, then the disk, as
	 * DSP0243 orders an OVA */
	if (arc_create(fd >= 0 ? fd : STDOUT_FILENO, file ? file : "<stdout>",
	    &a, err) ||
	    arc_add(a, ovfname.s, ovfx.len, err) ||
	    arc_write(a, ovfx.s, ovfx.len, err) ||
	    arc_add(a, mfname.s, mft.len, err) ||
	    arc_write(a, mft.s, mft.len, err) ||
	    arc_add(a, diskname.s, os.file_size, err))
		goto fail;
	if ((in = open(tmp.s, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (b = malloc(COPY_BUF)) == NULL) {
		cerr_set(err, CERR_FAIL, "%s: cannot read '%s'", what.s,
		    tmp.s);
		goto fail;
	}
	while ((r = read(in, b, COPY_BUF)) > 0)
		if (arc_write(a, b, (size_t)r, err))
			goto fail;
	if (r < 0) {
		cerr_set(err, CERR_FAIL, "%s: cannot read '%s': %s", what.s,
		    tmp.s, strerror(errno));
		goto fail;
	}
	if (arc_finish(a, err))
		goto fail;
	if (fd >= 0 && close(fd) != 0) {
		fd = -1;
		cerr_set(err, CERR_FAIL, "%s: cannot write '%s': %s", what.s,
		    file, strerror(errno));
		goto fail;
	}
	fd = -1;
	goto out;
fail:
	if (file)
		unlink(file);
	else if (arc_reader_left(a))
		cerr_clear(err);	/* the reader left: not an error */
out:
	arc_free(a);
	if (tmp.len)
		unlink(tmp.s);
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	free(b);
	digest_free(dg);
	doc_free(cur);
	buf_release(&dir);
	buf_release(&src);
	buf_release(&tmp);
	buf_release(&what);
	buf_release(&base);
	buf_release(&ovfname);
	buf_release(&mfname);
	buf_release(&diskname);
	buf_release(&ovfx);
	buf_release(&mft);
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
	    "labels = coalesce(?, labels), cpu = coalesce(nullif(?, 0), cpu), "
	    "memory = coalesce(nullif(?, 0), memory), updated = ? "
	    "WHERE id = ?", "sssssiisi", spec->name, spec->description,
	    spec->os, spec->arch, labels ? json.s : NULL, spec->cpu,
	    spec->memory, now, id)) {
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

/* The partial download of url (the image's source, as stored) a dead
 * import left, unless an import of it runs (holds its lock). */
static void
drop_part(struct ctx *ctx, const char *url)
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
	/* the files go first, then the row, so a delete works on a full
	 * disk (deleting the row writes to the catalog); a crash between
	 * leaves an image without its file, which no disk is made from (its
	 * size is checked) and which cimg delete then removes */
	img_repo(ctx, &path);
	buf_printf(&path, "/%lld", id);
	unlink(path.s);
	buf_puts(&path, ".lock");	/* what a dead import left */
	unlink(path.s);
	buf_reset(&path);		/* and a dead OVA import */
	img_repo(ctx, &path);
	buf_printf(&path, "/%lld.ova-disk", id);
	unlink(path.s);
	if (strcmp(state, "locked") == 0 && doc_get_str(cur, "source") &&
	    http_is_url(doc_get_str(cur, "source")))
		drop_part(ctx, doc_get_str(cur, "source"));
	buf_release(&path);
	if (catalog_exec(ctx->cat, err, "DELETE FROM images WHERE id = ?",
	    "i", id) || acct_audit(ctx, "delete", "Image", id,
	    doc_get_str(cur, "name"), NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	doc_free(cur);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	buf_release(&path);
	doc_free(cur);
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
		if (file_matches(fd, what.s, size, NULL, err) == 0 && ref &&
		    !on_a_host(ctx, out->checksum, err) && err->code == 0)
			/* a new disk of an image no host has yet: its
			 * first upload is ahead, so a changed file is
			 * refused now, before anything is written */
			file_matches(fd, what.s, -1, out->checksum, err);
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

/* The spec and source of an Image document (borrowed from d), checked
 * as far as the document alone allows. */
static int
img_doc_read(const struct doc *d, const char *where, struct img_spec *spec,
    const char **source, struct cerr *err)
{
	const struct doc *lab = doc_map_get(d, "labels"), *v;

	if (doc_field(d, "name", where, &spec->name, err) ||
	    doc_field(d, "description", where, &spec->description, err) ||
	    doc_field(d, "os", where, &spec->os, err) ||
	    doc_field(d, "arch", where, &spec->arch, err) ||
	    doc_field(d, "sha256", where, &spec->sha256, err) ||
	    doc_field(d, "source", where, source, err))
		return err->code;
	if (spec->name == NULL) {
		cerr_set(err, CERR_USAGE, "name: missing");
		return cerr_wrap(err, "%s", where);
	}
	if ((v = doc_map_get(d, "cpu")) != NULL && v->type != DOC_NULL) {
		if (v->type != DOC_INT || v->u.i < 1) {
			cerr_set(err, CERR_USAGE, "cpu: expected a whole "
			    "number of vCPUs");
			return cerr_wrap(err, "%s", where);
		}
		spec->cpu = v->u.i;
	}
	if ((v = doc_map_get(d, "memory")) != NULL && v->type != DOC_NULL &&
	    units_doc_mib(v, &spec->memory, err))
		return cerr_wrap(err, "%s: memory", where);
	if (lab && lab->type != DOC_NULL) {
		if (lab->type != DOC_MAP) {
			cerr_set(err, CERR_USAGE, "labels: expected a map");
			return cerr_wrap(err, "%s", where);
		}
		spec->labels = lab;
	}
	if (check_spec(spec, err))
		return cerr_wrap(err, "%s", where);
	return 0;
}

int
img_check(const struct doc *d, const char *where, struct cerr *err)
{
	struct img_spec spec = { 0 };
	const char *source = NULL;

	return img_doc_read(d, where, &spec, &source, err);
}

int
img_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	struct img_spec spec = { 0 };
	const char *source = NULL;
	struct doc *cur = NULL;

	if (img_doc_read(d, where, &spec, &source, err))
		return err->code;
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
	if (img_import(ctx, source, &spec, NULL, out, err))
		return err->code;
	/* the import takes what the file says (an OVF's hardware); the
	 * document's cpu and memory, when given, are what it suggests */
	if (spec.cpu || spec.memory) {
		struct img_spec size = { .cpu = spec.cpu,
		    .memory = spec.memory };

		doc_free(*out);
		*out = NULL;
		if (img_update(ctx, spec.name, &size, out, err))
			return cerr_wrap(err, "%s", where);
	}
	return 0;
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
