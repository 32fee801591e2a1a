/*
 * cerr.h - core: one error, a contract exit code plus one line of text.
 *
 * Every fallible function returns 0 or one of these codes and takes a
 * caller-owned struct cerr *err last.  err is untouched on success and the
 * first error set wins; cerr_wrap adds context in front of it.
 */
#ifndef CLOUDOS_CERR_H
#define CLOUDOS_CERR_H

#include <stdarg.h>

enum cerr_code {
	CERR_OK = 0,
	CERR_FAIL = 1,		/* failure not covered below */
	CERR_USAGE = 2,		/* bad option, bad document */
	CERR_NOTFOUND = 3,
	CERR_PERM = 4,		/* permission denied */
	CERR_CONFLICT = 5,	/* wrong state, name taken, changed concurrently */
	CERR_CAPACITY = 6,	/* no capacity or quota exceeded */
	CERR_UNREACHABLE = 7,	/* hypervisor, host or zone unreachable */
	CERR_PARTIAL = 8,	/* some objects of a batch failed */
};

struct cerr {
	int code;
	char msg[1024];
};

/* Set err to code and a printf-formatted message, unless an error is
 * already set.  Returns the code held by err afterwards. */
int cerr_set(struct cerr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cerr_vset(struct cerr *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Put "CONTEXT: " in front of the message held by err.  Returns the code. */
int cerr_wrap(struct cerr *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The code for errno e after a call on a path the user gave: not found
 * (ENOENT, ENOTDIR), permission (EACCES, EPERM, EROFS), usage for a path
 * too long or looping (ENAMETOOLONG, ELOOP), dflt otherwise. */
int cerr_errno_code(int e, int dflt);

/* Forget the error held by err. */
void cerr_clear(struct cerr *err);

/* The short name of a code ("not found"), for documentation and tests. */
const char *cerr_name(int code);

#endif
