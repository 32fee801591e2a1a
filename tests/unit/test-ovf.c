/*
 * test-ovf - table-driven tests of the OVF adapter's pure parts: DMTF
 * allocation units, manifests, descriptors read and written back.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cerr.h"
#include "ovf.h"
#include "tap.h"

static void
test_units(void)
{
	static const struct {
		const char *s;
		unsigned long long want;	/* 0: refused */
	} t[] = {
		{ "byte", 1 },
		{ "byte * 2^20", 1ULL << 20 },
		{ "byte*2^30", 1ULL << 30 },
		{ "byte * 10^3", 1000 },
		{ "byte * 1024", 1024 },
		{ "byte * 2^10 * 1000", 1024000 },
		{ "MegaBytes", 1ULL << 20 },
		{ "KB", 1024 },
		{ "GigaBytes", 1ULL << 30 },
		{ "  byte * 2^20  ", 1ULL << 20 },
		{ "hertz * 10^6", 0 },
		{ "byte * ", 0 },
		{ "byte * 2^", 0 },
		{ "byte * 2^99", 0 },
		{ "byte + 2", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cerr err = { 0 };
		unsigned long long b = 7;
		int rc = ovf_units(t[i].s, &b, &err);

		if (t[i].want)
			ok(rc == 0 && b == t[i].want, "units: '%s' is %llu "
			    "(got %llu)", t[i].s, t[i].want, b);
		else
			ok(rc == CERR_USAGE && b == 7, "units: '%s' refused "
			    "(%s)", t[i].s, err.msg);
	}
}

static void
test_manifest(void)
{
	static const char good[] =
	    "SHA256(a.ovf)= 0123456789ABCDEF0123456789abcdef0123456789abcdef"
	    "0123456789abcdef\n\n"
	    "SHA1 (disk 1.vmdk) = 0123456789abcdef0123456789abcdef01234567\n";
	static const char *const bad[] = {
		"MD5(a.ovf)= 0123456789abcdef0123456789abcdef\n",
		"SHA256(a.ovf)= 0123\n",
		"SHA256 a.ovf 0123456789abcdef0123456789abcdef0123456789abcdef"
		"0123456789abcdef\n",
		"SHA1(x)= 0123456789abcdef0123456789abcdef0123456z\n",
	};
	struct ovf_mf *mf = NULL;
	struct cerr err = { 0 };
	const struct ovf_mf_line *l;
	size_t i;

	ok(ovf_manifest(good, strlen(good), "m", &mf, &err) == 0 &&
	    mf->n == 2, "manifest: two lines read (%s)", err.msg);
	l = ovf_mf_find(mf, "a.ovf");
	ok(l && strcmp(l->algo, "SHA256") == 0 && strncmp(l->hex,
	    "0123456789abcdef0123", 20) == 0, "manifest: SHA256 lowercased");
	l = ovf_mf_find(mf, "disk 1.vmdk");
	ok(l && strcmp(l->algo, "SHA1") == 0, "manifest: SHA1 with spaces "
	    "around its parts");
	ok(ovf_mf_find(mf, "b.ovf") == NULL, "manifest: no such file");
	ovf_mf_free(mf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mf = NULL;
		cerr_clear(&err);
		ok(ovf_manifest(bad[i], strlen(bad[i]), "m", &mf, &err) ==
		    CERR_USAGE && mf == NULL, "manifest: bad line %zu refused "
		    "(%s)", i, err.msg);
	}
}

static void
test_roundtrip(void)
{
	struct ovf_spec spec = {
		.name = "web <1> & \"co\"", .description = "a disk",
		.os = "Debian 12", .cpu = 4, .memory = 2048,
		.file = "web-disk1.vmdk", .file_size = 12345,
		.capacity = 3ULL << 30,
	};
	struct buf b = BUF_INIT;
	struct ovf *o = NULL;
	struct cerr err = { 0 };

	ok(ovf_write(&spec, &b, &err) == 0, "write: a descriptor (%s)",
	    err.msg);
	ok(ovf_parse(b.s, b.len, "x.ovf", &o, &err) == 0, "parse: what "
	    "ovf_write wrote (%s)", err.msg);
	if (o == NULL) {
		buf_release(&b);
		return;
	}
	is_str(o->name, spec.name, "round trip: name, escaped and back");
	is_str(o->annotation, "a disk", "round trip: annotation");
	is_str(o->os, "Debian 12", "round trip: os");
	ok(o->cpu == 4 && o->memory == 2048, "round trip: cpu %lld memory "
	    "%lld", o->cpu, o->memory);
	ok(o->ndisks == 1 && strcmp(o->disks[0].file, "web-disk1.vmdk") ==
	    0 && o->disks[0].capacity == 3ULL << 30 &&
	    !o->disks[0].compressed, "round trip: the disk");
	ovf_free(o);
	buf_release(&b);
}

static void
test_parse(void)
{
	static const struct {
		const char *xml;
		const char *why;	/* NULL: accepted */
	} t[] = {
		{ "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/2' "
		  "xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/2'>"
		  "<References><File ovf:id='f' ovf:href='d.vmdk' "
		  "ovf:compression='gzip'/></References><DiskSection>"
		  "<Disk ovf:diskId='d' ovf:fileRef='f' ovf:capacity='1' "
		  "ovf:capacityAllocationUnits='byte * 2^30'/></DiskSection>"
		  "</Envelope>", NULL },
		{ "<Envelope xmlns='urn:x'/>", "not an OVF descriptor" },
		{ "<Envelope", "not well-formed" },
		{ "<!DOCTYPE e [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
		  "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1'>"
		  "<VirtualSystem><Name>&x;</Name></VirtualSystem>"
		  "</Envelope>", NULL },
		{ "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1' "
		  "xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1'>"
		  "<DiskSection><Disk ovf:diskId='d' ovf:fileRef='nosuch'/>"
		  "</DiskSection></Envelope>", "which References does not" },
		{ "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1' "
		  "xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1'>"
		  "<References><File ovf:id='f' ovf:href='d'/></References>"
		  "<DiskSection><Disk ovf:diskId='d' ovf:fileRef='f' "
		  "ovf:capacity='${size}'/></DiskSection></Envelope>",
		  "expected a whole number" },
		{ "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1' "
		  "xmlns:rasd='http://schemas.dmtf.org/wbem/wscim/1/cim-schema"
		  "/2/CIM_ResourceAllocationSettingData'><VirtualSystem>"
		  "<VirtualHardwareSection><Item><rasd:ResourceType>4"
		  "</rasd:ResourceType><rasd:VirtualQuantity>1"
		  "</rasd:VirtualQuantity><rasd:AllocationUnits>furlongs"
		  "</rasd:AllocationUnits></Item></VirtualHardwareSection>"
		  "</VirtualSystem></Envelope>", "furlongs" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ovf *o = NULL;
		struct cerr err = { 0 };
		int rc = ovf_parse(t[i].xml, strlen(t[i].xml), "x.ovf", &o,
		    &err);

		if (t[i].why == NULL)
			ok(rc == 0 && o != NULL, "parse: case %zu accepted "
			    "(%s)", i, err.msg);
		else
			ok(rc == CERR_USAGE && o == NULL && strstr(err.msg,
			    t[i].why), "parse: case %zu refused for '%s' (%s)",
			    i, t[i].why, err.msg);
		if (i == 0 && o)
			ok(o->ndisks == 1 && o->disks[0].compressed &&
			    o->disks[0].capacity == 1ULL << 30, "parse: OVF 2 "
			    "namespace, compression and capacity units");
		if (i == 3 && o)
			ok(o->name == NULL || strstr(o->name, "root") == NULL,
			    "parse: an external entity is not fetched ('%s')",
			    o->name ? o->name : "(null)");
		ovf_free(o);
	}
}

int
main(void)
{
	test_units();
	test_manifest();
	test_roundtrip();
	test_parse();
	return tap_done();
}
