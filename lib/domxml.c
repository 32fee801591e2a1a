/*
 * domxml.c - engine: domain XML.  Pure: no I/O.
 */
#include <string.h>

#include "buf.h"
#include "domxml.h"
#include "compat.h"

#define CLOUDOS_XMLNS "https://cloudos.dev/xmlns/vm/1"

void
domxml_disk(struct buf *b, const struct domdisk *d, int is_qemu)
{
	buf_puts(b, "    <disk type='file' device='disk'>\n");
	if (is_qemu)
		buf_puts(b, "      <driver name='qemu' type='qcow2'/>\n");
	buf_puts(b, "      <source file='");
	buf_xml(b, d->path);
	buf_puts(b, "'/>\n      <target dev='");
	buf_xml(b, d->target);
	buf_puts(b, "' bus='");
	buf_xml(b, d->bus ? d->bus : "scsi");
	buf_puts(b, "'/>\n    </disk>\n");
}

void
domxml_nic(struct buf *b, const struct domnic *n, int is_qemu)
{
	buf_puts(b, "    <interface type='network'>\n      <mac address='");
	buf_xml(b, n->mac);
	buf_puts(b, "'/>\n      <source network='");
	buf_xml(b, n->network);
	buf_puts(b, "'/>\n");
	if (n->filter && n->filter[0]) {
		buf_puts(b, "      <filterref filter='");
		buf_xml(b, n->filter);
		buf_puts(b, "'/>\n");
	}
	if (is_qemu) {
		buf_puts(b, "      <model type='");
		buf_xml(b, n->model ? n->model : "virtio");
		buf_puts(b, "'/>\n");
		/* a USB NIC: unplugged without the guest's help */
		if (n->model && strcmp(n->model, "usb-net") == 0)
			buf_printf(b, "      <address type='usb' bus='0' "
			    "port='%d'/>\n", n->usb_port);
	}
	buf_puts(b, "    </interface>\n");
}

char *
domxml_build(const struct domspec *s)
{
	size_t i;
	struct buf b = BUF_INIT;
	int is_qemu = strcmp(s->domain_type, "qemu") == 0 ||
	    strcmp(s->domain_type, "kvm") == 0;

	buf_puts(&b, "<domain type='");
	buf_xml(&b, s->domain_type);
	buf_puts(&b, "'>\n  <name>cloudos-");
	buf_xml(&b, s->uuid);
	buf_puts(&b, "</name>\n  <uuid>");
	buf_xml(&b, s->uuid);
	buf_puts(&b, "</uuid>\n  <title>");
	buf_xml(&b, s->name);
	buf_printf(&b, "</title>\n  <description>cloudos VM %lld</description>\n",
	    s->id);
	buf_puts(&b, "  <metadata>\n    <cloudos:vm xmlns:cloudos='"
	    CLOUDOS_XMLNS "'>\n      <cloudos:name>");
	buf_xml(&b, s->name);
	buf_puts(&b, "</cloudos:name>\n      <cloudos:owner>");
	buf_xml(&b, s->owner);
	buf_puts(&b, "</cloudos:owner>\n    </cloudos:vm>\n  </metadata>\n");
	buf_printf(&b, "  <memory unit='MiB'>%lld</memory>\n", s->memory);
	buf_printf(&b, "  <vcpu>%d</vcpu>\n", s->cpu);
	buf_puts(&b, "  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n");
	if (is_qemu)	/* the firmware talks on the serial console too */
		buf_puts(&b, "    <bios useserial='yes'/>\n");
	buf_puts(&b, "  </os>\n");
	buf_puts(&b, "  <on_poweroff>destroy</on_poweroff>\n"
	    "  <on_reboot>restart</on_reboot>\n"
	    "  <on_crash>destroy</on_crash>\n");
	if (is_qemu)
		buf_puts(&b, "  <features><acpi/></features>\n");
	if (is_qemu || s->seed || s->ndisks || s->nnics)
		buf_puts(&b, "  <devices>\n");
	for (i = 0; i < s->ndisks; i++)
		domxml_disk(&b, &s->disks[i], is_qemu);
	if (is_qemu)	/* disks hot-unplug from SCSI without the guest */
		buf_puts(&b, "    <controller type='scsi' index='0' "
		    "model='virtio-scsi'/>\n");
	if (s->seed) {
		buf_puts(&b, "    <disk type='file' device='cdrom'>\n");
		if (is_qemu)
			buf_puts(&b, "      <driver name='qemu' type='raw'/>\n");
		buf_puts(&b, "      <source file='");
		buf_xml(&b, s->seed);
		buf_puts(&b, "'/>\n      <target dev='sda' bus='sata'/>\n"
		    "      <readonly/>\n    </disk>\n");
	}
	for (i = 0; i < s->nnics; i++)
		domxml_nic(&b, &s->nics[i], is_qemu);
	if (is_qemu)
		buf_puts(&b,
		    "    <serial type='pty'><target port='0'/></serial>\n"
		    "    <console type='pty'><target type='serial' port='0'/>"
		    "</console>\n"
		    "    <memballoon model='virtio'/>\n");
	if (is_qemu || s->seed || s->ndisks || s->nnics)
		buf_puts(&b, "  </devices>\n");
	buf_puts(&b, "</domain>\n");
	return buf_detach(&b);
}
