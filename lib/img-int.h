/*
 * img-int.h - service: what the img family shares (img.c, img-copy.c,
 * img-fetch.c, img-ova.c, img-repo.c, img-wait.c); only lib/img*.c
 * include it.  Each function is described where it is defined.
 */
#ifndef CLOUDOS_IMG_INT_H
#define CLOUDOS_IMG_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "buf.h"
#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "img.h"
#include "imgfmt.h"

/* Large reads and writes: a copy runs at the speed of the disks. */
#define COPY_BUF (4 << 20)
#define MIB 1048576ULL

/* What the caller may see: binds ?1 (admin), ?2 (user id). */
#define IMG_VISIBLE "(?1 OR i.owner = ?2 OR i.visibility = 'public') "

/* The repository's limits (img-repo.c). */
struct limits {
	long long reserve_mib;	/* a set size, or -1 */
	int reserve_pct;	/* a set percentage, or -1 */
	long long max_mib;	/* 0: no largest size */
};

/* Where the bytes of an import go: the file, the digest, and the first
 * bytes kept to read the format from. */
struct sink {
	int fd;
	struct digest *ck;	/* XXH128: every image's checksum */
	struct digest *dg;	/* SHA256: only when asked (NULL else) */
	unsigned char probe[IMGFMT_PROBE_LEN];
	size_t nprobe;
	unsigned long long bytes;
};

/* A thread hashing what has landed in a file, trailing its writer
 * (img-copy.c). */
struct trail {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long long start;	/* hashed already */
	unsigned long long copied;
	bool done;
	struct sink *s;
	const char *path;	/* the file s->fd writes, read back */
	int rerr;
};

/* One disk of an OVA being imported (img-ova.c). */
struct ova_disk {
	const struct ovf_disk *d;
	const char *file;		/* its entry's name */
	const struct ovf_mf_line *mf;
	unsigned long long entry_size;
	long long id;
	int lockfd;
	bool got;
	struct buf name, lock, tmp, path;
	char checksum[80];		/* of its qcow2: "xxh128:HEX" */
	unsigned long long size, vsize;
};

/* What the first pass over an OVA's tar read. */
struct ova {
	char *ovf, *mf;
	size_t novf, nmf;
	char *ovf_name, *mf_name;
	char **names;		/* every regular file's name */
	unsigned long long *sizes;
	size_t n;
};

/* An OVA checked and ready to import. */
struct ova_job {
	struct ova o;
	struct ovf *ovf;
	struct ovf_mf *mf;
	struct ova_disk *dk;
	size_t nd;
	unsigned long long total;
	unsigned long long reserve;	/* the repository's, in bytes */
};

/* img.c */
int img_find(struct ctx *ctx, const char *ref, struct doc **out,
    long long *owner, struct cerr *err);
void img_import_undo(struct ctx *ctx, long long id);
int img_labels_json(const struct doc *labels, struct buf *json,
    struct cerr *err);

/* img-repo.c */
void img_repo(struct ctx *ctx, struct buf *b);
int img_repo_checked(struct ctx *ctx, struct buf *dir, struct cerr *err);
int img_repo_ensure(struct ctx *ctx, struct buf *dir, struct cerr *err);
int img_repo_limits_read(struct ctx *ctx, struct limits *l,
    struct cerr *err);
unsigned long long img_repo_limits_reserve(const struct limits *l,
    const char *dir);
int img_repo_room(const char *dir, unsigned long long need,
    unsigned long long reserve, const char *what, struct cerr *err);
int img_import_row(struct ctx *ctx, const struct img_spec *spec,
    const char *name, const char *source, const char *labels,
    const char *dir, long long *id, int *lockfd, struct buf *lock,
    struct cerr *err);
void img_unlock_row(int *lockfd, struct buf *lock);

/* img-copy.c */
unsigned long long img_copy_held(int fd, unsigned long long size);
void img_copy_sink_hash(struct sink *s, const void *p, size_t n);
int img_copy_write_all(int fd, const void *buf, size_t n, const char *dst,
    struct cerr *err);
int img_copy_fd(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err);
int img_copy_repo_create(const char *path, int flags, struct cerr *err);
int img_copy_file_matches(int fd, const char *what, long long size,
    const char *checksum, struct cerr *err);
void *img_copy_trail_run(void *arg);
void img_copy_trail_advance(struct trail *t, unsigned long long end);
int img_copy_range(struct ctx *ctx, int in, const char *source, struct sink *s,
    const char *dst, unsigned long long total, img_progress_fn progress,
    struct cerr *err);
int img_copy_hash_file(const char *path, const char *algo, char hex[65],
    unsigned long long *size, unsigned char *probe, size_t *nprobe,
    struct cerr *err);

/* img-fetch.c */
int img_fetch_url(struct ctx *ctx, const char *url, const char *shown,
    const char *dir, struct sink *s, long stall, unsigned long long reserve,
    unsigned long long max, img_progress_fn progress, struct buf *part,
    struct cerr *err);
void img_fetch_drop_part(struct ctx *ctx, const char *url);

/* img-ova.c */
int img_ova_prepare(const char *path, const char *what, const char *dir,
    struct ova_job *j, struct cerr *err);
void img_ova_release_job(struct ctx *ctx, struct ova_job *j, bool failed);
int img_ova_run(struct ctx *ctx, struct ova_job *j, const char *path,
    const char *what, const char *source, const struct img_spec *spec,
    const char *labels, long long id0, const char *dir,
    img_progress_fn progress, struct cerr *err);

#endif
