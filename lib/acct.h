/*
 * acct.h - service: identity (catalog users and groups).
 *
 * A command acts as the catalog user mapped to the caller's real uid.  Root
 * (uid 0, seeded as user 'root') and members of the group 'admin' are admins;
 * only admins may act as another user (--as).
 */
#ifndef CLOUDOS_ACCT_H
#define CLOUDOS_ACCT_H

#include <sys/types.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"

struct catalog;

/* Fill who for uid (acting as user `as` when not NULL).  CERR_PERM when
 * uid has no catalog user or a non-admin uses --as; CERR_NOTFOUND when the
 * --as user does not exist. */
int acct_identify(struct catalog *cat, uid_t uid, const char *as,
    struct ident *who, struct cerr *err);

/* Refuse (CERR_PERM) unless the caller is an admin; what says what was
 * tried ("add hosts"). */
int acct_require_admin(const struct ctx *ctx, const char *what,
    struct cerr *err);

/* Users: add (admins only; group defaults to 'users') and list (admins
 * see all, others themselves). */
int acct_user_add(struct ctx *ctx, const char *name, const char *uid,
    const char *group, int admin, struct doc **out, struct cerr *err);
int acct_user_list(struct ctx *ctx,
    int (*emit)(struct ctx *, const struct doc *, struct cerr *),
    struct cerr *err);

/* Record an audit event for the acting user (inside a transaction). */
int acct_audit(struct ctx *ctx, const char *action, const char *kind,
    long long id, const char *name, const char *detail, struct cerr *err);

#endif
