/*
 * arc.c - adapter: tar archives over libarchive.  Includes <archive.h>
 * and <archive_entry.h>; the cloudos core only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "arc.h"
#include "compat.h"

struct arc {
	struct archive *a;
	const char *what;
	char *name;
	bool writing;
};

static int
arc_fail(struct arc *a, int code, const char *what, struct cerr *err)
{
	const char *msg = archive_error_string(a->a);

	return cerr_set(err, code, "%s: %s%s%s", a->what, what,
	    msg ? ": " : "", msg ? msg : "");
}

void
arc_free(struct arc *a)
{
	if (a == NULL)
		return;
	if (a->writing)
		archive_write_free(a->a);
	else
		archive_read_free(a->a);
	free(a->name);
	free(a);
}

int
arc_open(const char *path, const char *what, struct arc **out,
    struct cerr *err)
{
	struct arc *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->a = archive_read_new()) == NULL) {
		free(a);
		return cerr_set(err, CERR_FAIL, "%s: out of memory", what);
	}
	a->what = what;
	/* tar only, uncompressed: an OVA is a plain tar */
	if (archive_read_support_format_tar(a->a) != ARCHIVE_OK ||
	    archive_read_open_filename(a->a, path, 1 << 20) != ARCHIVE_OK) {
		arc_fail(a, CERR_USAGE, "not a readable tar archive", err);
		arc_free(a);
		return err->code;
	}
	*out = a;
	return 0;
}

/* Refuse a name that leaves the folder it would be unpacked in. */
static int
check_name(struct arc *a, const char *name, struct cerr *err)
{
	const char *p = name, *e;

	if (*name == '\0')
		return cerr_set(err, CERR_USAGE, "%s: an entry has no name",
		    a->what);
	if (*name == '/')
		return cerr_set(err, CERR_USAGE, "%s: entry '%s' is an "
		    "absolute path", a->what, name);
	while (*p) {
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if (e - p == 2 && p[0] == '.' && p[1] == '.')
			return cerr_set(err, CERR_USAGE, "%s: entry '%s' "
			    "climbs out of the archive's folder ('..')",
			    a->what, name);
		p = *e ? e + 1 : e;
	}
	return 0;
}

int
arc_next(struct arc *a, const char **name, unsigned long long *size,
    struct cerr *err)
{
	struct archive_entry *e;
	const char *n;
	int r;

	*name = NULL;
	for (;;) {
		r = archive_read_next_header(a->a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return arc_fail(a, CERR_USAGE, "truncated or corrupt "
			    "tar archive", err);
		n = archive_entry_pathname(e);
		if (n == NULL)
			return cerr_set(err, CERR_USAGE, "%s: an entry's name "
			    "cannot be read", a->what);
		if (check_name(a, n, err))
			return err->code;
		if (archive_entry_hardlink(e) != NULL)
			return cerr_set(err, CERR_USAGE, "%s: entry '%s' is a "
			    "hard link", a->what, n);
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
			break;
		case AE_IFDIR:
			continue;
		case AE_IFLNK:
			return cerr_set(err, CERR_USAGE, "%s: entry '%s' is a "
			    "symbolic link", a->what, n);
		default:
			return cerr_set(err, CERR_USAGE, "%s: entry '%s' is "
			    "not a regular file (a device, FIFO or socket)",
			    a->what, n);
		}
		while (n[0] == '.' && n[1] == '/')
			n += 2;
		free(a->name);
		if ((a->name = strdup(n)) == NULL)
			return cerr_set(err, CERR_FAIL, "out of memory");
		*name = a->name;
		*size = archive_entry_size_is_set(e) ?
		    (unsigned long long)archive_entry_size(e) : 0;
		return 0;
	}
}

int
arc_read(struct arc *a, void *buf, size_t n, size_t *got, struct cerr *err)
{
	la_ssize_t r = archive_read_data(a->a, buf, n);

	if (r < 0)
		return arc_fail(a, CERR_USAGE, "truncated or corrupt tar "
		    "archive", err);
	*got = (size_t)r;
	return 0;
}

bool
arc_is_tar(const unsigned char *buf, size_t n)
{
	/* POSIX "ustar\0" and GNU "ustar  \0" */
	return n >= 263 && memcmp(buf + 257, "ustar", 5) == 0;
}

int
arc_create(int fd, const char *what, struct arc **out, struct cerr *err)
{
	struct arc *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->a = archive_write_new()) == NULL) {
		free(a);
		return cerr_set(err, CERR_FAIL, "%s: out of memory", what);
	}
	a->what = what;
	a->writing = true;
	if (archive_write_set_format_pax_restricted(a->a) != ARCHIVE_OK ||
	    archive_write_open_fd(a->a, fd) != ARCHIVE_OK) {
		arc_fail(a, CERR_FAIL, "cannot start a tar archive", err);
		arc_free(a);
		return err->code;
	}
	*out = a;
	return 0;
}

int
arc_add(struct arc *a, const char *name, unsigned long long size,
    struct cerr *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (e == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, time(NULL), 0);
	r = archive_write_header(a->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return arc_fail(a, CERR_FAIL, "cannot write", err);
	return 0;
}

int
arc_write(struct arc *a, const void *buf, size_t n, struct cerr *err)
{
	if (n && archive_write_data(a->a, buf, n) != (la_ssize_t)n)
		return arc_fail(a, CERR_FAIL, "cannot write", err);
	return 0;
}

int
arc_finish(struct arc *a, struct cerr *err)
{
	if (archive_write_close(a->a) != ARCHIVE_OK)
		return arc_fail(a, CERR_FAIL, "cannot write", err);
	return 0;
}

bool
arc_reader_left(struct arc *a)
{
	return a && a->writing && archive_errno(a->a) == EPIPE;
}
