/*
 * units.c - engine: sizes with units.  Pure: no I/O.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"
#include "compat.h"

static const struct {
	const char *suffix;
	double bytes;
} units[] = {
	{ "", 1048576.0 },	/* a bare number is MiB */
	{ "b", 1.0 },
	{ "k", 1024.0 }, { "kib", 1024.0 }, { "kb", 1e3 },
	{ "m", 1048576.0 }, { "mib", 1048576.0 }, { "mb", 1e6 },
	{ "g", 1073741824.0 }, { "gib", 1073741824.0 }, { "gb", 1e9 },
	{ "t", 1099511627776.0 }, { "tib", 1099511627776.0 }, { "tb", 1e12 },
};

int
units_parse_mib(const char *s, long long *mib, struct cerr *err)
{
	const char *p = s, *num_end;
	double v = 0, scale = 0.1, bytes = -1, m;
	int digits = 0;
	size_t i;

	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			v += (*p++ - '0') * scale;
			scale /= 10;
			digits++;
		}
	}
	num_end = p;
	while (*p == ' ')
		p++;
	for (i = 0; digits && i < ARRAY_SIZE(units); i++)
		if (strcasecmp(p, units[i].suffix) == 0)
			bytes = units[i].bytes;
	if (!digits || bytes < 0 || (*p == '\0' && num_end != p))
		return cerr_set(err, CERR_USAGE, "invalid size '%s'", s);
	m = ceil(v * bytes / 1048576.0);
	if (m > (double)UNITS_MAX_MIB)
		return cerr_set(err, CERR_USAGE, "size '%s' is too large", s);
	*mib = (long long)m;
	return 0;
}

int
units_doc_mib(const struct doc *d, long long *mib, struct cerr *err)
{
	char tmp[64];

	switch (d->type) {
	case DOC_INT:
		if (d->u.i < 0)
			return cerr_set(err, CERR_USAGE,
			    "invalid size '%lld': must not be negative",
			    d->u.i);
		if (d->u.i > UNITS_MAX_MIB)
			return cerr_set(err, CERR_USAGE,
			    "size '%lld' is too large", d->u.i);
		*mib = d->u.i;
		return 0;
	case DOC_STR:
		if (d->u.s[0] == '-')
			return cerr_set(err, CERR_USAGE,
			    "invalid size '%s': must not be negative", d->u.s);
		return units_parse_mib(d->u.s, mib, err);
	case DOC_REAL:
		return units_parse_mib(doc_scalar_text(d, tmp), mib, err);
	default:
		return cerr_set(err, CERR_USAGE,
		    "invalid size: expected a number or a string such as "
		    "'512MiB', found a %s", doc_type_name(d->type));
	}
}
