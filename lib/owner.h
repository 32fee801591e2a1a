/*
 * owner.h - adapter over /proc: who runs an action in flight, named so
 * that no other process can be taken for it.
 *
 * A bare pid is not enough: a pid is reused once its process has ended,
 * a process in its own pid namespace has a pid (often 1) that means
 * another process outside it, and a catalog on shared storage is used
 * from several machines.  An owner is recorded as text,
 *
 *	pid=P start=S boot=B pidns=N host=H
 *
 * P the pid in the process's own pid namespace, S its start time (clock
 * ticks after boot, field 22 of /proc/P/stat), B the kernel's boot id, N
 * the inode of its pid namespace and H the machine (its machine-id, else
 * its hostname).  The pid is repeated in the catalog's own column, so an
 * owner that does not name the same pid (or none: a catalog from before)
 * is judged by the bare pid, as before.
 */
#ifndef CLOUDOS_OWNER_H
#define CLOUDOS_OWNER_H

#define OWNER_LEN 256

enum owner_verdict {
	OWNER_DEAD,		/* no process is that owner any more */
	OWNER_ALIVE,		/* it still runs */
	OWNER_SELF,		/* it is this process (a takeover) */
	OWNER_ELSEWHERE,	/* on another machine: cannot be judged here */
	OWNER_UNSURE,		/* its namespace cannot be read (permission) */
};

/* This process, as an owner; "" when /proc cannot tell (then only the
 * pid is recorded). */
const char *owner_self(void);
/* Judge the owner recorded with pid (owner NULL or "" for a bare pid). */
enum owner_verdict owner_judge(long long pid, const char *owner);
/* The machine an owner names, into host ("?" when it names none). */
void owner_host(const char *owner, char *host, size_t len);

#endif
