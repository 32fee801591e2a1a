/*
 * labels.h - service helper: labels (a map of short keys to scalars),
 * stored in the catalog as a JSON object.
 */
#ifndef CLOUDOS_LABELS_H
#define CLOUDOS_LABELS_H

#include "buf.h"
#include "cerr.h"
#include "doc.h"

/* Check labels (NULL is none) and append them to json as a JSON object.
 * CERR_USAGE for a non-map, a bad key or a non-scalar value. */
int labels_to_json(const struct doc *labels, struct buf *json,
    struct cerr *err);

/* The stored JSON as a map (an empty map if json is NULL or unreadable);
 * the caller frees it. */
struct doc *labels_from_json(const char *json);

/* Parse "KEY=VALUE" strings (from --label) into a map the caller frees. */
int labels_from_args(const char *const *kv, size_t n, struct doc **out,
    struct cerr *err);

#endif
