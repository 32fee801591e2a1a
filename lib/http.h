/*
 * http.h - adapter: HTTP(S) downloads over libcurl.  The only module that
 * includes <curl/curl.h>.
 *
 * TLS peers are always verified; only http and https are spoken, also on
 * redirects.  Errors: a URL that answers 404 or 410 is CERR_NOTFOUND, 401
 * or 403 CERR_PERM, other HTTP errors CERR_FAIL; a failed connect, a
 * name that does not resolve, a TLS failure, or a transfer that stalls
 * is CERR_UNREACHABLE.  curl's own text follows ours.
 */
#ifndef CLOUDOS_HTTP_H
#define CLOUDOS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

struct http_get {
	const char *url;
	unsigned long long offset;	/* ask for the bytes from here on */
	long connect_timeout;		/* seconds */
	long stall_timeout;		/* seconds below 1 byte/s */
	/* called once before the first byte: status is 206 when the
	 * server honours the range, 200 when it sends the whole file from
	 * byte 0 (the caller must start over); total is the whole file's
	 * size, 0 if unknown */
	int (*begin)(void *arg, long status, unsigned long long total,
	    struct cerr *err);
	int (*write)(void *arg, const void *data, size_t n,
	    struct cerr *err);
	void (*progress)(void *arg, unsigned long long done,
	    unsigned long long total);
	void *arg;
};

/* True when s is an http:// or https:// URL. */
bool http_is_url(const char *s);

/* url as it may be kept and shown, appended to out: without the
 * user:password@ of its authority, nor the query parameters that carry
 * credentials (signature, token, access_token, X-Amz-Signature, ...). */
struct buf;
void http_url_public(const char *url, struct buf *out);

/* Fetch g->url, handing the body to g->write.  A redirect to another
 * protocol is CERR_USAGE; more than 10 redirects CERR_UNREACHABLE. */
int http_fetch(const struct http_get *g, struct cerr *err);

#endif
