/*
 * qemuimg.h - adapter: qemu-img, run as a program (execvp, no shell):
 * the only module that starts it.
 */
#ifndef CLOUDOS_QEMUIMG_H
#define CLOUDOS_QEMUIMG_H

#include "buf.h"

/* Run qemu-img with argv (argv[0] is "qemu-img"): stdin and stdout on
 * /dev/null, the first line of its stderr appended to msg.  Returns its
 * exit status, or -1 when it cannot be started. */
int qemuimg_run(char *const argv[], struct buf *msg);
/* Append to b a qemu-img source for the file at path in format fmt that
 * reads no other file: the driver named, a backing file refused. */
void qemuimg_source(struct buf *b, const char *path, const char *fmt);

#endif
