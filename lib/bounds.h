/*
 * bounds.h - core: what one input may hold and what one object may keep,
 * in one place.  Constants only; any module may include it.
 *
 * Each is far above what a real cloud needs and low enough that no input
 * costs more than time and memory in proportion to its size.  cloudos(7)
 * LIMITS lists them; a change here is a change there.  Going over one is
 * CERR_USAGE, with a message that names the limit and where it was hit.
 */
#ifndef CLOUDOS_BOUNDS_H
#define CLOUDOS_BOUNDS_H

/* One input (a file, or standard input), in bytes, read whole. */
#define BOUND_INPUT_MIB 64
#define BOUND_INPUT_BYTES ((size_t)BOUND_INPUT_MIB << 20)
/* Values (scalars, maps and lists, keys not counted) in one input. */
#define BOUND_INPUT_VALUES 4000000
/* One document (a top-level map, or an item of a top-level list). */
#define BOUND_DOC_MIB 4
#define BOUND_DOC_BYTES ((size_t)BOUND_DOC_MIB << 20)
/* Keys of one map. */
#define BOUND_MAP_KEYS 10000
/* Levels of maps and lists inside one another. */
#define BOUND_DEPTH 64
/* One string (a key or a value), in bytes. */
#define BOUND_STRING_MIB 1
#define BOUND_STRING_BYTES ((size_t)BOUND_STRING_MIB << 20)

/* Labels of one object, and the bytes of one label's value (keys are
 * 1 to 63 characters, valid_label_key). */
#define BOUND_LABELS 64
#define BOUND_LABEL_VALUE 256
/* Rules of one security group in a document (each is looked up among the
 * group's rules: a bound keeps an apply fast). */
#define BOUND_SG_RULES 1000
/* Address ranges of one network in a document (likewise). */
#define BOUND_NET_RANGES 256
/* A VM's context.user_data, in bytes (as OpenStack and Azure). */
#define BOUND_USER_DATA_KIB 64
#define BOUND_USER_DATA ((size_t)BOUND_USER_DATA_KIB << 10)

#endif
