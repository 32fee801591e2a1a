#ifndef CLOUDOS_HV_INT_H
#define CLOUDOS_HV_INT_H

#include <libvirt/libvirt.h>

#include "cerr.h"

struct hv {
	virConnectPtr conn;
	char *uri;
};

extern int hv_loop_runs;

int hv_fail(struct hv *hv, struct cerr *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int last_error_is(int code);

#endif
