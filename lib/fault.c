/*
 * fault.c - core: fault injection.  Includes only the C library.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "compat.h"

void
fault_point(const char *name)
{
	const char *want = getenv("CLOUDOS_FAULT");

	if (want && strcmp(want, name) == 0)
		_exit(137);
}
