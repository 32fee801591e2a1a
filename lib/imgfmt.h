/*
 * imgfmt.h - engine: disk image formats read from a file's first bytes.
 * Pure: no I/O; the caller reads the header and passes it in.
 *
 * The format is never taken from a file's name: qcow2 by its magic
 * "QFI\xfb", vmdk by "KDMV" (sparse extent) or "# Disk DescriptorFile",
 * an ISO 9660 image by "CD001" at offset 32769; anything else is raw.
 */
#ifndef CLOUDOS_IMGFMT_H
#define CLOUDOS_IMGFMT_H

#include <stddef.h>

#include "cerr.h"

enum imgfmt { IMGFMT_RAW, IMGFMT_QCOW2, IMGFMT_VMDK, IMGFMT_ISO };

/* Bytes of a file's start that imgfmt_detect needs to see everything
 * (the ISO 9660 signature ends at 32774). */
#define IMGFMT_PROBE_LEN 32774

/* "raw", "qcow2", "vmdk", "iso". */
const char *imgfmt_name(enum imgfmt f);

/* The format of a file whose first n bytes are buf (n is the whole file
 * when it is shorter than IMGFMT_PROBE_LEN). */
enum imgfmt imgfmt_detect(const unsigned char *buf, size_t n);

/*
 * The virtual size in bytes of a qcow2 image whose first n bytes are buf.
 * CERR_USAGE, with a reason, when the header is short (a truncated file),
 * has a version other than 2 or 3, an impossible cluster size, or a size
 * of 0.
 */
int imgfmt_qcow2_size(const unsigned char *buf, size_t n,
    unsigned long long *size, struct cerr *err);

/*
 * The virtual size in bytes of a vmdk sparse extent ("KDMV"), from its
 * capacity in sectors; 0 when buf holds no sparse header (a descriptor).
 */
unsigned long long imgfmt_vmdk_size(const unsigned char *buf, size_t n);
/* 0 when the image starting with buf holds all its data itself, so that
 * qemu-img reads no other file: no qcow2 backing or external data file,
 * no vmdk descriptor naming extents; CERR_USAGE, saying what it is,
 * otherwise (and for an ISO, which is no disk). */
int imgfmt_standalone(const unsigned char *buf, size_t n, struct cerr *err);

#endif
