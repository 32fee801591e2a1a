/*
 * mono.h - core: waiting by the monotonic clock, which no change of the
 * wall clock moves: condition variables that time out by it, deadlines
 * some milliseconds from now, the time left until one, and sleeps (the
 * polls of cvm wait and cimg wait).  Header only.
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

/* Milliseconds from now until monotonic time t (negative once past). */
static inline long long
mono_ms_left(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(t->tv_sec - now.tv_sec) * 1000 +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Sleep ms milliseconds, the whole of them whatever signals come. */
static inline void
mono_sleep_ms(long long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0)
		;
}

#endif
