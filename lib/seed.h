/*
 * seed.h - engine: a VM's cloud-init NoCloud seed.  Pure: no I/O.
 *
 * The VM document's context: map is checked once, when the VM is created
 * (seed_context_from_doc), and turned into the seed's three files when
 * the VM is deployed (seed_build): meta-data, user-data and, when the VM
 * has leased addresses, network-config (version 2).  Every string this
 * module writes into YAML is double-quoted and escaped, so what the user
 * gave reaches the guest byte for byte.
 *
 * user-data, decided simply:
 *   - no user_data: "#cloud-config\n", plus an ssh_authorized_keys list
 *     when ssh_keys are given;
 *   - user_data alone: used as is, byte for byte;
 *   - user_data and ssh_keys: user_data must start with "#cloud-config"
 *     (a line of its own), be a block mapping, and not set
 *     ssh_authorized_keys itself; the keys are appended to it as a
 *     top-level ssh_authorized_keys block.  Any other combination is
 *     refused (CERR_USAGE) when the VM is created.
 *
 * Ownership: seed_context_release and seed_files_release free what the
 * structs own; both accept zeroed structs.
 */
#ifndef CLOUDOS_SEED_H
#define CLOUDOS_SEED_H

#include <stddef.h>

#include "cerr.h"
#include "doc.h"

#define SEED_HOSTNAME_MAX 253
#define SEED_LABEL_MAX 63

/* A validated context.  A VM without one has no seed. */
struct seed_context {
	char *hostname;		/* NULL: made from the VM name */
	char **ssh_keys;
	size_t nkeys;
	char *user_data;	/* NULL when not given */
};

/* The leased addresses of one NIC (cnet): IPv4, IPv6 or both. */
struct seed_addr {
	const char *mac;	/* "52:54:00:12:34:56" */
	const char *address;	/* with its prefix: "10.0.0.5/24"; NULL:
				 * none */
	const char *gateway;	/* NULL: none */
	const char *const *dns;	/* NULL-terminated; NULL: none */
	const char *address6;	/* "fd00::5/64", NULL: none */
	const char *gateway6;	/* NULL: none */
	int nic;		/* its number: the ethernet is "nicN" */
};

struct seed_vm {
	const char *uuid;
	const char *name;	/* the VM's name, any text */
	const struct seed_context *context;
	const struct seed_addr *addrs;
	size_t naddrs;
};

/* The seed's files, NUL-terminated strings; free with seed_files_release. */
struct seed_files {
	char *meta_data;
	char *user_data;
	char *network_config;	/* NULL when the VM has no addresses */
};

/*
 * Check ctx (the document's context: value, NULL when absent) and fill *c.
 * Returns 0 with *has = 0 when there is no context (absent, null or an
 * empty map), 0 with *has = 1 and *c filled when there is one, or
 * CERR_USAGE with a message starting "context: " and naming the field:
 * unknown keys, wrong types, a hostname that is not a valid hostname
 * (RFC 1123 labels), empty ssh keys, text that is not UTF-8, or keys that
 * cannot be merged into user_data (see above).
 */
int seed_context_from_doc(const struct doc *ctx, struct seed_context *c,
    int *has, struct cerr *err);
void seed_context_release(struct seed_context *c);

/* Is s a valid hostname: dot-separated labels of 1 to 63 letters, digits
 * and '-', not starting or ending with '-', 253 bytes at most? */
int seed_valid_hostname(const char *s);

/* The hostname a VM gets when its context gives none: its name lowered,
 * every run of other characters made one '-', trimmed to 63 bytes; "vm-"
 * and the start of the UUID when nothing is left.  Fills out. */
void seed_hostname_from_name(const char *name, const char *uuid,
    char out[SEED_LABEL_MAX + 1]);

/* The seed of vm, which must have a context.  Never fails on a context
 * that seed_context_from_doc accepted. */
void seed_build(const struct seed_vm *vm, struct seed_files *out);
void seed_files_release(struct seed_files *f);

/* Append s to b as a YAML double-quoted scalar that reads back as s
 * exactly (s is UTF-8). */
void seed_yaml_str(struct buf *b, const char *s);

#endif
