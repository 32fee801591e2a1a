/*
 * units.h - engine: sizes with units.  Pure: no I/O.
 *
 * Input accepts a plain number (MiB), binary units (KiB MiB GiB TiB, and the
 * short K M G T as qemu-img reads them) and decimal units (B KB MB GB TB);
 * case does not matter and a fraction is allowed ("1.5GiB").  Output is
 * always whole MiB, rounded up.
 */
#ifndef CLOUDOS_UNITS_H
#define CLOUDOS_UNITS_H

#include "cerr.h"
#include "doc.h"

/* The largest size accepted, in MiB (1 EiB). */
#define UNITS_MAX_MIB (1LL << 40)

/* Parse s into MiB.  Returns 0 or CERR_USAGE ("invalid size 'S'"). */
int units_parse_mib(const char *s, long long *mib, struct cerr *err);

/* The same for a document value: an integer is MiB, a string has units. */
int units_doc_mib(const struct doc *d, long long *mib, struct cerr *err);

#endif
