/*
 * img.h - service: the image repository.
 *
 * Images are files kept in a folder beside the catalog (the catalog's
 * folder + "/images", made 0700), one file per image named by its id, and
 * a row each in the catalog's images table.  An import holds the image
 * "locked" while it copies, hashing (sha256) as it goes, reads the format
 * from the file's header, and makes it "ready" only when the whole file is
 * in place and checked; a failed import leaves neither row nor file.
 *
 * Tenants see their own images and public ones, and change their own;
 * admins see and change all.  Documents returned in *out are the caller's
 * to doc_free.
 */
#ifndef CLOUDOS_IMG_H
#define CLOUDOS_IMG_H

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "host.h"

/* What import, set and apply take; NULL fields are not given. */
struct img_spec {
	const char *name;
	const char *description;
	const char *os;
	const char *arch;
	const char *sha256;		/* import: the expected digest */
	const struct doc *labels;	/* a map */
	int merge_labels;		/* set: add to the labels, not replace */
	long stall_timeout;		/* URLs: seconds of stall (0: 60) */
};

/* Called with bytes done and total (0 when unknown) while importing. */
typedef void (*img_progress_fn)(struct ctx *ctx, unsigned long long done,
    unsigned long long total);

/*
 * Import source (a file, or an http:// or https:// URL) as a new image
 * named spec->name.  CERR_NOTFOUND for a missing file or a URL answering
 * 404, CERR_PERM for an unreadable file, CERR_USAGE for a folder, a bad
 * name, a sha256 that does not match, a corrupt qcow2; CERR_CONFLICT when
 * the name is taken; CERR_UNREACHABLE when a server cannot be reached or
 * the transfer stalls.  A broken download keeps the bytes received in the
 * repository as HASH.part (HASH: the URL's sha256) and the next import of
 * the same URL continues from there with a range request.
 */
int img_import(struct ctx *ctx, const char *source,
    const struct img_spec *spec, img_progress_fn progress, struct doc **out,
    struct cerr *err);
int img_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
int img_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
/* Change name, description, os, arch, labels.  CERR_CONFLICT for a taken
 * name, CERR_PERM for another's image. */
int img_update(struct ctx *ctx, const char *ref, const struct img_spec *spec,
    struct doc **out, struct cerr *err);
/* "public" or "private". */
int img_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err);
/* Refused with CERR_CONFLICT while the image is used or locked. */
int img_delete(struct ctx *ctx, const char *ref, struct cerr *err);
/* Update the image an Image document names, or import its source: when
 * none of that name exists. */
int img_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
/* What a VM disk cloned from an image needs of it (img_disk_release frees
 * what it holds). */
struct img_disk {
	long long id;
	char *name;
	char sha256[72];
	char format[16];	/* raw or qcow2 */
	long long virtual_size;	/* MiB */
	unsigned long long bytes;	/* of its file */
	char *path;		/* its file in the repository */
};
/*
 * The image ref (a name or an id) names, for a VM's disk: visible to the
 * caller (else CERR_NOTFOUND), ready or used (else CERR_CONFLICT naming
 * its state), a raw image or a qcow2 without a backing file of its own
 * (else CERR_USAGE: a backing file named inside an image could reach any
 * file of a host, and an ISO or vmdk is no disk to clone).  With id > 0,
 * ref is ignored and the image is taken by id whoever sees it (a VM
 * placed already holds it).
 */
int img_disk(struct ctx *ctx, const char *ref, long long id,
    struct img_disk *out, struct cerr *err);
void img_disk_release(struct img_disk *d);
/* Call each with every visible image name starting with prefix. */
void img_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
