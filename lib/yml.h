/*
 * yml.h - adapter: documents in and out through libyaml.
 *
 * The only module that includes <yaml.h>.  Reads a YAML stream, JSON Lines
 * (or any concatenation of JSON objects, such as jq's pretty output) and JSON
 * arrays; writes one YAML document at a time.
 */
#ifndef CLOUDOS_YML_H
#define CLOUDOS_YML_H

#include <stddef.h>

#include "buf.h"
#include "cerr.h"
#include "doc.h"

/* Parse data (len bytes, named source in messages) into top-level
 * documents appended to out.  Every top-level document must be a map; a
 * top-level list contributes each of its items.  Returns 0 or CERR_USAGE
 * with "SOURCE: line N: problem" in err; out then holds nothing new. */
int yml_read(const char *source, const char *data, size_t len,
    struct doclist *out, struct cerr *err);

/* Append d to b as one YAML document (no "---" marker). */
int yml_write(struct buf *b, const struct doc *d, struct cerr *err);

/* Would s read back as something other than a string when written plain? */
int yml_needs_quotes(const char *s);

#endif
