/*
 * qemuimg.h - adapter: qemu-img, run as a program (execvp, no shell):
 * the only module that starts it.
 */
#ifndef CLOUDOS_QEMUIMG_H
#define CLOUDOS_QEMUIMG_H

#include "buf.h"

/* qemu-img convert: the file src, in format fmt, to dst in format out,
 * with -o opts when not NULL, reading no file but src (its driver named,
 * a backing file refused).  Stdin and stdout are /dev/null; the first
 * line of its stderr is appended to msg.  Returns qemu-img's exit status
 * (0: done), or -1 when it cannot be run. */
int qemuimg_convert(const char *src, const char *fmt, const char *dst,
    const char *out, const char *opts, struct buf *msg);

#endif
