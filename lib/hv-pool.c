/*
 * hv-pool.c - adapter: storage pools and their volumes over libvirt:
 * datastores, the pool of domain files, uploads and copies between
 * hosts (virsh's pool and vol commands).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "buf.h"
#include "fault.h"
#include "hv.h"
#include "hv-int.h"
#include "xalloc.h"
#include "compat.h"

static int remove_vol(struct hv *hv, virStoragePoolPtr pool,
    const char *name, struct cerr *err);

/* Define, build, start and autostart the dir pool name at path, as far
 * as it is missing. */
static int
pool_ensure(struct hv *hv, const char *name, const char *path,
    struct cerr *err)
{
	struct buf xml = BUF_INIT;
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);
	struct cerr defined = { 0 };
	int active, autostart = 0, rc = 0;

	if (pool == NULL) {
		if (!hv_last_error_is(VIR_ERR_NO_STORAGE_POOL))
			return hv_fail(hv, err, "cannot look up storage pool "
			    "'%s' on '%s'", name, hv->uri);
		buf_puts(&xml, "<pool type='dir'>\n  <name>");
		buf_xml(&xml, name);
		buf_puts(&xml, "</name>\n  <target><path>");
		buf_xml(&xml, path);
		buf_puts(&xml, "</path></target>\n</pool>\n");
		pool = virStoragePoolDefineXML(hv->conn, xml.s, 0);
		buf_release(&xml);
		if (pool == NULL) {
			/* another command may have defined it meanwhile */
			hv_fail(hv, &defined, "cannot define storage pool '%s' "
			    "on '%s'", name, hv->uri);
			pool = virStoragePoolLookupByName(hv->conn, name);
			if (pool == NULL) {
				virResetLastError();
				return cerr_set(err, defined.code, "%s",
				    defined.msg);
			}
		}
		fault_point("hv.pool");
	}
	if ((active = virStoragePoolIsActive(pool)) == 0) {
		/* build makes the folder; one that exists is fine */
		if (virStoragePoolBuild(pool, 0) < 0)
			virResetLastError();
		if (virStoragePoolCreate(pool, 0) < 0 &&
		    virStoragePoolIsActive(pool) != 1) {
			rc = hv_fail(hv, err, "cannot start storage pool '%s' "
			    "on '%s'", name, hv->uri);
			goto out;
		}
		virResetLastError();
	} else if (active < 0) {
		rc = hv_fail(hv, err, "cannot read storage pool '%s' on '%s'",
		    name, hv->uri);
		goto out;
	}
	if (virStoragePoolGetAutostart(pool, &autostart) < 0 ||
	    (!autostart && virStoragePoolSetAutostart(pool, 1) < 0))
		rc = hv_fail(hv, err, "cannot make storage pool '%s' start "
		    "with '%s'", name, hv->uri);
out:
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pool_ensure(struct hv *hv, struct cerr *err)
{
	return pool_ensure(hv, HV_POOL, HV_POOL_PATH, err);
}

int
hv_pool_define(struct hv *hv, const char *name, const char *path,
    struct cerr *err)
{
	return pool_ensure(hv, name, path, err);
}

/* Pool name, or NULL with err set (CERR_NOTFOUND when missing). */
static virStoragePoolPtr
named_pool(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);

	if (pool == NULL)
		hv_fail(hv, err, "no storage pool '%s' on '%s'", name,
		    hv->uri);
	return pool;
}

int
hv_pool_undefine(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, name);
	int rc = 0;

	if (pool == NULL) {
		if (hv_last_error_is(VIR_ERR_NO_STORAGE_POOL)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up storage pool '%s' on "
		    "'%s'", name, hv->uri);
	}
	if (virStoragePoolIsActive(pool) == 1) {
		/* the folder goes when empty; one holding files stays */
		if (virStoragePoolDelete(pool, 0) < 0)
			virResetLastError();
		if (virStoragePoolDestroy(pool) < 0 &&
		    virStoragePoolIsActive(pool) == 1) {
			rc = hv_fail(hv, err, "cannot stop storage pool '%s' "
			    "on '%s'", name, hv->uri);
			goto out;
		}
	}
	virResetLastError();
	if (virStoragePoolUndefine(pool) < 0 &&
	    !hv_last_error_is(VIR_ERR_NO_STORAGE_POOL))
		rc = hv_fail(hv, err, "cannot undefine storage pool '%s' on "
		    "'%s'", name, hv->uri);
	virResetLastError();
out:
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pool_info(struct hv *hv, const char *name, struct hv_pool_info *pi,
    struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, name, err);
	virStoragePoolInfo info;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if (virStoragePoolRefresh(pool, 0) < 0)
		virResetLastError();
	if (virStoragePoolGetInfo(pool, &info) < 0) {
		rc = hv_fail(hv, err, "cannot read storage pool '%s' on '%s'",
		    name, hv->uri);
	} else {
		pi->active = info.state == VIR_STORAGE_POOL_RUNNING ||
		    info.state == VIR_STORAGE_POOL_DEGRADED;
		pi->capacity = (long long)(info.capacity >> 20);
		pi->allocation = (long long)(info.allocation >> 20);
		pi->available = (long long)(info.available >> 20);
	}
	virStoragePoolFree(pool);
	return rc;
}

/* Volume name of pool, or NULL with err set. */
static virStorageVolPtr
named_vol(struct hv *hv, virStoragePoolPtr pool, const char *pname,
    const char *name, struct cerr *err)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);

	if (vol == NULL)
		hv_fail(hv, err, "no volume '%s' in storage pool '%s' on '%s'",
		    name, pname, hv->uri);
	return vol;
}

/* Create the qcow2 volume name of size MiB in pool, on top of backing
 * (whose format is backing_fmt; NULL: qcow2) when not NULL.  With keep,
 * a volume of that name there already is kept; without, it is libvirt's
 * error.  The messages name the pool pname, unless it is NULL: the pool
 * of domain files, which the callers of hv_vol_create never name. */
static int
create_vol(struct hv *hv, virStoragePoolPtr pool, const char *pname,
    const char *name, long long size, const char *backing,
    const char *backing_fmt, int keep, char **path, struct cerr *err)
{
	virStorageVolPtr vol = NULL;
	struct buf xml = BUF_INIT;
	int rc = 0;

	if (keep && (vol = virStorageVolLookupByName(pool, name)) == NULL &&
	    !hv_last_error_is(VIR_ERR_NO_STORAGE_VOL))
		return hv_fail(hv, err, "cannot look up volume '%s' on '%s'",
		    name, hv->uri);
	if (vol == NULL) {
		buf_puts(&xml, "<volume>\n  <name>");
		buf_xml(&xml, name);
		buf_printf(&xml, "</name>\n  <capacity unit='MiB'>%lld"
		    "</capacity>\n  <target>\n    <format type='qcow2'/>\n"
		    "  </target>\n", size);
		if (backing) {
			buf_puts(&xml, "  <backingStore>\n    <path>");
			buf_xml(&xml, backing);
			buf_puts(&xml, "</path>\n    <format type='");
			buf_xml(&xml, backing_fmt ? backing_fmt : "qcow2");
			buf_puts(&xml, "'/>\n  </backingStore>\n");
		}
		buf_puts(&xml, "</volume>\n");
		if ((vol = virStorageVolCreateXML(pool, xml.s, 0)) == NULL) {
			rc = pname ? hv_fail(hv, err, "cannot create volume "
			    "'%s' in storage pool '%s' on '%s'", name, pname,
			    hv->uri) : hv_fail(hv, err, "cannot create volume "
			    "'%s' on '%s'", name, hv->uri);
			goto out;
		}
	}
	if (path && (*path = virStorageVolGetPath(vol)) == NULL)
		rc = hv_fail(hv, err, "cannot read the path of volume '%s' on "
		    "'%s'", name, hv->uri);
out:
	if (vol)
		virStorageVolFree(vol);
	buf_release(&xml);
	return rc;
}

int
hv_pvol_create(struct hv *hv, const char *pname, const char *name,
    long long size, const char *backing, const char *backing_fmt, char **path,
    struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	int rc;

	if (pool == NULL)
		return err->code;
	rc = create_vol(hv, pool, pname, name, size, backing, backing_fmt, 0,
	    path, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_path(struct hv *hv, const char *pname, const char *name,
    char **path, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr vol;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((vol = named_vol(hv, pool, pname, name, err)) == NULL) {
		rc = err->code;
	} else {
		if ((*path = virStorageVolGetPath(vol)) == NULL)
			rc = hv_fail(hv, err, "cannot read the path of volume "
			    "'%s' on '%s'", name, hv->uri);
		virStorageVolFree(vol);
	}
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_delete(struct hv *hv, const char *pname, const char *name,
    struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, pname);
	int rc;

	if (pool == NULL) {
		if (hv_last_error_is(VIR_ERR_NO_STORAGE_POOL)) {
			virResetLastError();
			return 0;
		}
		return hv_fail(hv, err, "cannot look up storage pool '%s' on "
		    "'%s'", pname, hv->uri);
	}
	rc = remove_vol(hv, pool, name, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_resize(struct hv *hv, const char *pname, const char *name,
    long long size, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr vol;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((vol = named_vol(hv, pool, pname, name, err)) == NULL) {
		rc = err->code;
	} else {
		if (virStorageVolResize(vol, (unsigned long long)size << 20,
		    0) < 0)
			rc = hv_fail(hv, err, "cannot resize volume '%s' on "
			    "'%s'", name, hv->uri);
		virStorageVolFree(vol);
	}
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvol_clone(struct hv *hv, const char *pname, const char *src,
    const char *name, struct cerr *err)
{
	virStoragePoolPtr pool = named_pool(hv, pname, err);
	virStorageVolPtr sv = NULL, dv = NULL;
	struct buf xml = BUF_INIT;
	int rc = 0;

	if (pool == NULL)
		return err->code;
	if ((sv = named_vol(hv, pool, pname, src, err)) == NULL) {
		rc = err->code;
		goto out;
	}
	buf_puts(&xml, "<volume>\n  <name>");
	buf_xml(&xml, name);
	buf_puts(&xml, "</name>\n  <capacity unit='bytes'>0</capacity>\n"
	    "  <target>\n    <format type='qcow2'/>\n  </target>\n"
	    "</volume>\n");
	if ((dv = virStorageVolCreateXMLFrom(pool, xml.s, sv, 0)) == NULL)
		rc = hv_fail(hv, err, "cannot clone volume '%s' into '%s' on "
		    "'%s'", src, name, hv->uri);
out:
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

/* Pool pname, or NULL: *missing tells a missing pool from an error. */
static virStoragePoolPtr
pool_named(struct hv *hv, const char *pname, int *missing, struct cerr *err)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(hv->conn, pname);

	*missing = 0;
	if (pool == NULL) {
		if (hv_last_error_is(VIR_ERR_NO_STORAGE_POOL))
			*missing = 1;
		else
			hv_fail(hv, err, "cannot look up storage pool '%s' on "
			    "'%s'", pname, hv->uri);
	}
	return pool;
}

/* The pool, or NULL: *missing tells a missing pool from an error. */
static virStoragePoolPtr
pool_lookup(struct hv *hv, int *missing, struct cerr *err)
{
	return pool_named(hv, HV_POOL, missing, err);
}

static int
remove_vol(struct hv *hv, virStoragePoolPtr pool, const char *name,
    struct cerr *err)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
	int rc = 0;

	if (vol == NULL) {
		if (hv_last_error_is(VIR_ERR_NO_STORAGE_VOL))
			return 0;
		return hv_fail(hv, err, "cannot look up volume '%s' on '%s'",
		    name, hv->uri);
	}
	if (virStorageVolDelete(vol, 0) < 0 &&
	    !hv_last_error_is(VIR_ERR_NO_STORAGE_VOL))
		rc = hv_fail(hv, err, "cannot delete volume '%s' on '%s'",
		    name, hv->uri);
	virStorageVolFree(vol);
	return rc;
}

int
hv_vol_upload(struct hv *hv, const char *name, const void *data,
    size_t len, char **path, struct cerr *err)
{
	size_t off = 0;
	ssize_t n;
	int fd = memfd_create("cloudos-upload", MFD_CLOEXEC);

	/* the bytes go the one way uploads go: from a file */
	if (fd < 0)
		return cerr_set(err, CERR_FAIL, "cannot upload volume '%s': "
		    "memfd_create: %s", name, strerror(errno));
	while (off < len) {
		n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cerr_set(err, CERR_FAIL, "cannot upload volume '%s': "
			    "%s", name, strerror(errno));
			close(fd);
			return err->code;
		}
		off += (size_t)n;
	}
	hv_vol_upload_fd(hv, name, fd, len, path, err);
	close(fd);
	return err->code;
}

/* Uploads look for zeros in blocks of this many bytes. */
#define ZERO_BLOCK 65536

static bool
all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The length of the run of whole zero blocks at p (0 when none). */
static ssize_t
zero_run(const char *p, ssize_t n)
{
	ssize_t r = 0;

	while (r < n) {
		size_t b = n - r < ZERO_BLOCK ? (size_t)(n - r) : ZERO_BLOCK;

		if (b < ZERO_BLOCK || !all_zero(p + r, b))
			break;
		r += (ssize_t)b;
	}
	return r;
}

/* The length of the data at p up to the next whole zero block. */
static ssize_t
data_run(const char *p, ssize_t n)
{
	ssize_t r = 0;

	while (r < n) {
		size_t b = n - r < ZERO_BLOCK ? (size_t)(n - r) : ZERO_BLOCK;

		if (r > 0 && b == ZERO_BLOCK && all_zero(p + r, b))
			break;
		r += (ssize_t)b;
	}
	return r;
}

int
hv_vol_upload_fd(struct hv *hv, const char *name, int fd,
    unsigned long long len, char **path, struct cerr *err)
{
	virStoragePoolPtr pool = NULL;
	virStorageVolPtr vol = NULL;
	virStreamPtr st = NULL;
	struct buf xml = BUF_INIT;
	unsigned long long off = 0;
	char *data = NULL, *p;
	int missing = 0, rc = 0, sent;
	ssize_t got, done;

	if (hv_pool_ensure(hv, err) ||
	    (pool = pool_lookup(hv, &missing, err)) == NULL) {
		if (missing)
			cerr_set(err, CERR_NOTFOUND, "storage pool '%s' "
			    "vanished from '%s'", HV_POOL, hv->uri);
		return err->code;
	}
	if (remove_vol(hv, pool, name, err))
		goto out;
	buf_puts(&xml, "<volume>\n  <name>");
	buf_xml(&xml, name);
	buf_printf(&xml, "</name>\n  <capacity unit='bytes'>%llu</capacity>\n"
	    "  <allocation>0</allocation>\n"
	    "  <target>\n    <format type='raw'/>\n"
	    "    <permissions><mode>0644</mode></permissions>\n"
	    "  </target>\n</volume>\n", len);
	if ((vol = virStorageVolCreateXML(pool, xml.s, 0)) == NULL) {
		rc = hv_fail(hv, err, "cannot create volume '%s' on '%s'",
		    name, hv->uri);
		goto out;
	}
	/* sparse: the file's holes travel as holes, and stay holes */
	if ((st = virStreamNew(hv->conn, 0)) == NULL ||
	    virStorageVolUpload(vol, st, 0, len,
	    VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0)
		goto fail;
	data = xmalloc(HV_UPLOAD_CHUNK);
	while (off < len) {
		size_t want = len - off < HV_UPLOAD_CHUNK ?
		    (size_t)(len - off) : HV_UPLOAD_CHUNK;
		off_t next = lseek(fd, (off_t)off, SEEK_DATA), end;

		if (next < 0 && errno == ENXIO)
			next = (off_t)len;	/* a hole to the end */
		else if (next < 0)
			next = (off_t)off;	/* no hole detection */
		if ((unsigned long long)next > off) {
			unsigned long long hole = ((unsigned long long)next >
			    len ? len : (unsigned long long)next) - off;

			if (virStreamSendHole(st, (long long)hole, 0) < 0)
				goto fail;
			off += hole;
			continue;
		}
		/* data up to the next hole */
		if ((end = lseek(fd, (off_t)off, SEEK_HOLE)) > (off_t)off &&
		    (unsigned long long)(end - (off_t)off) < want)
			want = (size_t)(end - (off_t)off);
		got = pread(fd, data, want, (off_t)off);
		if (got <= 0) {
			rc = cerr_set(err, CERR_FAIL, "cannot read the bytes "
			    "of volume '%s' at %llu: %s", name, off,
			    got < 0 ? strerror(errno) : "the file is shorter");
			goto abort;
		}
		/* runs of zeros go as holes too (the file need not be
		 * sparse itself), data as data */
		for (done = 0; done < got; ) {
			ssize_t run = zero_run(data + done, got - done);

			if (run > 0) {
				if (virStreamSendHole(st, (long long)run, 0) < 0)
					goto fail;
				done += run;
				continue;
			}
			run = data_run(data + done, got - done);
			while (run > 0) {
				if ((sent = virStreamSend(st, data + done,
				    (size_t)run)) < 0)
					goto fail;
				done += sent;
				run -= sent;
			}
		}
		off += (unsigned long long)got;
	}
	fault_point("hv.upload");
	if (virStreamFinish(st) < 0)
		goto fail;
	if (path) {
		if ((p = virStorageVolGetPath(vol)) == NULL) {
			rc = hv_fail(hv, err, "cannot read the path of volume "
			    "'%s' on '%s'", name, hv->uri);
			goto out;
		}
		*path = p;
	}
	goto out;
fail:
	rc = hv_fail(hv, err, "cannot upload volume '%s' to '%s'", name,
	    hv->uri);
abort:
	if (st && virStreamAbort(st) < 0)
		virResetLastError();
	if (virStorageVolDelete(vol, 0) < 0)
		virResetLastError();
out:
	free(data);
	if (st)
		virStreamFree(st);
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	buf_release(&xml);
	return rc;
}

int
hv_vol_path(struct hv *hv, const char *name, char **path, struct cerr *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr vol;
	int missing, rc = 0;

	if ((pool = pool_lookup(hv, &missing, err)) == NULL)
		return missing ? cerr_set(err, CERR_NOTFOUND, "no volume '%s' "
		    "on '%s' (no storage pool '%s')", name, hv->uri, HV_POOL) :
		    err->code;
	if ((vol = virStorageVolLookupByName(pool, name)) == NULL)
		rc = hv_fail(hv, err, "no volume '%s' on '%s'", name, hv->uri);
	else if ((*path = virStorageVolGetPath(vol)) == NULL)
		rc = hv_fail(hv, err, "cannot read the path of volume '%s' on "
		    "'%s'", name, hv->uri);
	if (vol)
		virStorageVolFree(vol);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_vol_delete(struct hv *hv, const char *name, struct cerr *err)
{
	virStoragePoolPtr pool;
	int missing, rc;

	if ((pool = pool_lookup(hv, &missing, err)) == NULL)
		return missing ? 0 : err->code;
	rc = remove_vol(hv, pool, name, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_pvols(struct hv *hv, const char *pname,
    void (*each)(void *arg, const char *name), void *arg, struct cerr *err)
{
	virStoragePoolPtr pool;
	virStorageVolPtr *vols = NULL;
	int missing, n, i;

	if ((pool = pool_named(hv, pname, &missing, err)) == NULL)
		return missing ? 0 : err->code;
	if ((n = virStoragePoolListAllVolumes(pool, &vols, 0)) < 0) {
		virStoragePoolFree(pool);
		return hv_fail(hv, err, "cannot list volumes of '%s' on '%s'",
		    pname, hv->uri);
	}
	for (i = 0; i < n; i++) {
		const char *name = virStorageVolGetName(vols[i]);

		if (name)
			each(arg, name);
		else
			virResetLastError();
		virStorageVolFree(vols[i]);
	}
	free(vols);
	virStoragePoolFree(pool);
	return 0;
}

int
hv_vols(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	return hv_pvols(hv, HV_POOL, each, arg, err);
}

int
hv_pools(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err)
{
	virStoragePoolPtr *pools = NULL;
	int n, i;

	if ((n = virConnectListAllStoragePools(hv->conn, &pools, 0)) < 0)
		return hv_fail(hv, err, "cannot list storage pools on '%s'",
		    hv->uri);
	for (i = 0; i < n; i++) {
		const char *name = virStoragePoolGetName(pools[i]);

		if (name)
			each(arg, name);
		else
			virResetLastError();
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	return 0;
}

int
hv_vol_create(struct hv *hv, const char *name, long long size, char **path,
    struct cerr *err)
{
	virStoragePoolPtr pool = NULL;
	int missing = 0, rc;

	if (hv_pool_ensure(hv, err) ||
	    (pool = pool_lookup(hv, &missing, err)) == NULL) {
		if (missing)
			cerr_set(err, CERR_NOTFOUND, "storage pool '%s' "
			    "vanished from '%s'", HV_POOL, hv->uri);
		return err->code;
	}
	rc = create_vol(hv, pool, NULL, name, size, NULL, NULL, 1, path, err);
	virStoragePoolFree(pool);
	return rc;
}

int
hv_vol_copy(struct hv *src, struct hv *dst, const char *name,
    struct cerr *err)
{
	if (hv_pool_ensure(dst, err))
		return err->code;
	return hv_pvol_copy(src, dst, HV_POOL, name, err);
}

int
hv_pvol_copy(struct hv *src, struct hv *dst, const char *pname,
    const char *name, struct cerr *err)
{
	virStoragePoolPtr sp = NULL, dp = NULL;
	virStorageVolPtr sv = NULL, dv = NULL;
	virStreamPtr in = NULL, out = NULL;
	char *xml = NULL, data[256 * 1024];
	int missing, rc = 0, got, sent, off;

	if ((sp = pool_named(src, pname, &missing, err)) == NULL)
		return missing ? cerr_set(err, CERR_NOTFOUND, "no volume '%s' "
		    "on '%s'", name, src->uri) : err->code;
	if ((sv = virStorageVolLookupByName(sp, name)) == NULL) {
		rc = hv_fail(src, err, "no volume '%s' on '%s'", name,
		    src->uri);
		goto done;
	}
	if ((dp = pool_named(dst, pname, &missing, err)) == NULL) {
		rc = err->code ? err->code : cerr_set(err, CERR_NOTFOUND,
		    "no storage pool '%s' on '%s'", pname, dst->uri);
		goto done;
	}
	/* the same volume (name, capacity, format) on dst, then its bytes */
	if ((rc = remove_vol(dst, dp, name, err)) != 0)
		goto done;
	if ((xml = virStorageVolGetXMLDesc(sv, 0)) == NULL ||
	    (dv = virStorageVolCreateXML(dp, xml, 0)) == NULL) {
		rc = hv_fail(xml ? dst : src, err, "cannot create volume '%s' "
		    "on '%s'", name, dst->uri);
		goto done;
	}
	if ((in = virStreamNew(src->conn, 0)) == NULL ||
	    (out = virStreamNew(dst->conn, 0)) == NULL ||
	    virStorageVolDownload(sv, in, 0, 0, 0) < 0 ||
	    virStorageVolUpload(dv, out, 0, 0, 0) < 0) {
		rc = hv_fail(in && out ? dst : src, err, "cannot copy volume "
		    "'%s' to '%s'", name, dst->uri);
		goto fail;
	}
	while ((got = virStreamRecv(in, data, sizeof(data))) > 0) {
		for (off = 0; off < got; off += sent) {
			if ((sent = virStreamSend(out, data + off,
			    (size_t)(got - off))) < 0) {
				rc = hv_fail(dst, err, "cannot copy volume "
				    "'%s' to '%s'", name, dst->uri);
				goto fail;
			}
		}
	}
	if (got < 0 || virStreamFinish(in) < 0) {
		rc = hv_fail(src, err, "cannot read volume '%s' on '%s'", name,
		    src->uri);
		goto fail;
	}
	if (virStreamFinish(out) < 0) {
		rc = hv_fail(dst, err, "cannot copy volume '%s' to '%s'", name,
		    dst->uri);
		goto fail;
	}
	goto done;
fail:
	if (in && virStreamAbort(in) < 0)
		virResetLastError();
	if (out && virStreamAbort(out) < 0)
		virResetLastError();
	if (dv && virStorageVolDelete(dv, 0) < 0)
		virResetLastError();
done:
	if (in)
		virStreamFree(in);
	if (out)
		virStreamFree(out);
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	if (sp)
		virStoragePoolFree(sp);
	if (dp)
		virStoragePoolFree(dp);
	free(xml);
	return rc;
}
