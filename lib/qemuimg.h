#ifndef CLOUDOS_QEMUIMG_H
#define CLOUDOS_QEMUIMG_H

#include "buf.h"

int run_qemu_img(char *const argv[], struct buf *msg);
void qemu_source(struct buf *b, const char *path, const char *fmt);

#endif
