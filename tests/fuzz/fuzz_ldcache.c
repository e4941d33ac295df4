/* Fuzz target for launcher/ldcache.c: parse any bytes; what parses must be written
 * back by ldcache_write and parse again to the same entries, in the sorted order; and
 * entries spliced in by ldcache_insert (into the input, when it has the shape for it,
 * and into the rewritten cache, which always has) must parse back with the cache's own
 * entries in their order.  Any disagreement is abort(), so the fuzzer reports it as a
 * crash.
 *
 * In CI, tests/fuzz/fuzz_replay.c drives this deterministically (zig build tests
 * installs zig-out/tests/unit/fuzz_ldcache).  As a real coverage-guided fuzzer:
 *
 *   clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -I. tests/fuzz/fuzz_ldcache.c launcher/ldcache.c -o /tmp/fuzz_ldcache
 *   mkdir -p /tmp/ldcache-corpus
 *   zig-out/tests/unit/fuzz_ldcache --dump-seeds /tmp/ldcache-corpus
 *   /tmp/fuzz_ldcache /tmp/ldcache-corpus -max_total_time=300 -timeout=5 -max_len=4096
 *
 * (--dump-seeds writes the replay's seeds: the host cache, ldconfig -C caches in
 * the new, old and combined formats, and small caches derived from them.  Drop
 * -max_len to mutate the full-size caches too, at ~500 runs/s.  Debian needs
 * libclang-rt-14-dev for -fsanitize=fuzzer.) */
#include "launcher/ldcache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Round trips whose output would be bigger than this are skipped: a tiny input
 * can point thousands of entries at one long string, and the fuzzer must stay
 * fast and within its memory limit. */
#define MAX_STRINGS (16u << 20)

struct list {
	struct ldcache_entry *e;
	size_t n, cap;
	const uint8_t *buf;
	size_t len;
};

static int collect(const struct ldcache_entry *e, void *ctx)
{
	struct list *l = ctx;
	if (l->n == l->cap)
		abort();  /* more entries than the buffer can hold: parser bug */
	/* Both strings must lie in the caller's buffer and end there. */
	const char *lo = (const char *)l->buf, *hi = lo + l->len;
	if (!e->key || !e->value || e->key < lo || e->key >= hi || e->value < lo || e->value >= hi)
		abort();
	if (!memchr(e->key, 0, (size_t)(hi - e->key)) || !memchr(e->value, 0, (size_t)(hi - e->value)))
		abort();
	l->e[l->n++] = *e;
	return 0;
}

static bool list_init(struct list *l, const uint8_t *buf, size_t len)
{
	/* Every entry takes at least 12 bytes of table, so len / 12 bounds them. */
	l->cap = len / 12 + 1;
	l->n = 0;
	l->buf = buf;
	l->len = len;
	l->e = calloc(l->cap, sizeof *l->e);
	return l->e != NULL;
}

/* glibc's comparison is a consistent order only while digit runs fit an int;
 * longer runs wrap (as in glibc) and then no sort can satisfy every pair. */
static bool short_digit_runs(const char *s)
{
	int run = 0;
	for (; *s; s++) {
		run = (*s >= '0' && *s <= '9') ? run + 1 : 0;
		if (run > 9)
			return false;
	}
	return true;
}

static bool same_entry(const struct ldcache_entry *a, const struct ldcache_entry *b)
{
	return a->flags == b->flags && a->osversion == b->osversion && a->hwcap == b->hwcap &&
	       strcmp(a->key, b->key) == 0 && strcmp(a->value, b->value) == 0;
}

/* What the launcher adds to a cache without the driver. */
static struct ldcache_entry added[2] = {
	{ .flags = LDCACHE_FLAGS_X86_64, .key = "libcuda.so.1", .value = "/opt/vgpu/lib/libcuda.so.1" },
	{ .flags = LDCACHE_FLAGS_X86_64, .key = "libcuda.so", .value = "/opt/vgpu/lib/libcuda.so.1" },
};
#define ADDED_BYTES (2 * 24 + 13 + 27 + 11 + 27)

/* Splices `added` into buf (which parsed to the entries of in) when it can: the
 * result parses, holds in's entries in their order plus the added ones, and is exactly
 * as long as ldcache_insert_size said.  Returns the spliced cache (or NULL when buf
 * has not the shape for it); *len its length. */
static unsigned char *check_insert(const uint8_t *buf, size_t len, const struct list *in, size_t *outlen)
{
	size_t need = ldcache_insert_size(buf, len, added, 2);
	if (need == 0)
		return NULL;
	unsigned char *out = malloc(need);
	if (!out)
		abort();
	errno = 0;
	if (ldcache_insert(buf, len, added, 2, out, need - 1) != -1 || errno != ERANGE)
		abort();
	if (ldcache_insert(buf, len, added, 2, out, need) != (long)need)
		abort();
	struct list l;
	if (!list_init(&l, out, need) || ldcache_parse(out, need, collect, &l) != 0 ||
	    l.n != in->n + 2)
		abort();
	size_t j = 0, seen = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (j < in->n && same_entry(&l.e[i], &in->e[j]))
			j++;
		else if (same_entry(&l.e[i], &added[0]) || same_entry(&l.e[i], &added[1]))
			seen++;
		else
			abort();
	}
	if (j != in->n || seen != 2)
		abort();
	free(l.e);
	*outlen = need;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct list in, back;
	if (!list_init(&in, data, size))
		return 0;
	int r = ldcache_parse(data, size, collect, &in);
	if (r != 0) {
		if (r != -1)
			abort();  /* collect never stops the walk: only -1 may come back */
		free(in.e);
		return 0;
	}

	/* Bound the work before ldcache_size walks every string. */
	size_t total = 0;
	for (size_t i = 0; i < in.n && total <= MAX_STRINGS; i++)
		total += strnlen(in.e[i].key, MAX_STRINGS) + strnlen(in.e[i].value, MAX_STRINGS) + 2;
	if (total > MAX_STRINGS) {
		free(in.e);
		return 0;
	}

	size_t spliced_len;
	free(check_insert(data, size, &in, &spliced_len));

	size_t need = ldcache_size(in.e, in.n);
	if (need != 48 + in.n * 24 + total)
		abort();
	unsigned char *out = malloc(need), *again = malloc(need);
	if (!out || !again)
		abort();

	/* One byte short: refused, with ERANGE. */
	errno = 0;
	if (ldcache_write(in.e, in.n, out, need - 1) != -1 || errno != ERANGE)
		abort();
	if (ldcache_write(in.e, in.n, out, need) != (long)need)
		abort();

	/* Parse the output: the same entries, in the order write sorted them to. */
	if (!list_init(&back, out, need))
		abort();
	if (ldcache_parse(out, need, collect, &back) != 0 || back.n != in.n)
		abort();
	bool orderly = true;
	for (size_t i = 0; i < in.n; i++) {
		if (!same_entry(&in.e[i], &back.e[i]))
			abort();
		orderly = orderly && short_digit_runs(in.e[i].key);
	}
	/* Sorted as the loader's binary search needs: keys never ascend. */
	for (size_t i = 1; orderly && i < in.n; i++)
		if (ldcache_compare_keys(back.e[i - 1].key, back.e[i].key) < 0)
			abort();

	/* Writing what we read back changes nothing: the sort is stable (given a
	 * consistent order; with wrapped numbers sorting twice may differ). */
	if (ldcache_write(back.e, back.n, again, need) != (long)need)
		abort();
	if (orderly && memcmp(out, again, need) != 0)
		abort();

	/* What ldcache_write makes can always be spliced into (it has a string); the
	 * result is what writing every entry again gives: the same entries in the same
	 * order, the added ones after their equals. */
	unsigned char *spliced = in.n ? check_insert(out, need, &back, &spliced_len) : NULL;
	if (in.n && (!spliced || spliced_len != need + ADDED_BYTES))
		abort();
	if (spliced && orderly) {
		struct ldcache_entry *all = malloc((in.n + 2) * sizeof *all);
		unsigned char *rewritten = malloc(spliced_len);
		struct list a, b;
		if (!all || !rewritten)
			abort();
		memcpy(all, back.e, in.n * sizeof *all);
		memcpy(all + in.n, added, sizeof added);
		if (ldcache_write(all, in.n + 2, rewritten, spliced_len) != (long)spliced_len)
			abort();
		if (!list_init(&a, spliced, spliced_len) || !list_init(&b, rewritten, spliced_len) ||
		    ldcache_parse(spliced, spliced_len, collect, &a) != 0 ||
		    ldcache_parse(rewritten, spliced_len, collect, &b) != 0 || a.n != b.n)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (!same_entry(&a.e[i], &b.e[i]))
				abort();
		free(a.e);
		free(b.e);
		free(all);
		free(rewritten);
	}
	free(spliced);

	free(back.e);
	free(again);
	free(out);
	free(in.e);
	return 0;
}
