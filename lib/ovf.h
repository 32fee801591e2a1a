/*
 * ovf.h - adapter: OVF descriptors (DMTF DSP0243, OVF 1.x and 2.x) and
 * manifests over libxml2.  The only module that includes <libxml/...>.
 *
 * Parsing never fetches anything (no network, no external DTD) and never
 * expands external entities.  What it reads: References/File, the disks
 * of DiskSection with their file and capacity, and of the first virtual
 * system its name, annotation, operating system and the vCPUs and memory
 * of its virtual hardware.  A descriptor that is not well-formed XML, has
 * no ovf:Envelope, or holds numbers or units it cannot read is
 * CERR_USAGE.
 *
 * ovf_parse gives a struct ovf freed with ovf_free; ovf_manifest a
 * struct ovf_mf freed with ovf_mf_free (NULL is fine for both).
 */
#ifndef CLOUDOS_OVF_H
#define CLOUDOS_OVF_H

#include <stddef.h>

#include "buf.h"
#include "cerr.h"

struct ovf_disk {
	char *id;			/* ovf:diskId */
	char *file;			/* its File's ovf:href */
	unsigned long long capacity;	/* bytes, 0 when not given */
	int compressed;			/* its File has ovf:compression */
};

struct ovf {
	char *name;		/* the virtual system's Name or ovf:id */
	char *annotation;	/* AnnotationSection/Annotation */
	char *os;		/* OperatingSystemSection/Description */
	long long cpu;		/* vCPUs; 0 when not given */
	long long memory;	/* MiB, rounded up; 0 when not given */
	struct ovf_disk *disks;	/* those with a file, in DiskSection order */
	size_t ndisks;
};

/* Parse the descriptor xml (len bytes); what names it in messages. */
int ovf_parse(const char *xml, size_t len, const char *what,
    struct ovf **out, struct cerr *err);
void ovf_free(struct ovf *o);

/* The bytes a DMTF programmatic unit ("byte", "byte * 2^20", "KiloBytes",
 * "MB", ...) stands for; CERR_USAGE for one it cannot read. */
int ovf_units(const char *s, unsigned long long *bytes, struct cerr *err);

/* What ovf_write describes: one virtual system with one disk. */
struct ovf_spec {
	const char *name;
	const char *description;	/* NULL: no AnnotationSection */
	const char *os;			/* NULL: not said */
	long long cpu;			/* vCPUs */
	long long memory;		/* MiB */
	const char *file;		/* the disk file's name in the OVA */
	unsigned long long file_size;	/* its bytes */
	unsigned long long capacity;	/* the disk's virtual size, bytes */
};

/* An OVF 1.x descriptor for spec, appended to out. */
int ovf_write(const struct ovf_spec *spec, struct buf *out,
    struct cerr *err);

/* A manifest (.mf): lines "SHA256(FILE)= HEX" or "SHA1(FILE)= HEX". */
struct ovf_mf_line {
	char *algo;	/* "SHA256" or "SHA1" */
	char *file;
	char *hex;	/* lowercase */
};
struct ovf_mf {
	struct ovf_mf_line *v;
	size_t n;
};
int ovf_manifest(const char *text, size_t len, const char *what,
    struct ovf_mf **out, struct cerr *err);
/* The line for file, or NULL. */
const struct ovf_mf_line *ovf_mf_find(const struct ovf_mf *mf,
    const char *file);
void ovf_mf_free(struct ovf_mf *mf);

#endif
