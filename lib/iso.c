/*
 * iso.c - adapter over libarchive's ISO 9660 writer.  Includes
 * <archive.h> and <archive_entry.h>; nothing else may.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "iso.h"
#include "compat.h"

static la_ssize_t
iso_write(struct archive *a, void *arg, const void *data, size_t n)
{
	buf_add(arg, data, n);
	return (la_ssize_t)n;
}

static int
iso_fail(struct archive *a, struct cerr *err, const char *what)
{
	const char *msg = archive_error_string(a);

	return cerr_set(err, CERR_FAIL, "cannot make an ISO image: %s: %s",
	    what, msg ? msg : "unknown error");
}

int
iso_build(const char *volid, const struct iso_file *files, size_t n,
    void **out, size_t *len, struct cerr *err)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = NULL;
	struct buf b = BUF_INIT;
	char opt[64];
	time_t now = time(NULL);
	size_t i;

	if (a == NULL)
		return cerr_set(err, CERR_FAIL, "cannot make an ISO image: out "
		    "of memory");
	snprintf(opt, sizeof(opt), "volume-id=%s", volid);
	if (archive_write_set_format_iso9660(a) != ARCHIVE_OK) {
		iso_fail(a, err, "iso9660 format");
		goto out;
	}
	/* Rock Ridge and Joliet are libarchive's defaults; say so anyway,
	 * since the guest finds the files by those names */
	if (archive_write_set_format_option(a, "iso9660", "volume-id",
	    volid) != ARCHIVE_OK ||
	    archive_write_set_format_option(a, "iso9660", "rockridge",
	    "1") != ARCHIVE_OK ||
	    archive_write_set_format_option(a, "iso9660", "joliet",
	    "1") != ARCHIVE_OK) {
		iso_fail(a, err, opt);
		goto out;
	}
	/* no padding to libarchive's 10 KiB blocks: the image is what the
	 * format writes, a whole number of 2 KiB sectors */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, &b, NULL, iso_write, NULL) != ARCHIVE_OK) {
		iso_fail(a, err, "open");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((e = archive_entry_new()) == NULL) {
			cerr_set(err, CERR_FAIL, "cannot make an ISO image: "
			    "out of memory");
			goto out;
		}
		archive_entry_set_pathname(e, files[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0444);
		archive_entry_set_size(e, (la_int64_t)files[i].len);
		archive_entry_set_mtime(e, now, 0);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (files[i].len && archive_write_data(a, files[i].data,
		    files[i].len) != (la_ssize_t)files[i].len)) {
			iso_fail(a, err, files[i].name);
			goto out;
		}
		archive_entry_free(e);
		e = NULL;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		iso_fail(a, err, "close");
		goto out;
	}
	*len = b.len;
	*out = buf_detach(&b);
out:
	archive_entry_free(e);
	archive_write_free(a);
	buf_release(&b);
	return err->code;
}
