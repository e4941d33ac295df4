/* /etc/ld.so.cache: read both formats, write the new one.
 *
 * The reader never trusts the file: every count, offset and string is checked
 * against the buffer before use, and a damaged file is an error, never a crash
 * (tests/fuzz/fuzz_ldcache.c hammers it).
 *
 * Formats (glibc's sysdeps/generic/dl-cache.h, described here in our own words):
 *  - old: "ld.so-1.7.0" (11 bytes), 1 pad byte, uint32 count, then count entries
 *    {int32 flags; uint32 key, value}, string offsets relative to the end of the
 *    entry table.
 *  - new: "glibc-ld.so.cache1.1", uint32 count, uint32 string-table length, uint8
 *    flags (endianness), 3 pad bytes, uint32 extension offset, 3 uint32 unused, then
 *    count entries {int32 flags; uint32 key, value; uint32 osversion; uint64 hwcap},
 *    string offsets relative to the start of the new header.
 *  - both: an old header and table, then a new header aligned to 8 bytes after it
 *    (old string offsets still count from the end of the old table).
 *  - the new header may point (extension offset, from the start of the file) at an
 *    extension directory: uint32 magic 0xeaa42174, uint32 count, count sections
 *    {uint32 tag, flags, offset, size}: the generator string, glibc-hwcaps names.
 * ldconfig writes the new format by default since glibc 2.32; glibc 2.36's ldconfig
 * still writes the others with -c old / -c compat, and its loader reads all three.
 */
#ifndef VGPU_LDCACHE_H
#define VGPU_LDCACHE_H

#include <stddef.h>
#include <stdint.h>

/* The flag bits the loader uses to pick an entry for a process. */
#define LDCACHE_FLAG_ELF_LIBC6 0x0003
#define LDCACHE_FLAG_TYPE_MASK 0x00ff
#define LDCACHE_FLAG_X8664_LIB64 0x0300
#define LDCACHE_FLAG_ARCH_MASK 0xff00
/* What an x86-64 glibc process accepts. */
#define LDCACHE_FLAGS_X86_64 (LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_X8664_LIB64)

struct ldcache_entry {
	int32_t flags;
	const char *key;    /* soname, e.g. "libcuda.so.1" */
	const char *value;  /* path, e.g. "/usr/lib/x86_64-linux-gnu/libcuda.so.1" */
	uint32_t osversion;
	uint64_t hwcap;
};

/* Calls visit for every entry, in file order (the new table when the file has both).
 * visit returns 0 to go on, anything else to stop (returned as is, so it should not
 * return -1).  Returns 0, or -1 when the buffer is not a well-formed cache: a known
 * magic, counts whose tables fit, every key and value starting inside buf and
 * NUL-terminated inside it, the new header's string table and extension directory
 * (when it has one) inside buf, little-endian (or unset) byte order.  The whole
 * buffer is checked before the first visit, so a damaged cache visits nothing.
 * Keys and values point into buf.  visit may be NULL: just check. */
typedef int (*ldcache_visit_fn)(const struct ldcache_entry *e, void *ctx);
int ldcache_parse(const unsigned char *buf, size_t len, ldcache_visit_fn visit, void *ctx);

/* The order the loader's binary search expects: glibc compares sonames so that runs
 * of digits compare as numbers, and sorts the table in *descending* order of that
 * comparison.  Returns <0, 0, >0 as strcmp does: the sign glibc's _dl_cache_libcmp
 * gives (a digit sorts after any other byte, bytes compare as signed chars, numbers
 * wrap at 32 bits as glibc's int does).  A table t is in the loader's order when
 * ldcache_compare_keys(t[i].key, t[i+1].key) >= 0 for every i. */
int ldcache_compare_keys(const char *a, const char *b);

/* Writes a new-format cache holding entries (n of them; sorted here, in place) into
 * buf.  Returns its length, or -1 (errno ERANGE when buflen is too small, EINVAL for a
 * bad entry: a NULL key or value, or more than the format's 32-bit offsets reach).
 * ldcache_size tells the length needed, or 0 for such bad entries.
 *
 * The order is ldconfig's: keys descending, then higher flags first (x86-64 before
 * i386), glibc-hwcaps entries (hwcap bit 62) before plain ones, more hwcap bits,
 * higher hwcap, higher osversion; entries still equal keep their order in the array
 * (ldconfig's directory scan order, which decides which one the loader takes).  The
 * strings are copied, so they may point into another cache's buffer, but not into
 * buf.  No extension directory is written: glibc-hwcaps entries then name no
 * subdirectory and the loader skips them for the plain entry of the same name. */
size_t ldcache_size(const struct ldcache_entry *entries, size_t n);
long ldcache_write(struct ldcache_entry *entries, size_t n, unsigned char *buf, size_t buflen);

/* The cache in buf with entries added (n of them; sorted here, in place), written in
 * the new format into out, without rewriting the cache's own entries: its string
 * table is copied as one block, its entries keep their order with their string
 * offsets moved, and each added entry goes where the loader's binary search expects
 * it, after the entries it sorts equal to (ldcache_write's order, when the cache
 * itself is in that order).  A few entries added to a cache of thousands cost a copy,
 * not a sort.
 *
 * For caches of the shape ldconfig writes: a new-format table (alone, or after an
 * old one) whose strings all lie in its string table, which ends with a NUL.
 * ldcache_insert_size tells the length needed, or 0 when buf is not such a cache (or
 * not a cache at all: ldcache_parse says which) or an added entry is bad; then
 * ldcache_write over the parsed entries is the way.  ldcache_insert returns the
 * length, or -1 (errno ERANGE when outlen is too small, EINVAL when the size is 0).
 * The extension directory (the generator string, the glibc-hwcaps subdirectory names)
 * is kept, moved with its offsets, when it is laid out as ldconfig writes it for a
 * new-format file and holds only those two kinds of section; otherwise it is left out,
 * as by ldcache_write, and glibc-hwcaps entries then name no subdirectory (the loader
 * skips them for the plain entry of the same name). */
size_t ldcache_insert_size(const unsigned char *buf, size_t len,
			   const struct ldcache_entry *add, size_t n);
long ldcache_insert(const unsigned char *buf, size_t len, struct ldcache_entry *add, size_t n,
		    unsigned char *out, size_t outlen);

#endif
