/*
 * fuzz-arc - libFuzzer target for what an OVA brings in: tar archives
 * (lib/arc.c over libarchive) and the OVF descriptors and manifests in
 * them (lib/ovf.c over libxml2).  An input that is a tar (ustar magic) is
 * walked as cimg walks an OVA: every entry's name checked, its bytes
 * read, a *.ovf parsed as a descriptor and a *.mf as a manifest; any
 * other input is parsed as a descriptor and as a manifest directly.
 *
 * Beyond the sanitizers, it checks what the interfaces promise: a refusal
 * is CERR_USAGE (nothing here runs out of memory), an entry handed out has
 * a relative name with no ".." component, never more bytes than its size,
 * and a parsed descriptor has sane numbers and a file for every disk.
 *
 * Built by "make fuzz-arc" (clang, -fsanitize=fuzzer,address,undefined);
 * see tests/fuzz/README.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arc.h"
#include "cerr.h"
#include "ovf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Enough for any entry of a small input (libFuzzer's are a few KiB). */
#define ENTRY_MAX (1u << 20)

static void
refused(const struct cerr *err)
{
	if (err->code != CERR_USAGE || strchr(err->msg, '\n') != NULL)
		abort();
}

static void
descriptor(const char *xml, size_t len)
{
	struct cerr err = { 0 };
	struct ovf *o = NULL;
	size_t i;

	if (ovf_parse(xml, len, "<ovf>", &o, &err) != 0) {
		refused(&err);
		if (o != NULL)
			abort();
		return;
	}
	if (o->cpu < 0 || o->memory < 0)
		abort();
	for (i = 0; i < o->ndisks; i++)
		if (o->disks[i].file == NULL || o->disks[i].id == NULL)
			abort();
	ovf_free(o);
}

static void
manifest(const char *text, size_t len)
{
	struct cerr err = { 0 };
	struct ovf_mf *mf = NULL;
	size_t i;

	if (ovf_manifest(text, len, "<mf>", &mf, &err) != 0) {
		refused(&err);
		return;
	}
	for (i = 0; i < mf->n; i++)
		if (ovf_mf_find(mf, mf->v[i].file) == NULL)
			abort();
	ovf_mf_free(mf);
}

static int
has_dotdot(const char *name)
{
	const char *p = name;

	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

static void
archive(const uint8_t *data, size_t size)
{
	struct cerr err = { 0 };
	struct arc *a = NULL;
	char path[64], *buf = NULL;
	int fd;

	if ((fd = memfd_create("fuzz-arc", 0)) < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (arc_open(path, "<ova>", &a, &err) != 0) {
		refused(&err);
		goto out;
	}
	buf = malloc(ENTRY_MAX);
	for (;;) {
		const char *name;
		unsigned long long esize, total = 0;
		size_t got, n;

		if (arc_next(a, &name, &esize, &err) != 0) {
			refused(&err);
			break;
		}
		if (name == NULL)
			break;
		if (*name == '\0' || *name == '/' || has_dotdot(name))
			abort();
		n = strlen(name);
		do {
			if (arc_read(a, buf + (total < ENTRY_MAX ? total : 0),
			    total < ENTRY_MAX ? ENTRY_MAX - total : ENTRY_MAX,
			    &got, &err) != 0) {
				refused(&err);
				goto out;
			}
			total += got;
		} while (got > 0);
		if (total > esize)
			abort();
		if (total > ENTRY_MAX)
			continue;
		if (n > 4 && strcmp(name + n - 4, ".ovf") == 0)
			descriptor(buf, (size_t)total);
		else if (n > 3 && strcmp(name + n - 3, ".mf") == 0)
			manifest(buf, (size_t)total);
	}
out:
	free(buf);
	arc_free(a);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (arc_is_tar(data, size)) {
		archive(data, size);
	} else {
		descriptor((const char *)data, size);
		manifest((const char *)data, size);
	}
	return 0;
}
