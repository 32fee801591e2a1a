/*
 * seed.c - engine: cloud-init NoCloud seeds.  Pure: no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "buf.h"
#include "seed.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

#define SEED_FIELDS "hostname, ssh_keys or user_data"
#define SEED_HOSTNAME_RULE "use dot-separated labels of 1 to 63 letters, " \
	"digits and '-', not starting or ending with '-'"

int
seed_valid_hostname(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > SEED_HOSTNAME_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isascii((unsigned char)c) && isalnum((unsigned char)c)) &&
		    c != '-')
			return 0;
		if (label == 0 && c == '-')
			return 0;
		if (++label > SEED_LABEL_MAX)
			return 0;
	}
	return 1;
}

void
seed_hostname_from_name(const char *name, const char *uuid,
    char out[SEED_LABEL_MAX + 1])
{
	size_t n = 0;
	const char *p;

	for (p = name; *p && n < SEED_LABEL_MAX; p++) {
		unsigned char c = (unsigned char)*p;

		if (isascii(c) && isalnum(c))
			out[n++] = (char)tolower(c);
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, SEED_LABEL_MAX + 1, "vm-%.8s", uuid);
}

/* Say what s is without quoting text that would break the one-line error:
 * only short printable ASCII is shown. */
static int
printable(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= 64 || s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int
want_str(const struct doc *v, const char *field, struct cerr *err)
{
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "context: %s: expected a "
		    "string, found a %s", field, doc_type_name(v->type));
	if (!valid_utf8(v->u.s, strlen(v->u.s)))
		return cerr_set(err, CERR_USAGE, "context: %s: not valid "
		    "UTF-8", field);
	return 0;
}

/* Does the cloud-config text set key at the top level? */
static int
sets_top_key(const char *text, const char *key)
{
	size_t k = strlen(key);
	const char *line;

	for (line = text; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, key, k) == 0 &&
		    (line[k] == ':' || line[k] == ' ' || line[k] == '\t'))
			return 1;
		if (strncmp(line, "\"", 1) == 0 &&
		    strncmp(line + 1, key, k) == 0 && line[k + 1] == '"')
			return 1;
		if (strncmp(line, "'", 1) == 0 &&
		    strncmp(line + 1, key, k) == 0 && line[k + 1] == '\'')
			return 1;
	}
	return 0;
}

static int
is_cloud_config(const char *text)
{
	static const char tag[] = "#cloud-config";
	size_t n = sizeof(tag) - 1;

	return strncmp(text, tag, n) == 0 && (text[n] == '\n' ||
	    text[n] == '\0' || (text[n] == '\r' && text[n + 1] == '\n'));
}

int
seed_context_from_doc(const struct doc *d, struct seed_context *c,
    int *has, struct cerr *err)
{
	const struct doc *v;
	size_t i;

	memset(c, 0, sizeof(*c));
	*has = 0;
	if (d == NULL || d->type == DOC_NULL)
		return 0;
	if (d->type != DOC_MAP)
		return cerr_set(err, CERR_USAGE, "context: expected a map, "
		    "found a %s", doc_type_name(d->type));
	if (d->u.map.n == 0)
		return 0;
	for (i = 0; i < d->u.map.n; i++) {
		const char *k = d->u.map.kv[i].key;

		if (strcmp(k, "hostname") && strcmp(k, "ssh_keys") &&
		    strcmp(k, "user_data")) {
			if (printable(k))
				return cerr_set(err, CERR_USAGE, "context: "
				    "unknown field '%s' (expected "
				    SEED_FIELDS ")", k);
			return cerr_set(err, CERR_USAGE, "context: unknown "
			    "field (expected " SEED_FIELDS ")");
		}
	}
	if ((v = doc_map_get(d, "hostname")) && v->type != DOC_NULL) {
		if (want_str(v, "hostname", err))
			goto fail;
		if (!seed_valid_hostname(v->u.s)) {
			if (printable(v->u.s))
				cerr_set(err, CERR_USAGE, "context: hostname: "
				    "'%s' is not a valid hostname ("
				    SEED_HOSTNAME_RULE ")", v->u.s);
			else
				cerr_set(err, CERR_USAGE, "context: hostname: "
				    "not a valid hostname (" SEED_HOSTNAME_RULE
				    ")");
			goto fail;
		}
		c->hostname = xstrdup(v->u.s);
	}
	if ((v = doc_map_get(d, "ssh_keys")) && v->type != DOC_NULL) {
		if (v->type != DOC_LIST) {
			cerr_set(err, CERR_USAGE, "context: ssh_keys: expected "
			    "a list of strings, found a %s",
			    doc_type_name(v->type));
			goto fail;
		}
		c->ssh_keys = xcalloc(v->u.list.n + 1, sizeof(*c->ssh_keys));
		for (i = 0; i < v->u.list.n; i++) {
			const struct doc *key = v->u.list.v[i];
			char field[64];

			snprintf(field, sizeof(field), "ssh_keys: item %zu",
			    i + 1);
			if (want_str(key, field, err))
				goto fail;
			if (key->u.s[0] == '\0') {
				cerr_set(err, CERR_USAGE, "context: %s: empty "
				    "key", field);
				goto fail;
			}
			c->ssh_keys[c->nkeys++] = xstrdup(key->u.s);
		}
	}
	if ((v = doc_map_get(d, "user_data")) && v->type != DOC_NULL) {
		if (want_str(v, "user_data", err))
			goto fail;
		if (strlen(v->u.s) > BOUND_USER_DATA) {
			cerr_set(err, CERR_USAGE, "context: user_data: %zu "
			    "bytes, more than %d KiB", strlen(v->u.s),
			    BOUND_USER_DATA_KIB);
			goto fail;
		}
		c->user_data = xstrdup(v->u.s);
	}
	if (c->user_data && c->nkeys) {
		if (!is_cloud_config(c->user_data)) {
			cerr_set(err, CERR_USAGE, "context: ssh_keys: cannot "
			    "be merged into user_data that does not start "
			    "with '#cloud-config' (put the keys in user_data "
			    "instead)");
			goto fail;
		}
		if (sets_top_key(c->user_data, "ssh_authorized_keys")) {
			cerr_set(err, CERR_USAGE, "context: ssh_keys: "
			    "user_data sets ssh_authorized_keys already (give "
			    "the keys in one place)");
			goto fail;
		}
		if (c->user_data[strspn(c->user_data + 13, " \t\r\n") + 13] ==
		    '{') {
			cerr_set(err, CERR_USAGE, "context: ssh_keys: cannot "
			    "be merged into a user_data written as a flow "
			    "mapping ({...}); use block style");
			goto fail;
		}
	}
	*has = 1;
	return 0;
fail:
	seed_context_release(c);
	return err->code;
}

void
seed_context_release(struct seed_context *c)
{
	size_t i;

	free(c->hostname);
	for (i = 0; i < c->nkeys; i++)
		free(c->ssh_keys[i]);
	free(c->ssh_keys);
	free(c->user_data);
	memset(c, 0, sizeof(*c));
}

/* Decode one UTF-8 sequence at s (valid, as checked on input); return its
 * length, the code point in *cp.  A stray byte is taken as itself. */
static size_t
utf8_next(const unsigned char *s, unsigned long *cp)
{
	size_t len, k;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
	    (s[0] & 0xf8) == 0xf0 ? 4 : 1;
	*cp = len == 2 ? s[0] & 0x1f : len == 3 ? s[0] & 0x0f :
	    len == 4 ? s[0] & 0x07 : s[0];
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80) {
			*cp = s[0];
			return 1;
		}
		*cp = (*cp << 6) | (s[k] & 0x3f);
	}
	return len;
}

void
seed_yaml_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_addc(b, '"');
	while (*p) {
		unsigned long cp;
		size_t n = utf8_next(p, &cp);

		switch (cp) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			/* what YAML 1.1 (cloud-init's PyYAML) would not keep
			 * verbatim: controls, DEL, C1 (NEL among them), the
			 * line and paragraph separators, BOM, non-characters */
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
			    cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
			    cp == 0xfffe || cp == 0xffff)
				buf_printf(b, "\\u%04lx", cp);
			else
				buf_add(b, p, n);
		}
		p += n;
	}
	buf_addc(b, '"');
}

static void
keys_block(struct buf *b, const struct seed_context *c)
{
	size_t i;

	buf_puts(b, "ssh_authorized_keys:\n");
	for (i = 0; i < c->nkeys; i++) {
		buf_puts(b, "  - ");
		seed_yaml_str(b, c->ssh_keys[i]);
		buf_addc(b, '\n');
	}
}

static char *
network_config(const struct seed_vm *vm)
{
	struct buf b = BUF_INIT;
	size_t i, j;

	buf_puts(&b, "version: 2\nethernets:\n");
	for (i = 0; i < vm->naddrs; i++) {
		const struct seed_addr *a = &vm->addrs[i];

		buf_printf(&b, "  \"nic%d\":\n    match:\n      macaddress: ",
		    a->nic);
		seed_yaml_str(&b, a->mac);
		buf_puts(&b, "\n    addresses:\n");
		if (a->address) {
			buf_puts(&b, "      - ");
			seed_yaml_str(&b, a->address);
			buf_addc(&b, '\n');
		}
		if (a->address6) {
			buf_puts(&b, "      - ");
			seed_yaml_str(&b, a->address6);
			buf_addc(&b, '\n');
		}
		if (a->gateway || a->gateway6)
			buf_puts(&b, "    routes:\n");
		if (a->gateway) {
			buf_puts(&b, "      - to: \"default\"\n"
			    "        via: ");
			seed_yaml_str(&b, a->gateway);
			buf_addc(&b, '\n');
		}
		if (a->gateway6) {
			buf_puts(&b, "      - to: \"::/0\"\n"
			    "        via: ");
			seed_yaml_str(&b, a->gateway6);
			buf_addc(&b, '\n');
		}
		if (a->dns && a->dns[0]) {
			buf_puts(&b, "    nameservers:\n      addresses:\n");
			for (j = 0; a->dns[j]; j++) {
				buf_puts(&b, "        - ");
				seed_yaml_str(&b, a->dns[j]);
				buf_addc(&b, '\n');
			}
		}
	}
	return buf_detach(&b);
}

void
seed_build(const struct seed_vm *vm, struct seed_files *out)
{
	const struct seed_context *c = vm->context;
	char host[SEED_LABEL_MAX + 1];
	struct buf b = BUF_INIT;
	size_t n;

	memset(out, 0, sizeof(*out));
	buf_puts(&b, "instance-id: ");
	seed_yaml_str(&b, vm->uuid);
	buf_puts(&b, "\nlocal-hostname: ");
	if (c->hostname) {
		seed_yaml_str(&b, c->hostname);
	} else {
		seed_hostname_from_name(vm->name, vm->uuid, host);
		seed_yaml_str(&b, host);
	}
	buf_addc(&b, '\n');
	out->meta_data = buf_detach(&b);

	if (c->user_data == NULL) {
		buf_puts(&b, "#cloud-config\n");
		if (c->nkeys)
			keys_block(&b, c);
	} else {
		buf_puts(&b, c->user_data);
		if (c->nkeys) {
			n = strlen(c->user_data);
			if (n && c->user_data[n - 1] != '\n')
				buf_addc(&b, '\n');
			buf_puts(&b, "# added by cloudos from context.ssh_keys\n");
			keys_block(&b, c);
		}
	}
	out->user_data = buf_detach(&b);
	if (vm->naddrs)
		out->network_config = network_config(vm);
}

void
seed_files_release(struct seed_files *f)
{
	free(f->meta_data);
	free(f->user_data);
	free(f->network_config);
	memset(f, 0, sizeof(*f));
}
