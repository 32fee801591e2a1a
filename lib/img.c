/*
 * img.c - service: the image repository: its documents (its folder and
 * limits are img-repo.c's), the import of an image (a file's bytes copied by
 * img-copy.c, a URL's fetched by img-fetch.c, an OVA's by img-ova.c),
 * update, visibility and delete.  Uses the catalog, digest, http, arc and
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
#include "http.h"
#include "img.h"
#include "img-int.h"
#include "imgfmt.h"
#include "labels.h"
#include "valid.h"
#include "rows.h"
#include "units.h"
#include "compat.h"

#define IMG_COLS \
	"SELECT i.id, i.name, i.description, i.os, i.arch, i.labels, " \
	"i.format, i.size, i.virtual_size, i.sha256, i.state, " \
	"i.visibility, u.name, g.name, i.source, i.created, i.updated, " \
	"i.owner, i.cpu, i.memory, i.checksum FROM images i " \
	"JOIN users u ON u.id = i.owner " \
	"JOIN groups g ON g.id = i.group_id "

/* The columns of IMG_COLS, in its order: a row is read by these names. */
enum img_col {
	IMG_COL_ID, IMG_COL_NAME, IMG_COL_DESCRIPTION, IMG_COL_OS,
	IMG_COL_ARCH, IMG_COL_LABELS, IMG_COL_FORMAT,
	IMG_COL_SIZE, IMG_COL_VIRTUAL_SIZE, IMG_COL_SHA256, IMG_COL_STATE,
	IMG_COL_VISIBILITY,
	IMG_COL_OWNER,			/* u.name */
	IMG_COL_GROUP_OWNER,		/* g.name */
	IMG_COL_SOURCE, IMG_COL_CREATED, IMG_COL_UPDATED,
	IMG_COL_OWNER_ID,		/* i.owner */
	IMG_COL_CPU, IMG_COL_MEMORY,	/* what VMs of it need, or NULL */
	IMG_COL_CHECKSUM,
};

static struct doc *
img_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Image");
	doc_set_int(d, "id", cstmt_int(st, IMG_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, IMG_COL_NAME));
	doc_set_str(d, "description", cstmt_text(st, IMG_COL_DESCRIPTION));
	doc_set_str(d, "os", cstmt_text(st, IMG_COL_OS));
	doc_set_str(d, "arch", cstmt_text(st, IMG_COL_ARCH));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st,
	    IMG_COL_LABELS)));
	doc_set_str(d, "format", cstmt_text(st, IMG_COL_FORMAT));
	if (cstmt_null(st, IMG_COL_SIZE))
		doc_set_str(d, "size", NULL);
	else
		doc_set_int(d, "size", cstmt_int(st, IMG_COL_SIZE));
	if (cstmt_null(st, IMG_COL_VIRTUAL_SIZE))
		doc_set_str(d, "virtual_size", NULL);
	else
		doc_set_int(d, "virtual_size", cstmt_int(st,
		    IMG_COL_VIRTUAL_SIZE));
	doc_set_str(d, "checksum", cstmt_text(st, IMG_COL_CHECKSUM));
	doc_set_str(d, "sha256", cstmt_text(st, IMG_COL_SHA256));
	doc_set_str(d, "state", cstmt_text(st, IMG_COL_STATE));
	doc_set_str(d, "visibility", cstmt_text(st, IMG_COL_VISIBILITY));
	doc_set_str(d, "owner", cstmt_text(st, IMG_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, IMG_COL_GROUP_OWNER));
	doc_set_str(d, "source", cstmt_text(st, IMG_COL_SOURCE));
	if (cstmt_null(st, IMG_COL_CPU))
		doc_set_str(d, "cpu", NULL);
	else
		doc_set_int(d, "cpu", cstmt_int(st, IMG_COL_CPU));
	if (cstmt_null(st, IMG_COL_MEMORY))
		doc_set_str(d, "memory", NULL);
	else
		doc_set_int(d, "memory", cstmt_int(st, IMG_COL_MEMORY));
	doc_set_str(d, "created", cstmt_text(st, IMG_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, IMG_COL_UPDATED));
	return d;
}

/* The image ref names (an id or a name), if the caller may see it; with
 * owner, also its owner's user id. */
int
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
			*owner = cstmt_int(st, IMG_COL_OWNER_ID);
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
void
img_import_undo(struct ctx *ctx, long long id)
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
int
img_labels_json(const struct doc *labels, struct buf *json, struct cerr *err)
{
	if (labels == NULL) {
		buf_puts(json, "{}");
		return 0;
	}
	return labels_to_json(labels, json, err);
}

/*
 * A new locked row for image name, holding its import lock (see
 * import_lock): *id, *lockfd and lock are set on success.  CERR_CONFLICT
 * when the name is taken.
 */
int
img_import_row(struct ctx *ctx, const struct img_spec *spec, const char *name,
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

void
img_unlock_row(int *lockfd, struct buf *lock)
{
	if (*lockfd >= 0) {
		unlink(lock->s);
		close(*lockfd);
		*lockfd = -1;
	}
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
	if (check_spec(spec, err) || img_labels_json(spec->labels, &json, err))
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
	    img_repo_limits_read(ctx, &lim, err) ||
	    img_repo_ensure(ctx, &dir, err) ||
	    digest_new_algo(&s.ck, "XXH128", err) ||
	    (spec->sha256 && digest_new(&s.dg, err)))
		goto out;
	/* the smaller of the import's own and the configured largest size */
	if (spec->max_size > 0 && (lim.max_mib == 0 ||
	    spec->max_size < lim.max_mib))
		lim.max_mib = spec->max_size;
	max = (unsigned long long)lim.max_mib * MIB;
	job.reserve = img_repo_limits_reserve(&lim, dir.s);
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
		if (!tar && img_repo_room(dir.s, img_copy_held(in, total),
		    job.reserve, what.s, err))
			goto out;
		if (tar) {
			close(in);
			in = -1;
			if (spec->sha256) {
				if (img_copy_hash_file(source, "SHA256", hex,
				    NULL, NULL, NULL, err))
					goto out;
				if (strcasecmp(spec->sha256, hex) != 0) {
					cerr_set(err, CERR_USAGE, "cannot "
					    "import '%s': sha256 is %s, not %s "
					    "as given", source, hex,
					    spec->sha256);
					goto out;
				}
			}
			if (img_ova_prepare(source, source, dir.s, &job, err))
				goto out;
		}
	}

	/* the name is taken at once; the image stays locked while it comes */
	if (img_import_row(ctx, spec, spec->name, abs, json.s, dir.s, &id,
	    &lockfd, &lock, err))
		goto out;

	buf_printf(&path, "%s/%lld", dir.s, id);
	if (url) {
		if (img_fetch_url(ctx, source, shown, dir.s, &s,
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
		if (img_ova_run(ctx, &job, source, source, abs, spec, json.s,
		    id, dir.s, progress, err))
			goto undo_file;
		goto done;
	} else {
		if ((s.fd = img_copy_repo_create(path.s, O_RDWR, err)) < 0)
			goto undo;
		rc = img_copy_range(ctx, in, source, &s, path.s, total,
		    progress, err);
		if (rc == 1)
			rc = img_copy_fd(ctx, in, source, &s, path.s, total,
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
		rc = img_ova_prepare(part.s, shown, dir.s, &job, err) ||
		    img_ova_run(ctx, &job, part.s, shown, abs, spec, json.s, id,
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
	img_import_undo(ctx, id);
out:
	img_ova_release_job(ctx, &job, err->code != 0);
	img_unlock_row(&lockfd, &lock);
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
	/* public already (or private): nothing written, as systemctl */
	if (doc_get_str(cur, "visibility") &&
	    strcmp(doc_get_str(cur, "visibility"), vis) == 0)
		catalog_rollback(ctx->cat);
	else if (catalog_exec(ctx->cat, err, "UPDATE images SET visibility = "
	    "?, updated = ? WHERE id = ?", "ssi", vis, now, id) ||
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

/* Who uses image id, for the refusal of its delete: "vm 'a'", "vms 'a',
 * 'b' and 'c'", "vms 'a', 'b', 'c' and 4 more"; VMs the caller may not
 * see are counted, never named ("2 VMs of other users"). */
static int
used_by(struct ctx *ctx, long long id, struct buf *b, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long all = 0, named = 0;
	char names[3][NAME_MAX_LEN + 1];
	int n = 0, i;

	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM vms v "
	    "WHERE v.id IN (SELECT vm_id FROM vm_disks WHERE image_id = ?3)",
	    "iii", (long long)ctx->who.admin, ctx->who.user_id, id))
		return err->code;
	if (cstmt_row(st, err))
		all = cstmt_int(st, 0);
	cstmt_free(st);
	st = NULL;
	if (err->code || catalog_query(ctx->cat, &st, err, "SELECT v.name "
	    "FROM vms v WHERE v.id IN (SELECT vm_id FROM vm_disks WHERE "
	    "image_id = ?3) AND (?1 OR v.owner = ?2) ORDER BY v.id LIMIT 3",
	    "iii", (long long)ctx->who.admin, ctx->who.user_id, id))
		return err->code;
	while (n < 3 && cstmt_row(st, err))
		snprintf(names[n++], sizeof(names[0]), "%s",
		    cstmt_text(st, 0));
	cstmt_free(st);
	named = n;
	if (n == 0 && all <= 1)
		buf_puts(b, all ? "a VM of another user" : "a VM");
	else if (n == 0)
		buf_printf(b, "%lld VMs of other users", all);
	else
		buf_puts(b, n == 1 ? "vm " : "vms ");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s'%s'", i == 0 ? "" : i + 1 < n ||
		    all > named ? ", " : " and ", names[i]);
	if (n > 0 && all > named)
		buf_printf(b, " and %lld more", all - named);
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
	if (strcmp(state, "used") == 0) {
		if (used_by(ctx, id, &path, err) == 0)
			cerr_set(err, CERR_CONFLICT, "cannot delete image '%s': "
			    "it is used by %s", doc_get_str(cur, "name"),
			    path.s);
		goto fail;
	}
	if (strcmp(state, "locked") == 0 && importing(ctx, id)) {
		cerr_set(err, CERR_CONFLICT, "cannot delete image '%s': it is "
		    "being imported", doc_get_str(cur, "name"));
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
		img_fetch_drop_part(ctx, doc_get_str(cur, "source"));
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

/* A string field of an Image document, or NULL when absent. */
static int
img_doc_field(const struct doc *d, const char *key, const char *where,
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

	if (img_doc_field(d, "name", where, &spec->name, err) ||
	    img_doc_field(d, "description", where, &spec->description, err) ||
	    img_doc_field(d, "os", where, &spec->os, err) ||
	    img_doc_field(d, "arch", where, &spec->arch, err) ||
	    img_doc_field(d, "sha256", where, &spec->sha256, err) ||
	    img_doc_field(d, "source", where, source, err))
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
