/*
 * digest.h - adapter: SHA-256 over OpenSSL's libcrypto (which uses the
 * CPU's SHA instructions) and XXH3-128 over libxxhash (a non-cryptographic
 * checksum many times faster than a copy, which every image gets).  The
 * only module that includes <openssl/...> or <xxhash.h>.
 *
 * digest_new gives a struct digest freed with digest_free (NULL is fine).
 */
#ifndef CLOUDOS_DIGEST_H
#define CLOUDOS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

struct digest;

int digest_new(struct digest **out, struct cerr *err);
/* A digest by algorithm: "SHA256", "SHA1" (for OVF manifests) or
 * "XXH128" (the images' checksum). */
int digest_new_algo(struct digest **out, const char *algo,
    struct cerr *err);
void digest_update(struct digest *d, const void *data, size_t n);
/* The digest as lowercase hex digits (64 for SHA256, 40 for SHA1, 32
 * for XXH128) and
 * a NUL; the digest is finished. */
void digest_hex(struct digest *d, char hex[65]);
void digest_free(struct digest *d);

/* True when s is 64 hex digits (either case). */
bool digest_valid_hex(const char *s);

#endif
