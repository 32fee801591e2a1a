/*
 * xalloc.h - core: allocation that never returns NULL.
 *
 * An allocation failure prints one line and exits 1: cloudos commands are
 * short-lived and every hypervisor action is recorded intent-first, so dying
 * is always safe, while limping on is not.
 */
#ifndef CLOUDOS_XALLOC_H
#define CLOUDOS_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Grow *p (an array of *cap elements of size sz) to hold at least want. */
void xgrow(void *p, size_t *cap, size_t want, size_t sz);

#endif
