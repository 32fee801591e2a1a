/*
 * hv-int.h - adapter: what the hv family shares (hv.c, hv-dom.c,
 * hv-pool.c, hv-net.c); only lib/hv*.c include it.
 */
#ifndef CLOUDOS_HV_INT_H
#define CLOUDOS_HV_INT_H

#include <libvirt/libvirt.h>

#include "cerr.h"

/* An open connection to one host's libvirt. */
struct hv {
	virConnectPtr conn;
	char *uri;
};

/* libvirt's event loop runs (hv.c starts it): keepalive and the console
 * work. */
extern int hv_loop_runs;

/* Translate libvirt's last error into err (its code first, then fmt's
 * words with libvirt's text), forget it, and return the code. */
int hv_fail(struct hv *hv, struct cerr *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Was libvirt's last error code?  Then forget it. */
int hv_last_error_is(int code);

#endif
