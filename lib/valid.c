/*
 * valid.c - engine: checks on user strings.  Pure: no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "valid.h"
#include "compat.h"

bool
valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k, len;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

bool
valid_id(const char *s, long long *id)
{
	const char *p;
	char *end;
	long long v;

	if (*s == '\0')
		return false;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	if (id)
		*id = v;
	return true;
}

int
valid_name(const char *kind, const char *name, struct cerr *err)
{
	size_t n = strlen(name), i;

	if (n == 0)
		return cerr_set(err, CERR_USAGE, "%s name is empty", kind);
	if (n > NAME_MAX_LEN)
		return cerr_set(err, CERR_USAGE,
		    "%s name is longer than %d bytes", kind, NAME_MAX_LEN);
	if (!valid_utf8(name, n))
		return cerr_set(err, CERR_USAGE,
		    "%s name is not valid UTF-8", kind);
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return cerr_set(err, CERR_USAGE, "%s name holds a "
			    "control character", kind);
	if (name[0] == ' ' || name[n - 1] == ' ')
		return cerr_set(err, CERR_USAGE, "%s name '%s' starts or "
		    "ends with a space", kind, name);
	if (name[0] == '-')
		return cerr_set(err, CERR_USAGE, "%s name '%s' starts with "
		    "'-'", kind, name);
	if (valid_id(name, NULL))
		return cerr_set(err, CERR_USAGE, "%s name '%s' is all digits "
		    "(it would read as an id)", kind, name);
	return 0;
}

int
valid_label_key(const char *key, struct cerr *err)
{
	size_t n = strlen(key), i;

	if (n == 0 || n > 63 || !isalnum((unsigned char)key[0]))
		goto bad;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)key[i]) && !strchr("._/-", key[i]))
			goto bad;
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "invalid label key '%s' (use 1 to "
	    "63 letters, digits, '.', '_', '/' or '-')", key);
}
