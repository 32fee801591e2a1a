/*
 * img-repo.c - service: the image repository's folder and its limits: where
 * it is, who owns it and with what mode, the room an import may take, and
 * cimg config.  Part of the img family (img-int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "img.h"
#include "img-int.h"
#include "units.h"
#include "valid.h"
#include "compat.h"

/* The repository folder: the catalog's folder + "/images". */
void
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
int
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
int
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

int
img_repo_limits_read(struct ctx *ctx, struct limits *l, struct cerr *err)
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
unsigned long long
img_repo_limits_reserve(const struct limits *l, const char *dir)
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
int
img_repo_room(const char *dir, unsigned long long need,
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
	if (img_repo_limits_read(ctx, &l, err))
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
