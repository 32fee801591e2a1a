/*
 * buf.h - core: a growable, always NUL-terminated string (git's strbuf).
 *
 * struct buf b = BUF_INIT; ... buf_release(&b);  b.s is never NULL.
 */
#ifndef CLOUDOS_BUF_H
#define CLOUDOS_BUF_H

#include <stddef.h>

struct buf {
	char *s;
	size_t len;
	size_t cap;
};

extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0 }

void buf_init(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t n);
void buf_addc(struct buf *b, char c);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Free the contents; b is BUF_INIT again. */
void buf_release(struct buf *b);
/* Hand the string to the caller (free() it); b is BUF_INIT again. */
char *buf_detach(struct buf *b);

/* Append s with the five XML special characters escaped; control
 * characters other than tab and newline are dropped (XML 1.0 forbids them). */
void buf_xml(struct buf *b, const char *s);

#endif
