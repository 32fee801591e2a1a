/*
 * valid.h - engine: checks on user strings shared by every service.  Pure.
 */
#ifndef CLOUDOS_VALID_H
#define CLOUDOS_VALID_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

#define NAME_MAX_LEN 128
/* The longest description of any kind (images, security groups), bytes. */
#define DESC_MAX_LEN 4096
/* The most vCPUs a VM may have, and so an image may suggest. */
#define VM_MAX_CPU 1024

/* An object name: 1 to 128 bytes of valid UTF-8, no control or format
 * characters (Unicode Cc and Cf, such as ESC or U+202E, and the line and
 * paragraph separators), no leading or trailing space, not starting with
 * '-' (it would read as an option) and not all digits, however many (it
 * would read as an id).  Quotes, angle brackets and ampersands are
 * allowed: names are stored verbatim and escaped wherever they go.  kind
 * names the object in the message. */
int valid_name(const char *kind, const char *name, struct cerr *err);

/* A description: at most DESC_MAX_LEN bytes of UTF-8 text, lines and
 * tabs but no other control character.  The one check and message of
 * every kind that has one. */
int valid_description(const char *s, struct cerr *err);

/* The same for another free-text field, named in the message. */
int valid_text(const char *field, const char *s, struct cerr *err);

/* Is s valid UTF-8 of n bytes? */
bool valid_utf8(const char *s, size_t n);

/* The length (1 to 4) of the valid UTF-8 character at s (n bytes left),
 * its code point in *cp; 0 when the bytes there are not one. */
size_t valid_utf8_char(const char *s, size_t n, unsigned long *cp);

/* Is code point cp a control or format character (Unicode Cc or Cf, or
 * U+2028/U+2029), which can recolour a terminal, reorder or hide text or
 * break a line? */
bool valid_invisible(unsigned long cp);

/* Is s all decimal digits (an id)?  Sets *id when it is and fits. */
bool valid_id(const char *s, long long *id);

/* A label key: [A-Za-z0-9._/-], 1 to 63 bytes, starting alphanumeric. */
int valid_label_key(const char *key, struct cerr *err);

/* Which of names[0..n-1] (canonical, lowercase) text is, matched without
 * regard to ASCII case: its index in *index, so the caller stores the
 * canonical name.  Otherwise CERR_USAGE, "unknown WHAT 'TEXT' (expected
 * one of: a, b, c)"; a NULL text is unknown too.  The one check and
 * message of every enumeration users type: states, policies,
 * visibilities, modes. */
int valid_enum(const char *text, const char *const names[], size_t n,
    size_t *index, const char *what, struct cerr *err);

#endif
