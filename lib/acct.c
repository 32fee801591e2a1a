/*
 * acct.c - service: identity, users and the audit trail's actor.
 * Includes lib services and adapters' headers only.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "catalog.h"
#include "valid.h"
#include "rows.h"
#include "compat.h"

#define USER_COLS \
	"SELECT u.id, u.name, u.uid, u.group_id, g.name, " \
	"u.admin OR u.group_id = 0, u.created " \
	"FROM users u JOIN groups g ON g.id = u.group_id "

/* The columns of USER_COLS, in its order: a row is read by these names. */
enum user_col {
	USER_COL_ID, USER_COL_NAME, USER_COL_UID, USER_COL_GROUP_ID,
	USER_COL_GROUP,			/* g.name */
	USER_COL_ADMIN,			/* admin, or in the admin group */
	USER_COL_CREATED,
};

static void
fill_ident(struct cstmt *st, struct ident *who)
{
	who->user_id = cstmt_int(st, USER_COL_ID);
	snprintf(who->user, sizeof(who->user), "%s", cstmt_text(st,
	    USER_COL_NAME));
	who->group_id = cstmt_int(st, USER_COL_GROUP_ID);
	snprintf(who->group, sizeof(who->group), "%s", cstmt_text(st,
	    USER_COL_GROUP));
	who->admin = cstmt_int(st, USER_COL_ADMIN) != 0;
}

int
acct_identify(struct catalog *cat, uid_t uid, const char *as,
    struct ident *who, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct ident me = { 0 };
	int found;

	if (catalog_query(cat, &st, err, USER_COLS "WHERE u.uid = ?", "i",
	    (long long)uid))
		return err->code;
	if ((found = cstmt_row(st, err)))
		fill_ident(st, &me);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (!found) {
		struct passwd *pw = getpwuid(uid);

		return cerr_set(err, CERR_PERM, "uid %lu (%s) has no catalog "
		    "user; an admin adds one with 'cacct user add NAME --uid "
		    "%lu'", (unsigned long)uid, pw ? pw->pw_name : "?",
		    (unsigned long)uid);
	}
	if (as == NULL) {
		*who = me;
		return 0;
	}
	if (!me.admin)
		return cerr_set(err, CERR_PERM, "only admins may act as "
		    "another user (--as '%s')", as);
	if (catalog_query(cat, &st, err, USER_COLS "WHERE u.name = ?", "s",
	    as))
		return err->code;
	if ((found = cstmt_row(st, err)))
		fill_ident(st, who);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (!found)
		return cerr_set(err, CERR_NOTFOUND, "no user '%s' (--as)", as);
	return 0;
}

int
acct_require_admin(const struct ctx *ctx, const char *what,
    struct cerr *err)
{
	if (ctx->who.admin)
		return 0;
	return cerr_set(err, CERR_PERM, "user '%s' may not %s (admins only)",
	    ctx->who.user, what);
}

int
acct_audit(struct ctx *ctx, const char *action, const char *kind,
    long long id, const char *name, const char *detail, struct cerr *err)
{
	struct audit ev = {
		.user_id = ctx->who.user_id, .user = ctx->who.user,
		.action = action, .kind = kind, .object_id = id,
		.object_name = name, .detail = detail,
	};

	return catalog_audit(ctx->cat, &ev, err);
}

static struct doc *
user_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "User");
	doc_set_int(d, "id", cstmt_int(st, USER_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, USER_COL_NAME));
	if (cstmt_null(st, USER_COL_UID))
		doc_map_set(d, "uid", doc_new(DOC_NULL));
	else
		doc_set_int(d, "uid", cstmt_int(st, USER_COL_UID));
	doc_set_str(d, "group", cstmt_text(st, USER_COL_GROUP));
	doc_map_set(d, "admin", doc_new_bool(cstmt_int(st,
	    USER_COL_ADMIN) != 0));
	doc_set_str(d, "created", cstmt_text(st, USER_COL_CREATED));
	return d;
}

int
acct_user_add(struct ctx *ctx, const char *name, const char *uid,
    const char *group, int admin, struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long uidv = -1, gid = -1, id;
	char now[32];

	if (acct_require_admin(ctx, "add users", err) ||
	    valid_name("user", name, err))
		return err->code;
	if (uid && !valid_id(uid, &uidv))
		return cerr_set(err, CERR_USAGE, "invalid uid '%s'", uid);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err,
	    "SELECT id FROM groups WHERE name = ?", "s",
	    group ? group : "users"))
		goto fail;
	if (cstmt_row(st, err))
		gid = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (gid < 0) {
		cerr_set(err, CERR_NOTFOUND, "no group '%s'", group);
		goto fail;
	}
	catalog_now(now);
	if (uid ? catalog_exec(ctx->cat, err, "INSERT INTO users (name, uid, "
	    "group_id, admin, created) VALUES (?, ?, ?, ?, ?)", "siids", name,
	    uidv, gid, admin, now) : catalog_exec(ctx->cat, err, "INSERT INTO "
	    "users (name, group_id, admin, created) VALUES (?, ?, ?, ?)",
	    "sids", name, gid, admin, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "user '%s' or uid %s "
			    "exists already", name, uid ? uid : "");
		}
		goto fail;
	}
	id = catalog_last_id(ctx->cat);
	if (acct_audit(ctx, "create", "User", id, name, NULL, err) ||
	    catalog_query(ctx->cat, &st, err, USER_COLS "WHERE u.id = ?", "i",
	    id))
		goto fail;
	if (cstmt_row(st, err))
		*out = user_doc(st);
	cstmt_free(st);
	if (err->code || catalog_commit(ctx->cat, err))
		goto fail;
	return 0;
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
acct_user_list(struct ctx *ctx,
    int (*emit)(struct ctx *, const struct doc *, struct cerr *),
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, USER_COLS
	    "WHERE ? OR u.id = ? ORDER BY u.id", "ii",
	    (long long)ctx->who.admin, ctx->who.user_id))
		return err->code;
	rows_emit(ctx, st, user_doc, emit, err);
	cstmt_free(st);
	return err->code;
}
