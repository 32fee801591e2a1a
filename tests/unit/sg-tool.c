/*
 * sg-tool - a test driver for the library calls that VM deploys make
 * (secgroup_nic_filter, secgroup_nic_forget), until NICs come with cvm:
 *
 *   sg-tool URI filter NIC-ID    define the NIC's filters on host URI and
 *                                print the filter its <filterref> names
 *   sg-tool URI forget NIC-ID    undefine the NIC's filter on host URI
 *
 * The catalog is $CLOUDOS_CATALOG.  Errors: "sg-tool: message" and the
 * contract's exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "catalog.h"
#include "hv.h"
#include "secgroup.h"
#include "valid.h"
#include "compat.h"

int
main(int argc, char **argv)
{
	struct ctx ctx = { .prog = "sg-tool" };
	struct cerr err = { 0 };
	struct hv *hv = NULL;
	const char *path = getenv("CLOUDOS_CATALOG");
	char name[128];
	long long nic;

	if (argc != 4 || path == NULL || !valid_id(argv[3], &nic) ||
	    (strcmp(argv[2], "filter") != 0 &&
	    strcmp(argv[2], "forget") != 0)) {
		fprintf(stderr, "usage: sg-tool URI filter|forget NIC-ID "
		    "(with CLOUDOS_CATALOG set)\n");
		return 2;
	}
	if (catalog_open(path, CATALOG_NOCREATE, &ctx.cat, &err) == 0 &&
	    acct_identify(ctx.cat, getuid(), NULL, &ctx.who, &err) == 0 &&
	    hv_connect(argv[1], &hv, &err) == 0) {
		if (strcmp(argv[2], "filter") == 0) {
			if (secgroup_nic_filter(&ctx, hv, nic, name,
			    sizeof(name), &err) == 0)
				printf("%s\n", name);
		} else {
			secgroup_nic_forget(&ctx, hv, nic, &err);
		}
	}
	hv_close(hv);
	catalog_close(ctx.cat);
	if (err.code)
		fprintf(stderr, "sg-tool: %s\n", err.msg);
	return err.code;
}
