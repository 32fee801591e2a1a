/*
 * valid.c - engine: checks on user strings.  Pure: no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "valid.h"
#include "compat.h"

size_t
valid_utf8_char(const char *str, size_t n, unsigned long *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c;
	size_t k, len;
	unsigned long v;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) ||
	    (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool
valid_utf8(const char *str, size_t n)
{
	unsigned long cp;
	size_t i = 0, len;

	while (i < n) {
		if ((len = valid_utf8_char(str + i, n - i, &cp)) == 0)
			return false;
		i += len;
	}
	return true;
}

bool
valid_invisible(unsigned long cp)
{
	/* Unicode 15's Cf (format) characters, with Zl and Zp */
	static const struct { unsigned long lo, hi; } cf[] = {
		{ 0x00ad, 0x00ad }, { 0x0600, 0x0605 }, { 0x061c, 0x061c },
		{ 0x06dd, 0x06dd }, { 0x070f, 0x070f }, { 0x0890, 0x0891 },
		{ 0x08e2, 0x08e2 }, { 0x180e, 0x180e }, { 0x200b, 0x200f },
		{ 0x2028, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb }, { 0x110bd, 0x110bd },
		{ 0x110cd, 0x110cd }, { 0x13430, 0x1343f },
		{ 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
		{ 0xe0001, 0xe0001 }, { 0xe0020, 0xe007f },
	};
	size_t i;

	/* Cc: C0, DEL and C1 */
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return true;
	for (i = 0; i < sizeof(cf) / sizeof(cf[0]); i++)
		if (cp >= cf[i].lo && cp <= cf[i].hi)
			return true;
	return false;
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
	size_t n = strlen(name), i, len;
	unsigned long cp;

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
	for (i = 0; i < n; i += len) {
		len = valid_utf8_char(name + i, n - i, &cp);
		if (valid_invisible(cp))
			return cerr_set(err, CERR_USAGE, "%s name holds a "
			    "control or format character (U+%04lX)", kind, cp);
	}
	if (name[0] == ' ' || name[n - 1] == ' ')
		return cerr_set(err, CERR_USAGE, "%s name '%s' starts or "
		    "ends with a space", kind, name);
	if (name[0] == '-')
		return cerr_set(err, CERR_USAGE, "%s name '%s' starts with "
		    "'-'", kind, name);
	/* all digits, even too many for an id: it would read as one */
	if (strspn(name, "0123456789") == n)
		return cerr_set(err, CERR_USAGE, "%s name '%s' is all digits "
		    "(it would read as an id)", kind, name);
	return 0;
}

int
valid_text(const char *field, const char *s, struct cerr *err)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n > DESC_MAX_LEN || !valid_utf8(s, n))
		return cerr_set(err, CERR_USAGE, "%s: expected UTF-8 text of "
		    "at most %d bytes", field, DESC_MAX_LEN);
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n' &&
		    s[i] != '\t') || s[i] == 0x7f)
			return cerr_set(err, CERR_USAGE, "%s: holds a control "
			    "character", field);
	return 0;
}

int
valid_description(const char *s, struct cerr *err)
{
	return valid_text("description", s, err);
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

int
valid_enum(const char *text, const char *const names[], size_t n,
    size_t *index, const char *what, struct cerr *err)
{
	char list[512];
	size_t i, len = 0;

	for (i = 0; text && i < n; i++)
		if (strcasecmp(text, names[i]) == 0) {
			*index = i;
			return 0;
		}
	list[0] = '\0';
	for (i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i ? ", " : "", names[i]);
	return cerr_set(err, CERR_USAGE, "unknown %s '%s' (expected one of: "
	    "%s)", what, text ? text : "", list);
}
