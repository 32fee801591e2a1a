/*
 * out.c - face kit: printing documents.  With cli.c, the only module that
 * writes to stdout.  Includes doc, yml and the C library.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "xalloc.h"
#include "yml.h"
#include "compat.h"

/* Table columns, declared once per kind.  A column names a field of the
 * document; FIELD.SUB reads inside a map.  Kinds not listed get the generic
 * columns. */
struct column {
	const char *title;
	const char *field;
};

static const struct {
	const char *kind;
	struct column cols[10];
} tables[] = {
	{ "VM", { { "ID", "id" }, { "NAME", "name" }, { "STATE", "state" },
	    { "HOST", "host" }, { "CPU", "cpu" }, { "MEMORY", "memory" },
	    { "OWNER", "owner" }, { "UUID", "uuid" } } },
	{ "Host", { { "ID", "id" }, { "NAME", "name" }, { "STATE", "state" },
	    { "HYPERVISOR", "hypervisor" }, { "CPU", "cpu" },
	    { "USED_CPU", "used_cpu" }, { "MEMORY", "memory" },
	    { "USED_MEMORY", "used_memory" }, { "VMS", "vms" },
	    { "URI", "uri" } } },
	{ "Cluster", { { "ID", "id" }, { "NAME", "name" },
	    { "HOSTS", "hosts" }, { "CPU", "cpu" }, { "USED_CPU", "used_cpu" },
	    { "MEMORY", "memory" }, { "USED_MEMORY", "used_memory" } } },
	{ "Datastore", { { "ID", "id" }, { "NAME", "name" },
	    { "POOL", "pool" }, { "VOLUMES", "volumes" },
	    { "PATH", "path" } } },
	{ "Volume", { { "ID", "id" }, { "NAME", "name" },
	    { "DATASTORE", "datastore" }, { "HOST", "host" },
	    { "SIZE", "size" }, { "PARENT", "parent" }, { "VM", "vm" },
	    { "TARGET", "target" }, { "OWNER", "owner" } } },
	{ "Image", { { "ID", "id" }, { "NAME", "name" }, { "STATE", "state" },
	    { "FORMAT", "format" }, { "SIZE", "size" },
	    { "VIRTUAL_SIZE", "virtual_size" }, { "VISIBILITY", "visibility" },
	    { "OWNER", "owner" }, { "OS", "os" } } },
	{ "SecurityGroup", { { "ID", "id" }, { "NAME", "name" },
	    { "VISIBILITY", "visibility" }, { "OWNER", "owner" },
	    { "NICS", "nics" }, { "DESCRIPTION", "description" } } },
	{ "Network", { { "ID", "id" }, { "NAME", "name" }, { "MODE", "mode" },
	    { "BRIDGE", "bridge" }, { "CIDR", "cidr" }, { "CIDR6", "cidr6" },
	    { "LEASES", "leases" }, { "VISIBILITY", "visibility" },
	    { "OWNER", "owner" } } },
	{ "Lease", { { "ID", "id" }, { "IP", "ip" }, { "NETWORK", "network" },
	    { "MAC", "mac" }, { "VM", "vm" }, { "NIC", "nic" },
	    { "RESERVED", "reserved" } } },
	{ "User", { { "ID", "id" }, { "NAME", "name" }, { "UID", "uid" },
	    { "GROUP", "group" }, { "ADMIN", "admin" } } },
	{ "AuditEvent", { { "ID", "id" }, { "TIME", "time" },
	    { "USER", "user" }, { "ACTION", "action" },
	    { "NAME", "name" }, { "DETAIL", "detail" } } },
	{ NULL, { { "KIND", "kind" }, { "ID", "id" }, { "NAME", "name" } } },
};

struct out {
	FILE *fp;
	enum out_fmt fmt;
	size_t ndocs;
	bool gone;
	/* table mode: rows kept until out_finish */
	struct doc **rows;
	size_t nrows, caprows;
};

int
out_parse_fmt(const char *s, enum out_fmt *fmt, struct cerr *err)
{
	static const char *const names[] = { "table", "yaml", "json", "ids" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*fmt = (enum out_fmt)i;
			return 0;
		}
	}
	return cerr_set(err, CERR_USAGE,
	    "unknown output format '%s' (use table, yaml, json or ids)", s);
}

struct out *
out_new(FILE *fp, enum out_fmt fmt)
{
	struct out *o = xcalloc(1, sizeof(*o));

	o->fp = fp;
	o->fmt = fmt;
	return o;
}

bool
out_gone(const struct out *o)
{
	return o->gone;
}

static int
out_write(struct out *o, const char *s, size_t n, struct cerr *err)
{
	if (o->gone)
		return 0;
	if (fwrite(s, 1, n, o->fp) == n)
		return 0;
	if (errno == EPIPE) {
		o->gone = true;
		return 0;
	}
	return cerr_set(err, CERR_FAIL, "cannot write output: %s",
	    strerror(errno));
}

/* Text of a cell: scalars as they are, maps as k=v,k=v, lists joined. */
static void
cell_text(struct buf *b, const struct doc *d)
{
	char tmp[64];
	size_t i;

	if (d == NULL)
		return;
	switch (d->type) {
	case DOC_NULL:
		break;
	case DOC_MAP:
		for (i = 0; i < d->u.map.n; i++) {
			if (i)
				buf_addc(b, ',');
			buf_printf(b, "%s=", d->u.map.kv[i].key);
			cell_text(b, d->u.map.kv[i].val);
		}
		break;
	case DOC_LIST:
		for (i = 0; i < d->u.list.n; i++) {
			if (i)
				buf_addc(b, ',');
			cell_text(b, d->u.list.v[i]);
		}
		break;
	default:
		/* one line per row: newlines and tabs become spaces */
		for (const char *s = doc_scalar_text(d, tmp); *s; s++)
			buf_addc(b, (*s == '\n' || *s == '\t' || *s == '\r') ?
			    ' ' : *s);
		break;
	}
}

static size_t
kind_table(const char *kind)
{
	size_t t;

	for (t = 0; tables[t].kind; t++)
		if (kind && strcmp(tables[t].kind, kind) == 0)
			break;
	return t;
}

/* Display width of a UTF-8 string: count code points, not bytes. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Print rows[from, to), all of one kind, as one table. */
static int
print_table(struct out *o, size_t from, size_t to, struct cerr *err)
{
	const struct column *cols;
	size_t t, c, r, ncols = 0, wid[10] = { 0 };
	struct buf line = BUF_INIT, cell = BUF_INIT;
	int rc = 0;

	t = kind_table(doc_get_str(o->rows[from], "kind"));
	cols = tables[t].cols;
	while (ncols < 10 && cols[ncols].title)
		ncols++;
	for (c = 0; c < ncols; c++)
		wid[c] = strlen(cols[c].title);
	for (r = from; r < to; r++) {
		for (c = 0; c < ncols; c++) {
			buf_reset(&cell);
			cell_text(&cell, doc_map_get(o->rows[r],
			    cols[c].field));
			if (width(cell.s) > wid[c])
				wid[c] = width(cell.s);
		}
	}
	for (r = from; r <= to && rc == 0; r++) {
		buf_reset(&line);
		for (c = 0; c < ncols; c++) {
			size_t w;

			buf_reset(&cell);
			if (r == from)
				buf_puts(&cell, cols[c].title);
			else
				cell_text(&cell, doc_map_get(o->rows[r - 1],
				    cols[c].field));
			buf_puts(&line, cell.s);
			if (c + 1 == ncols)
				break;
			for (w = width(cell.s); w < wid[c] + 2; w++)
				buf_addc(&line, ' ');
		}
		buf_addc(&line, '\n');
		rc = out_write(o, line.s, line.len, err);
	}
	buf_release(&line);
	buf_release(&cell);
	return rc;
}

int
out_doc(struct out *o, const struct doc *d, struct cerr *err)
{
	struct buf b = BUF_INIT;
	struct doc *id;
	char tmp[64];
	int rc = 0;

	if (o->gone)
		return 0;
	switch (o->fmt) {
	case OUT_TABLE:
		xgrow(&o->rows, &o->caprows, o->nrows + 1, sizeof(*o->rows));
		o->rows[o->nrows++] = doc_copy(d);
		return 0;
	case OUT_YAML:
		if (o->ndocs)
			buf_puts(&b, "---\n");
		rc = yml_write(&b, d, err);
		break;
	case OUT_JSON:
		doc_json(&b, d);
		buf_addc(&b, '\n');
		break;
	case OUT_IDS:
		id = doc_map_get(d, "id");
		if (id == NULL)
			id = doc_map_get(d, "name");
		if (id)
			buf_printf(&b, "%s\n", doc_scalar_text(id, tmp));
		break;
	}
	o->ndocs++;
	if (rc == 0)
		rc = out_write(o, b.s, b.len, err);
	buf_release(&b);
	return rc;
}

int
out_finish(struct out *o, struct cerr *err)
{
	size_t from = 0, r;
	int rc = 0;

	/* one table per run of documents of the same kind */
	for (r = 1; r <= o->nrows && rc == 0; r++) {
		const char *k0 = doc_get_str(o->rows[from], "kind");
		const char *k1 = r < o->nrows ?
		    doc_get_str(o->rows[r], "kind") : NULL;

		if (r < o->nrows && k0 && k1 && strcmp(k0, k1) == 0)
			continue;
		if (from > 0)
			rc = out_write(o, "\n", 1, err);
		if (rc == 0)
			rc = print_table(o, from, r, err);
		from = r;
	}
	/* printed: the next call starts a new frame (cvm list --watch) */
	for (r = 0; r < o->nrows; r++)
		doc_free(o->rows[r]);
	o->nrows = 0;
	if (rc == 0 && !o->gone && fflush(o->fp) != 0) {
		if (errno == EPIPE)
			o->gone = true;
		else
			rc = cerr_set(err, CERR_FAIL,
			    "cannot write output: %s", strerror(errno));
	}
	return rc;
}

enum out_fmt
out_format(const struct out *o)
{
	return o->fmt;
}

int
out_clear(struct out *o, struct cerr *err)
{
	/* home, then erase the screen (ECMA-48 CUP and ED) */
	return out_write(o, "\033[H\033[2J", 7, err);
}

void
out_free(struct out *o)
{
	size_t r;

	if (o == NULL)
		return;
	for (r = 0; r < o->nrows; r++)
		doc_free(o->rows[r]);
	free(o->rows);
	free(o);
}
