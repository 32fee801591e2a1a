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
/* CLOUDOS_FAULT=NAME:stop stops the process at that point instead
 * (SIGSTOP), as a command frozen half way would be: a test can then find
 * it alive and continue or kill it by pid. */
/* Whether CLOUDOS_FAULT names point name (for points that watch for an
 * event in another thread, such as hv.incoming). */
int fault_armed(const char *name);

#endif
