/*
 * valid.h - engine: checks on user strings shared by every service.  Pure.
 */
#ifndef CLOUDOS_VALID_H
#define CLOUDOS_VALID_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

#define NAME_MAX_LEN 128

/* An object name: 1 to 128 bytes of valid UTF-8, no control characters,
 * no leading or trailing space, not starting with '-' (it would read as an
 * option) and not all digits (it would read as an id).  Quotes, angle
 * brackets and ampersands are allowed: names are stored verbatim and
 * escaped wherever they go.  kind names the object in the message. */
int valid_name(const char *kind, const char *name, struct cerr *err);

/* Is s valid UTF-8 of n bytes? */
bool valid_utf8(const char *s, size_t n);

/* Is s all decimal digits (an id)?  Sets *id when it is and fits. */
bool valid_id(const char *s, long long *id);

/* A label key: [A-Za-z0-9._/-], 1 to 63 bytes, starting alphanumeric. */
int valid_label_key(const char *key, struct cerr *err);

#endif
