/*
 * domxml.h - engine: libvirt domain XML from a VM.  Pure: no I/O.
 *
 * Every user string is escaped; the user's VM name goes into <title> and
 * cloudos metadata, never into the domain <name>, which is "cloudos-UUID"
 * so that domains of different catalogs never collide on a host.
 */
#ifndef CLOUDOS_DOMXML_H
#define CLOUDOS_DOMXML_H

struct domspec {
	long long id;
	const char *uuid;
	const char *name;	/* the VM's name, any text */
	const char *owner;
	const char *domain_type;	/* "kvm", "qemu", "test" */
	int cpu;
	long long memory;	/* MiB */
};

/* The domain XML; free() it. */
char *domxml_build(const struct domspec *s);

#endif
