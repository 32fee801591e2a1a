/*
 * csched - placement: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd csched_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog csched = {
	.name = "csched",
	.summary = "csched places pending VMs on hosts: dispatch, rebalancing, affinity groups,\nHA recovery and elasticity passes.",
	.kind = "Placement",
	.more = "Not built yet: the placement engine, 'csched pass', plan/apply and affinity\ngroups arrive with their own issue.  Until then 'cvm create' places a VM on\nthe first enabled host with room.",
	.cmds = csched_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&csched, argc, argv);
}
