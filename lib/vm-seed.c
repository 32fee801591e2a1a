/*
 * vm-seed.c - service: a VM's cloud-init seed.  The ISO built from its
 * document's context and its NICs' addresses, kept as a volume beside its
 * domain on its host, and renewed when what it holds changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"
#include "iso.h"
#include "net.h"
#include "seed.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "yml.h"
#include "compat.h"

/* Seeds.  A VM's seed is the volume UUID-seed.iso in the pool of the host
 * that has its domain, so a reconcile pass can tell whose it is. */

static void
vm_seed_vol(const char *uuid, char out[64])
{
	snprintf(out, 64, "%s" VM_SEED_SUFFIX, uuid);
}

/* The seed image of r, or *iso = NULL when r has neither a context nor
 * NICs.  Its network-config gives the NICs' leased addresses. */
static int
vm_seed_image(struct ctx *ctx, const struct vmrow *r, void **iso,
    size_t *len, struct cerr *err)
{
	struct doclist dl = { 0 };
	struct seed_context c = { 0 };
	struct seed_files f = { 0 };
	struct seed_vm vm = { .uuid = r->uuid, .name = r->name, .context = &c };
	struct seed_addr *addrs = NULL;
	struct net_nic *nics = NULL;
	struct iso_file files[3];
	size_t n = 0, nnics = 0, i;
	int has = 0;

	*iso = NULL;
	*len = 0;
	if (r->spec == NULL)
		return 0;
	if (yml_read("spec", r->spec, strlen(r->spec), &dl, err) ||
	    dl.n != 1 ||
	    seed_context_from_doc(doc_map_get(dl.v[0], "context"), &c, &has,
	    err)) {
		cerr_clear(err);
		cerr_set(err, CERR_FAIL, "the stored document of vm '%s' is "
		    "unreadable", r->name);
		cerr_wrap(err, "cannot make the seed of vm '%s'", r->name);
		goto out;
	}
	if (net_vm_nics(ctx, r->id, &nics, &nnics, err))
		goto out;
	/* NICs alone make a seed, but not on libvirt's test driver, which
	 * cannot take volume uploads (a context there fails as before) */
	if (!has && (nnics == 0 || (r->domain_type &&
	    strcmp(r->domain_type, "test") == 0)))
		goto out;
	addrs = xcalloc(nnics + 1, sizeof(*addrs));
	for (i = 0; i < nnics; i++) {
		if (nics[i].addr4 == NULL && nics[i].addr6 == NULL)
			continue;
		addrs[vm.naddrs].mac = nics[i].mac;
		addrs[vm.naddrs].address = nics[i].addr4;
		addrs[vm.naddrs].gateway = nics[i].gw4;
		addrs[vm.naddrs].address6 = nics[i].addr6;
		addrs[vm.naddrs].gateway6 = nics[i].gw6;
		addrs[vm.naddrs].dns = (const char *const *)nics[i].dns;
		addrs[vm.naddrs].nic = nics[i].idx;
		vm.naddrs++;
	}
	vm.addrs = addrs;
	seed_build(&vm, &f);
	files[n++] = (struct iso_file){ "meta-data", f.meta_data,
	    strlen(f.meta_data) };
	files[n++] = (struct iso_file){ "user-data", f.user_data,
	    strlen(f.user_data) };
	if (f.network_config)
		files[n++] = (struct iso_file){ "network-config",
		    f.network_config, strlen(f.network_config) };
	if (iso_build("cidata", files, n, iso, len, err))
		cerr_wrap(err, "cannot make the seed of vm '%s'", r->name);
out:
	free(addrs);
	net_nics_free(nics, nnics);
	seed_files_release(&f);
	seed_context_release(&c);
	doclist_release(&dl);
	return err->code;
}

/* Put r's seed on hv; *path is where the host keeps it (the caller's to
 * free), NULL when r has no seed. */
int
vm_seed_upload(struct ctx *ctx, struct hv *hv, const struct vmrow *r,
    char **path, struct cerr *err)
{
	char vol[64];
	void *iso = NULL;
	size_t len;

	*path = NULL;
	vm_seed_vol(r->uuid, vol);
	if (vm_seed_image(ctx, r, &iso, &len, err) == 0 && iso)
		hv_vol_upload(hv, vol, iso, len, path, err);
	free(iso);
	return err->code;
}

/* Remove r's seed from hv, if it is there. */
int
vm_seed_delete(struct hv *hv, const char *uuid, struct cerr *err)
{
	char vol[64];

	vm_seed_vol(uuid, vol);
	return hv_vol_delete(hv, vol, err);
}

int
vm_reseed(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct hv *hv = NULL;
	char *path = NULL;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (vm_reconcile_transitional(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot renew the seed of vm '%s': "
		    "it is %s", r.name, vm_state_name(r.state));
		goto out;
	}
	if (r.host_id == 0 || r.state == VM_STATE_STOPPED)
		goto out;
	if (hv_connect(r.uri, &hv, err) == 0 &&
	    vm_seed_upload(ctx, hv, &r, &path, err))
		cerr_wrap(err, "cannot renew the seed of vm '%s' on host '%s'",
		    r.name, r.host);
out:
	free(path);
	hv_close(hv);
	vm_row_release(&r);
	return err->code;
}
