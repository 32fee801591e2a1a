/*
 * cnet - virtual networks: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd cnet_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cnet = {
	.name = "cnet",
	.summary = "cnet manages virtual networks, address ranges, leases and security groups.",
	.kind = "Network",
	.more = "Not built yet: networks, leases and security groups arrive with their own\nissue.",
	.cmds = cnet_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&cnet, argc, argv);
}
