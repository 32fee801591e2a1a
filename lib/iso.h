/*
 * iso.h - adapter: ISO 9660 images through libarchive.  With arc.c (tars),
 * the only module that includes <archive.h>.
 *
 * Images are made in memory (a cloud-init seed is a few KiB), with Rock
 * Ridge and Joliet names so that file names such as "meta-data" read back
 * as they were given.
 */
#ifndef CLOUDOS_ISO_H
#define CLOUDOS_ISO_H

#include <stddef.h>

#include "cerr.h"

struct iso_file {
	const char *name;	/* a plain file name in the root folder */
	const void *data;
	size_t len;
};

/* An ISO 9660 image with volume id volid holding the n files, in a
 * buffer of *len bytes that the caller frees (*out).  CERR_FAIL with
 * libarchive's text when it cannot be made. */
int iso_build(const char *volid, const struct iso_file *files, size_t n,
    void **out, size_t *len, struct cerr *err);

#endif
