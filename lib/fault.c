/*
 * fault.c - core: fault injection.  Includes only the C library.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "compat.h"

/* 1 when CLOUDOS_FAULT names point name, 2 when it names it with ":stop" */
static int
fault_want(const char *name)
{
	const char *want = getenv("CLOUDOS_FAULT");
	size_t n = strlen(name);

	if (want == NULL || strncmp(want, name, n) != 0)
		return 0;
	return want[n] == '\0' ? 1 : strcmp(want + n, ":stop") == 0 ? 2 : 0;
}

int
fault_armed(const char *name)
{
	return fault_want(name) != 0;
}

void
fault_point(const char *name)
{
	switch (fault_want(name)) {
	case 1:
		_exit(137);
	case 2:
		raise(SIGSTOP);
		break;
	default:
		break;
	}
}
