/*
 * vol-int.h - service: what lib/vol*.c share, and no one else.
 */
#ifndef CLOUDOS_VOL_INT_H
#define CLOUDOS_VOL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "vol.h"

/* vol.c */
void vol_pool_name(const char *name, char out[160]);
int vol_doc_str(const struct doc *d, const char *key, bool need,
    const char **out, const char *where, struct cerr *err);

/* vol-ds.c */
int vol_ds_id(struct ctx *ctx, const char *ref, long long *id, char **name,
    char **path, struct cerr *err);

#endif
