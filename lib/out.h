/*
 * out.h - face kit: the one output module every program prints through.
 *
 * yaml: a YAML stream, "---" between documents; json: JSON Lines, one
 * compact object per line; ids: one id per line; table: for people, columns
 * declared once per kind below.  Documents stream as they come except in
 * table mode, which needs every row to size its columns.
 *
 * out_new returns a struct out freed with out_free.  A write error is
 * CERR_FAIL; a reader that went away (EPIPE) sets out->gone and is not an
 * error: the caller stops producing output and exits 0.
 */
#ifndef CLOUDOS_OUT_H
#define CLOUDOS_OUT_H

#include <stdbool.h>
#include <stdio.h>

#include "cerr.h"
#include "doc.h"

enum out_fmt { OUT_TABLE, OUT_YAML, OUT_JSON, OUT_IDS };

struct out;

int out_parse_fmt(const char *s, enum out_fmt *fmt, struct cerr *err);
struct out *out_new(FILE *fp, enum out_fmt fmt);
/* Write (or, for tables, keep) one document; the caller keeps d. */
int out_doc(struct out *o, const struct doc *d, struct cerr *err);
/* Print pending table rows and flush.  Call at the end; a caller that
 * redraws (cvm list --watch) calls it once a frame, each frame's rows a
 * table of their own. */
int out_finish(struct out *o, struct cerr *err);
/* The format o writes. */
enum out_fmt out_format(const struct out *o);
/* Clear the terminal o writes to, for a frame drawn again from the top;
 * only for a terminal. */
int out_clear(struct out *o, struct cerr *err);
/* Did the reader go away? */
bool out_gone(const struct out *o);
void out_free(struct out *o);

#endif
