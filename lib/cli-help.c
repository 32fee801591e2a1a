/*
 * cli-help.c - face kit: the subcommand tables read: the subcommand the
 * words name, the nearest to a typo, help at every level, completion.
 * Part of the cli family (cli-int.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "catalog.h"
#include "cli.h"
#include "cli-int.h"
#include "xalloc.h"
#include "compat.h"

/* Does name ("secgroup rule add") start with the n words w[0..n-1]?  With
 * whole, it must be exactly those words. */
static bool
name_has_words(const char *name, const char *const *w, int n, bool whole)
{
	int k;

	for (k = 0; k < n; k++) {
		size_t len = strlen(w[k]);

		if (strncmp(name, w[k], len) != 0 ||
		    (name[len] != ' ' && name[len] != '\0'))
			return false;
		name += len;
		if (*name == ' ')
			name++;
		else if (k + 1 < n)
			return false;
	}
	return !whole || *name == '\0';
}

/* How many words name has: "secgroup rule add" has three. */
static int
name_words(const char *name)
{
	int nw = 1;

	for (; *name; name++)
		nw += *name == ' ';
	return nw;
}

static const struct cmd *
cmd_named(const struct prog *p, const char *name)
{
	const struct cmd *c;

	for (c = p->cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The subcommand named by the first words of w (n of them): names have
 * one word ("list") or several ("user add", "secgroup rule add"); an
 * alias names the subcommand it stands for. */
const struct cmd *
cli_help_find_cmd(const struct prog *p, const char *const *w, int n, int *words)
{
	const struct cmd_alias *al;
	const struct cmd *c;
	int nw;

	for (c = p->cmds; c->name; c++) {
		nw = name_words(c->name);
		if (nw <= n && name_has_words(c->name, w, nw, true)) {
			*words = nw;
			return c;
		}
	}
	for (al = p->aliases; al && al->alias; al++) {
		nw = name_words(al->alias);
		if (nw <= n && name_has_words(al->alias, w, nw, true) &&
		    (c = cmd_named(p, al->name)) != NULL) {
			*words = nw;
			return c;
		}
	}
	return NULL;
}

/* Calls each(word, len, data) once per distinct next word of the names
 * (subcommands, then each one's aliases) that start with the n words w
 * and have more: the subcommands of group w, word by word. */
static void
next_words(const struct prog *p, const char *const *w, int n,
    void (*each)(const char *word, size_t len, void *data), void *data)
{
	const char *seen[256];
	size_t seenlen[256], nseen = 0, i, wl;
	const struct cmd_alias *al;
	const struct cmd *c;
	const char *names[9], *nx;
	int m, k, nnames;

	for (c = p->cmds; c->name; c++) {
		nnames = 0;
		names[nnames++] = c->name;
		for (al = p->aliases; al && al->alias; al++)
			if (strcmp(al->name, c->name) == 0 &&
			    nnames < (int)ARRAY_SIZE(names))
				names[nnames++] = al->alias;
		for (k = 0; k < nnames; k++) {
			if (name_words(names[k]) <= n ||
			    !name_has_words(names[k], w, n, false))
				continue;
			for (nx = names[k], m = 0; m < n; m++)
				nx = strchr(nx, ' ') + 1;
			wl = strcspn(nx, " ");
			for (i = 0; i < nseen; i++)
				if (seenlen[i] == wl &&
				    strncmp(seen[i], nx, wl) == 0)
					break;
			if (i < nseen)
				continue;
			if (nseen < ARRAY_SIZE(seen)) {
				seen[nseen] = nx;
				seenlen[nseen++] = wl;
			}
			each(nx, wl, data);
		}
	}
}

static void
count_word(const char *word, size_t len, void *data)
{
	(void)word;
	(void)len;
	++*(int *)data;
}

/* How many of the words w (n of them) name a group of subcommands
 * ("snapshot" in cvm, "secgroup rule" in cnet): 0 if the first does not. */
int
cli_help_group_words(const struct prog *p, const char *const *w, int n)
{
	int k, found = 0;

	for (k = 1; k <= n; k++) {
		int subs = 0;

		next_words(p, w, k, count_word, &subs);
		if (subs == 0)
			break;
		found = k;
	}
	return found;
}

/* The distance between a and b, counting an insertion, a deletion, a
 * substitution or a swap of two neighbours as one (optimal string
 * alignment); words longer than 31 bytes are "far" (99). */
static int
word_distance(const char *a, size_t la, const char *b, size_t lb)
{
	int d[32][32];
	size_t i, j;

	if (la > 31 || lb > 31)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

struct nearest {
	const char *typed;
	const char *best;	/* the nearest word so far, or NULL */
	size_t bestlen;
	int dist;		/* its distance */
	int prefixed;		/* words that start with typed */
	const char *prefix;	/* the last of them */
	size_t prefixlen;
};

static void
nearest_word(const char *word, size_t len, void *data)
{
	struct nearest *s = data;
	size_t lt = strlen(s->typed);
	int d = word_distance(s->typed, lt, word, len);

	if (d < s->dist) {
		s->dist = d;
		s->best = word;
		s->bestlen = len;
	}
	if (lt >= 3 && lt < len && strncmp(word, s->typed, lt) == 0) {
		s->prefixed++;
		s->prefix = word;
		s->prefixlen = len;
	}
}

/* Refuses the unknown subcommand w[k] after the k words of a group (0:
 * none): exit 2, naming the nearest subcommand when one is close (one
 * edit away for words of up to 4 letters, two for longer ones, or the
 * only one that starts with what was typed). */
void __attribute__((noreturn))
cli_help_die_unknown(const struct prog *p, const char *const *w, int k)
{
	struct nearest s = { .typed = w[k], .dist = 99 };
	char group[256] = "";
	int m, at = 0;

	for (m = 0; m < k; m++)
		at += snprintf(group + at, sizeof(group) - (size_t)at, "%s ",
		    w[m]);
	next_words(p, w, k, nearest_word, &s);
	if (k == 0)
		nearest_word("help", 4, &s);
	if (s.best && s.dist <= (s.bestlen <= 4 ? 1 : 2) &&
	    s.dist < (int)strlen(w[k]))
		cli_die_usage("unknown command '%s%s' (did you mean '%s%.*s'?)",
		    group, w[k], group, (int)s.bestlen, s.best);
	if (s.prefixed == 1)
		cli_die_usage("unknown command '%s%s' (did you mean '%s%.*s'?)",
		    group, w[k], group, (int)s.prefixlen, s.prefix);
	if (k > 0)
		group[strlen(group) - 1] = '\0';
	cli_die_usage("unknown command '%s%s%s' (see '%s help%s%s')", group,
	    k ? " " : "", w[k], p->name, k ? " " : "", group);
}

static void
print_opts(FILE *fp, const struct opt *o)
{
	for (; o && o->name; o++) {
		char lhs[64];

		if (o->shrt)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->shrt,
			    o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(fp, "  %-26s %s%s\n", lhs, o->help,
		    o->type == OPT_LIST ? " (repeatable)" : "");
	}
}

/* The subcommands whose names start with the n words w (all when n is
 * 0), one a line, each with its help and its aliases: "(alias: add)",
 * an alias shown by the words where it differs from the name. */
static void
list_cmds(const struct prog *p, const char *const *w, int n, FILE *fp)
{
	const struct cmd_alias *al;
	const struct cmd *c;
	int width = 18;

	/* the widest name sets the column: two spaces at least */
	for (c = p->cmds; c->name; c++)
		if (name_has_words(c->name, w, n, false) &&
		    (int)strlen(c->name) + 1 > width)
			width = (int)strlen(c->name) + 1;
	fprintf(fp, "Subcommands:\n");
	for (c = p->cmds; c->name; c++) {
		const char *sep = " (alias: ";

		if (!name_has_words(c->name, w, n, false))
			continue;
		fprintf(fp, "  %-*s %s", width, c->name, c->help);
		for (al = p->aliases; al && al->alias; al++) {
			const char *a = al->alias, *b = c->name;

			if (strcmp(al->name, c->name) != 0)
				continue;
			/* skip the words alias and name share */
			while (strchr(a, ' ') && strchr(b, ' ') &&
			    strcspn(a, " ") == strcspn(b, " ") &&
			    strncmp(a, b, strcspn(a, " ")) == 0) {
				a = strchr(a, ' ') + 1;
				b = strchr(b, ' ') + 1;
			}
			fprintf(fp, "%s%s", sep, a);
			sep = ", ";
		}
		fprintf(fp, "%s\n", sep[1] == '(' ? "" : ")");
	}
	if (n == 0)
		fprintf(fp, "  %-*s %s\n", width, "help [SUBCOMMAND]",
		    "show help");
}

void
cli_help_prog(const struct prog *p, FILE *fp)
{
	fprintf(fp, "usage: %s [OPTIONS] SUBCOMMAND [ARGS]\n\n%s\n\n",
	    p->name, p->summary);
	if (p->more)
		fprintf(fp, "%s\n\n", p->more);
	if (p->cmds->name) {
		list_cmds(p, NULL, 0, fp);
		fputc('\n', fp);
	}
	fprintf(fp, "Options (on every subcommand):\n");
	print_opts(fp, cli_global_opts);
	fprintf(fp, "\nExit status: 0 success, 1 failure, 2 usage, 3 not "
	    "found, 4 permission denied,\n5 conflict, 6 no capacity, 7 "
	    "unreachable, 8 partial.  See %s(1) and cloudos(7).\n", p->name);
}

/* The help of a group ("cvm snapshot"): its subcommands. */
void
cli_help_group(const struct prog *p, const char *const *w, int n, FILE *fp)
{
	int m;

	fprintf(fp, "usage: %s [OPTIONS]", p->name);
	for (m = 0; m < n; m++)
		fprintf(fp, " %s", w[m]);
	fprintf(fp, " SUBCOMMAND [ARGS]\n\n");
	list_cmds(p, w, n, fp);
	fprintf(fp, "\nGlobal options: -c PATH, -o FMT, --as USER, -q; see "
	    "'%s help'.\n", p->name);
}

void
cli_help_cmd(const struct prog *p, const struct cmd *c, FILE *fp)
{
	const struct cmd_alias *al;
	const char *sep = "\nAlias: ";

	fprintf(fp, "usage: %s %s [OPTIONS]%s%s\n\n%s\n", p->name, c->name,
	    c->usage && *c->usage ? " " : "", c->usage ? c->usage : "",
	    c->help);
	for (al = p->aliases; al && al->alias; al++) {
		if (strcmp(al->name, c->name) != 0)
			continue;
		fprintf(fp, "%s%s %s", sep, p->name, al->alias);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc('\n', fp);
	if (c->opts && c->opts->name) {
		fprintf(fp, "\nOptions:\n");
		print_opts(fp, c->opts);
	}
	fprintf(fp, "\nGlobal options: -c PATH, -o FMT, --as USER, -q; see "
	    "'%s help'.\n", p->name);
}

int
cli_help_builtin(const struct prog *p, struct args *a)
{
	const struct cmd *c;
	int words, n = (int)a->npos - 1, k;

	/* a->pos[0] is "help" itself */
	if (n == 0) {
		cli_help_prog(p, stdout);
		return 0;
	}
	c = cli_help_find_cmd(p, a->pos + 1, n, &words);
	if (c) {
		cli_help_cmd(p, c, stdout);
		return 0;
	}
	k = cli_help_group_words(p, a->pos + 1, n);
	if (k == 0 || k < n)
		cli_help_die_unknown(p, a->pos + 1, k);
	cli_help_group(p, a->pos + 1, k, stdout);
	return 0;
}

static void
print_name(const char *name)
{
	printf("%s\n", name);
}

/* The option of table named by word ("--name", "--name=v" or "-x"). */
static const struct opt *
complete_opt(const struct opt *table, const char *word)
{
	size_t n = strcspn(word + 2, "=");

	for (; table && table->name; table++)
		if ((word[1] == '-' && strlen(table->name) == n &&
		    strncmp(word + 2, table->name, n) == 0) ||
		    (word[1] == table->shrt && word[1] != '-' && !word[2]))
			return table;
	return NULL;
}

/* Names from the catalog at path (never created here) for the arguments
 * of cmd, or the value of its option opt. */
static void
complete_names(const struct prog *p, const char *path, const char *cmd,
    const char *opt, const char *cur)
{
	struct ctx ctx = { .prog = p->name };
	struct cerr err = { 0 };

	if (p->names == NULL && p->complete == NULL)
		return;
	if (catalog_open(path && *path ? path : CLOUDOS_DEFAULT_CATALOG,
	    CATALOG_READ | CATALOG_NOCREATE, &ctx.cat, &err) == 0 &&
	    acct_identify(ctx.cat, getuid(), NULL, &ctx.who, &err) == 0 &&
	    !(p->complete && p->complete(&ctx, cmd, opt, cur, print_name)) &&
	    opt == NULL && p->names)
		p->names(&ctx, cur, print_name);
	catalog_close(ctx.cat);
}

static void
complete_word(const char *word, size_t len, void *data)
{
	const char *cur = data;

	if (strlen(cur) <= len && strncmp(word, cur, strlen(cur)) == 0)
		printf("%.*s\n", (int)len, word);
}

/* Shell completion: words are what follows the program name; the last is
 * the word being completed.  Prints candidates, one per line. */
void
cli_help_complete(const struct prog *p, int n, char **w)
{
	static const char *const fmts[] = { "table", "yaml", "json", "ids" };
	const struct cmd *c = NULL;
	const char *cur = n > 0 ? w[n - 1] : "", *path;
	/* the words of a subcommand name read so far ("secgroup rule") */
	const char *pend[8] = { NULL };
	const struct opt *want = NULL;
	size_t len = strlen(cur), i;
	int j, words, npend = 0, dashdash = 0;

	path = getenv("CLOUDOS_CATALOG");
	for (j = 0; j < n - 1; j++) {
		const struct opt *o;

		if (!dashdash && strcmp(w[j], "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (!dashdash && w[j][0] == '-' && w[j][1]) {
			if ((o = complete_opt(cli_global_opts, w[j])) == NULL)
				o = complete_opt(c ? c->opts : NULL, w[j]);
			if (o && o->type != OPT_BOOL && !strchr(w[j], '=')) {
				if (j + 1 == n - 1)
					want = o;
				else if (strcmp(o->name, "catalog") == 0)
					path = w[++j];
				else
					j++;
			}
			continue;
		}
		if (c || npend == (int)ARRAY_SIZE(pend))
			continue;
		pend[npend++] = w[j];
		if ((c = cli_help_find_cmd(p, pend, npend, &words)) != NULL &&
		    words != npend)
			c = NULL;
	}
	if (want) {
		if (strcmp(want->name, "output") == 0) {
			for (i = 0; i < ARRAY_SIZE(fmts); i++)
				if (strncmp(fmts[i], cur, len) == 0)
					printf("%s\n", fmts[i]);
		} else if (c && p->complete) {
			complete_names(p, path, c->name, want->name, cur);
		}
		return;
	}
	if (cur[0] == '-') {
		const struct opt *tables[2] = { cli_global_opts,
		    c ? c->opts : NULL };
		const char *pre = len >= 2 ? cur + 2 : "";

		for (i = 0; i < 2; i++)
			for (const struct opt *q = tables[i]; q && q->name;
			    q++)
				if (strncmp(q->name, pre, strlen(pre)) == 0)
					printf("--%s\n", q->name);
		return;
	}
	if (c == NULL) {
		/* the next word of the subcommands (and aliases) that start
		 * with the words read so far, each once */
		next_words(p, pend, npend, complete_word, (void *)cur);
		if (npend == 0 && strncmp("help", cur, len) == 0)
			printf("help\n");
		return;
	}
	if (!(c->flags & CMD_NOCAT))
		complete_names(p, path, c->name, NULL, cur);
}
