/*
 * img.h - service: the image repository.
 *
 * Images are files kept in a folder beside the catalog (the catalog's
 * folder + "/images", made 0700), one file per image named by its id, and
 * a row each in the catalog's images table.  An import holds the image
 * "locked" while it copies, hashing as it goes (the xxh128 checksum every
 * image has; sha256 only to check a given one), reads the format from the
 * file's header, and makes it "ready" only when the whole file is
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
#include "rows.h"

/* What import, set and apply take; NULL fields are not given. */
struct img_spec {
	const char *name;
	const char *description;
	const char *os;
	const char *arch;
	const char *sha256;		/* import: the expected digest */
	const struct doc *labels;	/* a map */
	int merge_labels;		/* set: add to the labels, not replace */
	long long cpu;			/* set: suggested vCPUs (0: not given) */
	long long memory;		/* set: suggested MiB (0: not given) */
	long stall_timeout;		/* URLs: seconds of stall (0: 60) */
	long long max_size;		/* import: MiB at most (0: as set by
					 * img_config; the smaller wins) */
	struct doclist *more;		/* import: an OVA's further images */
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
/*
 * An OVA (a tar, known by its header, from a file or a URL) is imported
 * as one qcow2 image a disk its OVF descriptor names: the first named
 * spec->name, the others NAME-disk2, NAME-disk3, ... (their documents
 * pushed to spec->more when it is set), each with the vCPUs and memory of
 * the descriptor's virtual hardware as its suggested cpu and memory, and
 * its annotation and operating system as description and os unless spec
 * gives them.  The tar's entries are checked before anything is written:
 * an absolute name, a "..", a link or a device is CERR_USAGE, as are a
 * descriptor naming a disk the tar does not hold, a manifest (.mf) digest
 * that does not match, and a disk qemu-img cannot read or one that would
 * make it read other files (a backing file, vmdk extents).  Disks are
 * unpacked into temporary files in the repository, never by their names.
 * A disk larger than the repository's free space is CERR_CAPACITY.
 */
int img_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* A full, independent copy of image ref named name (same format, digests,
 * suggested size; its own file, copied by reflink or in the kernel).
 * CERR_CONFLICT when name is taken or ref is not ready or used,
 * CERR_CAPACITY when the repository lacks the room. */
int img_clone(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err);
/*
 * Write image ref as an OVA to file (NULL: standard output, refused with
 * CERR_USAGE when it is a terminal): a tar holding NAME.ovf (an OVF 1.x
 * descriptor), NAME.mf (SHA256 digests) and NAME-disk1.vmdk (the disk as
 * a streamOptimized vmdk, made by qemu-img in the repository), in that
 * order.  A failed export removes file.
 */
int img_export(struct ctx *ctx, const char *ref, const char *file,
    struct cerr *err);
int img_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
/* Wait until every image refs names (n of them, found first: one missing
 * is CERR_NOTFOUND and nothing is waited for) is in state (locked, ready,
 * used or error, in any case; CERR_USAGE naming them otherwise), reading
 * the catalog with a back-off from 100 ms to 1 s and holding no lock;
 * then emit each.  CERR_UNREACHABLE when timeout seconds pass first (0:
 * look once); CERR_CONFLICT when an image is gone (its import failed) or
 * in a state from which state never comes without a command.
 * img-wait.c. */
int img_wait(struct ctx *ctx, const char *const *refs, size_t n,
    const char *state, int timeout, emit_fn emit, struct cerr *err);
/* Change name, description, os, arch, labels, suggested cpu and memory.
 * CERR_CONFLICT for a taken name, CERR_PERM for another's image. */
int img_update(struct ctx *ctx, const char *ref, const struct img_spec *spec,
    struct doc **out, struct cerr *err);
/*
 * Show the repository's limits as a Config document, after setting them
 * when reserve or max_size is given (admins only, else CERR_PERM): the
 * free space no import may eat into ("N%" of the file system, a size, or
 * "default": the smaller of 5% and 1 GiB) and the largest import (a size,
 * or "none").  A bad value is CERR_USAGE.  An import that would pass
 * either is CERR_CAPACITY, and a download is stopped there.
 */
int img_config(struct ctx *ctx, const char *reserve, const char *max_size,
    struct doc **out, struct cerr *err);
/* "public" or "private". */
int img_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err);
/* Refused with CERR_CONFLICT while the image is used or locked. */
int img_delete(struct ctx *ctx, const char *ref, struct cerr *err);
/* Check an Image document without the catalog (see cli_each_doc). */
int img_check(const struct doc *d, const char *where, struct cerr *err);
/* Update the image an Image document names, or import its source: when
 * none of that name exists. */
int img_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
/* What a VM disk cloned from an image needs of it (img_disk_release frees
 * what it holds). */
struct img_disk {
	long long id;
	char *name;
	char checksum[72];	/* its cache key: checksum, else sha256 */
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
 * placed already holds it).  Its file must have the size recorded, else
 * CERR_FAIL naming the image; looked up by ref (a new disk), an image no
 * host has cached yet must also match its checksum, so a changed file is
 * refused before anything is written.
 */
int img_disk(struct ctx *ctx, const char *ref, long long id,
    struct img_disk *out, struct cerr *err);
void img_disk_release(struct img_disk *d);
/* CERR_FAIL naming the image unless its file, open as fd, still has the
 * bytes d recorded: its size and its checksum (read through once).  For
 * the first upload of an image to a host. */
int img_disk_verify(const struct img_disk *d, int fd, struct cerr *err);
/* Call each with every visible image name starting with prefix. */
void img_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
