/*
 * digest.c - adapter: SHA-256 over libcrypto, XXH3-128 over libxxhash.
 * Includes <openssl/evp.h> and <xxhash.h>.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "digest.h"
#include "compat.h"

struct digest {
	EVP_MD_CTX *md;		/* SHA256, SHA1 */
	XXH3_state_t *xx;	/* XXH128 */
};

int
digest_new_algo(struct digest **out, const char *algo, struct cerr *err)
{
	struct digest *d = calloc(1, sizeof(*d));
	const EVP_MD *md = strcasecmp(algo, "SHA1") == 0 ? EVP_sha1() :
	    EVP_sha256();

	if (d != NULL && strcasecmp(algo, "XXH128") == 0) {
		if ((d->xx = XXH3_createState()) == NULL ||
		    XXH3_128bits_reset(d->xx) != XXH_OK) {
			digest_free(d);
			return cerr_set(err, CERR_FAIL, "cannot start a %s "
			    "digest", algo);
		}
		*out = d;
		return 0;
	}
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
	if (d->xx)
		(void)XXH3_128bits_update(d->xx, data, n);
	else
		EVP_DigestUpdate(d->md, data, n);
}

void
digest_hex(struct digest *d, char hex[65])
{
	static const char xd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (d->xx) {
		/* canonical (big-endian) bytes, as xxhsum -H2 prints them */
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(d->xx));
		memcpy(md, c.digest, sizeof(c.digest));
		n = sizeof(c.digest);
	} else
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
	if (d->xx)
		XXH3_freeState(d->xx);
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
