/*
 * host-int.h - service: what lib/host*.c share, and no one else.
 */
#ifndef CLOUDOS_HOST_INT_H
#define CLOUDOS_HOST_INT_H

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "host.h"

/* host.c */
char *host_dup_or_null(const char *s);

#endif
