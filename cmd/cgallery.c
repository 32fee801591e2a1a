/*
 * cgallery - the gallery: the face.  Its subcommands arrive with their own issue; until
 * then it has help and --version, and says what it will own.
 */
#include <stddef.h>

#include "cli.h"
#include "compat.h"

static const struct cmd cgallery_cmds[] = {
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cgallery = {
	.name = "cgallery",
	.summary = "cgallery manages gallery items (RESDEF, RESEXT and VIEWDEF packages), VM roles\ndeployed from them, and multitier services.",
	.kind = "GalleryItem",
	.more = "Not built yet: gallery items, roles and services arrive with their own issue.",
	.cmds = cgallery_cmds,
};

int
main(int argc, char **argv)
{
	return cli_main(&cgallery, argc, argv);
}
