/*
 * catalog.c - adapter over SQLite: the catalog, its schema and migrations.
 * Includes <sqlite3.h>; nothing else may.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "catalog.h"
#include "xalloc.h"
#include "compat.h"

/* Prepared statements are kept, by their SQL, and reset for reuse:
 * preparing cost more than running them (a batch of creates spent two
 * thirds of its time in sqlite3_prepare). */
#define STMT_CACHE 64

struct cached {
	char *sql;
	sqlite3_stmt *st;
	int busy;		/* handed out and not freed yet */
};

struct catalog {
	sqlite3 *db;
	char *path;
	struct cached cache[STMT_CACHE];
	size_t ncache;
	int batch;		/* inside catalog_batch_begin */
	int inop;		/* a savepoint of the batch is open */
};

struct cstmt {
	struct catalog *cat;
	sqlite3_stmt *st;
	struct cached *cached;	/* NULL: finalized when freed */
};

#define NOW "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

/* Forward migrations: migrations[i] takes the schema from version i to
 * i + 1.  Never edit a released step; add a new one. */
static const char *const migrations[] = {
	/* 0 -> 1: identity, hosts, VMs, audit */
	"CREATE TABLE groups ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created TEXT NOT NULL);"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uid INTEGER UNIQUE,"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
	"  created TEXT NOT NULL);"
	"INSERT INTO groups (id, name, created) VALUES"
	"  (0, 'admin', " NOW "), (1, 'users', " NOW ");"
	"INSERT INTO users (id, name, uid, group_id, admin, created) VALUES"
	"  (0, 'root', 0, 0, 1, " NOW ");"
	"CREATE TABLE hosts ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uri TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'enabled'"
	"    CHECK (state IN ('enabled', 'disabled', 'error')),"
	"  hypervisor TEXT NOT NULL,"
	"  domain_type TEXT NOT NULL,"
	"  hostname TEXT,"
	"  cpu INTEGER NOT NULL CHECK (cpu >= 0),"
	"  memory INTEGER NOT NULL CHECK (memory >= 0),"
	"  labels TEXT NOT NULL DEFAULT '{}',"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"CREATE TABLE vms ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'hold',"
	"    'deploying', 'running', 'suspended', 'stopped', 'poweroff',"
	"    'migrating', 'shutting-down', 'failed', 'unknown', 'done')),"
	"  host_id INTEGER REFERENCES hosts(id),"
	"  cpu INTEGER NOT NULL CHECK (cpu > 0),"
	"  memory INTEGER NOT NULL CHECK (memory > 0),"
	"  labels TEXT NOT NULL DEFAULT '{}',"
	"  spec TEXT NOT NULL,"
	"  error TEXT,"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"CREATE UNIQUE INDEX vms_live_name ON vms(name) WHERE state != 'done';"
	"CREATE INDEX vms_host ON vms(host_id) WHERE host_id IS NOT NULL;"
	"CREATE INDEX vms_state ON vms(state);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time TEXT NOT NULL,"
	"  user_id INTEGER,"
	"  user TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  object_id INTEGER,"
	"  object_name TEXT,"
	"  detail TEXT);",
	/* 1 -> 2: what an action in flight aims for, and who runs it, so a
	 * reconcile pass can finish it or roll it back once that process is
	 * gone */
	"ALTER TABLE vms ADD COLUMN target TEXT;"
	"ALTER TABLE vms ADD COLUMN target_host INTEGER REFERENCES hosts(id);"
	"ALTER TABLE vms ADD COLUMN intent_pid INTEGER;"
	/* where a host's migration traffic goes, when not to its hostname */
	"ALTER TABLE hosts ADD COLUMN migration_address TEXT;",
	/* 2 -> 3: clusters; declared capacity, reservations and overcommit
	 * (ratios in thousandths, so capacity is integer arithmetic);
	 * monitoring: what the last pass measured, a host's error and the
	 * admin state it had before, and per-VM usage */
	"CREATE TABLE clusters ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"ALTER TABLE hosts ADD COLUMN cluster_id INTEGER"
	"  REFERENCES clusters(id);"
	"ALTER TABLE hosts ADD COLUMN declared_cpu INTEGER"
	"  CHECK (declared_cpu IS NULL OR declared_cpu > 0);"
	"ALTER TABLE hosts ADD COLUMN declared_memory INTEGER"
	"  CHECK (declared_memory IS NULL OR declared_memory > 0);"
	"ALTER TABLE hosts ADD COLUMN declared_disk INTEGER"
	"  CHECK (declared_disk IS NULL OR declared_disk > 0);"
	"ALTER TABLE hosts ADD COLUMN reserved_cpu INTEGER NOT NULL DEFAULT 0"
	"  CHECK (reserved_cpu >= 0);"
	"ALTER TABLE hosts ADD COLUMN reserved_memory INTEGER NOT NULL"
	"  DEFAULT 0 CHECK (reserved_memory >= 0);"
	"ALTER TABLE hosts ADD COLUMN cpu_ratio INTEGER NOT NULL DEFAULT 1000"
	"  CHECK (cpu_ratio > 0);"
	"ALTER TABLE hosts ADD COLUMN memory_ratio INTEGER NOT NULL"
	"  DEFAULT 1000 CHECK (memory_ratio > 0);"
	"ALTER TABLE hosts ADD COLUMN monitored TEXT;"
	"ALTER TABLE hosts ADD COLUMN load REAL;"
	"ALTER TABLE hosts ADD COLUMN measured_free_memory INTEGER;"
	"ALTER TABLE hosts ADD COLUMN error TEXT;"
	"ALTER TABLE hosts ADD COLUMN prev_state TEXT"
	"  CHECK (prev_state IS NULL OR prev_state IN ('enabled', 'disabled'));"
	"CREATE INDEX hosts_cluster ON hosts(cluster_id)"
	"  WHERE cluster_id IS NOT NULL;"
	"CREATE TABLE vm_stats ("
	"  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
	"  host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,"
	"  cpu_time INTEGER,"
	"  memory INTEGER,"
	"  rss INTEGER,"
	"  monitored TEXT NOT NULL);",
	/* 3 -> 4: the disks of VMs: qcow2 volumes in the pool of the VM's
	 * host, on the SCSI bus (sdb, sdc, ...) */
	"CREATE TABLE vm_disks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  vm_id INTEGER NOT NULL REFERENCES vms(id),"
	"  target TEXT NOT NULL,"
	"  volume TEXT NOT NULL,"
	"  size INTEGER NOT NULL CHECK (size > 0),"
	"  created TEXT NOT NULL,"
	"  UNIQUE (vm_id, target));"
	/* what migrates to a host holds room there */
	"CREATE INDEX vms_target_host ON vms(target_host) "
	"  WHERE target_host IS NOT NULL;",
	/* 4 -> 5: scheduling: affinity groups, what a VM asks of its host,
	 * why it is still pending, deploy retries, and the lease that lets
	 * one csched pass run at a time */
	"CREATE TABLE vm_groups ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  anti INTEGER NOT NULL CHECK (anti IN (0, 1)),"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL);"
	"ALTER TABLE vms ADD COLUMN vm_group INTEGER REFERENCES vm_groups(id);"
	"ALTER TABLE vms ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN requirements TEXT;"
	"ALTER TABLE vms ADD COLUMN policy TEXT NOT NULL DEFAULT 'pack'"
	"  CHECK (policy IN ('pack', 'spread', 'load', 'rank'));"
	"ALTER TABLE vms ADD COLUMN rank TEXT;"
	"ALTER TABLE vms ADD COLUMN reason TEXT;"
	"ALTER TABLE vms ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN retry_after TEXT;"
	"ALTER TABLE vms ADD COLUMN avoid_host INTEGER;"
	"CREATE INDEX vms_pending ON vms(priority DESC, id) "
	"  WHERE state = 'pending';"
	"CREATE INDEX vms_group ON vms(vm_group) WHERE vm_group IS NOT NULL;"
	"CREATE TABLE sched_lease ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  pid INTEGER NOT NULL,"
	"  holder TEXT NOT NULL,"
	"  expires TEXT NOT NULL);",
	/* 5 -> 6: datastores (a libvirt dir pool cloudos-ds-NAME on each of
	 * their hosts) and volumes in them; a volume lives on one host, is
	 * attached to at most one VM, and a snapshot's parent is its
	 * qcow2 backing file */
	"CREATE TABLE datastores ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  path TEXT NOT NULL,"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"CREATE TABLE datastore_hosts ("
	"  datastore_id INTEGER NOT NULL REFERENCES datastores(id)"
	"    ON DELETE CASCADE,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id),"
	"  capacity INTEGER,"
	"  available INTEGER,"
	"  monitored TEXT,"
	"  PRIMARY KEY (datastore_id, host_id));"
	"CREATE TABLE volumes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  datastore_id INTEGER NOT NULL REFERENCES datastores(id),"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id),"
	"  size INTEGER NOT NULL CHECK (size > 0),"
	"  format TEXT NOT NULL DEFAULT 'qcow2',"
	"  parent_id INTEGER REFERENCES volumes(id),"
	"  vm_id INTEGER REFERENCES vms(id),"
	"  target TEXT,"
	"  bus TEXT CHECK (bus IS NULL OR bus IN ('virtio', 'scsi')),"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL,"
	"  CHECK ((vm_id IS NULL) = (target IS NULL)));"
	"CREATE INDEX volumes_vm ON volumes(vm_id) WHERE vm_id IS NOT NULL;"
	"CREATE INDEX volumes_datastore ON volumes(datastore_id);",
	/* 6 -> 7: the image repository: one row per image file kept in the
	 * images folder beside the catalog; locked while it is imported */
	"CREATE TABLE images ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  description TEXT,"
	"  os TEXT,"
	"  arch TEXT,"
	"  labels TEXT NOT NULL DEFAULT '{}',"
	"  format TEXT CHECK (format IS NULL OR"
	"    format IN ('raw', 'qcow2', 'vmdk', 'iso')),"
	"  size INTEGER CHECK (size IS NULL OR size >= 0),"
	"  virtual_size INTEGER CHECK (virtual_size IS NULL OR"
	"    virtual_size >= 0),"
	"  sha256 TEXT,"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('locked', 'ready', 'used', 'error')),"
	"  visibility TEXT NOT NULL DEFAULT 'private'"
	"    CHECK (visibility IN ('private', 'public')),"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  source TEXT,"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"CREATE INDEX images_owner ON images(owner);",
	/* 7 -> 8: cnet networks: address ranges (IPv4 or IPv6, several per
	 * network), leases (of a VM's NIC, or reserved by hand), the NICs of
	 * VMs with their catalog-unique MACs, where each network is realised
	 * as a libvirt network, and settings such as the MAC prefix */
	"CREATE TABLE networks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  mode TEXT NOT NULL"
	"    CHECK (mode IN ('nat', 'routed', 'isolated', 'bridge')),"
	"  bridge TEXT,"
	"  vlan INTEGER CHECK (vlan IS NULL OR vlan BETWEEN 1 AND 4094),"
	"  cidr TEXT,"
	"  cidr6 TEXT,"
	"  visibility TEXT NOT NULL DEFAULT 'private'"
	"    CHECK (visibility IN ('private', 'group', 'public')),"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL,"
	"  CHECK (cidr IS NOT NULL OR cidr6 IS NOT NULL));"
	"CREATE TABLE net_ranges ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  network_id INTEGER NOT NULL REFERENCES networks(id)"
	"    ON DELETE CASCADE,"
	"  family INTEGER NOT NULL CHECK (family IN (4, 6)),"
	"  first TEXT NOT NULL,"
	"  last TEXT NOT NULL,"
	"  gateway TEXT,"
	"  dns TEXT NOT NULL DEFAULT '[]');"
	"CREATE INDEX net_ranges_network ON net_ranges(network_id);"
	"CREATE TABLE vm_nics ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  vm_id INTEGER NOT NULL REFERENCES vms(id),"
	"  idx INTEGER NOT NULL CHECK (idx >= 0),"
	"  network_id INTEGER NOT NULL REFERENCES networks(id),"
	"  mac TEXT NOT NULL UNIQUE,"
	"  model TEXT NOT NULL DEFAULT 'virtio',"
	"  created TEXT NOT NULL,"
	"  UNIQUE (vm_id, idx));"
	"CREATE INDEX vm_nics_network ON vm_nics(network_id);"
	"CREATE TABLE leases ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  network_id INTEGER NOT NULL REFERENCES networks(id),"
	"  range_id INTEGER REFERENCES net_ranges(id),"
	"  family INTEGER NOT NULL CHECK (family IN (4, 6)),"
	"  ip TEXT NOT NULL,"
	/* the address as 32 hex digits: ordered as the addresses are, so
	 * the lowest free one is a walk over the leases, not the space */
	"  key TEXT NOT NULL,"
	"  nic_id INTEGER REFERENCES vm_nics(id) ON DELETE CASCADE,"
	"  reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved IN (0, 1)),"
	"  created TEXT NOT NULL,"
	"  UNIQUE (network_id, ip),"
	"  CHECK ((nic_id IS NULL) = (reserved = 1)));"
	"CREATE INDEX leases_nic ON leases(nic_id) WHERE nic_id IS NOT NULL;"
	"CREATE UNIQUE INDEX leases_key ON leases(network_id, family, key);"
	"CREATE TABLE network_hosts ("
	"  network_id INTEGER NOT NULL REFERENCES networks(id)"
	"    ON DELETE CASCADE,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  libvirt_name TEXT NOT NULL,"
	"  created TEXT NOT NULL,"
	"  PRIMARY KEY (network_id, host_id));"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);",
	/* 8 -> 9: security groups and their rules (a peer is a CIDR or
	 * another group's members), and the groups each NIC is in */
	"CREATE TABLE secgroups ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  description TEXT,"
	"  visibility TEXT NOT NULL DEFAULT 'private'"
	"    CHECK (visibility IN ('private', 'group', 'public')),"
	"  owner INTEGER NOT NULL REFERENCES users(id),"
	"  group_id INTEGER NOT NULL REFERENCES groups(id),"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	"CREATE TABLE secgroup_rules ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  secgroup_id INTEGER NOT NULL REFERENCES secgroups(id)"
	"    ON DELETE CASCADE,"
	"  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),"
	"  proto TEXT NOT NULL CHECK (proto IN ('tcp', 'udp', 'icmp', 'all')),"
	"  port_min INTEGER CHECK (port_min IS NULL OR"
	"    port_min BETWEEN 1 AND 65535),"
	"  port_max INTEGER CHECK (port_max IS NULL OR"
	"    port_max BETWEEN 1 AND 65535),"
	"  cidr TEXT,"
	"  peer_group INTEGER REFERENCES secgroups(id),"
	"  created TEXT NOT NULL,"
	"  CHECK (cidr IS NULL OR peer_group IS NULL),"
	"  CHECK ((port_min IS NULL) = (port_max IS NULL)),"
	"  CHECK (port_min IS NULL OR port_min <= port_max));"
	"CREATE INDEX secgroup_rules_group ON secgroup_rules(secgroup_id);"
	/* the groups naming a group as their peer: refresh and delete */
	"CREATE INDEX secgroup_rules_peer ON secgroup_rules(peer_group)"
	"  WHERE peer_group IS NOT NULL;"
	"CREATE TABLE nic_secgroups ("
	"  nic_id INTEGER NOT NULL REFERENCES vm_nics(id) ON DELETE CASCADE,"
	"  secgroup_id INTEGER NOT NULL REFERENCES secgroups(id),"
	"  PRIMARY KEY (nic_id, secgroup_id));"
	"CREATE INDEX nic_secgroups_group ON nic_secgroups(secgroup_id);",
	/* 9 -> 10: the size an image suggests for its VMs (vCPUs, memory in
	 * MiB), read from an OVF descriptor's virtual hardware; the fast
	 * checksum every image gets ("xxh128:HEX"), its sha256 now only
	 * when asked */
	"ALTER TABLE images ADD COLUMN cpu INTEGER"
	"  CHECK (cpu IS NULL OR cpu > 0);"
	"ALTER TABLE images ADD COLUMN memory INTEGER"
	"  CHECK (memory IS NULL OR memory > 0);"
	"ALTER TABLE images ADD COLUMN checksum TEXT;",
	/* 10 -> 11: VM disks from images (a qcow2 overlay whose backing file
	 * is the image cached on the VM's host) and in datastores; the
	 * per-host image cache, keyed by the image's checksum (its sha256
	 * for an image from before checksums), whose 'uploading' row is
	 * the intent of the one upload (by pid) that others wait for; an
	 * image is 'used' while a VM's disk is cloned from it */
	"ALTER TABLE vm_disks ADD COLUMN image_id INTEGER"
	"  REFERENCES images(id);"
	"ALTER TABLE vm_disks ADD COLUMN datastore_id INTEGER"
	"  REFERENCES datastores(id);"
	"CREATE INDEX vm_disks_image ON vm_disks(image_id)"
	"  WHERE image_id IS NOT NULL;"
	"CREATE INDEX vm_disks_datastore ON vm_disks(datastore_id)"
	"  WHERE datastore_id IS NOT NULL;"
	"CREATE TABLE image_hosts ("
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  checksum TEXT NOT NULL,"
	"  volume TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  state TEXT NOT NULL CHECK (state IN ('uploading', 'ready')),"
	"  pid INTEGER,"
	"  created TEXT NOT NULL,"
	"  updated TEXT NOT NULL,"
	"  PRIMARY KEY (host_id, checksum));"
	"CREATE TRIGGER image_used AFTER INSERT ON vm_disks"
	"  WHEN NEW.image_id IS NOT NULL BEGIN"
	"  UPDATE images SET state = 'used' WHERE id = NEW.image_id"
	"    AND state = 'ready';"
	"  END;"
	"CREATE TRIGGER image_unused AFTER DELETE ON vm_disks"
	"  WHEN OLD.image_id IS NOT NULL BEGIN"
	"  UPDATE images SET state = 'ready' WHERE id = OLD.image_id"
	"    AND state = 'used' AND NOT EXISTS (SELECT 1 FROM vm_disks"
	"    WHERE image_id = OLD.image_id);"
	"  END;",
	/* 11 -> 12: affinity groups are shared as networks and images are:
	 * private to the owner (what groups made before were meant to be),
	 * to the owner's group, or public */
	"ALTER TABLE vm_groups ADD COLUMN visibility TEXT NOT NULL"
	"  DEFAULT 'private'"
	"  CHECK (visibility IN ('private', 'group', 'public'));",
	/* 12 -> 13: the owner of an action in flight beyond its pid (its
	 * start time, boot, pid namespace and machine: owner.h), so that a
	 * reused pid or a pid in another namespace is not taken for it; a
	 * row with a pid alone is judged by the pid, as before.  For a VM's
	 * action and for an image's upload to a host's cache */
	"ALTER TABLE vms ADD COLUMN intent_owner TEXT;"
	"ALTER TABLE image_hosts ADD COLUMN owner TEXT;",
};

int
catalog_schema_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

static int
db_fail(sqlite3 *db, int rc, struct cerr *err, const char *what)
{
	int ext = db ? sqlite3_extended_errcode(db) : rc;
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return cerr_set(err, CERR_CONFLICT,
		    "%s: the catalog is busy (%s)", what, msg);
	case SQLITE_READONLY:
		return cerr_set(err, CERR_PERM,
		    "%s: the catalog is read-only (%s)", what, msg);
	case SQLITE_CONSTRAINT:
		if (ext == SQLITE_CONSTRAINT_UNIQUE ||
		    ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return cerr_set(err, CERR_CONFLICT, "%s: %s", what,
			    msg);
		break;
	default:
		break;
	}
	return cerr_set(err, CERR_FAIL, "%s: %s", what, msg);
}

const char *
catalog_path(const struct catalog *cat)
{
	return cat->path;
}

static int
exec_plain(struct catalog *cat, const char *sql, struct cerr *err)
{
	int rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(cat->db, rc, err, "catalog");
}

static int
user_version(struct catalog *cat, int *v, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(cat, &st, err, "PRAGMA user_version", ""))
		return err->code;
	*v = cstmt_row(st, err) ? (int)cstmt_int(st, 0) : 0;
	cstmt_free(st);
	return err->code;
}

/* What PRAGMA application_id says of a cloudos catalog ("clos").  A
 * catalog from before it says 0 and is known by its tables instead. */
#define CATALOG_APP_ID 0x636c6f73

/* What an open catalog file holds, read before anything is written. */
struct ident {
	long long app_id;
	int version;		/* PRAGMA user_version */
	int tables;		/* how many of cloudos's first tables exist */
	int ntables;		/* how many tables exist at all */
};

static int
migrate(struct catalog *cat, const struct ident *id, struct cerr *err)
{
	char sql[64];
	int v = id->version, i, n = catalog_schema_version();

	if (v == n && (id->app_id == CATALOG_APP_ID ||
	    sqlite3_db_readonly(cat->db, "main")))
		return 0;
	if (v > n)
		return cerr_set(err, CERR_FAIL, "catalog '%s' has schema "
		    "version %d, newer than this cloudos knows (%d)",
		    cat->path, v, n);
	if (catalog_begin(cat, err))
		return err->code;
	/* another process may have migrated while we waited for the lock */
	if (user_version(cat, &v, err))
		goto fail;
	for (i = v; i < n; i++)
		if (exec_plain(cat, migrations[i], err))
			goto fail;
	/* a catalog from before application ids says what it is from now */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;"
	    "PRAGMA application_id = %d", n, CATALOG_APP_ID);
	if (exec_plain(cat, sql, err) || catalog_commit(cat, err))
		goto fail;
	return 0;
fail:
	catalog_rollback(cat);
	return cerr_wrap(err, "cannot migrate catalog '%s'", cat->path);
}

/* Create the folders above a new catalog file, as mkdir -p would, for its
 * owner only: the catalog holds every tenant's data.  Folders that exist
 * are left as they are. */
static int
mkdir_parents(const char *path, struct cerr *err)
{
	char *dir = xstrdup(path), *p;
	int rc = 0;

	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			rc = cerr_set(err, errno == EACCES || errno == EROFS ?
			    CERR_PERM : CERR_FAIL, "cannot create folder "
			    "'%s': %s", dir, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Open cat->db at cat->path: read-write (SQLite falls back to read-only
 * when it may not write), or immutable: read-only, taking no locks and
 * no -shm, for a catalog on a read-only file system. */
static int
open_db(struct catalog *cat, bool immutable, struct cerr *err)
{
	struct buf uri = BUF_INIT;
	const unsigned char *p;
	char *abs = NULL;
	int rc;

	if (!immutable) {
		rc = sqlite3_open_v2(cat->path, &cat->db,
		    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX, NULL);
	} else {
		/* file:///PATH?immutable=1, the path percent-encoded */
		if ((abs = realpath(cat->path, NULL)) == NULL)
			return cerr_set(err, CERR_FAIL, "cannot open catalog "
			    "'%s': %s", cat->path, strerror(errno));
		buf_puts(&uri, "file://");
		for (p = (const unsigned char *)abs; *p; p++)
			if (strchr("/._-~", *p) || (*p < 0x80 && isalnum(*p)))
				buf_add(&uri, (const char *)p, 1);
			else
				buf_printf(&uri, "%%%02X", *p);
		buf_puts(&uri, "?immutable=1");
		free(abs);
		rc = sqlite3_open_v2(uri.s, &cat->db, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
		buf_release(&uri);
	}
	if (rc != SQLITE_OK)
		return cerr_set(err, CERR_FAIL, "cannot open catalog '%s': %s",
		    cat->path, cat->db ? sqlite3_errmsg(cat->db) :
		    sqlite3_errstr(rc));
	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_timeout(cat->db, 10000);
	return 0;
}

/* Read what the file is: the first read of the file, so its SQLite code
 * is returned (SQLITE_CANTOPEN when a WAL catalog on a read-only file
 * system has no -shm); err is set for any code but SQLITE_OK. */
static int
read_ident(struct catalog *cat, struct ident *id, struct cerr *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(cat->db, "SELECT (SELECT application_id "
	    "FROM pragma_application_id), (SELECT user_version FROM "
	    "pragma_user_version), (SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('groups', 'users', 'hosts', 'vms', "
	    "'audit')), (SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table')", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		id->app_id = sqlite3_column_int64(st, 0);
		id->version = sqlite3_column_int(st, 1);
		id->tables = sqlite3_column_int(st, 2);
		id->ntables = sqlite3_column_int(st, 3);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		db_fail(cat->db, rc, err, "catalog");
	sqlite3_finalize(st);
	return rc & 0xff;
}

/* CERR_FAIL unless the file is a cloudos catalog: ours by its application
 * id, or one from before application ids by its tables.  A database with
 * no tables at all is still refused: only a missing file is made a new
 * catalog. */
static int
check_ident(const struct catalog *cat, const struct ident *id,
    struct cerr *err)
{
	if (id->app_id == CATALOG_APP_ID)
		return 0;
	if (id->app_id != 0)
		return cerr_set(err, CERR_FAIL, "catalog '%s' is not a cloudos "
		    "catalog (an SQLite database of another application, "
		    "application_id %#llx)", cat->path,
		    (unsigned long long)(id->app_id & 0xffffffff));
	if (id->version >= 1 && id->tables == 5)
		return 0;
	return cerr_set(err, CERR_FAIL, "catalog '%s' is not a cloudos "
	    "catalog (an SQLite database %s)", cat->path, id->ntables ?
	    "without cloudos's tables" : "without tables");
}

/* The first setup of a fresh connection, and the schema.  A read-only
 * connection sets nothing on the file. */
static int
setup(struct catalog *cat, const struct ident *id, struct cerr *err)
{
	if (exec_plain(cat, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = NORMAL;", err))
		return err->code;
	/* WAL needs a writable folder; a read-only reader keeps what is set */
	if (!sqlite3_db_readonly(cat->db, "main") &&
	    exec_plain(cat, "PRAGMA journal_mode = WAL", err))
		return err->code;
	return migrate(cat, id, err);
}

/*
 * A new catalog at path, made whole under another name and linked into
 * place, so no process ever sees an empty or half-made catalog there (and
 * an empty file can be refused as what it is: not a catalog).  mkstemp
 * makes it 0600; SQLite gives its -wal and -shm the same mode.  Returns 0
 * also when another process made the catalog first.
 */
static int
create_new(const char *path, struct cerr *err)
{
	struct catalog *tmp;
	struct ident id = { 0 };
	char *name;
	size_t n = strlen(path) + 16;
	int fd;

	if (mkdir_parents(path, err))
		return err->code;
	name = xmalloc(n);
	snprintf(name, n, "%s.new-XXXXXX", path);
	if ((fd = mkstemp(name)) < 0) {
		cerr_set(err, errno == EACCES || errno == EROFS ? CERR_PERM :
		    CERR_FAIL, "cannot create catalog '%s': %s", path,
		    strerror(errno));
		free(name);
		return err->code;
	}
	close(fd);
	tmp = xcalloc(1, sizeof(*tmp));
	tmp->path = xstrdup(name);
	/* migrate() also sets the application id */
	if (open_db(tmp, false, err) == 0)
		setup(tmp, &id, err);
	catalog_close(tmp);	/* checkpoints, removes its -wal and -shm */
	if (err->code == 0 && link(name, path) != 0 && errno != EEXIST)
		cerr_set(err, errno == EACCES || errno == EROFS ? CERR_PERM :
		    CERR_FAIL, "cannot create catalog '%s': %s", path,
		    strerror(errno));
	if (err->code && strstr(err->msg, name)) {
		/* the temporary name means nothing to the reader */
		cerr_clear(err);
		cerr_set(err, CERR_FAIL, "cannot create catalog '%s'", path);
	}
	unlink(name);
	free(name);
	return err->code;
}

/* Whether path is on a read-only file system. */
static bool
readonly_fs(const char *path)
{
	struct statvfs sv;

	return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* Whether path has a write-ahead log with something in it: reading the
 * file as immutable would ignore what the log holds. */
static bool
has_wal(const char *path)
{
	struct stat sb;
	char *wal = xmalloc(strlen(path) + 5);
	bool yes;

	snprintf(wal, strlen(path) + 5, "%s-wal", path);
	yes = stat(wal, &sb) == 0 && sb.st_size > 0;
	free(wal);
	return yes;
}

int
catalog_open(const char *path, int flags, struct catalog **out,
    struct cerr *err)
{
	struct catalog *cat;
	struct ident id = { 0 };
	struct stat sb;
	int rc;

	if (*path == '\0')
		return cerr_set(err, CERR_USAGE, "empty catalog path");
	cat = xcalloc(1, sizeof(*cat));
	cat->path = xstrdup(path);
	if (stat(path, &sb) == 0) {
		if (S_ISDIR(sb.st_mode)) {
			cerr_set(err, CERR_USAGE, "cannot open catalog '%s': "
			    "it is a folder", path);
			goto fail;
		}
		if (access(path, R_OK) != 0) {
			cerr_set(err, errno == EACCES ? CERR_PERM : CERR_FAIL,
			    "cannot open catalog '%s': %s", path,
			    strerror(errno));
			goto fail;
		}
		/* a failed copy or '> file': never taken for a new cloud */
		if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
			cerr_set(err, CERR_FAIL, "catalog '%s' is not a cloudos "
			    "catalog (an empty file)", path);
			goto fail;
		}
	} else if (errno == ENOENT) {
		if (flags & CATALOG_NOCREATE) {
			cerr_set(err, CERR_NOTFOUND, "no catalog '%s'", path);
			goto fail;
		}
		if (create_new(path, err))
			goto fail;
	}
	if (open_db(cat, false, err))
		goto fail;
	rc = read_ident(cat, &id, err);
	if (rc == SQLITE_CANTOPEN && readonly_fs(path) && !has_wal(path)) {
		/* a WAL catalog on a read-only file system (a snapshot, a
		 * backup) has no -shm and cannot make one; nothing can change
		 * the file there, so it is read as immutable */
		cerr_clear(err);
		sqlite3_close_v2(cat->db);
		cat->db = NULL;
		if (open_db(cat, true, err))
			goto fail;
		rc = read_ident(cat, &id, err);
	}
	if (rc != SQLITE_OK || check_ident(cat, &id, err))
		goto fail;
	if (!(flags & CATALOG_READ) && readonly_fs(path)) {
		cerr_set(err, CERR_PERM, "cannot write catalog '%s': it is on "
		    "a read-only file system", path);
		goto fail;
	}
	if (setup(cat, &id, err))
		goto fail;
	if ((flags & CATALOG_READ) &&
	    exec_plain(cat, "PRAGMA query_only = 1", err))
		goto fail;
	*out = cat;
	return 0;
fail:
	if (err->code != CERR_OK && strstr(err->msg, path) == NULL) {
		/* "catalog: file is not a database" reads better without the
		 * generic prefix once the path is named */
		if (strncmp(err->msg, "catalog: ", 9) == 0)
			memmove(err->msg, err->msg + 9, strlen(err->msg + 9) + 1);
		cerr_wrap(err, "cannot open catalog '%s'", path);
	}
	catalog_close(cat);
	return err->code;
}

void
catalog_close(struct catalog *cat)
{
	size_t i;

	if (cat == NULL)
		return;
	for (i = 0; i < cat->ncache; i++) {
		sqlite3_finalize(cat->cache[i].st);
		free(cat->cache[i].sql);
	}
	sqlite3_close_v2(cat->db);
	free(cat->path);
	free(cat);
}

int
catalog_begin(struct catalog *cat, struct cerr *err)
{
	if (cat->batch) {
		if (exec_plain(cat, "SAVEPOINT op", err))
			return err->code;
		cat->inop = 1;
		return 0;
	}
	return exec_plain(cat, "BEGIN IMMEDIATE", err);
}

int
catalog_in_batch(const struct catalog *cat)
{
	return cat->batch;
}

int
catalog_batch_begin(struct catalog *cat, struct cerr *err)
{
	if (exec_plain(cat, "BEGIN IMMEDIATE", err))
		return err->code;
	cat->batch = 1;
	return 0;
}

int
catalog_batch_end(struct catalog *cat, struct cerr *err)
{
	cat->batch = 0;
	cat->inop = 0;
	if (sqlite3_get_autocommit(cat->db))
		return 0;
	return exec_plain(cat, "COMMIT", err);
}

int
catalog_commit(struct catalog *cat, struct cerr *err)
{
	if (cat->batch) {
		cat->inop = 0;
		return exec_plain(cat, "RELEASE op", err);
	}
	return exec_plain(cat, "COMMIT", err);
}

void
catalog_rollback(struct catalog *cat)
{
	if (cat && cat->batch) {
		if (cat->inop)
			sqlite3_exec(cat->db, "ROLLBACK TO op; RELEASE op",
			    NULL, NULL, NULL);
		cat->inop = 0;
	} else if (cat && !sqlite3_get_autocommit(cat->db)) {
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

static int
vquery(struct catalog *cat, struct cstmt **out, struct cerr *err,
    const char *sql, const char *fmt, va_list ap)
{
	struct cstmt *st;
	int rc, i;

	st = xcalloc(1, sizeof(*st));
	st->cat = cat;
	for (i = 0; i < (int)cat->ncache; i++) {
		struct cached *c = &cat->cache[i];

		if (!c->busy && strcmp(c->sql, sql) == 0) {
			c->busy = 1;
			st->st = c->st;
			st->cached = c;
			break;
		}
	}
	if (st->st == NULL) {
		int keep = cat->ncache < STMT_CACHE;

		rc = sqlite3_prepare_v3(cat->db, sql, -1, keep ?
		    SQLITE_PREPARE_PERSISTENT : 0, &st->st, NULL);
		if (rc != SQLITE_OK) {
			free(st);
			return db_fail(cat->db, rc, err, "catalog");
		}
		if (keep) {
			st->cached = &cat->cache[cat->ncache++];
			st->cached->sql = xstrdup(sql);
			st->cached->st = st->st;
			st->cached->busy = 1;
		}
	}
	for (i = 1; *fmt; fmt++, i++) {
		const char *s;

		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st->st, i, s, -1,
			    SQLITE_TRANSIENT) : sqlite3_bind_null(st->st, i);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st->st, i,
			    va_arg(ap, long long));
			break;
		case 'd':
			rc = sqlite3_bind_int(st->st, i, va_arg(ap, int));
			break;
		case 'f':
			rc = sqlite3_bind_double(st->st, i,
			    va_arg(ap, double));
			break;
		default:
			rc = sqlite3_bind_null(st->st, i);
			break;
		}
		if (rc != SQLITE_OK) {
			cstmt_free(st);
			return db_fail(cat->db, rc, err, "catalog");
		}
	}
	*out = st;
	return 0;
}

int
catalog_query(struct catalog *cat, struct cstmt **out, struct cerr *err,
    const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, out, err, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
catalog_exec(struct catalog *cat, struct cerr *err, const char *sql,
    const char *fmt, ...)
{
	struct cstmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vquery(cat, &st, err, sql, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	while (cstmt_row(st, err))
		;
	cstmt_free(st);
	return err->code;
}

bool
cstmt_row(struct cstmt *st, struct cerr *err)
{
	int rc = sqlite3_step(st->st);

	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE)
		db_fail(st->cat->db, rc, err, "catalog");
	return false;
}

const char *
cstmt_text(struct cstmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->st, col);
}

long long
cstmt_int(struct cstmt *st, int col)
{
	return sqlite3_column_int64(st->st, col);
}

double
cstmt_real(struct cstmt *st, int col)
{
	return sqlite3_column_double(st->st, col);
}

bool
cstmt_null(struct cstmt *st, int col)
{
	return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

void
cstmt_free(struct cstmt *st)
{
	if (st == NULL)
		return;
	if (st->cached) {
		sqlite3_reset(st->st);
		sqlite3_clear_bindings(st->st);
		st->cached->busy = 0;
	} else {
		sqlite3_finalize(st->st);
	}
	free(st);
}

long long
catalog_last_id(struct catalog *cat)
{
	return sqlite3_last_insert_rowid(cat->db);
}

int
catalog_changes(struct catalog *cat)
{
	return sqlite3_changes(cat->db);
}

void
catalog_now(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
catalog_audit(struct catalog *cat, const struct audit *ev, struct cerr *err)
{
	char now[32];

	catalog_now(now);
	return catalog_exec(cat, err,
	    "INSERT INTO audit (time, user_id, user, action, kind, object_id,"
	    " object_name, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    "sisssiss", now, ev->user_id, ev->user, ev->action, ev->kind,
	    ev->object_id, ev->object_name, ev->detail);
}
