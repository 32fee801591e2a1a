/*
 * rows.h - service helper: catalog rows handed out as documents, one at
 * a time, to whoever prints or collects them.
 */
#ifndef CLOUDOS_ROWS_H
#define CLOUDOS_ROWS_H

#include "cerr.h"
#include "ctx.h"
#include "doc.h"

struct cstmt;

/* Where documents go: printed by a face, collected by a caller. */
typedef int (*emit_fn)(struct ctx *, const struct doc *, struct cerr *);

/* Pass every remaining row of st, made a document by mk, to emit (the
 * document is freed after); stops at the first emit that fails.  st
 * stays the caller's to free. */
int rows_emit(struct ctx *ctx, struct cstmt *st,
    struct doc *(*mk)(struct cstmt *), emit_fn emit, struct cerr *err);

#endif
