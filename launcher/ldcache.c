/* /etc/ld.so.cache reader and writer; the formats are described in ldcache.h.
 *
 * Reading checks the whole buffer first and only then hands out entries, so a
 * caller never sees half of a damaged file.  All multi-byte fields are little
 * endian (x86-64 is the only target; a big-endian cache is rejected, as the
 * loader rejects it).  Fields are read byte by byte, so the buffer needs no
 * alignment. */
#include "launcher/ldcache.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define OLD_MAGIC "ld.so-1.7.0"            /* 11 bytes, no NUL in the file */
#define OLD_HEADER 16                      /* magic, 1 pad byte, uint32 count */
#define OLD_ENTRY 12                       /* int32 flags; uint32 key, value */

#define NEW_MAGIC "glibc-ld.so.cache1.1"   /* magic and version, 20 bytes */
#define NEW_HEADER 48
#define NEW_ENTRY 24                       /* + uint32 osversion; uint64 hwcap */
#define NEW_COUNT 20                       /* offsets of the header fields */
#define NEW_STRLEN 24
#define NEW_FLAGS 28
#define NEW_EXTENSION 32

/* The header's flags byte: the low two bits tell the byte order.  0 (unset) or
 * little endian is what an x86-64 loader accepts. */
#define NEW_ENDIAN_MASK 3
#define NEW_ENDIAN_LITTLE 2

/* The optional extension directory (glibc >= 2.33): uint32 magic, uint32 count,
 * then count sections {uint32 tag, flags, offset, size}; offsets are from the
 * start of the file.  We only check that it lies inside the buffer, as ldconfig -p
 * does (it refuses the file otherwise). */
#define EXT_MAGIC 0xeaa42174u
#define EXT_HEADER 8
#define EXT_SECTION 16

/* hwcap bit 62 marks a glibc-hwcaps entry: its low 32 bits index the subdirectory
 * names in the extension section. */
#define HWCAP_EXTENSION (1ull << 62)

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void wr64(unsigned char *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* What we know about the buffer while checking it. */
struct cache {
	const unsigned char *buf;
	size_t len;
	/* One past the last NUL byte in buf (0 when there is none): a string that
	 * starts before it is terminated inside the buffer.  Computed once, so
	 * checking n strings costs O(n + len), not O(n * len). */
	size_t nul_end;
};

/* The string at base + off, or NULL when it starts outside the buffer or runs
 * off its end.  base <= len is the caller's invariant; off comes from the file. */
static const char *string_at(const struct cache *c, size_t base, uint32_t off)
{
	if (off >= c->len - base)
		return NULL;
	size_t start = base + off;
	if (start >= c->nul_end)
		return NULL;
	return (const char *)c->buf + start;
}

/* Reads entry i of a table at `table` (entry size `size`, string base `strbase`). */
static bool read_entry(const struct cache *c, size_t table, size_t size, size_t strbase,
		       size_t i, struct ldcache_entry *e)
{
	const unsigned char *p = c->buf + table + i * size;
	e->flags = (int32_t)rd32(p);
	e->key = string_at(c, strbase, rd32(p + 4));
	e->value = string_at(c, strbase, rd32(p + 8));
	e->osversion = size == NEW_ENTRY ? rd32(p + 12) : 0;
	e->hwcap = size == NEW_ENTRY ? rd64(p + 16) : 0;
	return e->key && e->value;
}

/* Checks the extension directory the header points at, the way glibc's readers
 * do: aligned, inside the file, known magic, every section inside the file. */
static bool extension_ok(const struct cache *c, uint32_t off)
{
	if (off == 0)
		return true;  /* no extension: allowed */
	if (off % 4 != 0 || off > c->len || c->len - off < EXT_HEADER)
		return false;
	const unsigned char *p = c->buf + off;
	if (rd32(p) != EXT_MAGIC)
		return false;
	uint32_t count = rd32(p + 4);
	if (count > (c->len - off - EXT_HEADER) / EXT_SECTION)
		return false;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *s = p + EXT_HEADER + (size_t)i * EXT_SECTION;
		uint64_t end = (uint64_t)rd32(s + 8) + rd32(s + 12);  /* cannot overflow */
		if (end > c->len)
			return false;
	}
	return true;
}

/* Checks a new-format table whose header starts at h; on success sets *table,
 * *count.  String offsets are relative to h. */
static bool new_ok(const struct cache *c, size_t h, size_t *table, size_t *count)
{
	if (h > c->len || c->len - h < NEW_HEADER)
		return false;
	const unsigned char *p = c->buf + h;
	if (memcmp(p, NEW_MAGIC, sizeof NEW_MAGIC - 1) != 0)
		return false;
	uint8_t flags = p[NEW_FLAGS];
	if (flags != 0 && (flags & NEW_ENDIAN_MASK) != NEW_ENDIAN_LITTLE)
		return false;
	size_t n = rd32(p + NEW_COUNT);
	size_t room = c->len - h - NEW_HEADER;
	if (n > room / NEW_ENTRY)  /* the division keeps n * NEW_ENTRY from overflowing */
		return false;
	/* ldconfig puts the string table right after the entries; it must fit. */
	if (rd32(p + NEW_STRLEN) > room - n * NEW_ENTRY)
		return false;
	if (!extension_ok(c, rd32(p + NEW_EXTENSION)))
		return false;
	for (size_t i = 0; i < n; i++) {
		struct ldcache_entry e;
		if (!read_entry(c, h + NEW_HEADER, NEW_ENTRY, h, i, &e))
			return false;
	}
	*table = h + NEW_HEADER;
	*count = n;
	return true;
}

/* The buffer's bounds, and its last NUL, for the checks above. */
static struct cache cache_of(const unsigned char *buf, size_t len)
{
	struct cache c = { .buf = buf, .len = len, .nul_end = 0 };
	const unsigned char *last_nul = len ? memrchr(buf, 0, len) : NULL;
	if (last_nul)
		c.nul_end = (size_t)(last_nul - buf) + 1;
	return c;
}

/* Which format: 1 with *h at the new header (a new file, or the combined form),
 * 0 for an old file (its count checked), -1 for no cache at all. */
static int locate_new_header(const unsigned char *buf, size_t len, size_t *h)
{
	if (len >= sizeof NEW_MAGIC - 1 && memcmp(buf, NEW_MAGIC, sizeof NEW_MAGIC - 1) == 0) {
		*h = 0;
		return 1;
	}
	if (len < OLD_HEADER || memcmp(buf, OLD_MAGIC, sizeof OLD_MAGIC - 1) != 0)
		return -1;
	size_t n = rd32(buf + 12);
	if (n > (len - OLD_HEADER) / OLD_ENTRY)
		return -1;
	/* The combined form hides a new header in the old string table, at the next
	 * multiple of 8.  Its magic decides: present, the new table is the one that
	 * counts (and must be sound); absent, this is an old file. */
	*h = (OLD_HEADER + n * OLD_ENTRY + 7) & ~(size_t)7;
	return *h <= len && len - *h >= sizeof NEW_MAGIC - 1 &&
	       memcmp(buf + *h, NEW_MAGIC, sizeof NEW_MAGIC - 1) == 0;
}

int ldcache_parse(const unsigned char *buf, size_t len, ldcache_visit_fn visit, void *ctx)
{
	if (!buf)
		return -1;
	struct cache c = cache_of(buf, len);
	size_t h, table, count, entry_size, strbase;
	int format = locate_new_header(buf, len, &h);
	if (format < 0)
		return -1;
	if (format == 1) {
		if (!new_ok(&c, h, &table, &count))
			return -1;
		entry_size = NEW_ENTRY;
		strbase = h;
	} else {
		/* Old format: strings are relative to the end of the table. */
		table = OLD_HEADER;
		count = rd32(buf + 12);
		entry_size = OLD_ENTRY;
		strbase = OLD_HEADER + count * OLD_ENTRY;
		for (size_t i = 0; i < count; i++) {
			struct ldcache_entry e;
			if (!read_entry(&c, table, entry_size, strbase, i, &e))
				return -1;
		}
	}

	/* Everything is checked: hand out the entries. */
	for (size_t i = 0; i < count && visit; i++) {
		struct ldcache_entry e;
		read_entry(&c, table, entry_size, strbase, i, &e);
		int r = visit(&e, ctx);
		if (r != 0)
			return r;
	}
	return 0;
}

/* glibc's _dl_cache_libcmp, reproduced in behaviour: runs of digits compare as
 * decimal numbers, a digit sorts after any non-digit, other bytes compare as
 * (signed, on x86) chars.  glibc accumulates the numbers in an int that wraps
 * on long runs and returns their difference, also wrapped; we do the same in
 * unsigned arithmetic (defined behaviour), so even absurd keys compare exactly
 * as the loader compares them. */
static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

int ldcache_compare_keys(const char *a, const char *b)
{
	while (*a != '\0') {
		if (is_digit(*a)) {
			if (!is_digit(*b))
				return 1;
			uint32_t va = 0, vb = 0;
			while (is_digit(*a))
				va = va * 10 + (uint32_t)(*a++ - '0');
			while (is_digit(*b))
				vb = vb * 10 + (uint32_t)(*b++ - '0');
			if (va != vb)
				return (int32_t)(va - vb);
		} else if (is_digit(*b)) {
			return -1;
		} else if (*a != *b) {
			return (signed char)*a - (signed char)*b;
		} else {
			a++;
			b++;
		}
	}
	return -(signed char)*b;
}

/* The order ldconfig writes entries in (its compare() in elf/cache.c):
 * keys descending, then higher flags first (x86-64 before i386), then
 * glibc-hwcaps entries before plain ones (by subdirectory index, which ldconfig
 * assigns in name order), then more hwcap bits, higher hwcap, higher osversion
 * first.  Entries still equal keep their input order: ldconfig inserts each new
 * library after its equals, in the order it scans directories. */
static int popcount64(uint64_t v)
{
	int n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

static int entry_cmp(const struct ldcache_entry *a, const struct ldcache_entry *b)
{
	int r = ldcache_compare_keys(b->key, a->key);
	if (r != 0)
		return r;
	if (a->flags != b->flags)
		return a->flags > b->flags ? -1 : 1;
	bool xa = a->hwcap & HWCAP_EXTENSION, xb = b->hwcap & HWCAP_EXTENSION;
	if (xa != xb)
		return xa ? -1 : 1;
	if (xa) {
		uint32_t ia = (uint32_t)a->hwcap, ib = (uint32_t)b->hwcap;
		if (ia != ib)
			return ia < ib ? -1 : 1;
	} else {
		int ba = popcount64(a->hwcap), bb = popcount64(b->hwcap);
		if (ba != bb)
			return ba > bb ? -1 : 1;
		if (a->hwcap != b->hwcap)
			return a->hwcap > b->hwcap ? -1 : 1;
	}
	if (a->osversion != b->osversion)
		return a->osversion > b->osversion ? -1 : 1;
	return 0;
}

/* A stable sort without extra memory: merge sort whose merge splits the two runs
 * with binary searches and rotates the middle (O(n log^2 n), nothing allocated).
 * Already sorted input (a host cache plus a few entries) costs O(n) compares. */
static void swap_entries(struct ldcache_entry *a, struct ldcache_entry *b)
{
	struct ldcache_entry t = *a;
	*a = *b;
	*b = t;
}

static void reverse(struct ldcache_entry *e, size_t lo, size_t hi)
{
	while (hi - lo > 1)
		swap_entries(&e[lo++], &e[--hi]);
}

/* [lo, mid) [mid, hi) -> [mid, hi) [lo, mid) */
static void rotate(struct ldcache_entry *e, size_t lo, size_t mid, size_t hi)
{
	reverse(e, lo, mid);
	reverse(e, mid, hi);
	reverse(e, lo, hi);
}

/* First position in [lo, hi) whose entry does not sort before *x. */
static size_t lower_bound(struct ldcache_entry *e, size_t lo, size_t hi, const struct ldcache_entry *x)
{
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (entry_cmp(&e[m], x) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* First position in [lo, hi) whose entry sorts after *x. */
static size_t upper_bound(struct ldcache_entry *e, size_t lo, size_t hi, const struct ldcache_entry *x)
{
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (entry_cmp(x, &e[m]) < 0)
			hi = m;
		else
			lo = m + 1;
	}
	return lo;
}

static void merge(struct ldcache_entry *e, size_t lo, size_t mid, size_t hi)
{
	if (lo == mid || mid == hi)
		return;
	if (hi - lo == 2) {
		if (entry_cmp(&e[mid], &e[lo]) < 0)
			swap_entries(&e[lo], &e[mid]);
		return;
	}
	size_t cut1, cut2;
	if (mid - lo > hi - mid) {
		cut1 = lo + (mid - lo) / 2;
		cut2 = lower_bound(e, mid, hi, &e[cut1]);
	} else {
		cut2 = mid + (hi - mid) / 2;
		cut1 = upper_bound(e, lo, mid, &e[cut2]);
	}
	rotate(e, cut1, mid, cut2);
	size_t newmid = cut1 + (cut2 - mid);
	merge(e, lo, cut1, newmid);
	merge(e, newmid, cut2, hi);
}

static void stable_sort(struct ldcache_entry *e, size_t lo, size_t hi)
{
	if (hi - lo <= 12) {
		for (size_t i = lo + 1; i < hi; i++)
			for (size_t j = i; j > lo && entry_cmp(&e[j], &e[j - 1]) < 0; j--)
				swap_entries(&e[j], &e[j - 1]);
		return;
	}
	size_t mid = lo + (hi - lo) / 2;
	stable_sort(e, lo, mid);
	stable_sort(e, mid, hi);
	if (entry_cmp(&e[mid], &e[mid - 1]) < 0)
		merge(e, lo, mid, hi);
}

/* size (below 2^32) plus every entry's key and value with their NULs, or 0 when an
 * entry lacks one or the file would pass 4 GiB - 1 (its offsets are 32-bit). */
static size_t with_strings(uint64_t size, const struct ldcache_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!e[i].key || !e[i].value)
			return 0;
		/* size is below 2^32 before each addition and a string is shorter than
		 * half the address space, so the 64-bit sum cannot wrap. */
		size += strlen(e[i].key) + 1;
		if (size > UINT32_MAX)
			return 0;
		size += strlen(e[i].value) + 1;
		if (size > UINT32_MAX)
			return 0;
	}
	return (size_t)size;
}

/* The file is at most 4 GiB - 1 long: its offsets are 32-bit.  0 means the
 * entries cannot make a cache (a NULL string, or too big). */
size_t ldcache_size(const struct ldcache_entry *entries, size_t n)
{
	if (n && !entries)
		return 0;
	if (n > (UINT32_MAX - NEW_HEADER) / NEW_ENTRY)
		return 0;
	return with_strings(NEW_HEADER + (uint64_t)n * NEW_ENTRY, entries, n);
}

/* Entry e in slot i of the new table in buf, its key then value at *str (from the
 * start of the header), which moves past them. */
static void put_entry(unsigned char *buf, size_t i, const struct ldcache_entry *e, size_t *str)
{
	unsigned char *p = buf + NEW_HEADER + i * NEW_ENTRY;
	size_t klen = strlen(e->key) + 1, vlen = strlen(e->value) + 1;
	wr32(p, (uint32_t)e->flags);
	wr32(p + 4, (uint32_t)*str);
	memcpy(buf + *str, e->key, klen);
	*str += klen;
	wr32(p + 8, (uint32_t)*str);
	memcpy(buf + *str, e->value, vlen);
	*str += vlen;
	wr32(p + 12, e->osversion);
	wr64(p + 16, e->hwcap);
}

long ldcache_write(struct ldcache_entry *entries, size_t n, unsigned char *buf, size_t buflen)
{
	size_t size = ldcache_size(entries, n);
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if (!buf || buflen < size) {
		errno = ERANGE;
		return -1;
	}
	if (n > 1)
		stable_sort(entries, 0, n);

	/* Header: magic, count, string table length, little-endian flag, no
	 * extension (the loader and ldconfig -p treat offset 0 as "none"). */
	size_t table_end = NEW_HEADER + n * NEW_ENTRY;
	memset(buf, 0, NEW_HEADER);
	memcpy(buf, NEW_MAGIC, sizeof NEW_MAGIC - 1);
	wr32(buf + NEW_COUNT, (uint32_t)n);
	wr32(buf + NEW_STRLEN, (uint32_t)(size - table_end));
	buf[NEW_FLAGS] = NEW_ENDIAN_LITTLE;

	/* Entries, and each entry's key then value in the string table; offsets
	 * are from the start of the header. */
	size_t str = table_end;
	for (size_t i = 0; i < n; i++)
		put_entry(buf, i, &entries[i], &str);
	return (long)size;
}

/* ---- adding entries to a cache without rewriting it ------------------------------- */

/* A cache ldcache_insert can splice: its new table and the string table after it. */
struct splice {
	struct cache c;
	size_t h;        /* the new header */
	size_t count;    /* its entries */
	size_t strings;  /* the string table, from h */
	size_t strsize;  /* its length */
	size_t ext;      /* the extension directory kept (0: left out), to the file's end */
};

/* Extension section tags (glibc's dl-cache.h): the generator string; the glibc-hwcaps
 * subdirectory names, an array of uint32 string offsets. */
#define EXT_TAG_GENERATOR 0
#define EXT_TAG_GLIBC_HWCAPS 1

/* Whether the extension directory at ext can be kept as it is, moved as a block: the
 * layout ldconfig writes for a new-format file.  The directory and every section lie
 * after the string table (then one offset change moves them all), no section is of a
 * kind we do not know (it could hold offsets we would not move), and each glibc-hwcaps
 * name is a string of the string table (which moves with the entries' strings).
 * extension_ok has checked the directory and the sections against the file. */
static bool extension_movable(const struct splice *s, size_t ext)
{
	const unsigned char *buf = s->c.buf;
	if (s->h != 0 || ext < s->strings + s->strsize)
		return false;
	uint32_t count = rd32(buf + ext + 4);
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *sec = buf + ext + EXT_HEADER + (size_t)i * EXT_SECTION;
		uint32_t tag = rd32(sec), off = rd32(sec + 8), size = rd32(sec + 12);
		if (off < ext || (tag != EXT_TAG_GENERATOR && tag != EXT_TAG_GLIBC_HWCAPS))
			return false;
		if (tag != EXT_TAG_GLIBC_HWCAPS)
			continue;
		if (size % 4 != 0)
			return false;
		for (uint32_t j = 0; j < size / 4; j++) {
			uint32_t name = rd32(buf + off + 4 * (size_t)j);
			if (name < s->strings || name - s->strings >= s->strsize)
				return false;
		}
	}
	return true;
}

static bool splice_source(const unsigned char *buf, size_t len, struct splice *s)
{
	if (!buf)
		return false;
	s->c = cache_of(buf, len);
	size_t table;
	if (locate_new_header(buf, len, &s->h) != 1 || !new_ok(&s->c, s->h, &table, &s->count))
		return false;
	/* new_ok checked that the string table fits in buf.  Ending with a NUL, every
	 * string that starts in it also ends in it. */
	s->strings = NEW_HEADER + s->count * NEW_ENTRY;
	s->strsize = rd32(buf + s->h + NEW_STRLEN);
	if (s->strsize == 0 || buf[s->h + s->strings + s->strsize - 1] != '\0')
		return false;
	for (size_t i = 0; i < s->count; i++) {
		const unsigned char *p = buf + table + i * NEW_ENTRY;
		uint32_t key = rd32(p + 4), value = rd32(p + 8);
		if (key < s->strings || key - s->strings >= s->strsize ||
		    value < s->strings || value - s->strings >= s->strsize)
			return false;
	}
	/* Without its extension a glibc-hwcaps entry names no subdirectory and the loader
	 * skips it: kept when it can be. */
	uint32_t ext = rd32(buf + s->h + NEW_EXTENSION);
	s->ext = ext != 0 && extension_movable(s, ext) ? ext : 0;
	return true;
}

size_t ldcache_insert_size(const unsigned char *buf, size_t len,
			   const struct ldcache_entry *add, size_t n)
{
	struct splice s;
	if ((n && !add) || !splice_source(buf, len, &s))
		return 0;
	const size_t max_entries = (UINT32_MAX - NEW_HEADER) / NEW_ENTRY;
	if (s.count > max_entries || n > max_entries - s.count)
		return 0;
	uint64_t size = NEW_HEADER + (uint64_t)(s.count + n) * NEW_ENTRY + s.strsize;
	size = size > UINT32_MAX ? 0 : with_strings(size, add, n);
	if (size && s.ext) {
		/* The extension after the strings, at a multiple of 4 as ldconfig puts it. */
		size = ((size + 3) & ~(uint64_t)3) + (len - s.ext);
		if (size > UINT32_MAX)
			return 0;
	}
	return (size_t)size;
}

/* Entry i of the spliced cache (its strings checked by splice_source). */
static void splice_entry(const struct splice *s, size_t i, struct ldcache_entry *e)
{
	read_entry(&s->c, s->h + NEW_HEADER, NEW_ENTRY, s->h, i, e);
}

/* Copies the cache's entries [from, to) to out's entry slot k on, their strings
 * moved by shift. */
static void copy_entries(const struct splice *s, size_t from, size_t to, unsigned char *out,
			 size_t k, uint32_t shift)
{
	const unsigned char *src = s->c.buf + s->h + NEW_HEADER + from * NEW_ENTRY;
	unsigned char *dst = out + NEW_HEADER + k * NEW_ENTRY;
	memcpy(dst, src, (to - from) * NEW_ENTRY);
	for (size_t i = 0; i < to - from; i++, dst += NEW_ENTRY) {
		wr32(dst + 4, rd32(dst + 4) + shift);
		wr32(dst + 8, rd32(dst + 8) + shift);
	}
}

long ldcache_insert(const unsigned char *buf, size_t len, struct ldcache_entry *add, size_t n,
		    unsigned char *out, size_t outlen)
{
	size_t size = ldcache_insert_size(buf, len, add, n);
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if (!out || outlen < size) {
		errno = ERANGE;
		return -1;
	}
	struct splice s;
	splice_source(buf, len, &s);
	if (n > 1)
		stable_sort(add, 0, n);

	size_t total = s.count + n;
	size_t table_end = NEW_HEADER + total * NEW_ENTRY;
	/* The table grows by n entries: every string of the cache moves by that much. */
	uint32_t shift = (uint32_t)(n * NEW_ENTRY);
	size_t ext_len = s.ext ? len - s.ext : 0;
	size_t ext = s.ext ? size - ext_len : 0;
	memset(out, 0, NEW_HEADER);
	memcpy(out, NEW_MAGIC, sizeof NEW_MAGIC - 1);
	wr32(out + NEW_COUNT, (uint32_t)total);
	out[NEW_FLAGS] = NEW_ENDIAN_LITTLE;
	wr32(out + NEW_EXTENSION, (uint32_t)ext);
	memcpy(out + table_end, buf + s.h + s.strings, s.strsize);

	size_t str = table_end + s.strsize, from = 0, k = 0;
	for (size_t j = 0; j < n; j++) {
		/* After the cache's entries that sort before or equal to it. */
		size_t lo = from, hi = s.count;
		while (lo < hi) {
			size_t m = lo + (hi - lo) / 2;
			struct ldcache_entry e;
			splice_entry(&s, m, &e);
			if (entry_cmp(&add[j], &e) < 0)
				hi = m;
			else
				lo = m + 1;
		}
		copy_entries(&s, from, lo, out, k, shift);
		k += lo - from;
		from = lo;
		put_entry(out, k++, &add[j], &str);
	}
	copy_entries(&s, from, s.count, out, k, shift);
	wr32(out + NEW_STRLEN, (uint32_t)(str - table_end));

	if (s.ext) {
		/* The padding to the directory, then the directory and its sections as one
		 * block: their offsets (from the file's start) move with it, the hwcaps
		 * names' string offsets with the strings. */
		memset(out + str, 0, ext - str);
		memcpy(out + ext, buf + s.ext, ext_len);
		uint32_t count = rd32(out + ext + 4);
		for (uint32_t i = 0; i < count; i++) {
			unsigned char *sec = out + ext + EXT_HEADER + (size_t)i * EXT_SECTION;
			uint32_t off = rd32(sec + 8) - (uint32_t)s.ext + (uint32_t)ext;
			wr32(sec + 8, off);
			if (rd32(sec) != EXT_TAG_GLIBC_HWCAPS)
				continue;
			for (uint32_t j = 0; j < rd32(sec + 12) / 4; j++)
				wr32(out + off + 4 * (size_t)j, rd32(out + off + 4 * (size_t)j) + shift);
		}
	}
	return (long)size;
}
