/*
 * fault.h - core: fault injection for the "kill -9 at any point" tests.
 *
 * fault_point(NAME) does nothing unless the environment variable
 * CLOUDOS_FAULT names that point, and then ends the process at once with
 * _exit(137), as kill -9 would: no cleanup, no commit, no message.  Points
 * sit between the steps of hypervisor actions, so a test can stop a command
 * anywhere and check that reconcile leaves catalog and libvirt in agreement.
 */
#ifndef CLOUDOS_FAULT_H
#define CLOUDOS_FAULT_H

void fault_point(const char *name);

#endif
