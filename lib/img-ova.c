/*
 * img-ova.c - service: OVA packages, imported (one image a disk, checked
 * against the manifest, converted to qcow2 by qemu-img) and exported (an
 * OVF descriptor, its manifest and a streamOptimized vmdk, in a tar).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acct.h"
#include "arc.h"
#include "buf.h"
#include "catalog.h"
#include "digest.h"
#include "fault.h"
#include "img.h"
#include "img-int.h"
#include "imgfmt.h"
#include "ovf.h"
#include "qemuimg.h"
#include "compat.h"

/* qemu-img convert from src (format fmt) to dst in format out with
 * options opts (or NULL).  A failure: CERR_CAPACITY when the disk is
 * full, bad (CERR_USAGE for input, CERR_FAIL for our own) otherwise. */
static int
convert_disk(const char *src, const char *fmt, const char *dst,
    const char *out, const char *opts, int bad, const char *what,
    struct cerr *err)
{
	struct buf msg;
	int rc;

	buf_init(&msg);
	rc = qemuimg_convert(src, fmt, dst, out, opts, &msg);
	if (rc < 0)
		cerr_set(err, CERR_FAIL, "%s: cannot run qemu-img (is it "
		    "installed?)", what);
	else if (rc > 0 && strstr(msg.s, "No space left"))
		cerr_set(err, CERR_CAPACITY, "%s: the image repository is "
		    "full (%s)", what, msg.s);
	else if (rc > 0)
		cerr_set(err, bad, "%s: %s", what, msg.len ? msg.s :
		    "qemu-img failed");
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
ova_slurp(struct arc *a, unsigned long long size, size_t max,
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
			if (ova_slurp(a, size, OVF_MAX, what, name, &o->ovf,
			    &o->novf, err))
				goto out;
			o->ovf_name = strdup(name);
		} else if (o->mf == NULL && ends_with(name, ".mf")) {
			if (ova_slurp(a, size, OVF_MAX, what, name, &o->mf,
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
			if (img_copy_write_all(fd, b, got, dk[i].tmp.s, err))
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
	if (img_copy_hash_file(k->tmp.s, "XXH128", hex, NULL, probe, &np, err))
		goto out;
	if (imgfmt_standalone(probe, np, err)) {
		cerr_wrap(err, "%s is refused", w.s);
		goto out;
	}
	fmt = imgfmt_name(imgfmt_detect(probe, np));
	/* qemu-img writes into a file of ours, not through a link */
	if ((fd = img_copy_repo_create(k->path.s, O_WRONLY, err)) < 0)
		goto out;
	close(fd);
	if (convert_disk(k->tmp.s, fmt, k->path.s, "qcow2", NULL, CERR_USAGE,
	    w.s, err))
		goto out;
	(void)chmod(k->path.s, 0600);	/* as every image file */
	np = sizeof(probe);
	if (img_copy_hash_file(k->path.s, "XXH128", hex, &k->size, probe, &np,
	    err) || imgfmt_qcow2_size(probe, np, &k->vsize, err))
		goto out;
	snprintf(k->checksum, sizeof(k->checksum), "xxh128:%s", hex);
out:
	unlink(k->tmp.s);
	buf_release(&w);
	return err->code;
}

/*
 * Everything that can be checked before an image row is made: the tar's
 * entries, the descriptor, the manifest's digest of it, that every disk
 * file is in the tar and listed by the manifest, the room.
 */
int
img_ova_prepare(const char *path, const char *what, const char *dir,
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
		img_repo_room(dir, need, j->reserve, w.s, err);
		buf_release(&w);
	}
	return err->code;
}

/* Forget a job; when it failed, with its files and its further rows. */
void
img_ova_release_job(struct ctx *ctx, struct ova_job *j, bool failed)
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
				img_import_undo(ctx, d->id);
		}
		img_unlock_row(&d->lockfd, &d->lock);
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
int
img_ova_run(struct ctx *ctx, struct ova_job *j, const char *path,
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
		if (i > 0 && img_import_row(ctx, spec, dk[i].name.s, source,
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
	if (img_copy_file_matches(in, what.s, v && v->type == DOC_INT ?
	    v->u.i : -1, doc_get_str(cur, "checksum") ?
	    doc_get_str(cur, "checksum") :
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
	if ((r = img_copy_repo_create(tmp.s, O_WRONLY, err)) < 0)
		goto fail;
	close((int)r);
	if (convert_disk(src.s, fmt, tmp.s, "vmdk",
	    "subformat=streamOptimized", CERR_FAIL, what.s, err) ||
	    img_copy_hash_file(tmp.s, "SHA256", diskhex, &os.file_size,
	    probe, &np, err))
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
