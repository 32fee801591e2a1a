/*
 * rows.c - service helper: catalog rows as documents.
 */
#include "catalog.h"
#include "rows.h"
#include "compat.h"

int
rows_emit(struct ctx *ctx, struct cstmt *st,
    struct doc *(*mk)(struct cstmt *), emit_fn emit, struct cerr *err)
{
	while (cstmt_row(st, err)) {
		struct doc *d = mk(st);
		int rc = emit(ctx, d, err);

		doc_free(d);
		if (rc)
			break;
	}
	return err->code;
}
