/*
 * digest.h - adapter: SHA-256 over OpenSSL's libcrypto (which uses the
 * CPU's SHA instructions, so hashing keeps up with a copy).  The only
 * module that includes <openssl/...>.
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
void digest_update(struct digest *d, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. */
void digest_hex(struct digest *d, char hex[65]);
void digest_free(struct digest *d);

/* True when s is 64 hex digits (either case). */
bool digest_valid_hex(const char *s);

#endif
