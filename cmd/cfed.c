/*
 * cfed - zones and federation: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd cfed_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cfed = {
	.name = "cfed",
	.summary = "cfed manages zones and federation: remote zones over HTTP, aggregation,\nbursting, and a zone's HTTP API.",
	.kind = "Zone",
	.more = "Not built yet: zones and federation arrive with their own issue.",
	.cmds = cfed_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&cfed, argc, argv);
}
