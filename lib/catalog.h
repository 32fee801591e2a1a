/*
 * catalog.h - adapter: the SQLite catalog.  The only module that includes
 * <sqlite3.h>.
 *
 * One catalog per zone: WAL mode, foreign keys on, a busy timeout, schema
 * versioned with PRAGMA user_version and migrated forward on open.  Writers
 * use catalog_begin (BEGIN IMMEDIATE) and write an audit row in the same
 * transaction as every change.  Services hold their SQL; every value is bound,
 * never pasted into the text.
 *
 * catalog_open gives a struct catalog freed with catalog_close.
 * catalog_query gives a struct cstmt freed with cstmt_free (NULL is fine).
 * Errors: SQLITE_BUSY and unique-constraint failures are CERR_CONFLICT, a
 * read-only catalog CERR_PERM, anything else CERR_FAIL, keeping SQLite's text.
 */
#ifndef CLOUDOS_CATALOG_H
#define CLOUDOS_CATALOG_H

#include <stdbool.h>

#include "cerr.h"

struct catalog;
struct cstmt;

#define CATALOG_READ	0x1	/* no writes: PRAGMA query_only */
#define CATALOG_NOCREATE 0x2	/* a missing catalog is CERR_NOTFOUND */

/* The schema version this build writes. */
int catalog_schema_version(void);

/* Open (migrating as needed) the catalog at path.  Only a missing file is
 * made a new catalog (0600, its new folders 0700); an existing file that
 * is not a cloudos catalog (empty, not SQLite, another application's) is
 * CERR_FAIL.  On a read-only file system the catalog is read (as
 * immutable when need be) and opening it to write is CERR_PERM. */
int catalog_open(const char *path, int flags, struct catalog **out,
    struct cerr *err);
void catalog_close(struct catalog *cat);
const char *catalog_path(const struct catalog *cat);

/* BEGIN IMMEDIATE; COMMIT; ROLLBACK (rollback never fails, takes NULL). */
int catalog_begin(struct catalog *cat, struct cerr *err);
/* A batch: one write transaction around many begin/commit pairs, which
 * become savepoints (a rollback undoes its own part only).  For batches
 * that call no hypervisor, such as creating queued VMs: the lock is held
 * throughout, and nothing of the batch is kept if the process dies. */
int catalog_batch_begin(struct catalog *cat, struct cerr *err);
int catalog_batch_end(struct catalog *cat, struct cerr *err);
/* Whether a batch is open. */
int catalog_in_batch(const struct catalog *cat);
int catalog_commit(struct catalog *cat, struct cerr *err);
void catalog_rollback(struct catalog *cat);

/* Prepare sql and bind its ?s from fmt: 's' a string (NULL binds NULL),
 * 'i' a long long, 'd' an int, 'f' a double, 'n' NULL (takes no
 * argument). */
int catalog_query(struct catalog *cat, struct cstmt **out, struct cerr *err,
    const char *sql, const char *fmt, ...);
/* Prepare, bind and run sql to completion. */
int catalog_exec(struct catalog *cat, struct cerr *err, const char *sql,
    const char *fmt, ...);

/* Step: true while there is a row.  On error returns false and sets err,
 * so loop with while (cstmt_row(st, err)) and check err->code after. */
bool cstmt_row(struct cstmt *st, struct cerr *err);
const char *cstmt_text(struct cstmt *st, int col);	/* NULL for NULL */
long long cstmt_int(struct cstmt *st, int col);
double cstmt_real(struct cstmt *st, int col);
bool cstmt_null(struct cstmt *st, int col);
void cstmt_free(struct cstmt *st);

long long catalog_last_id(struct catalog *cat);
int catalog_changes(struct catalog *cat);

/* The current time, RFC 3339 UTC, in buf (at least 21 bytes). */
void catalog_now(char buf[32]);

/* Append an audit event; call inside the transaction of the change. */
struct audit {
	long long user_id;
	const char *user;
	const char *action;	/* "create", "delete", "deploy", ... */
	const char *kind;	/* "VM", "Host", ... */
	long long object_id;
	const char *object_name;
	const char *detail;	/* free text or JSON, may be NULL */
};
int catalog_audit(struct catalog *cat, const struct audit *ev,
    struct cerr *err);

#endif
