/*
 * qemuimg.c - adapter: qemu-img, run as a program.  The only module that
 * starts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "doc.h"
#include "qemuimg.h"
#include "compat.h"

/*
 * Run qemu-img with argv (argv[0] is "qemu-img"): no shell, stdin and
 * stdout on /dev/null, the first line of its stderr in msg.  Returns its
 * exit status, or -1 when it cannot be started.
 */
static int
qemuimg_run(char *const argv[], struct buf *msg)
{
	char b[4096];
	size_t n = 0;
	ssize_t r;
	int p[2], st, nul;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		nul = open("/dev/null", O_RDWR);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
		    dup2(p[1], 2) < 0)
			_exit(126);
		execvp("qemu-img", argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], b + n, sizeof(b) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
		if (n == sizeof(b) - 1) {	/* drain the rest */
			char junk[512];

			while (read(p[0], junk, sizeof(junk)) > 0)
				;
			break;
		}
	}
	close(p[0]);
	b[n] = '\0';
	b[strcspn(b, "\n")] = '\0';
	buf_puts(msg, b);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == 127 && msg->len == 0 ? -1 :
	    WEXITSTATUS(st);
}

/* A qemu-img source for the file at path in format fmt that reads no
 * other file: the driver named, a backing file refused. */
static void
qemuimg_source(struct buf *b, const char *path, const char *fmt)
{
	struct doc *p = doc_new_str(path);

	buf_printf(b, "json:{\"driver\":\"%s\",%s\"file\":{\"driver\":"
	    "\"file\",\"filename\":", fmt, strcmp(fmt, "raw") == 0 ? "" :
	    "\"backing\":null,");
	doc_json(b, p);
	buf_puts(b, "}}");
	doc_free(p);
}

int
qemuimg_convert(const char *src, const char *fmt, const char *dst,
    const char *out, const char *opts, struct buf *msg)
{
	struct buf in;
	char *argv[10];
	int n = 0, rc;

	buf_init(&in);
	qemuimg_source(&in, src, fmt);
	argv[n++] = (char *)"qemu-img";
	argv[n++] = (char *)"convert";
	argv[n++] = (char *)"-q";
	argv[n++] = (char *)"-O";
	argv[n++] = (char *)out;
	if (opts) {
		argv[n++] = (char *)"-o";
		argv[n++] = (char *)opts;
	}
	argv[n++] = in.s;
	argv[n++] = (char *)dst;
	argv[n] = NULL;
	rc = qemuimg_run(argv, msg);
	buf_release(&in);
	return rc;
}
