/*
 * progress.h - face kit: a throttled progress meter on stderr, drawn only
 * when stderr is a terminal and the command is not -q, at most every
 * 500 ms (curl's meter).
 */
#ifndef CLOUDOS_PROGRESS_H
#define CLOUDOS_PROGRESS_H

#include "ctx.h"

/* Show done of total bytes (total 0: unknown). */
void progress_bytes(struct ctx *ctx, unsigned long long done,
    unsigned long long total);
/* End the meter's line, if one was drawn. */
void progress_end(struct ctx *ctx);

#endif
