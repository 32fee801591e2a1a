/*
 * hv-net.c - adapter: virtual networks and network filters over libvirt
 * (virsh's net and nwfilter commands).
 */
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "buf.h"
#include "fault.h"
#include "hv.h"
#include "hv-int.h"
#include "compat.h"

/*
 * Network filters (nwfilter).  A filter keeps its UUID across
 * redefinitions: libvirt refuses a definition of an existing name under
 * another UUID, so the one it has goes into the new XML.
 */
int
hv_nwfilter_define(struct hv *hv, const char *name, const char *xml,
    struct cerr *err)
{
	virNWFilterPtr f;
	struct buf doc = BUF_INIT;
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *gt = strchr(xml, '>');

	if (strncmp(xml, "<filter", 7) != 0 || gt == NULL)
		return cerr_set(err, CERR_FAIL, "cannot define network filter "
		    "'%s': not a <filter> document", name);
	if ((f = virNWFilterLookupByName(hv->conn, name)) != NULL) {
		if (virNWFilterGetUUIDString(f, uuid) < 0) {
			virNWFilterFree(f);
			return hv_fail(hv, err, "cannot read network filter "
			    "'%s'", name);
		}
		virNWFilterFree(f);
		buf_add(&doc, xml, (size_t)(gt - xml) + 1);
		buf_printf(&doc, "<uuid>%s</uuid>", uuid);
		buf_puts(&doc, gt + 1);
	} else if (hv_last_error_is(VIR_ERR_NO_NWFILTER)) {
		buf_puts(&doc, xml);
	} else {
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	}
	f = virNWFilterDefineXML(hv->conn, doc.s);
	buf_release(&doc);
	if (f == NULL)
		return hv_fail(hv, err, "cannot define network filter '%s'",
		    name);
	virNWFilterFree(f);
	return 0;
}

int
hv_nwfilter_undefine(struct hv *hv, const char *name, struct cerr *err)
{
	virNWFilterPtr f = virNWFilterLookupByName(hv->conn, name);
	int rc = 0;

	if (f == NULL) {
		/* none of that name, or a driver that keeps none */
		if (hv_last_error_is(VIR_ERR_NO_NWFILTER) ||
		    hv_last_error_is(VIR_ERR_NO_SUPPORT)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	}
	if (virNWFilterUndefine(f) < 0)
		rc = hv_fail(hv, err, "cannot undefine network filter '%s'",
		    name);
	virNWFilterFree(f);
	return rc;
}

int
hv_nwfilters(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	virNWFilterPtr *fs = NULL;
	int n, i;

	if ((n = virConnectListAllNWFilters(hv->conn, &fs, 0)) < 0)
		return hv_fail(hv, err, "cannot list network filters");
	for (i = 0; i < n; i++) {
		each(arg, virNWFilterGetName(fs[i]));
		virNWFilterFree(fs[i]);
	}
	free(fs);
	return 0;
}

int
hv_nwfilter_xml(struct hv *hv, const char *name, char **xml,
    struct cerr *err)
{
	virNWFilterPtr f = virNWFilterLookupByName(hv->conn, name);

	if (f == NULL && hv_last_error_is(VIR_ERR_NO_SUPPORT)) {
		/* a driver without filters (libvirt's test driver) has none */
		virResetLastError();
		return cerr_set(err, CERR_NOTFOUND, "host '%s' keeps no network "
		    "filters", hv->uri);
	}
	if (f == NULL)
		return hv_fail(hv, err, "cannot look up network filter '%s'",
		    name);
	*xml = virNWFilterGetXMLDesc(f, 0);
	virNWFilterFree(f);
	if (*xml == NULL)
		return hv_fail(hv, err, "cannot read network filter '%s'",
		    name);
	return 0;
}

int
hv_net_ensure(struct hv *hv, const char *name, const char *xml,
    struct cerr *err)
{
	virNetworkPtr net = virNetworkLookupByName(hv->conn, name);
	struct cerr defined = { 0 };
	int active, autostart = 0, rc = 0;

	if (net == NULL) {
		if (!hv_last_error_is(VIR_ERR_NO_NETWORK))
			return hv_fail(hv, err, "cannot look up network '%s' "
			    "on '%s'", name, hv->uri);
		virResetLastError();
		net = virNetworkDefineXML(hv->conn, xml);
		if (net == NULL) {
			/* another command may have defined it meanwhile */
			hv_fail(hv, &defined, "cannot define network '%s' on "
			    "'%s'", name, hv->uri);
			net = virNetworkLookupByName(hv->conn, name);
			if (net == NULL) {
				virResetLastError();
				return cerr_set(err, defined.code, "%s",
				    defined.msg);
			}
		}
		fault_point("hv.network");
	}
	if ((active = virNetworkIsActive(net)) == 0) {
		/* libvirt's error read before the next call resets it;
		 * another command may have started it meanwhile */
		if (virNetworkCreate(net) < 0) {
			struct cerr started = { 0 };

			hv_fail(hv, &started, "cannot start network '%s' on "
			    "'%s'", name, hv->uri);
			if (virNetworkIsActive(net) != 1) {
				rc = cerr_set(err, started.code, "%s",
				    started.msg);
				goto out;
			}
		}
		virResetLastError();
	} else if (active < 0) {
		rc = hv_fail(hv, err, "cannot read network '%s' on '%s'", name,
		    hv->uri);
		goto out;
	}
	if (virNetworkGetAutostart(net, &autostart) < 0 ||
	    (!autostart && virNetworkSetAutostart(net, 1) < 0))
		rc = hv_fail(hv, err, "cannot make network '%s' start with "
		    "'%s'", name, hv->uri);
out:
	virNetworkFree(net);
	return rc;
}

int
hv_net_remove(struct hv *hv, const char *name, struct cerr *err)
{
	virNetworkPtr net = virNetworkLookupByName(hv->conn, name);
	int rc = 0;

	if (net == NULL) {
		if (hv_last_error_is(VIR_ERR_NO_NETWORK)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up network '%s' on '%s'",
		    name, hv->uri);
	}
	if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0) {
		struct cerr stopped = { 0 };

		/* as for the start: read libvirt's error first */
		hv_fail(hv, &stopped, "cannot stop network '%s' on '%s'", name,
		    hv->uri);
		if (virNetworkIsActive(net) == 1) {
			rc = cerr_set(err, stopped.code, "%s", stopped.msg);
			goto out;
		}
	}
	virResetLastError();
	if (virNetworkUndefine(net) < 0 &&
	    !hv_last_error_is(VIR_ERR_NO_NETWORK))
		rc = hv_fail(hv, err, "cannot undefine network '%s' on '%s'",
		    name, hv->uri);
	virResetLastError();
out:
	virNetworkFree(net);
	return rc;
}
