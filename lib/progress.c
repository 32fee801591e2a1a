/*
 * progress.c - face kit: the progress meter.  Writes stderr only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "compat.h"

static bool drawn;
static double started, last;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
progress_bytes(struct ctx *ctx, unsigned long long done,
    unsigned long long total)
{
	double t = now_s(), rate;

	if (ctx->quiet || !isatty(STDERR_FILENO))
		return;
	if (started == 0)
		started = t;
	if (drawn && t - last < 0.5 && (total == 0 || done < total))
		return;
	last = t;
	rate = t > started ? (double)done / (t - started) / 1048576.0 : 0;
	if (total > 0)
		fprintf(stderr, "\r%s: %3llu%% %llu of %llu MiB, %.1f MiB/s ",
		    ctx->prog, done * 100 / total, done >> 20, total >> 20,
		    rate);
	else
		fprintf(stderr, "\r%s: %llu MiB, %.1f MiB/s ", ctx->prog,
		    done >> 20, rate);
	drawn = true;
}

void
progress_end(struct ctx *ctx)
{
	(void)ctx;
	if (drawn)
		fputc('\n', stderr);
	drawn = false;
}
