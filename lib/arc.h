/*
 * arc.h - adapter: tar archives (OVA packages) over libarchive.  With
 * iso.c, the only module that includes <archive.h>.
 *
 * A reader walks a tar's entries in order and refuses, with CERR_USAGE,
 * every entry that could land outside a folder it were unpacked into or
 * is not plain data: an absolute name, a name with a ".." component, a
 * symbolic or hard link, a device, a FIFO, a socket.  Nothing is ever
 * unpacked by name: the caller reads an entry's bytes and puts them where
 * it chooses.  A tar that is truncated or corrupt is CERR_USAGE too.
 *
 * arc_open and arc_create give a reference freed with arc_free (NULL is
 * fine).
 */
#ifndef CLOUDOS_ARC_H
#define CLOUDOS_ARC_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

struct arc;

/* Open the tar at path; what names it in messages. */
int arc_open(const char *path, const char *what, struct arc **out,
    struct cerr *err);
/* The next regular file: its name (without a leading "./", borrowed
 * until the next call) and size; *name is NULL at the end.  Folders are
 * passed over. */
int arc_next(struct arc *a, const char **name, unsigned long long *size,
    struct cerr *err);
/* Up to n bytes of the current entry into buf; *got is 0 at its end. */
int arc_read(struct arc *a, void *buf, size_t n, size_t *got,
    struct cerr *err);

/* A new tar (POSIX ustar, with pax headers only for what ustar cannot
 * hold) written to fd. */
int arc_create(int fd, const char *what, struct arc **out,
    struct cerr *err);
/* Start a regular file entry of size bytes, mode 0644. */
int arc_add(struct arc *a, const char *name, unsigned long long size,
    struct cerr *err);
int arc_write(struct arc *a, const void *buf, size_t n, struct cerr *err);
/* Write the end of the archive. */
int arc_finish(struct arc *a, struct cerr *err);

/* True when the last write failed because the reader of a pipe left. */
bool arc_reader_left(struct arc *a);

void arc_free(struct arc *a);

/* True when the 512 bytes at buf are a tar header (ustar magic). */
bool arc_is_tar(const unsigned char *buf, size_t n);

#endif
