/*
 * cerr.c - core: the error type.  Includes only the C library.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cerr.h"
#include "compat.h"

int
cerr_vset(struct cerr *err, int code, const char *fmt, va_list ap)
{
	if (err->code != CERR_OK)
		return err->code;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int
cerr_set(struct cerr *err, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cerr_vset(err, code, fmt, ap);
	va_end(ap);
	return rc;
}

int
cerr_wrap(struct cerr *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	size_t n, old;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg) / 2, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	memcpy(msg + n, ": ", 3);
	n += 2;
	old = strnlen(err->msg, sizeof(err->msg) - 1);
	if (old > sizeof(msg) - 1 - n)
		old = sizeof(msg) - 1 - n;
	memcpy(msg + n, err->msg, old);
	msg[n + old] = '\0';
	memcpy(err->msg, msg, sizeof(msg));
	return err->code;
}

int
cerr_errno_code(int e, int dflt)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return CERR_NOTFOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return CERR_PERM;
	case ENAMETOOLONG:
	case ELOOP:
		return CERR_USAGE;
	default:
		return dflt;
	}
}

void
cerr_clear(struct cerr *err)
{
	err->code = CERR_OK;
	err->msg[0] = '\0';
}

const char *
cerr_name(int code)
{
	static const char *const names[] = {
		"success", "failure", "usage error", "not found",
		"permission denied", "conflict", "no capacity",
		"unreachable", "partial failure",
	};

	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[code];
}
