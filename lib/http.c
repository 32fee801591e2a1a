/*
 * http.c - adapter: downloads over libcurl.  Includes <curl/curl.h>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "config.h"

#include "buf.h"
#include "http.h"
#include "compat.h"

struct xfer {
	const struct http_get *g;
	CURL *c;
	bool begun;
	long long range_total;	/* the N of a 416's Content-Range, or -1 */
	struct cerr *err;	/* set by the callbacks */
};

bool
http_is_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0;
}

/* Query parameters that carry credentials: presigned URLs of S3 (v2 and
 * v4), Google Cloud Storage and Azure, OAuth bearer tokens, API keys. */
static const char *const secret_params[] = {
	"access_token", "api_key", "apikey", "auth", "awsaccesskeyid",
	"password", "secret", "sig", "signature", "token",
	"x-amz-credential", "x-amz-security-token", "x-amz-signature",
	"x-goog-credential", "x-goog-signature",
};

static bool
secret_param(const char *p, size_t n)
{
	size_t i, k = 0;

	while (k < n && p[k] != '=')
		k++;
	for (i = 0; i < ARRAY_SIZE(secret_params); i++)
		if (strlen(secret_params[i]) == k &&
		    strncasecmp(p, secret_params[i], k) == 0)
			return true;
	return false;
}

void
http_url_public(const char *url, struct buf *out)
{
	const char *p = strstr(url, "://"), *auth, *end, *at, *q, *amp;
	bool first = true;

	if (p == NULL) {
		buf_puts(out, url);
		return;
	}
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	buf_add(out, url, (size_t)(auth - url));
	/* user:password@host: the host only */
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	buf_add(out, at, (size_t)(end - at));
	q = end + strcspn(end, "?#");
	buf_add(out, end, (size_t)(q - end));
	if (*q == '?') {
		for (p = q + 1; *p && *p != '#'; p = *amp == '&' ? amp + 1 :
		    amp) {
			amp = p + strcspn(p, "&#");
			if (amp == p || secret_param(p, (size_t)(amp - p)))
				continue;
			buf_puts(out, first ? "?" : "&");
			buf_add(out, p, (size_t)(amp - p));
			first = false;
		}
		q = p;
	}
	buf_puts(out, q);
}

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (!x->begun) {
		long status = 0;
		curl_off_t len = -1;
		unsigned long long total = 0;

		x->begun = true;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
		    &len);
		if (len >= 0)
			total = (unsigned long long)len +
			    (status == 206 ? x->g->offset : 0);
		if (x->g->begin && x->g->begin(x->g->arg, status, total,
		    x->err))
			return 0;
	}
	if (x->g->write(x->g->arg, p, n, x->err))
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "content-range: bytes */";
	struct xfer *x = arg;
	size_t n = size * nmemb;
	char num[32];
	char *end;
	long long v;

	if (n > sizeof(name) - 1 && n - (sizeof(name) - 1) < sizeof(num) &&
	    strncasecmp(p, name, sizeof(name) - 1) == 0) {
		memcpy(num, p + sizeof(name) - 1, n - (sizeof(name) - 1));
		num[n - (sizeof(name) - 1)] = '\0';
		v = strtoll(num, &end, 10);
		if (end != num && v >= 0)
			x->range_total = v;
	}
	return n;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;

	(void)ultotal;
	(void)ulnow;
	if (x->g->progress && dlnow > 0)
		x->g->progress(x->g->arg, (unsigned long long)dlnow +
		    x->g->offset, dltotal > 0 ? (unsigned long long)dltotal +
		    x->g->offset : 0);
	return 0;
}

static int
http_error_at(CURLcode rc, long status, const char *url, const char *detail,
    struct cerr *err)
{
	const char *why = detail[0] ? detail : curl_easy_strerror(rc);

	if (rc == CURLE_HTTP_RETURNED_ERROR)
		return cerr_set(err, status == 404 || status == 410 ?
		    CERR_NOTFOUND : status == 401 || status == 403 ?
		    CERR_PERM : CERR_FAIL, "cannot fetch '%s': HTTP status "
		    "%ld", url, status);
	/* followed redirects: only http and https are spoken, and no
	 * more than 10 are taken */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		return cerr_set(err, CERR_USAGE, "cannot fetch '%s': it "
		    "leads to a protocol other than http and https (%s)",
		    url, why);
	if (rc == CURLE_TOO_MANY_REDIRECTS)
		return cerr_set(err, CERR_UNREACHABLE, "cannot fetch '%s': "
		    "too many redirects (%s)", url, why);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return cerr_set(err, CERR_UNREACHABLE, "cannot fetch '%s': "
		    "the transfer stalled (%s)", url, why);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
	    rc == CURLE_PARTIAL_FILE || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
		return cerr_set(err, CERR_UNREACHABLE, "cannot fetch '%s': "
		    "%s", url, why);
	return cerr_set(err, CERR_FAIL, "cannot fetch '%s': %s", url, why);
}

/* The error of a transfer, naming its URL without credentials (as it is
 * stored and shown: http_url_public). */
static int
http_error(CURLcode rc, long status, const struct http_get *g,
    const char *detail, struct cerr *err)
{
	struct buf pub = BUF_INIT;

	http_url_public(g->url, &pub);
	http_error_at(rc, status, pub.s, detail, err);
	buf_release(&pub);
	return err->code;
}

int
http_fetch(const struct http_get *g, struct cerr *err)
{
	static bool inited;
	struct xfer x = { .g = g, .err = err, .range_total = -1 };
	char errbuf[CURL_ERROR_SIZE] = "", range[32];
	long status = 0;
	CURLcode rc;

	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return cerr_set(err, CERR_FAIL, "cannot start libcurl");
		inited = true;
	}
	x.c = curl_easy_init();
	if (x.c == NULL)
		return cerr_set(err, CERR_FAIL, "cannot start libcurl");
	curl_easy_setopt(x.c, CURLOPT_URL, g->url);
	curl_easy_setopt(x.c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(x.c, CURLOPT_MAXREDIRS, 10L);
	/* the defaults, said out loud: never an insecure transfer */
	curl_easy_setopt(x.c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x.c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(x.c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(x.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.c, CURLOPT_CONNECTTIMEOUT, g->connect_timeout);
	curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_TIME, g->stall_timeout);
	curl_easy_setopt(x.c, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(x.c, CURLOPT_USERAGENT, "cloudos-cimg/" VERSION);
	curl_easy_setopt(x.c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x.c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x.c, CURLOPT_HEADERDATA, &x);
	if (g->progress) {
		curl_easy_setopt(x.c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(x.c, CURLOPT_XFERINFODATA, &x);
		curl_easy_setopt(x.c, CURLOPT_NOPROGRESS, 0L);
	}
	if (g->offset > 0) {
		snprintf(range, sizeof(range), "%llu-", g->offset);
		curl_easy_setopt(x.c, CURLOPT_RANGE, range);
	}
	rc = curl_easy_perform(x.c);
	curl_easy_getinfo(x.c, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && !x.begun && g->begin)
		/* an empty body: still a beginning */
		g->begin(g->arg, status, 0, err);
	curl_easy_cleanup(x.c);
	if (err->code)
		return err->code;	/* a callback's own error */
	/* a resume of a file that had all its bytes already: the server
	 * says the range starts at its end */
	if (rc == CURLE_HTTP_RETURNED_ERROR && status == 416 &&
	    g->offset > 0 && x.range_total >= 0 &&
	    (unsigned long long)x.range_total == g->offset)
		return 0;
	if (rc != CURLE_OK)
		return http_error(rc, status, g, errbuf, err);
	return 0;
}
