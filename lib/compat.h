/*
 * compat.h - core: included last by every .c file of cloudos.
 *
 * Poisons the C library calls the project never uses: unbounded string
 * copies, tokenizers with hidden state, atoi without error checking, and
 * shells.  Use buf_*, strtoll with checks, and the adapters instead.
 */
#ifndef CLOUDOS_COMPAT_H
#define CLOUDOS_COMPAT_H

#if defined(__GNUC__)
#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol system popen gets
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
