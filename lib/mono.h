/*
 * mono.h - core: waiting by the monotonic clock, which no change of the
 * wall clock moves: condition variables that time out by it, and
 * deadlines some milliseconds from now.  Header only.
 */
#ifndef CLOUDOS_MONO_H
#define CLOUDOS_MONO_H

#include <pthread.h>
#include <time.h>

/* Initialise cv so that pthread_cond_timedwait reads the monotonic
 * clock (as mono_after_ms gives deadlines). */
static inline void
mono_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* The monotonic time ms milliseconds from now. */
static inline struct timespec
mono_after_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

#endif
