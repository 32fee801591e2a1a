/*
 * digest.c - adapter: SHA-256 over libcrypto.  Includes <openssl/evp.h>.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "digest.h"
#include "compat.h"

struct digest {
	EVP_MD_CTX *md;
};

int
digest_new_algo(struct digest **out, const char *algo, struct cerr *err)
{
	struct digest *d = calloc(1, sizeof(*d));
	const EVP_MD *md = strcasecmp(algo, "SHA1") == 0 ? EVP_sha1() :
	    EVP_sha256();

	if (d == NULL || (d->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->md, md, NULL) != 1) {
		digest_free(d);
		return cerr_set(err, CERR_FAIL, "cannot start a %s digest",
		    algo);
	}
	*out = d;
	return 0;
}

int
digest_new(struct digest **out, struct cerr *err)
{
	return digest_new_algo(out, "SHA256", err);
}

void
digest_update(struct digest *d, const void *data, size_t n)
{
	EVP_DigestUpdate(d->md, data, n);
}

void
digest_hex(struct digest *d, char hex[65])
{
	static const char xd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(d->md, md, &n);
	for (i = 0; i < n && i < 32; i++) {
		hex[2 * i] = xd[md[i] >> 4];
		hex[2 * i + 1] = xd[md[i] & 15];
	}
	hex[2 * i] = '\0';
}

void
digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->md);
	free(d);
}

bool
digest_valid_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == 64;
}
