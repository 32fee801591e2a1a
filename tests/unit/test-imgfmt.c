/*
 * test-imgfmt - table-driven tests of the image format engine: detection
 * from headers (never names) and the qcow2 header's checks.
 */
#include <stdlib.h>
#include <string.h>

#include "cerr.h"
#include "imgfmt.h"
#include "tap.h"

static unsigned char buf[IMGFMT_PROBE_LEN + 16];

static void
put_be32(unsigned char *p, unsigned long v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_be64(unsigned char *p, unsigned long long v)
{
	put_be32(p, (unsigned long)(v >> 32));
	put_be32(p + 4, (unsigned long)(v & 0xffffffffUL));
}

static size_t
qcow2(unsigned long version, unsigned long bits, unsigned long long size)
{
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "QFI\xfb", 4);
	put_be32(buf + 4, version);
	put_be32(buf + 20, bits);
	put_be64(buf + 24, size);
	return version == 3 ? 104 : 72;
}

static void
test_detect(void)
{
	static const struct {
		const char *data;
		size_t at;
		size_t n;	/* bytes of the file */
		enum imgfmt want;
	} t[] = {
		{ "QFI\xfb", 0, 4, IMGFMT_QCOW2 },
		{ "QFI", 0, 3, IMGFMT_RAW },
		{ "KDMV", 0, 512, IMGFMT_VMDK },
		{ "# Disk DescriptorFile", 0, 100, IMGFMT_VMDK },
		{ "# Disk Descriptor", 0, 17, IMGFMT_RAW },
		{ "CD001", 32769, IMGFMT_PROBE_LEN, IMGFMT_ISO },
		{ "CD001", 32769, IMGFMT_PROBE_LEN - 1, IMGFMT_RAW },
		{ "CD001", 32768, IMGFMT_PROBE_LEN, IMGFMT_RAW },
		{ "CD001", 0, 5, IMGFMT_RAW },
		{ "qcow2", 0, 5, IMGFMT_RAW },	/* a name is no format */
		{ "", 0, 0, IMGFMT_RAW },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum imgfmt f;

		memset(buf, 0, sizeof(buf));
		memcpy(buf + t[i].at, t[i].data, strlen(t[i].data));
		f = imgfmt_detect(buf, t[i].n);
		ok(f == t[i].want, "detect: '%s' at %zu in %zu bytes is %s "
		    "(got %s)", t[i].data, t[i].at, t[i].n,
		    imgfmt_name(t[i].want), imgfmt_name(f));
	}
}

static void
test_qcow2(void)
{
	static const struct {
		unsigned long version, bits;
		unsigned long long size;
		long cut;	/* bytes less than a whole header */
		unsigned long long want;	/* 0: refused */
		const char *why;
	} t[] = {
		{ 3, 16, 1ULL << 30, 0, 1ULL << 30, NULL },
		{ 2, 16, 10485760, 0, 10485760, NULL },
		{ 3, 21, 1ULL << 40, 0, 1ULL << 40, NULL },
		{ 3, 16, 0, 0, 0, "virtual size is 0" },
		{ 1, 16, 1 << 20, 0, 0, "version 1" },
		{ 4, 16, 1 << 20, 0, 0, "version 4" },
		{ 3, 16, 1 << 20, 1, 0, "truncated" },
		{ 3, 16, 1 << 20, 100, 0, "truncated" },
		{ 2, 16, 1 << 20, 40, 0, "truncated" },
		{ 3, 8, 1 << 20, 0, 0, "cluster size" },
		{ 3, 22, 1 << 20, 0, 0, "cluster size" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cerr err = { 0 };
		unsigned long long sz = 7;
		size_t n = qcow2(t[i].version, t[i].bits, t[i].size) -
		    (size_t)t[i].cut;
		int rc = imgfmt_qcow2_size(buf, n, &sz, &err);

		if (t[i].want)
			ok(rc == 0 && sz == t[i].want, "qcow2: v%lu size %llu "
			    "(got %llu: %s)", t[i].version, t[i].want, sz,
			    err.msg);
		else
			ok(rc == CERR_USAGE && sz == 7 && strstr(err.msg,
			    t[i].why), "qcow2: v%lu bits %lu size %llu cut %ld "
			    "refused for '%s' (%s)", t[i].version, t[i].bits,
			    t[i].size, t[i].cut, t[i].why, err.msg);
	}
}

static void
test_vmdk(void)
{
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "KDMV", 4);
	buf[12] = 0x00;
	buf[13] = 0x00;
	buf[14] = 0x20;	/* 0x200000 sectors: 1 GiB */
	ok(imgfmt_vmdk_size(buf, 512) == 1ULL << 30, "vmdk: capacity read");
	ok(imgfmt_vmdk_size(buf, 19) == 0, "vmdk: short header gives 0");
	ok(imgfmt_vmdk_size((const unsigned char *)"# Disk DescriptorFile",
	    21) == 0, "vmdk: a descriptor gives 0");
}

static void
test_standalone(void)
{
	struct cerr err = { 0 };
	size_t n;

	n = qcow2(3, 16, 1 << 20);
	ok(imgfmt_standalone(buf, n, &err) == 0, "standalone: a plain qcow2");
	put_be64(buf + 8, 104);	/* backing_file_offset */
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, n, &err) == CERR_USAGE &&
	    strstr(err.msg, "backing file"), "standalone: qcow2 backing "
	    "file refused (%s)", err.msg);
	n = qcow2(3, 16, 1 << 20);
	put_be64(buf + 72, 4);	/* incompatible: external data file */
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, n, &err) == CERR_USAGE &&
	    strstr(err.msg, "external data file"), "standalone: qcow2 "
	    "external data file refused (%s)", err.msg);
	n = qcow2(2, 16, 1 << 20);
	put_be64(buf + 72, 4);	/* version 2: no such field */
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, n, &err) == 0, "standalone: qcow2 v2 has "
	    "no feature bits");
	n = qcow2(3, 16, 0);
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, n, &err) == CERR_USAGE, "standalone: a "
	    "corrupt qcow2 refused (%s)", err.msg);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "KDMV", 4);
	buf[14] = 0x20;
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, 512, &err) == 0, "standalone: a sparse "
	    "vmdk");
	buf[14] = 0;	/* capacity 0: the data is named by a descriptor */
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, 512, &err) == CERR_USAGE, "standalone: a "
	    "vmdk without capacity refused (%s)", err.msg);
	cerr_clear(&err);
	ok(imgfmt_standalone((const unsigned char *)"# Disk DescriptorFile\n",
	    22, &err) == CERR_USAGE && strstr(err.msg, "descriptor"),
	    "standalone: a vmdk descriptor refused (%s)", err.msg);
	memset(buf, 0, sizeof(buf));
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, 4096, &err) == 0, "standalone: raw");
	memcpy(buf + 32769, "CD001", 5);
	cerr_clear(&err);
	ok(imgfmt_standalone(buf, IMGFMT_PROBE_LEN, &err) == CERR_USAGE,
	    "standalone: an ISO is no disk (%s)", err.msg);
}

int
main(void)
{
	test_detect();
	test_qcow2();
	test_vmdk();
	test_standalone();
	return tap_done();
}
