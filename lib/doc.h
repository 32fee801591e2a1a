/*
 * doc.h - model: the document tree every program reads and writes.
 *
 * A document is a tree of maps (ordered, string keys), lists and scalars.
 * Scalars keep their type so that JSON output writes numbers as numbers and
 * YAML output quotes strings that would otherwise read back as numbers.
 *
 * Ownership: doc_new_* return a node owned by the caller, freed with
 * doc_free (which takes NULL).  doc_map_set and doc_list_push take ownership
 * of the value they are given.  Getters borrow.
 */
#ifndef CLOUDOS_DOC_H
#define CLOUDOS_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cerr.h"

enum doc_type {
	DOC_NULL,
	DOC_BOOL,
	DOC_INT,
	DOC_REAL,
	DOC_STR,
	DOC_MAP,
	DOC_LIST,
};

struct doc;

struct doc_kv {
	char *key;
	struct doc *val;
};

struct doc {
	enum doc_type type;
	int line;		/* 1-based source line, 0 when built in memory */
	union {
		bool b;
		long long i;
		double r;
		char *s;
		struct {
			struct doc_kv *kv;
			size_t n, cap;
		} map;
		struct {
			struct doc **v;
			size_t n, cap;
		} list;
	} u;
};

/* A list of top-level documents read from one input. */
struct doclist {
	struct doc **v;
	size_t n, cap;
	char *source;		/* "<stdin>" or the file name */
};

struct doc *doc_new(enum doc_type type);
struct doc *doc_new_str(const char *s);
struct doc *doc_new_strn(const char *s, size_t n);
struct doc *doc_new_int(long long i);
struct doc *doc_new_bool(bool b);
void doc_free(struct doc *d);
struct doc *doc_copy(const struct doc *d);

/* Maps: set replaces an existing key in place; get returns NULL if absent.
 * Both look at every key (maps are small; the reader checks a map's
 * keys by sorting them, yml.c); add appends a key the caller knows is new. */
void doc_map_set(struct doc *map, const char *key, struct doc *val);
void doc_map_add(struct doc *map, const char *key, struct doc *val);
struct doc *doc_map_get(const struct doc *map, const char *key);
void doc_set_str(struct doc *map, const char *key, const char *s);
void doc_set_int(struct doc *map, const char *key, long long i);
/* The value of key if it is a string, else NULL. */
const char *doc_get_str(const struct doc *map, const char *key);

void doc_list_push(struct doc *list, struct doc *val);

const char *doc_type_name(enum doc_type t);

/* Scalar as text ("" for null and for collections); borrowed or in tmp. */
const char *doc_scalar_text(const struct doc *d, char tmp[64]);

/* Append d as compact JSON to b. */
void doc_json(struct buf *b, const struct doc *d);

void doclist_push(struct doclist *dl, struct doc *d);
void doclist_release(struct doclist *dl);

#endif
