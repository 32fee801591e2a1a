/*
 * xalloc.c - core: allocation that never returns NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"
#include "compat.h"

static void
oom(void)
{
	static const char msg[] = "cloudos: out of memory\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
xgrow(void *p, size_t *cap, size_t want, size_t sz)
{
	void **pp = p;
	size_t n = *cap ? *cap : 8;

	if (want <= *cap)
		return;
	while (n < want) {
		if (n > ((size_t)-1) / 2 / sz)
			oom();
		n *= 2;
	}
	*pp = xrealloc(*pp, n * sz);
	*cap = n;
}
