/*
 * domxml.h - engine: libvirt domain XML from a VM.  Pure: no I/O.
 *
 * Every user string is escaped; the user's VM name goes into <title> and
 * cloudos metadata, never into the domain <name>, which is "cloudos-UUID"
 * so that domains of different catalogs never collide on a host.
 *
 * A seed is a SATA CD-ROM (sda): SATA works on both of qemu's x86 machine
 * types, the default pc (libvirt adds an AHCI controller) and q35, where
 * IDE does not exist.
 */
#ifndef CLOUDOS_DOMXML_H
#define CLOUDOS_DOMXML_H

#include <stddef.h>

#include "buf.h"

/* A disk: a qcow2 file on the host, on the SCSI bus. */
struct domdisk {
	const char *target;	/* sdb, sdc, ... */
	const char *path;	/* on the host */
	const char *bus;	/* NULL: "scsi" */
};

/* A NIC: on a libvirt network of the host. */
struct domnic {
	const char *mac;
	const char *network;	/* the libvirt network's name */
	const char *model;	/* virtio, e1000, rtl8139, usb-net */
	int usb_port;		/* usb-net: its port on USB bus 0 */
	const char *filter;	/* a libvirt nwfilter, or NULL or "": none */
};

struct domspec {
	long long id;
	const char *uuid;
	const char *name;	/* the VM's name, any text */
	const char *owner;
	const char *domain_type;	/* "kvm", "qemu", "test" */
	int cpu;
	long long memory;	/* MiB */
	const char *seed;	/* the cloud-init seed's path on the host, or
				 * NULL: a read-only CD-ROM when given */
	const struct domdisk *disks;
	size_t ndisks;
	const struct domnic *nics;
	size_t nnics;
};

/* Append the <disk> element of d (for attach, detach and definitions). */
void domxml_disk(struct buf *b, const struct domdisk *d, int is_qemu);

/* Append the <interface> element of n (for attach, detach and
 * definitions); the test driver takes no model. */
void domxml_nic(struct buf *b, const struct domnic *n, int is_qemu);

/* The domain XML; free() it. */
char *domxml_build(const struct domspec *s);

#endif
