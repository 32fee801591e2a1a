/*
 * imgfmt.c - engine: disk image formats from their headers.  Pure: no I/O.
 */
#include <string.h>

#include "imgfmt.h"
#include "compat.h"

#define QCOW2_V2_HEADER	72	/* bytes of a version 2 header */
#define QCOW2_V3_HEADER	104	/* and of the fixed part of version 3 */
#define ISO_MAGIC_AT	32769

static unsigned long long
be64(const unsigned char *p)
{
	unsigned long long v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static unsigned long
be32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
	    (unsigned long)p[2] << 8 | p[3];
}

static unsigned long long
le64(const unsigned char *p)
{
	unsigned long long v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

const char *
imgfmt_name(enum imgfmt f)
{
	switch (f) {
	case IMGFMT_QCOW2:
		return "qcow2";
	case IMGFMT_VMDK:
		return "vmdk";
	case IMGFMT_ISO:
		return "iso";
	case IMGFMT_RAW:
		break;
	}
	return "raw";
}

enum imgfmt
imgfmt_detect(const unsigned char *buf, size_t n)
{
	static const char desc[] = "# Disk DescriptorFile";

	if (n >= 4 && memcmp(buf, "QFI\xfb", 4) == 0)
		return IMGFMT_QCOW2;
	if (n >= 4 && memcmp(buf, "KDMV", 4) == 0)
		return IMGFMT_VMDK;
	if (n >= sizeof(desc) - 1 && memcmp(buf, desc, sizeof(desc) - 1) == 0)
		return IMGFMT_VMDK;
	if (n >= ISO_MAGIC_AT + 5 && memcmp(buf + ISO_MAGIC_AT, "CD001", 5) == 0)
		return IMGFMT_ISO;
	return IMGFMT_RAW;
}

int
imgfmt_qcow2_size(const unsigned char *buf, size_t n,
    unsigned long long *size, struct cerr *err)
{
	unsigned long version, cluster_bits;
	unsigned long long sz;

	if (n < 4 || memcmp(buf, "QFI\xfb", 4) != 0)
		return cerr_set(err, CERR_USAGE, "not a qcow2 header");
	if (n < 8)
		return cerr_set(err, CERR_USAGE, "qcow2 header is truncated "
		    "(%zu bytes)", n);
	version = be32(buf + 4);
	if (version != 2 && version != 3)
		return cerr_set(err, CERR_USAGE, "qcow2 version %lu is not 2 "
		    "or 3", version);
	if (n < (version == 2 ? QCOW2_V2_HEADER : QCOW2_V3_HEADER))
		return cerr_set(err, CERR_USAGE, "qcow2 header is truncated "
		    "(%zu bytes)", n);
	cluster_bits = be32(buf + 20);
	if (cluster_bits < 9 || cluster_bits > 21)
		return cerr_set(err, CERR_USAGE, "qcow2 cluster size 2^%lu is "
		    "impossible", cluster_bits);
	sz = be64(buf + 24);
	if (sz == 0)
		return cerr_set(err, CERR_USAGE, "qcow2 virtual size is 0");
	*size = sz;
	return 0;
}

unsigned long long
imgfmt_vmdk_size(const unsigned char *buf, size_t n)
{
	/* the sparse extent header: magic, version (4), flags (4),
	 * capacity in 512-byte sectors (8, little endian) */
	if (n < 20 || memcmp(buf, "KDMV", 4) != 0)
		return 0;
	return le64(buf + 12) * 512;
}

int
imgfmt_standalone(const unsigned char *buf, size_t n, struct cerr *err)
{
	unsigned long long size;

	switch (imgfmt_detect(buf, n)) {
	case IMGFMT_QCOW2:
		if (imgfmt_qcow2_size(buf, n, &size, err))
			return err->code;
		if (be64(buf + 8) != 0)
			return cerr_set(err, CERR_USAGE, "a qcow2 image with a "
			    "backing file");
		/* incompatible feature bit 2: an external data file */
		if (be32(buf + 4) == 3 && (be64(buf + 72) & 4))
			return cerr_set(err, CERR_USAGE, "a qcow2 image with "
			    "an external data file");
		return 0;
	case IMGFMT_VMDK:
		if (n >= 4 && memcmp(buf, "KDMV", 4) != 0)
			return cerr_set(err, CERR_USAGE, "a vmdk descriptor "
			    "(its data is in other files)");
		if (imgfmt_vmdk_size(buf, n) == 0)
			return cerr_set(err, CERR_USAGE, "a vmdk without a "
			    "capacity (its data is in other files)");
		return 0;
	case IMGFMT_ISO:
		return cerr_set(err, CERR_USAGE, "an ISO 9660 image, not a "
		    "disk");
	case IMGFMT_RAW:
		break;
	}
	return 0;
}
