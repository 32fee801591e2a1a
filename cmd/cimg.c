/*
 * cimg - images: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd cimg_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cimg = {
	.name = "cimg",
	.summary = "cimg manages the image repository.",
	.kind = "Image",
	.more = "Not built yet: the image repository arrives with its own issue.",
	.cmds = cimg_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&cimg, argc, argv);
}
