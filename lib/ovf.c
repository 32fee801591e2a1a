/*
 * ovf.c - adapter: OVF descriptors and manifests over libxml2.  Includes
 * <libxml/...>; the cloudos core only.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "ovf.h"
#include "valid.h"
#include "compat.h"

#define NS_OVF1 "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_OVF2 "http://schemas.dmtf.org/ovf/envelope/2"
#define NS_CIM "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
#define NS_RASD NS_CIM "CIM_ResourceAllocationSettingData"
#define NS_VSSD NS_CIM "CIM_VirtualSystemSettingData"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define VMDK_STREAM "http://www.vmware.com/interfaces/specifications/" \
	"vmdk.html#streamOptimized"
#define MIB 1048576ULL

/* CIM resource types (DSP1043) */
#define RT_CPU 3
#define RT_MEMORY 4
#define RT_CPU_S "3"
#define RT_MEMORY_S "4"

static bool
ns_is(const xmlNode *n, const char *href)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href,
	    href) == 0;
}

static bool
ovf_ns(const xmlNode *n)
{
	return ns_is(n, NS_OVF1) || ns_is(n, NS_OVF2);
}

/* An element of the envelope's namespace called name. */
static bool
is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && ovf_ns(n) &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
child(const xmlNode *n, const char *name)
{
	xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (is_el(c, name))
			return c;
	return NULL;
}

/* An ovf: attribute (of either version's namespace), or one without a
 * namespace as some writers put it; the caller frees. */
static char *
attr(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name,
	    (const xmlChar *)NS_OVF1);

	if (v == NULL)
		v = xmlGetNsProp(n, (const xmlChar *)name,
		    (const xmlChar *)NS_OVF2);
	if (v == NULL)
		v = xmlGetNoNsProp(n, (const xmlChar *)name);
	return (char *)v;
}

/* An element's text, trimmed; the caller frees. */
static char *
text(const xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s, *e, *r;

	if (v == NULL)
		return NULL;
	for (s = (char *)v; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	r = strndup(s, (size_t)(e - s));
	xmlFree(v);
	return r;
}

static int
number(const char *s, const char *field, const char *what,
    unsigned long long *out, struct cerr *err)
{
	char *end;

	while (s && isspace((unsigned char)*s))
		s++;
	if (s == NULL || !isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	*out = strtoull(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end)
		goto bad;
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "%s: %s: expected a whole number, "
	    "found '%s'", what, field, s ? s : "");
}

static int
mul(unsigned long long *v, unsigned long long by)
{
	if (by && *v > ULLONG_MAX / by)
		return -1;
	*v *= by;
	return 0;
}

int
ovf_units(const char *s, unsigned long long *bytes, struct cerr *err)
{
	static const struct { const char *name; int shift; } legacy[] = {
		{ "bytes", 0 }, { "KiloBytes", 10 }, { "KB", 10 },
		{ "MegaBytes", 20 }, { "MB", 20 }, { "GigaBytes", 30 },
		{ "GB", 30 }, { "TeraBytes", 40 }, { "TB", 40 },
	};
	const char *p = s;
	unsigned long long v = 1, base, exp, i;
	char *end;
	size_t k;

	for (k = 0; k < sizeof(legacy) / sizeof(legacy[0]); k++)
		if (strcasecmp(s, legacy[k].name) == 0) {
			*bytes = 1ULL << legacy[k].shift;
			return 0;
		}
	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "byte", 4) != 0)
		goto bad;
	p += 4;
	/* then factors: "* 2^20", "* 10^3", "* 1024" */
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != '*')
			goto bad;
		while (isspace((unsigned char)*p))
			p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		base = strtoull(p, &end, 10);
		p = end;
		exp = 1;
		if (*p == '^') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			exp = strtoull(p, &end, 10);
			p = end;
			if (exp > 64)
				goto bad;
		}
		for (i = 0; i < exp; i++)
			if (mul(&v, base))
				goto bad;
	}
	*bytes = v;
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "units '%s' are not bytes times "
	    "a factor (such as 'byte * 2^20')", s);
}

void
ovf_free(struct ovf *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->ndisks; i++) {
		free(o->disks[i].id);
		free(o->disks[i].file);
	}
	free(o->disks);
	free(o->name);
	free(o->annotation);
	free(o->os);
	free(o);
}

/* The first VirtualSystem under n, depth first (it may be in a
 * VirtualSystemCollection). */
static xmlNode *
first_system(xmlNode *n)
{
	xmlNode *c, *r;

	for (c = n->children; c; c = c->next) {
		if (is_el(c, "VirtualSystem"))
			return c;
		if (is_el(c, "VirtualSystemCollection") &&
		    (r = first_system(c)) != NULL)
			return r;
	}
	return NULL;
}

/* A rasd: child's text, or NULL. */
static char *
rasd(const xmlNode *item, const char *name)
{
	xmlNode *c;

	for (c = item->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && ns_is(c, NS_RASD) &&
		    strcmp((const char *)c->name, name) == 0)
			return text(c);
	return NULL;
}

static int
hardware(const xmlNode *vhs, const char *what, struct ovf *o,
    struct cerr *err)
{
	xmlNode *it;
	char *type = NULL, *qty = NULL, *units = NULL;
	unsigned long long t, q, u;

	for (it = vhs->children; it; it = it->next) {
		if (!is_el(it, "Item"))
			continue;
		free(type);
		free(qty);
		free(units);
		type = rasd(it, "ResourceType");
		qty = rasd(it, "VirtualQuantity");
		units = rasd(it, "AllocationUnits");
		if (type == NULL || number(type, "rasd:ResourceType", what, &t,
		    err))
			goto out;
		if ((t != RT_CPU && t != RT_MEMORY) || qty == NULL)
			continue;
		if (number(qty, "rasd:VirtualQuantity", what, &q, err))
			goto out;
		if (t == RT_CPU && o->cpu == 0) {
			/* refused, not clamped: an image cannot suggest
			 * more than a VM may have */
			if (q < 1 || q > VM_MAX_CPU) {
				cerr_set(err, CERR_USAGE, "%s: %llu virtual "
				    "CPUs is out of range (1 to %d)", what, q,
				    VM_MAX_CPU);
				goto out;
			}
			o->cpu = (long long)q;
		} else if (t == RT_MEMORY && o->memory == 0) {
			/* memory without units: MiB, as writers mean */
			u = MIB;
			if (units && ovf_units(units, &u, err)) {
				cerr_wrap(err, "%s: rasd:AllocationUnits",
				    what);
				goto out;
			}
			if (mul(&q, u) || q == 0 || q / MIB > (1ULL << 32)) {
				cerr_set(err, CERR_USAGE, "%s: memory of %s "
				    "times '%s' is out of range", what, qty,
				    units ? units : "MiB");
				goto out;
			}
			o->memory = (long long)((q + MIB - 1) / MIB);
		}
	}
out:
	free(type);
	free(qty);
	free(units);
	return err->code;
}

struct fileref {
	char *id, *href;
	int compressed;
};

static int
disks(const xmlNode *ds, struct fileref *files, size_t nfiles,
    const char *what, struct ovf *o, struct cerr *err)
{
	xmlNode *d;
	char *ref = NULL, *cap = NULL, *units = NULL, *id = NULL;
	unsigned long long c, u;
	size_t i;

	for (d = ds->children; d; d = d->next) {
		if (!is_el(d, "Disk"))
			continue;
		free(ref);
		free(cap);
		free(units);
		free(id);
		ref = attr(d, "fileRef");
		cap = attr(d, "capacity");
		units = attr(d, "capacityAllocationUnits");
		id = attr(d, "diskId");
		if (ref == NULL)	/* a blank disk: nothing to import */
			continue;
		for (i = 0; i < nfiles; i++)
			if (strcmp(files[i].id, ref) == 0)
				break;
		if (i == nfiles) {
			cerr_set(err, CERR_USAGE, "%s: disk '%s' names file "
			    "'%s', which References does not list", what,
			    id ? id : "?", ref);
			goto out;
		}
		c = 0;
		if (cap && number(cap, "ovf:capacity", what, &c, err))
			goto out;
		u = 1;
		if (units && ovf_units(units, &u, err)) {
			cerr_wrap(err, "%s: ovf:capacityAllocationUnits",
			    what);
			goto out;
		}
		if (mul(&c, u)) {
			cerr_set(err, CERR_USAGE, "%s: disk '%s' capacity is "
			    "out of range", what, id ? id : "?");
			goto out;
		}
		o->disks = realloc(o->disks, (o->ndisks + 1) *
		    sizeof(*o->disks));
		if (o->disks == NULL)
			abort();
		o->disks[o->ndisks].id = strdup(id ? id : ref);
		o->disks[o->ndisks].file = strdup(files[i].href);
		o->disks[o->ndisks].capacity = c;
		o->disks[o->ndisks].compressed = files[i].compressed;
		o->ndisks++;
	}
out:
	free(ref);
	free(cap);
	free(units);
	free(id);
	return err->code;
}

int
ovf_parse(const char *xml, size_t len, const char *what, struct ovf **out,
    struct cerr *err)
{
	struct fileref *files = NULL;
	size_t nfiles = 0, i;
	struct ovf *o = NULL;
	xmlDoc *doc = NULL;
	xmlNode *root, *n, *vs, *s;
	const xmlError *xe;
	char *v;

	if (len > INT_MAX)
		return cerr_set(err, CERR_USAGE, "%s: too large", what);
	/* no network, no DTD, no entity substitution, no messages of its
	 * own: the error is ours to tell */
	doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL) {
		xe = xmlGetLastError();
		cerr_set(err, CERR_USAGE, "%s: not well-formed XML (line %d: "
		    "%.*s)", what, xe ? xe->line : 0, xe && xe->message ?
		    (int)strcspn(xe->message, "\n") : 7, xe && xe->message ?
		    xe->message : "unknown");
		return err->code;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || !is_el(root, "Envelope")) {
		cerr_set(err, CERR_USAGE, "%s: not an OVF descriptor (no "
		    "Envelope in the namespace %s)", what, NS_OVF1);
		goto out;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		abort();
	if ((n = child(root, "References")) != NULL)
		for (s = n->children; s; s = s->next) {
			if (!is_el(s, "File"))
				continue;
			files = realloc(files, (nfiles + 1) * sizeof(*files));
			if (files == NULL)
				abort();
			files[nfiles].id = attr(s, "id");
			files[nfiles].href = attr(s, "href");
			v = attr(s, "compression");
			files[nfiles].compressed = v && *v &&
			    strcmp(v, "identity") != 0;
			free(v);
			if (files[nfiles].id == NULL ||
			    files[nfiles].href == NULL) {
				nfiles++;
				cerr_set(err, CERR_USAGE, "%s: a File lacks "
				    "ovf:id or ovf:href", what);
				goto out;
			}
			nfiles++;
		}
	for (n = root->children; n; n = n->next)
		if (is_el(n, "DiskSection") &&
		    disks(n, files, nfiles, what, o, err))
			goto out;
	if ((vs = first_system(root)) != NULL) {
		if ((n = child(vs, "Name")) != NULL)
			o->name = text(n);
		if (o->name == NULL || *o->name == '\0') {
			free(o->name);
			o->name = attr(vs, "id");
		}
		if ((n = child(vs, "AnnotationSection")) != NULL &&
		    (n = child(n, "Annotation")) != NULL)
			o->annotation = text(n);
		/* it becomes the image's description: the same cap */
		if (o->annotation && valid_description(o->annotation, err)) {
			cerr_wrap(err, "%s: Annotation", what);
			goto out;
		}
		if ((n = child(vs, "OperatingSystemSection")) != NULL &&
		    (n = child(n, "Description")) != NULL)
			o->os = text(n);
		if ((n = child(vs, "VirtualHardwareSection")) != NULL &&
		    hardware(n, what, o, err))
			goto out;
	}
	*out = o;
	o = NULL;
out:
	for (i = 0; i < nfiles; i++) {
		xmlFree(files[i].id);
		xmlFree(files[i].href);
	}
	free(files);
	ovf_free(o);
	xmlFreeDoc(doc);
	return err->code;
}

/* The writer: every call returns < 0 on failure; keep the first. */
struct w {
	xmlTextWriter *x;
	int bad;
};

static void
w_start(struct w *w, const char *name)
{
	if (xmlTextWriterStartElement(w->x, (const xmlChar *)name) < 0)
		w->bad = 1;
}

static void
w_end(struct w *w)
{
	if (xmlTextWriterEndElement(w->x) < 0)
		w->bad = 1;
}

static void
w_attr(struct w *w, const char *name, const char *v)
{
	if (xmlTextWriterWriteAttribute(w->x, (const xmlChar *)name,
	    (const xmlChar *)v) < 0)
		w->bad = 1;
}

static void
w_el(struct w *w, const char *name, const char *v)
{
	if (xmlTextWriterWriteElement(w->x, (const xmlChar *)name,
	    (const xmlChar *)v) < 0)
		w->bad = 1;
}

int
ovf_write(const struct ovf_spec *spec, struct buf *out, struct cerr *err)
{
	xmlBuffer *xb = xmlBufferCreate();
	struct w w = { 0 };
	char num[32], cpu[32], ecpu[64], mem[32], emem[64];

	if (xb == NULL || (w.x = xmlNewTextWriterMemory(xb, 0)) == NULL) {
		xmlBufferFree(xb);
		return cerr_set(err, CERR_FAIL, "cannot write an OVF "
		    "descriptor: out of memory");
	}
	xmlTextWriterSetIndent(w.x, 1);
	xmlTextWriterSetIndentString(w.x, (const xmlChar *)"  ");
	if (xmlTextWriterStartDocument(w.x, NULL, "UTF-8", NULL) < 0)
		w.bad = 1;
	w_start(&w, "Envelope");
	w_attr(&w, "xmlns", NS_OVF1);
	w_attr(&w, "xmlns:ovf", NS_OVF1);
	w_attr(&w, "xmlns:rasd", NS_RASD);
	w_attr(&w, "xmlns:vssd", NS_VSSD);
	w_attr(&w, "xmlns:xsi", NS_XSI);

	w_start(&w, "References");
	w_start(&w, "File");
	w_attr(&w, "ovf:href", spec->file);
	w_attr(&w, "ovf:id", "file1");
	snprintf(num, sizeof(num), "%llu", spec->file_size);
	w_attr(&w, "ovf:size", num);
	w_end(&w);
	w_end(&w);

	w_start(&w, "DiskSection");
	w_el(&w, "Info", "Virtual disk information");
	w_start(&w, "Disk");
	snprintf(num, sizeof(num), "%llu", spec->capacity);
	w_attr(&w, "ovf:capacity", num);
	w_attr(&w, "ovf:capacityAllocationUnits", "byte");
	w_attr(&w, "ovf:diskId", "vmdisk1");
	w_attr(&w, "ovf:fileRef", "file1");
	w_attr(&w, "ovf:format", VMDK_STREAM);
	w_end(&w);
	w_end(&w);

	w_start(&w, "VirtualSystem");
	w_attr(&w, "ovf:id", spec->name);
	w_el(&w, "Info", "A virtual machine exported by cloudos");
	w_el(&w, "Name", spec->name);
	if (spec->description) {
		w_start(&w, "AnnotationSection");
		w_el(&w, "Info", "What the image holds");
		w_el(&w, "Annotation", spec->description);
		w_end(&w);
	}
	w_start(&w, "OperatingSystemSection");
	w_attr(&w, "ovf:id", "0");	/* CIM_OperatingSystem: Unknown */
	w_el(&w, "Info", "The guest operating system");
	if (spec->os)
		w_el(&w, "Description", spec->os);
	w_end(&w);

	w_start(&w, "VirtualHardwareSection");
	w_el(&w, "Info", "Virtual hardware requirements");
	w_start(&w, "System");
	w_el(&w, "vssd:ElementName", "Virtual Hardware Family");
	w_el(&w, "vssd:InstanceID", "0");
	w_el(&w, "vssd:VirtualSystemIdentifier", spec->name);
	w_el(&w, "vssd:VirtualSystemType", "vmx-07");
	w_end(&w);
	/* rasd elements in the order of the CIM schema (alphabetical) */
	snprintf(cpu, sizeof(cpu), "%lld", spec->cpu);
	snprintf(ecpu, sizeof(ecpu), "%lld virtual CPU(s)", spec->cpu);
	snprintf(mem, sizeof(mem), "%lld", spec->memory);
	snprintf(emem, sizeof(emem), "%lld MB of memory", spec->memory);
	{
		const char *const items[] = {
			"AllocationUnits", "hertz * 10^6",
			"Description", "Number of Virtual CPUs",
			"ElementName", ecpu, "InstanceID", "1",
			"ResourceType", RT_CPU_S, "VirtualQuantity", cpu, NULL,
			"AllocationUnits", "byte * 2^20",
			"Description", "Memory Size",
			"ElementName", emem, "InstanceID", "2",
			"ResourceType", RT_MEMORY_S, "VirtualQuantity", mem,
			NULL,
			"Address", "0", "Description", "SCSI Controller",
			"ElementName", "SCSI controller 0", "InstanceID", "3",
			"ResourceSubType", "lsilogic", "ResourceType", "6",
			NULL,
			"AddressOnParent", "0", "ElementName", "Hard disk 1",
			"HostResource", "ovf:/disk/vmdisk1", "InstanceID", "4",
			"Parent", "3", "ResourceType", "17", NULL,
			NULL,
		};
		const char *const *p;
		char name[64];

		for (p = items; *p; p++) {
			w_start(&w, "Item");
			for (; *p; p += 2) {
				snprintf(name, sizeof(name), "rasd:%s", p[0]);
				w_el(&w, name, p[1]);
			}
			w_end(&w);
		}
	}
	w_end(&w);	/* VirtualHardwareSection */
	w_end(&w);	/* VirtualSystem */
	w_end(&w);	/* Envelope */
	if (xmlTextWriterEndDocument(w.x) < 0)
		w.bad = 1;
	xmlFreeTextWriter(w.x);
	if (w.bad)
		cerr_set(err, CERR_FAIL, "cannot write an OVF descriptor for "
		    "'%s'", spec->name);
	else
		buf_add(out, (const char *)xmlBufferContent(xb),
		    (size_t)xmlBufferLength(xb));
	xmlBufferFree(xb);
	return err->code;
}

void
ovf_mf_free(struct ovf_mf *mf)
{
	size_t i;

	if (mf == NULL)
		return;
	for (i = 0; i < mf->n; i++) {
		free(mf->v[i].algo);
		free(mf->v[i].file);
		free(mf->v[i].hex);
	}
	free(mf->v);
	free(mf);
}

int
ovf_manifest(const char *t, size_t len, const char *what,
    struct ovf_mf **out, struct cerr *err)
{
	struct ovf_mf *mf = calloc(1, sizeof(*mf));
	const char *p = t, *end = t + len, *nl, *lp, *rp, *eq, *h;
	size_t line = 0, k, hl, want;

	if (mf == NULL)
		abort();
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line++;
		/* "SHA256(name)= hex"; spaces around the parts allowed */
		while (p < nl && isspace((unsigned char)*p))
			p++;
		if (p == nl)
			continue;
		lp = memchr(p, '(', (size_t)(nl - p));
		rp = NULL;
		for (h = nl; h > p; h--)
			if (h[-1] == ')') {
				rp = h - 1;
				break;
			}
		eq = rp ? memchr(rp, '=', (size_t)(nl - rp)) : NULL;
		if (lp == NULL || rp == NULL || rp < lp || eq == NULL)
			goto bad;
		for (k = (size_t)(lp - p); k > 0 && p[k - 1] == ' '; k--)
			;
		for (h = eq + 1; h < nl && isspace((unsigned char)*h); h++)
			;
		for (hl = (size_t)(nl - h); hl > 0 &&
		    isspace((unsigned char)h[hl - 1]); hl--)
			;
		if (k == 6 && strncasecmp(p, "SHA256", 6) == 0)
			want = 64;
		else if (k == 4 && strncasecmp(p, "SHA1", 4) == 0)
			want = 40;
		else {
			cerr_set(err, CERR_USAGE, "%s: line %zu: digest "
			    "'%.*s' is not SHA256 or SHA1", what, line,
			    (int)k, p);
			goto fail;
		}
		if (hl != want || strspn(h, "0123456789abcdefABCDEF") < want)
			goto bad;
		mf->v = realloc(mf->v, (mf->n + 1) * sizeof(*mf->v));
		if (mf->v == NULL)
			abort();
		mf->v[mf->n].algo = strdup(want == 64 ? "SHA256" : "SHA1");
		mf->v[mf->n].file = strndup(lp + 1, (size_t)(rp - lp - 1));
		mf->v[mf->n].hex = strndup(h, hl);
		for (k = 0; k < hl; k++)
			mf->v[mf->n].hex[k] = (char)tolower(
			    (unsigned char)mf->v[mf->n].hex[k]);
		mf->n++;
		if (nl == end)
			break;
	}
	*out = mf;
	return 0;
bad:
	cerr_set(err, CERR_USAGE, "%s: line %zu is not 'ALGO(FILE)= HEX'",
	    what, line);
fail:
	ovf_mf_free(mf);
	return err->code;
}

const struct ovf_mf_line *
ovf_mf_find(const struct ovf_mf *mf, const char *file)
{
	size_t i;

	for (i = 0; mf && i < mf->n; i++)
		if (strcmp(mf->v[i].file, file) == 0)
			return &mf->v[i];
	return NULL;
}
