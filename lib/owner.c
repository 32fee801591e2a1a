/*
 * owner.c - adapter over /proc: who runs an action in flight.  Includes
 * only the C library and POSIX.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "owner.h"
#include "compat.h"

struct owner_id {
	long long pid;
	unsigned long long start;
	char boot[64];
	unsigned long long pidns;
	char host[128];
};

/* The first line of path, without its newline; -1 when unreadable. */
static int
first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *nl;
	int ok;

	if (f == NULL)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	return buf[0] ? 0 : -1;
}

/* The start time of the process /proc/ID (field 22 of its stat; the
 * command name, field 2, may hold spaces and parentheses); -1 for none,
 * or for a process that has ended and waits to be reaped (a zombie does
 * nothing more). */
static int
start_time(const char *id, unsigned long long *start)
{
	char path[320], buf[1024], *p;
	FILE *f;
	size_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%s/stat", id);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == 'Z' ||
	    p[2] == 'X')
		return -1;
	/* after ") " comes field 3 */
	for (field = 3, p += 2; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", start) != 1)
		return -1;
	return 0;
}

/* The inode of the pid namespace of /proc/ID: 0 done, else an errno. */
static int
pid_ns(const char *id, unsigned long long *ino)
{
	char path[320];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/pid", id);
	if (stat(path, &st) != 0)
		return errno ? errno : ENOENT;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

static void
machine(char *buf, size_t len)
{
	if (first_line("/etc/machine-id", buf, len) == 0 ||
	    first_line("/var/lib/dbus/machine-id", buf, len) == 0)
		return;
	if (gethostname(buf, len) != 0 || buf[0] == '\0')
		snprintf(buf, len, "?");
	buf[len - 1] = '\0';
	/* one word: the owner's fields are separated by spaces */
	for (; *buf; buf++)
		if (*buf == ' ' || *buf == '=')
			*buf = '_';
}

static int
ident_self(struct owner_id *me)
{
	memset(me, 0, sizeof(*me));
	me->pid = (long long)getpid();
	machine(me->host, sizeof(me->host));
	if (start_time("self", &me->start) || pid_ns("self", &me->pidns) ||
	    first_line("/proc/sys/kernel/random/boot_id", me->boot,
	    sizeof(me->boot)) || strchr(me->boot, ' '))
		return -1;
	return 0;
}

const char *
owner_self(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char text[OWNER_LEN];
	static long long for_pid;
	struct owner_id me;

	/* worked out once per process (a fork's child works out its own);
	 * dispatch threads may ask first, so under a lock */
	pthread_mutex_lock(&mu);
	if (for_pid != (long long)getpid()) {
		if (ident_self(&me))
			text[0] = '\0';
		else
			snprintf(text, sizeof(text), "pid=%lld start=%llu "
			    "boot=%s pidns=%llu host=%s", me.pid, me.start,
			    me.boot, me.pidns, me.host);
		for_pid = (long long)getpid();
	}
	pthread_mutex_unlock(&mu);
	return text;
}

static int
ident_parse(const char *owner, struct owner_id *o)
{
	memset(o, 0, sizeof(*o));
	return owner && sscanf(owner, "pid=%lld start=%llu boot=%63s "
	    "pidns=%llu host=%127s", &o->pid, &o->start, o->boot, &o->pidns,
	    o->host) == 5 ? 0 : -1;
}

void
owner_host(const char *owner, char *host, size_t len)
{
	struct owner_id o;

	snprintf(host, len, "%s", ident_parse(owner, &o) ? "?" : o.host);
}

/* The pid a process has in its own (innermost) namespace: the last
 * field of NSpid in /proc/ID/status. */
static long long
inner_pid(const char *id)
{
	char path[320], line[256], *p;
	long long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", id);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "NSpid:", 6) == 0) {
			if ((p = strrchr(line, '\t')) != NULL ||
			    (p = strrchr(line, ' ')) != NULL)
				pid = atoll(p + 1);
			break;
		}
	fclose(f);
	return pid;
}

/* Whether /proc shows this process's own pid namespace (then /proc/PID
 * is the process that has PID there). */
static int
proc_is_ours(void)
{
	char link[32];
	ssize_t n = readlink("/proc/self", link, sizeof(link) - 1);

	if (n <= 0)
		return 0;
	link[n] = '\0';
	return atoll(link) == (long long)getpid();
}

/* Look through every process /proc shows for the one with pid o->pid in
 * pid namespace o->pidns. */
static enum owner_verdict
scan(const struct owner_id *o)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned long long ino, start;
	enum owner_verdict v = OWNER_DEAD;
	int unsure = 0, rc;

	if (d == NULL)
		return OWNER_UNSURE;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if ((rc = pid_ns(e->d_name, &ino)) != 0) {
			/* a process whose namespace this one may not see:
			 * the owner only if its own pid and start time are */
			if ((rc == EACCES || rc == EPERM) &&
			    inner_pid(e->d_name) == o->pid &&
			    start_time(e->d_name, &start) == 0 &&
			    start == o->start)
				unsure = 1;
			continue;
		}
		if (ino != o->pidns || inner_pid(e->d_name) != o->pid)
			continue;
		/* the one process with that pid there: the owner, or one
		 * that came after it */
		v = start_time(e->d_name, &start) == 0 && start == o->start ?
		    OWNER_ALIVE : OWNER_DEAD;
		closedir(d);
		return v;
	}
	closedir(d);
	return unsure ? OWNER_UNSURE : v;
}

enum owner_verdict
owner_judge(long long pid, const char *owner)
{
	struct owner_id o, me;
	unsigned long long start;
	char id[32];

	if (pid <= 0)
		return OWNER_DEAD;
	if (ident_parse(owner, &o) || o.pid != pid || ident_self(&me)) {
		/* a bare pid (a catalog from before, or no /proc) */
		if (pid == (long long)getpid())
			return OWNER_SELF;
		return kill((pid_t)pid, 0) == 0 || errno == EPERM ?
		    OWNER_ALIVE : OWNER_DEAD;
	}
	/* another machine (its boot id differs too) first */
	if (strcmp(o.host, me.host) != 0)
		return OWNER_ELSEWHERE;
	if (strcmp(o.boot, me.boot) != 0)
		return OWNER_DEAD;	/* nothing outlives a reboot */
	if (o.pidns == me.pidns && o.pid == me.pid && o.start == me.start)
		return OWNER_SELF;
	if (o.pidns == me.pidns && proc_is_ours()) {
		snprintf(id, sizeof(id), "%lld", o.pid);
		return start_time(id, &start) == 0 && start == o.start ?
		    OWNER_ALIVE : OWNER_DEAD;
	}
	return scan(&o);
}
