/*
 * cvol - datastores and volumes: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd cvol_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cvol = {
	.name = "cvol",
	.summary = "cvol manages datastores (libvirt storage pools) and volumes.",
	.kind = "Volume",
	.more = "Not built yet: datastores and volumes arrive with their own issue.",
	.cmds = cvol_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&cvol, argc, argv);
}
