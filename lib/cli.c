/*
 * cli.c - face kit: option parsing and the life of a command from argv to
 * exit status (help and completion are cli-help.c's, sharing cli-int.h).  With out.c, the only module that
 * writes to stdout; the only one that prints errors.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "bounds.h"
#include "buf.h"
#include "catalog.h"
#include "cli.h"
#include "cli-int.h"
#include "out.h"
#include "valid.h"
#include "xalloc.h"
#include "yml.h"
#include "compat.h"

#ifndef CLOUDOS_DEFAULT_CATALOG
#define CLOUDOS_DEFAULT_CATALOG "/var/lib/cloudos/catalog.db"
#endif

/* The longest catalog path, made absolute: SQLite's unix files take at
 * most 512 bytes, and it opens the catalog's "-journal" beside it. */
#define CLI_MAX_CATALOG_PATH (512 - 8)

const struct opt cli_global_opts[] = {
	{ "catalog", 'c', OPT_STR, "PATH", "the catalog (also $CLOUDOS_CATALOG)" },
	{ "output", 'o', OPT_STR, "FMT", "table, yaml, json or ids (also $CLOUDOS_OUTPUT)" },
	{ "as", 0, OPT_STR, "USER", "act as another catalog user (admins only)" },
	{ "quiet", 'q', OPT_BOOL, NULL, "print nothing on success, only errors (ids: -o ids)" },
	{ "help", 'h', OPT_BOOL, NULL, "show help and exit" },
	{ "version", 0, OPT_BOOL, NULL, "show the version and exit" },
	{ NULL, 0, 0, NULL, NULL },
};

const char *cli_progname = "cloudos";

/*
 * The one way a message reaches stderr: "PROG: MSG\n" on one line, with
 * what could break the line or the terminal escaped, since messages echo
 * what users typed: \n \t \r, \xHH for other C0 controls, DEL and bytes
 * that are not UTF-8 (ESC is \x1b), \uHHHH for C1 controls and the
 * invisible format characters (bidi overrides such as U+202E, zero-width
 * ones, the line separators).  Printable UTF-8 is kept as it is.
 */
static void
put_line(const char *prog, const char *msg)
{
	size_t i = 0, n = strlen(msg), len;
	unsigned long cp;

	fprintf(stderr, "%s: ", prog);
	while (i < n) {
		len = valid_utf8_char(msg + i, n - i, &cp);
		if (len == 0) {
			fprintf(stderr, "\\x%02x", (unsigned char)msg[i]);
			len = 1;
		} else if (cp == '\n') {
			fputs("\\n", stderr);
		} else if (cp == '\t') {
			fputs("\\t", stderr);
		} else if (cp == '\r') {
			fputs("\\r", stderr);
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(stderr, "\\x%02lx", cp);
		} else if (valid_invisible(cp)) {
			fprintf(stderr, cp > 0xffff ? "\\U%08lx" : "\\u%04lx",
			    cp);
		} else {
			fwrite(msg + i, 1, len, stderr);
		}
		i += len;
	}
	fputc('\n', stderr);
}

static void
vput_line(const char *prog, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	put_line(prog, msg);
}

void
cli_die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput_line(cli_progname, fmt, ap);
	va_end(ap);
	exit(CERR_USAGE);
}

static struct optval *
args_find(struct args *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nvals; i++)
		if (strcmp(a->vals[i].opt->name, name) == 0)
			return &a->vals[i];
	return NULL;
}

const char *
args_str(struct args *a, const char *name)
{
	struct optval *v = args_find(a, name);

	return v && v->set ? v->str : NULL;
}

bool
args_bool(struct args *a, const char *name)
{
	struct optval *v = args_find(a, name);

	return v && v->set;
}

size_t
args_list(struct args *a, const char *name, const char *const **out)
{
	struct optval *v = args_find(a, name);

	*out = v ? v->list : NULL;
	return v ? v->nlist : 0;
}

size_t
args_count(struct args *a)
{
	return a->npos;
}

const char *
args_pos(struct args *a, size_t i)
{
	return i < a->npos ? a->pos[i] : NULL;
}

static void
args_add_opts(struct args *a, const struct opt *opts)
{
	for (; opts && opts->name; opts++) {
		if (a->nvals == ARRAY_SIZE(a->vals))
			abort();
		a->vals[a->nvals++].opt = opts;
	}
}

static void
args_free(struct args *a)
{
	size_t i;

	for (i = 0; i < a->nvals; i++)
		free(a->vals[i].list);
	free(a->pos);
}

static void
optval_set(struct optval *v, const char *val)
{
	if (v->opt->type == OPT_LIST) {
		xgrow(&v->list, &v->caplist, v->nlist + 1, sizeof(*v->list));
		v->list[v->nlist++] = val;
	} else if (v->set && v->opt->type == OPT_STR) {
		cli_die_usage("option '--%s' given twice", v->opt->name);
	}
	v->set = true;
	v->str = val;
}

static struct optval *
find_long(struct args *a, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < a->nvals; i++)
		if (strlen(a->vals[i].opt->name) == n &&
		    strncmp(a->vals[i].opt->name, name, n) == 0)
			return &a->vals[i];
	return NULL;
}

static struct optval *
find_short(struct args *a, char c)
{
	size_t i;

	for (i = 0; i < a->nvals; i++)
		if (a->vals[i].opt->shrt == c)
			return &a->vals[i];
	return NULL;
}

/* Parse the option at argv[*i]; advances *i past its value. */
static void
parse_option(struct args *a, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	struct optval *v;

	if (arg[1] == '-') {
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);

		if ((v = find_long(a, name, n)) == NULL)
			cli_die_usage("unknown option '--%.*s'", (int)n, name);
		if (v->opt->type == OPT_BOOL) {
			if (eq)
				cli_die_usage("option '--%s' takes no value",
				    v->opt->name);
			optval_set(v, "");
		} else if (eq) {
			optval_set(v, eq + 1);
		} else if (*i + 1 < argc) {
			optval_set(v, argv[++*i]);
		} else {
			cli_die_usage("option '--%s' needs a value (%s)",
			    v->opt->name, v->opt->arg);
		}
		return;
	}
	for (const char *p = arg + 1; *p; p++) {
		if ((v = find_short(a, *p)) == NULL)
			cli_die_usage("unknown option '-%c'", *p);
		if (v->opt->type == OPT_BOOL) {
			optval_set(v, "");
			continue;
		}
		if (p[1])
			optval_set(v, p + 1);
		else if (*i + 1 < argc)
			optval_set(v, argv[++*i]);
		else
			cli_die_usage("option '-%c' needs a value (%s)", *p,
			    v->opt->arg);
		return;
	}
}

/*
 * -q is one rule, here: under it nothing a command prints reaches stdout
 * (documents, lists, results) and no remark reaches stderr; errors still
 * do, and the exit status tells.  Ids come from -o ids, not from -q.
 * What only passes through an apply (apply_one) or a delete
 * (cli_each_ref) and the data a command exists to write (cimg export to
 * stdout, a console) are not printed through here.
 */
int
cli_emit(struct ctx *ctx, const struct doc *d, struct cerr *err)
{
	if (ctx->quiet)
		return 0;
	return out_doc(ctx->out, d, err);
}

int
cli_emit_free(struct ctx *ctx, struct doc *d, struct cerr *err)
{
	int rc = d ? cli_emit(ctx, d, err) : 0;

	doc_free(d);
	return rc;
}

int
cli_emit_result(struct ctx *ctx, struct doc *d, struct cerr *err)
{
	return cli_emit_free(ctx, d, err);
}

void
cli_remark(struct ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->quiet)
		return;
	va_start(ap, fmt);
	vput_line(ctx->prog, fmt, ap);
	va_end(ap);
}

void
cli_error(struct ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vput_line(ctx->prog, fmt, ap);
	va_end(ap);
}

static int
read_all(FILE *fp, const char *name, struct buf *b, struct cerr *err)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		buf_add(b, chunk, n);
		if (b->len > BOUND_INPUT_BYTES)
			return cerr_set(err, CERR_USAGE, "%s: input is larger "
			    "than %d MiB", name, BOUND_INPUT_MIB);
	}
	if (ferror(fp))
		return cerr_set(err, CERR_FAIL, "%s: cannot read: %s", name,
		    strerror(errno));
	return 0;
}

int
cli_read_docs(const char *file, struct doclist *out, struct cerr *err)
{
	const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
	struct buf b = BUF_INIT;
	FILE *fp = stdin;
	int rc;

	if (strcmp(file, "-") != 0 && (fp = fopen(file, "r")) == NULL)
		return cerr_set(err, cerr_errno_code(errno, CERR_FAIL),
		    "cannot open '%s': %s", file, strerror(errno));
	rc = read_all(fp, name, &b, err);
	if (fp != stdin)
		fclose(fp);
	if (rc == 0)
		rc = yml_read(name, b.s, b.len, out, err);
	buf_release(&b);
	return rc;
}

/* Batch bookkeeping shared by cli_each_ref and cli_each_doc. */
struct tally {
	size_t total, failed;
	int code;		/* the common failure code, or -1 if mixed */
};

static void
tally_one(struct ctx *ctx, struct tally *t, int rc, struct cerr *one,
    struct cerr *err)
{
	if (rc == 0)
		return;
	t->failed++;
	if (t->failed == 1)
		t->code = rc;
	else if (t->code != rc)
		t->code = -1;
	if (t->total == 1) {
		cerr_set(err, one->code, "%s", one->msg);
		return;
	}
	put_line(ctx->prog, one->msg);
}

static int
tally_end(struct ctx *ctx, struct tally *t, const char *what,
    struct cerr *err)
{
	if (t->failed == 0 || t->total == 1)
		return err->code;
	if (t->failed == t->total && t->code > 0)
		return cerr_set(err, t->code, "all %zu %s failed", t->total,
		    what);
	return cerr_set(err, CERR_PARTIAL, "%zu of %zu %s failed", t->failed,
	    t->total, what);
}

/* Is the input a list of ids or names, one per line, rather than
 * documents?  Yes when it has such a line and none that only documents
 * have: "key:" or "key: value", "- " items, "---", JSON's { and [.
 * Blank lines and # comments count for neither. */
static bool
bare_refs(const char *s)
{
	bool any = false;

	while (*s) {
		size_t n = strcspn(s, "\n"), i = 0;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < n && s[i] != '#' && s[i] != '\r') {
			const char *c = memchr(s + i, ':', n - i);

			if (strchr("{[\"'", s[i]) || strncmp(s + i, "---", 3)
			    == 0 || (s[i] == '-' && (i + 1 == n ||
			    s[i + 1] == ' ')))
				return false;
			for (; c; c = memchr(c + 1, ':', n - (size_t)(c + 1 -
			    s)))
				if (c + 1 == s + n || c[1] == ' ' ||
				    c[1] == '\r' || c[1] == '\t')
					return false;
			any = true;
		}
		s += n + (s[n] == '\n');
	}
	return any;
}

/* What cli_each_ref acts on, in order: an object (ref) or a document
 * of another kind passed on (pass), and the strings it owns. */
struct refs {
	struct ref {
		const char *ref;
		const struct doc *pass;
	} *v;
	size_t n, cap;
	char **owned;
	size_t nowned, capowned;
};

static void
refs_add(struct refs *r, const char *ref, const struct doc *pass, bool own)
{
	xgrow(&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	if (own) {
		xgrow(&r->owned, &r->capowned, r->nowned + 1,
		    sizeof(*r->owned));
		r->owned[r->nowned++] = (char *)ref;
	}
	r->v[r->n].ref = ref;
	r->v[r->n++].pass = pass;
}

/* The lines of a bare list, trimmed, one ref each. */
static void
refs_lines(struct refs *r, const char *s)
{
	while (*s) {
		size_t len = strcspn(s, "\n"), i = 0, e = len;

		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t' ||
		    s[e - 1] == '\r'))
			e--;
		if (e > i && s[i] != '#')
			refs_add(r, xstrndup(s + i, e - i), NULL, true);
		s += len + (s[len] == '\n');
	}
}

/* Delete and remove pass the documents of other kinds on "-" through to
 * stdout, so that one environment file torn down by a chain of programs
 * reaches each. */
static bool
passes_through(const struct cmd *c)
{
	const char *verb;

	if (c == NULL)
		return false;
	verb = strrchr(c->name, ' ');
	verb = verb ? verb + 1 : c->name;
	return strcmp(verb, "delete") == 0 || strcmp(verb, "remove") == 0;
}

/* The documents of stdin as refs: each one's id or name. */
static int
refs_docs(struct refs *r, const struct doclist *l, const char *kind,
    bool pass, struct cerr *err)
{
	size_t j;

	for (j = 0; j < l->n; j++) {
		const struct doc *d = l->v[j];
		const char *k = doc_get_str(d, "kind");
		struct doc *id = doc_map_get(d, "id");
		char tmp[64];

		if (k && strcmp(k, kind) != 0 && pass) {
			refs_add(r, NULL, d, false);	/* the next program's */
			continue;
		}
		if (k && strcmp(k, kind) != 0)
			return cerr_set(err, CERR_USAGE, "<stdin>: line %d: a "
			    "%s document, not %s", d->line, k, kind);
		if (id == NULL || (id->type != DOC_INT && id->type != DOC_STR))
			id = doc_map_get(d, "name");
		if (id == NULL || (id->type != DOC_INT && id->type != DOC_STR))
			return cerr_set(err, CERR_USAGE, "<stdin>: line %d: the "
			    "document has no id or name", d->line);
		refs_add(r, xstrdup(doc_scalar_text(id, tmp)), NULL, true);
	}
	return 0;
}

int
cli_each_ref(struct ctx *ctx, struct args *a, const char *kind,
    cli_ref_fn fn, struct cerr *err)
{
	struct doclist stdin_docs = { 0 };
	struct tally t = { 0 };
	struct refs r = { 0 };
	struct buf in = BUF_INIT;
	bool read = false;
	size_t i;
	int rc = 0;

	if (a->npos == 0)
		return cerr_set(err, CERR_USAGE, "no %s named (give ids, "
		    "names, or - to read documents from stdin)", kind);
	for (i = 0; i < a->npos; i++) {
		if (strcmp(a->pos[i], "-") != 0) {
			refs_add(&r, a->pos[i], NULL, false);
			continue;
		}
		if (read)
			continue;
		read = true;
		if (read_all(stdin, "<stdin>", &in, err))
			goto out;
		buf_addc(&in, '\0');
		in.len--;
		if (bare_refs(in.s))
			refs_lines(&r, in.s);
		else if (yml_read("<stdin>", in.s, in.len, &stdin_docs, err) ||
		    refs_docs(&r, &stdin_docs, kind, passes_through(a->cmd),
		    err))
			goto out;
	}
	for (i = 0; i < r.n; i++)
		t.total += r.v[i].ref != NULL;
	for (i = 0; i < r.n && !out_gone(ctx->out); i++) {
		struct cerr one = { 0 };

		if (r.v[i].ref == NULL) {
			/* the next program's input, as apply passes it on:
			 * not silenced by -q */
			if (out_doc(ctx->out, r.v[i].pass, err))
				goto out;
			continue;
		}
		tally_one(ctx, &t, fn(ctx, a, r.v[i].ref, &one), &one, err);
	}
	rc = tally_end(ctx, &t, "objects", err);
out:
	for (i = 0; i < r.nowned; i++)
		free(r.owned[i]);
	free(r.owned);
	free(r.v);
	buf_release(&in);
	doclist_release(&stdin_docs);
	return rc ? rc : err->code;
}

/* Where document j of input l is, for messages: "FILE: line N". */
static void
where_in(const struct doclist *l, size_t j, char *where, size_t size)
{
	snprintf(where, size, "%s: line %d", l->source, l->v[j]->line);
}

/* Check every document before any is acted on: a bad one is printed (if
 * more than one) or left in err (if it is the only one). */
static int
check_all(struct ctx *ctx, const struct doclist *lists, size_t nfiles,
    cli_check_fn check, struct cerr *err)
{
	size_t i, j, bad = 0, total = 0;
	struct cerr first = { 0 };

	for (i = 0; i < nfiles; i++) {
		for (j = 0; j < lists[i].n; j++) {
			struct cerr one = { 0 };
			char where[512];

			total++;
			where_in(&lists[i], j, where, sizeof(where));
			if (check(lists[i].v[j], where, &one) == 0)
				continue;
			if (++bad == 1) {
				first = one;
				continue;
			}
			if (bad == 2)
				cli_error(ctx, "%s", first.msg);
			cli_error(ctx, "%s", one.msg);
		}
	}
	if (bad == 1)
		return cerr_set(err, first.code, "%s", first.msg);
	if (bad > 1)
		return cerr_set(err, CERR_USAGE, "%zu of %zu documents are "
		    "invalid (nothing was done)", bad, total);
	return 0;
}

int
cli_each_doc(struct ctx *ctx, struct args *a, int repeat,
    cli_check_fn check, cli_doc_fn fn, struct cerr *err)
{
	struct doclist *lists = NULL;
	const char *file = args_str(a, "file");
	size_t i, j, nfiles = a->npos + (file != NULL);
	struct tally t = { 0 };
	int rc = 0;

	if (nfiles == 0)
		return cerr_set(err, CERR_USAGE, "no input given (a file, -f "
		    "FILE, or - for stdin)");
	lists = xcalloc(nfiles, sizeof(*lists));
	/* read and parse everything first: a malformed input changes nothing */
	for (i = 0; i < nfiles; i++) {
		const char *f = i < a->npos ? a->pos[i] : file;

		if ((rc = cli_read_docs(f, &lists[i], err)))
			goto out;
		lists[i].source = xstrdup(strcmp(f, "-") ? f : "<stdin>");
		t.total += lists[i].n * (size_t)(repeat > 0 ? repeat : 1);
	}
	if (t.total == 0) {
		rc = cerr_set(err, CERR_USAGE, "no documents in the input");
		goto out;
	}
	/* then check every document: a bad one changes nothing either */
	if (check && (rc = check_all(ctx, lists, nfiles, check, err)))
		goto out;
	for (i = 0; i < nfiles; i++) {
		for (j = 0; j < lists[i].n && !out_gone(ctx->out); j++) {
			char where[512];
			int n = repeat > 0 ? 1 : 0;

			where_in(&lists[i], j, where, sizeof(where));
			do {
				struct cerr one = { 0 };

				tally_one(ctx, &t, fn(ctx, a, lists[i].v[j],
				    where, n, &one), &one, err);
			} while (n > 0 && n++ < repeat && !out_gone(ctx->out));
		}
	}
	rc = tally_end(ctx, &t, "documents", err);
out:
	for (i = 0; i < nfiles; i++)
		doclist_release(&lists[i]);
	free(lists);
	return rc ? rc : err->code;
}

/* A catalog path SQLite can open: too long is a usage error, as for
 * any path, rather than SQLite's "unable to open database file". */
static int
path_ok(const char *path, struct cerr *err)
{
	char cwd[4096];
	size_t n = strlen(path);

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		n += strlen(cwd) + 1;
	if (n > CLI_MAX_CATALOG_PATH)
		return cerr_set(err, CERR_USAGE, "catalog path is too long "
		    "(%zu bytes made absolute, at most %d)", n,
		    CLI_MAX_CATALOG_PATH);
	return 0;
}

static int
finish_stdout(struct ctx *ctx, struct cerr *err)
{
	if (out_finish(ctx->out, err))
		return err->code;
	if (out_gone(ctx->out))
		return 0;
	if (fclose(stdout) != 0 && errno != EPIPE)
		return cerr_set(err, CERR_FAIL, "cannot write output: %s",
		    strerror(errno));
	return 0;
}

int
cli_main(const struct prog *p, int argc, char **argv)
{
	struct args a = { 0 };
	const struct cmd *cmd = NULL;
	struct ctx ctx = { .prog = p->name };
	struct cerr err = { 0 };
	enum out_fmt fmt;
	const char *s, *path;
	/* the words of a group named without its subcommand ("snapshot") */
	const char *group[16];
	int i, rc = 0, words, ngroup = 0, dashdash = 0;

	cli_progname = p->name;
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "__complete") == 0) {
		cli_help_complete(p, argc - 2, argv + 2);
		return 0;
	}
	args_add_opts(&a, cli_global_opts);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!dashdash && strcmp(arg, "--") == 0) {
			dashdash = 1;
		} else if (!dashdash && arg[0] == '-' && arg[1]) {
			parse_option(&a, argc, argv, &i);
		} else if (cmd == NULL && a.npos == 0 &&
		    strcmp(arg, "help") != 0) {
			/* the words of the subcommand: after those of a group
			 * given before options ("cvm snapshot -q list") */
			const char *w[16];
			int n = 0, m;

			for (m = 0; m < ngroup; m++)
				w[n++] = group[m];
			for (m = i; m < argc && n < (int)ARRAY_SIZE(w); m++)
				w[n++] = argv[m];
			cmd = cli_help_find_cmd(p, w, n, &words);
			if (cmd == NULL && p->cmds->name == NULL)
				cli_die_usage("%s has no subcommands yet (see "
				    "'%s help' for what it will own)",
				    p->name, p->name);
			if (cmd == NULL) {
				/* a group alone ("cvm snapshot --help") */
				words = cli_help_group_words(p, w, n);
				if (words == 0 || (words < n &&
				    w[words][0] != '-' &&
				    strcmp(w[words], "help") != 0))
					cli_help_die_unknown(p, w, words);
				for (m = 0; m < words; m++)
					group[m] = w[m];
				i += words - ngroup - 1;
				ngroup = words;
				continue;
			}
			i += words - ngroup - 1;
			a.cmd = cmd;
			args_add_opts(&a, cmd->opts);
		} else {
			xgrow(&a.pos, &a.cappos, a.npos + 1, sizeof(*a.pos));
			a.pos[a.npos++] = arg;
		}
	}
	if (args_bool(&a, "version")) {
		printf("%s (cloudos) %s\n", p->name, PACKAGE_VERSION);
		goto done;
	}
	if (ngroup > 0 && cmd == NULL) {
		/* "cvm snapshot help" is "cvm snapshot --help" */
		if (a.npos > 0)
			args_find(&a, "help")->set = true;
		/* asked for, on stdout; a bare group, on stderr with exit 2 */
		cli_help_group(p, group, ngroup, args_bool(&a, "help") ? stdout :
		    stderr);
		rc = args_bool(&a, "help") ? 0 : CERR_USAGE;
		goto done;
	}
	if (cmd == NULL && a.npos > 0) {
		/* "help [SUB]": the positional arguments follow "help" */
		rc = cli_help_builtin(p, &a);
		goto done;
	}
	if (args_bool(&a, "help")) {
		if (cmd)
			cli_help_cmd(p, cmd, stdout);
		else
			cli_help_prog(p, stdout);
		goto done;
	}
	if (cmd == NULL) {
		/* a bare program, as git does: its help on stderr, exit 2 */
		cli_help_prog(p, stderr);
		rc = CERR_USAGE;
		goto done;
	}

	ctx.quiet = args_bool(&a, "quiet");
	if ((s = args_str(&a, "output")) == NULL)
		s = getenv("CLOUDOS_OUTPUT");
	if (s && *s) {
		if (out_parse_fmt(s, &fmt, &err))
			goto fail;
	} else {
		fmt = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_YAML;
	}
	ctx.out = out_new(stdout, fmt);
	if (!(cmd->flags & CMD_NOCAT)) {
		path = args_str(&a, "catalog");
		if (path == NULL && (path = getenv("CLOUDOS_CATALOG")) &&
		    *path == '\0')
			path = NULL;
		if (path_ok(path ? path : CLOUDOS_DEFAULT_CATALOG,
		    &err) ||
		    catalog_open(path ? path : CLOUDOS_DEFAULT_CATALOG,
		    (cmd->flags & CMD_WRITE) ? 0 : CATALOG_READ, &ctx.cat,
		    &err))
			goto fail;
		if (acct_identify(ctx.cat, getuid(), args_str(&a, "as"),
		    &ctx.who, &err))
			goto fail;
	} else if (args_str(&a, "as")) {
		cerr_set(&err, CERR_USAGE, "--as needs a catalog; '%s %s' "
		    "uses none", p->name, cmd->name);
		goto fail;
	}
	rc = cmd->fn(&ctx, &a, &err);
	if (rc == 0 && err.code == 0)
		rc = finish_stdout(&ctx, &err);
	else
		(void)out_finish(ctx.out, &(struct cerr){ 0 });
fail:
	rc = err.code;
	if (rc) {
		fflush(stdout);
		put_line(p->name, err.msg);
	}
done:
	out_free(ctx.out);
	catalog_close(ctx.cat);
	args_free(&a);
	return rc;
}

/* cli_each_doc has no argument for its callback: the routes of the one
 * apply a command runs. */
static const struct cli_route *apply_routes;
static bool apply_kindless;

static const struct cli_route *
apply_route(const struct doc *d, const char *where, struct cerr *err)
{
	const char *kind = doc_get_str(d, "kind");
	const struct cli_route *r = apply_routes;

	if (kind == NULL && !apply_kindless) {
		cerr_set(err, CERR_USAGE, "%s: kind: missing (apply needs it "
		    "to route the document)", where);
		return NULL;
	}
	if (kind)
		for (; r->kind && strcmp(r->kind, kind) != 0; r++)
			;
	return r;
}

static int
apply_check(const struct doc *d, const char *where, struct cerr *err)
{
	const struct cli_route *r = apply_route(d, where, err);

	if (r == NULL)
		return err->code;
	if (r->kind == NULL || r->check == NULL)
		return 0;
	return r->check(d, where, err);
}

static int
apply_one(struct ctx *ctx, struct args *a, const struct doc *d,
    const char *where, int n, struct cerr *err)
{
	const struct cli_route *r = apply_route(d, where, err);
	struct doc *out = NULL;

	(void)a;
	(void)n;
	if (r == NULL)
		return err->code;
	if (r->kind == NULL)	/* the next program's, even under -q */
		return out_doc(ctx->out, d, err);
	if (r->fn(ctx, d, where, &out, err)) {
		doc_free(out);
		return err->code;
	}
	return cli_emit_result(ctx, out, err);
}

int
cli_apply(struct ctx *ctx, struct args *a, const struct cli_route *routes,
    bool kindless, struct cerr *err)
{
	apply_routes = routes;
	apply_kindless = kindless;
	return cli_each_doc(ctx, a, 0, apply_check, apply_one, err);
}
