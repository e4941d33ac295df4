/* Drives LLVMFuzzerTestOneInput (fuzz_ldcache.c) without libFuzzer, for CI: same
 * inputs every run, bounded time.
 *
 * Seeds: the files named on the command line, /etc/ld.so.cache, caches that
 * `ldconfig -C` builds here in the three formats, and small caches made with
 * ldcache_write.  Then seeded mutations of them (bit flips, truncations, random
 * counts and offsets written over header and entry fields, insertions,
 * extensions, splices), then purely random buffers.  Small copies of the real
 * caches (8 of their entries, in all three formats) take most mutations, as a
 * run over a small input is ~100 times cheaper.  The target abort()s on any
 * disagreement; a crash saves the input to /tmp/fuzz_ldcache-crash.bin, and
 * `fuzz_ldcache FILE` replays it.  `fuzz_ldcache --dump-seeds DIR [FILE...]`
 * also writes every seed to DIR, a starting corpus for libFuzzer.  Output is
 * TAP. */
#include "launcher/ldcache.h"
#include "tests/unit/check.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 64
/* A run over a real 40 KB cache costs ~2 ms in a Debug build, one over a small
 * cache ~20 us: real caches get a few hundred mutations each, the small caches
 * derived from them (same strings, 8 entries, all three formats) the bulk. */
#define MUTATIONS_PER_BIG_SEED 600
#define BIG_SEED 4096
#define MUTATIONS_SMALL 100000
#define RANDOM_BUFFERS 50000
#define TIME_LIMIT_S 15  /* a slow machine stops early (and says so) rather than overrun */

struct seed {
	unsigned char *data;
	size_t len;
	char name[64];
};

static struct seed seeds[MAX_SEEDS];
static size_t nseeds;

/* The input being run, for the crash handler. */
static const unsigned char *current;
static size_t current_len;

static void on_crash(int sig)
{
	static const char path[] = "/tmp/fuzz_ldcache-crash.bin";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		size_t off = 0;
		while (off < current_len) {
			ssize_t w = write(fd, current + off, current_len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(fd);
		static const char msg[] = "# crashing input saved to /tmp/fuzz_ldcache-crash.bin\n";
		ssize_t ignored = write(2, msg, sizeof msg - 1);
		(void)ignored;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run(const unsigned char *buf, size_t len)
{
	current = buf;
	current_len = len;
	LLVMFuzzerTestOneInput(buf, len);
}

/* splitmix64: small, good enough, and the same everywhere. */
static uint64_t rng_state = 0x5eed1dcac4e5ull;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static bool add_seed(const char *name, unsigned char *data, size_t len)
{
	if (nseeds == MAX_SEEDS) {
		free(data);
		return false;
	}
	seeds[nseeds].data = data;
	seeds[nseeds].len = len;
	snprintf(seeds[nseeds].name, sizeof seeds[nseeds].name, "%s", name);
	nseeds++;
	return true;
}

static bool load_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
		close(fd);
		return false;
	}
	size_t len = (size_t)st.st_size, off = 0;
	unsigned char *data = malloc(len);
	while (data && off < len) {
		ssize_t r = read(fd, data + off, len - off);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	if (!data || off != len) {
		free(data);
		return false;
	}
	const char *base = strrchr(path, '/');
	return add_seed(base ? base + 1 : path, data, len);
}

static const char *find_ldconfig(void)
{
	static const char *const candidates[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig",
						  "/usr/bin/ldconfig" };
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* Caches over the host's library dirs in each format ldconfig writes.  -X and
 * -i: leave the host's symlinks and aux cache alone. */
static int build_ldconfig_seeds(void)
{
	const char *ldconfig = find_ldconfig();
	if (!ldconfig)
		return -1;
	char dir[] = "/tmp/fuzz_replay.XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	static const char *const formats[] = { "new", "old", "compat" };
	int built = 0;
	for (size_t i = 0; i < 3; i++) {
		char cmd[512], path[256];
		snprintf(path, sizeof path, "%s/ld.so.cache.%s", dir, formats[i]);
		snprintf(cmd, sizeof cmd, "%s -i -X -c %s -C %s -f /dev/null >/dev/null 2>&1", ldconfig,
			 formats[i], path);
		if (system(cmd) == 0 && load_file(path))
			built++;
		unlink(path);
		char tmp[260];
		snprintf(tmp, sizeof tmp, "%s~", path);
		unlink(tmp);
	}
	rmdir(dir);
	return built;
}

/* Small caches from our own writer: short keys with digit runs, both kinds of
 * flags, hwcap and osversion set, so mutations reach every field quickly. */
static void build_synthetic_seeds(void)
{
	static const char *const keys[] = { "libcuda.so.1", "libcuda.so", "libfoo.so.10", "libfoo.so.9",
					    "libfoo.so.9", "libc.so.6", "ld-linux-x86-64.so.2", "a" };
	for (size_t n = 1; n <= 8; n *= 2) {
		struct ldcache_entry e[8];
		for (size_t i = 0; i < n; i++) {
			e[i].key = keys[(i * 3 + n) % 8];
			e[i].value = i % 2 ? "/usr/lib/x86_64-linux-gnu/libcuda.so.1" : "/lib32/x";
			e[i].flags = i % 3 ? LDCACHE_FLAGS_X86_64 : LDCACHE_FLAG_ELF_LIBC6;
			e[i].osversion = i == 2 ? 0x030200 : 0;
			e[i].hwcap = i == 3 ? (1ull << 62) | 1 : 0;
		}
		size_t len = ldcache_size(e, n);
		unsigned char *buf = malloc(len);
		if (buf && ldcache_write(e, n, buf, len) == (long)len) {
			char name[32];
			snprintf(name, sizeof name, "synthetic-%zu", n);
			add_seed(name, buf, len);
		} else {
			free(buf);
		}
	}
}

/* Small caches with real strings: 8 entries of a real seed (first, middle,
 * last), written by ldcache_write and re-assembled here as old-format and
 * combined files too, so every format is mutated cheaply. */
struct pick {
	size_t index, total;
	struct ldcache_entry e[8];
	size_t n;
};

static int count_entry(const struct ldcache_entry *e, void *ctx)
{
	((struct pick *)ctx)->total++;
	return 0;
}

static int pick_entry(const struct ldcache_entry *e, void *ctx)
{
	struct pick *p = ctx;
	size_t i = p->index++, t = p->total;
	if ((i < 3 || i == t / 2 || i == t / 2 + 1 || i + 3 >= t) && p->n < 8)
		p->e[p->n++] = *e;
	return 0;
}

static uint32_t get32(const unsigned char *b)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

static void put32(unsigned char *b, size_t len, size_t off, uint32_t v)
{
	if (off <= len && len - off >= 4)
		memcpy(b + off, &v, 4);
}

static void derive_small_seeds(const struct seed *s)
{
	struct pick p = { 0, 0, { { 0 } }, 0 };
	if (ldcache_parse(s->data, s->len, count_entry, &p) != 0 || p.total == 0)
		return;
	ldcache_parse(s->data, s->len, pick_entry, &p);
	size_t n = p.n, len = ldcache_size(p.e, n);
	unsigned char *nw = malloc(len);
	if (!nw || ldcache_write(p.e, n, nw, len) != (long)len) {
		free(nw);
		return;
	}
	size_t tab = 48 + n * 24, end = 16 + n * 12, h = (end + 7) & ~(size_t)7;
	size_t olen = end + (len - tab), clen = h + len;
	unsigned char *old = calloc(1, olen), *both = calloc(1, clen);
	if (!old || !both) {
		free(old);
		free(both);
		free(nw);
		return;
	}
	memcpy(old, "ld.so-1.7.0", 11);
	put32(old, olen, 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = nw + 48 + i * 24;
		put32(old, olen, 16 + i * 12, get32(e));
		put32(old, olen, 16 + i * 12 + 4, get32(e + 4) - (uint32_t)tab);
		put32(old, olen, 16 + i * 12 + 8, get32(e + 8) - (uint32_t)tab);
	}
	memcpy(old + end, nw + tab, len - tab);
	/* The combined file: the old part, padding, then the new file verbatim;
	 * old string offsets now count from the end of the old table. */
	memcpy(both, old, end);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = nw + 48 + i * 24;
		put32(both, clen, 16 + i * 12 + 4, get32(e + 4) + (uint32_t)(h - end));
		put32(both, clen, 16 + i * 12 + 8, get32(e + 8) + (uint32_t)(h - end));
	}
	memcpy(both + h, nw, len);
	char name[80];
	snprintf(name, sizeof name, "%.40s/small-new", s->name);
	add_seed(name, nw, len);
	snprintf(name, sizeof name, "%.40s/small-old", s->name);
	add_seed(name, old, olen);
	snprintf(name, sizeof name, "%.40s/small-both", s->name);
	add_seed(name, both, clen);
}

/* Where the header and the table of the (unmutated) seed are, so mutations can
 * aim at them. */
struct layout {
	size_t header;     /* new header offset, or 0 for an old file */
	size_t table;      /* first entry */
	size_t entry_size;
	size_t count;
	bool old_present;
};

static struct layout layout_of(const unsigned char *b, size_t len)
{
	struct layout l = { 0, 48, 24, 0, false };
	if (len >= 16 && memcmp(b, "ld.so-1.7.0", 11) == 0) {
		uint32_t n;
		memcpy(&n, b + 12, 4);
		l.old_present = true;
		size_t h = (16 + (size_t)n * 12 + 7) & ~(size_t)7;
		if (n <= len / 12 && h + 48 <= len && memcmp(b + h, "glibc-ld.so.cache1.1", 20) == 0) {
			l.header = h;
			l.table = h + 48;
			memcpy(&n, b + h + 20, 4);
		} else {
			l.table = 16;
			l.entry_size = 12;
		}
		l.count = n;
	} else if (len >= 48) {
		uint32_t n;
		memcpy(&n, b + 20, 4);
		l.count = n;
	}
	return l;
}

static uint32_t interesting(size_t len)
{
	switch (below(12)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 0xffffffffu;
	case 3: return 0x7fffffffu;
	case 4: return 0x80000000u;
	case 5: return (uint32_t)len;
	case 6: return (uint32_t)len - 1;
	case 7: return (uint32_t)(len / 24);
	case 8: return (uint32_t)(len / 12 + 1);
	case 9: return (uint32_t)below(len + 64);
	case 10: return 0x0aaaaaabu;  /* * 24 wraps a 32-bit size */
	default: return (uint32_t)rnd();
	}
}

/* One mutation of b (length *len, capacity cap). */
static void mutate(unsigned char *b, size_t *len, size_t cap, const struct layout *l)
{
	size_t n = *len;
	switch (below(9)) {
	case 0: {  /* flip a few bits */
		if (!n)
			break;
		for (size_t k = 1 + below(8); k; k--) {
			size_t at = below(n);
			b[at] ^= (unsigned char)(1u << below(8));
		}
		break;
	}
	case 1:  /* truncate */
		*len = below(n + 1);
		break;
	case 2: {  /* a header field */
		static const size_t fields[] = { 20, 24, 28, 32, 36 };
		if (l->old_present && below(3) == 0)
			put32(b, n, 12, interesting(n));
		else if (below(5) == 0)
			b[l->header + 28 < n ? l->header + 28 : 0] = (unsigned char)rnd();
		else
			put32(b, n, l->header + fields[below(5)], interesting(n));
		break;
	}
	case 3: {  /* an entry field: flags, key, value, osversion, hwcap */
		size_t count = l->count ? (l->count < 4096 ? l->count : 4096) : 1;
		size_t at = l->table + below(count) * l->entry_size + 4 * below(l->entry_size / 4);
		put32(b, n, at, interesting(n));
		break;
	}
	case 4: {  /* extend with random bytes or zeros */
		size_t add = below(cap - n + 1);
		add = add > 256 ? below(256) : add;
		bool zeros = below(2);
		for (size_t i = 0; i < add; i++)
			b[n + i] = zeros ? 0 : (unsigned char)rnd();
		*len = n + add;
		break;
	}
	case 5: {  /* insert random bytes in the middle */
		size_t add = 1 + below(16);
		if (n + add > cap)
			break;
		size_t at = below(n + 1);
		memmove(b + at + add, b + at, n - at);
		for (size_t i = 0; i < add; i++)
			b[at + i] = (unsigned char)rnd();
		*len = n + add;
		break;
	}
	case 6: {  /* delete a run */
		if (!n)
			break;
		size_t at = below(n), del = 1 + below(32);
		if (del > n - at)
			del = n - at;
		memmove(b + at, b + at + del, n - at - del);
		*len = n - del;
		break;
	}
	case 7: {  /* splice in a chunk of another seed */
		const struct seed *s = &seeds[below(nseeds)];
		if (!s->len || !n)
			break;
		size_t from = below(s->len), at = below(n), k = 1 + below(64);
		if (k > s->len - from)
			k = s->len - from;
		if (k > n - at)
			k = n - at;
		memcpy(b + at, s->data + from, k);
		break;
	}
	default: {  /* clear the NULs from a stretch: unterminated strings */
		if (!n)
			break;
		size_t at = below(n), k = 1 + below(64);
		for (size_t i = at; i < n && i < at + k; i++)
			if (!b[i])
				b[i] = 'x';
		break;
	}
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	signal(SIGSEGV, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);
	signal(SIGTRAP, on_crash);  /* UBSan in zig's Debug builds traps */
	double start = now();

	/* --dump-seeds DIR: write every seed there (a corpus for a real fuzzer). */
	const char *dump = NULL;
	int first = 1;
	if (argc > 2 && strcmp(argv[1], "--dump-seeds") == 0) {
		dump = argv[2];
		first = 3;
	}
	int from_args = 0;
	for (int i = first; i < argc; i++)
		from_args += load_file(argv[i]);
	bool host = load_file("/etc/ld.so.cache");
	int built = build_ldconfig_seeds();
	build_synthetic_seeds();
	CHECK(from_args == argc - first, "seeds from the command line: %d of %d", from_args, argc - first);
	if (built < 0)
		CHECK_SKIP("no ldconfig here to build seed caches");
	else
		CHECK(built == 3, "seed caches built by ldconfig -C (new, old, compat): %d", built);
	printf("# host /etc/ld.so.cache %s\n", host ? "included" : "missing");

	/* Files from the command line may be anything (a saved crash, to replay
	 * it): they only have to survive.  Our own seeds are real caches: they
	 * must parse too. */
	size_t parsed = 0;
	for (size_t i = 0; i < nseeds; i++) {
		bool ok = ldcache_parse(seeds[i].data, seeds[i].len, NULL, NULL) == 0;
		if (i < (size_t)from_args)
			printf("# %s: %s\n", seeds[i].name, ok ? "parses" : "rejected");
		else
			parsed += ok;
		run(seeds[i].data, seeds[i].len);
	}
	CHECK(parsed == nseeds - (size_t)from_args, "all %zu built-in seeds parse and round-trip",
	      nseeds - (size_t)from_args);

	size_t cap = 0;
	for (size_t i = 0; i < nseeds; i++)
		cap = seeds[i].len > cap ? seeds[i].len : cap;
	cap += 4096;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return 1;

	/* Real (big) seeds first get their small copies, then everyone is mutated:
	 * each big seed a few hundred times, the small ones round robin. */
	size_t nreal = nseeds;
	for (size_t i = 0; i < nreal; i++)
		derive_small_seeds(&seeds[i]);
	if (dump) {
		for (size_t i = 0; i < nseeds; i++) {
			char path[512];
			snprintf(path, sizeof path, "%s/seed-%02zu", dump, i);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			bool ok = fd >= 0 && write(fd, seeds[i].data, seeds[i].len) == (ssize_t)seeds[i].len;
			if (fd >= 0)
				close(fd);
			CHECK(ok, "seed %s written to %s", seeds[i].name, path);
		}
	}
	size_t big[MAX_SEEDS], small[MAX_SEEDS], nbig = 0, nsmall = 0;
	for (size_t i = 0; i < nseeds; i++) {
		if (seeds[i].len > BIG_SEED)
			big[nbig++] = i;
		else
			small[nsmall++] = i;
	}
	size_t total = nbig * MUTATIONS_PER_BIG_SEED + (nsmall ? MUTATIONS_SMALL : 0);
	size_t done = 0, ok_parse = 0;
	bool timed_out = false;
	for (; done < total; done++) {
		if (done % 64 == 0 && now() - start > TIME_LIMIT_S) {
			timed_out = true;
			break;
		}
		size_t b = nbig * MUTATIONS_PER_BIG_SEED;
		const struct seed *s = done < b ? &seeds[big[done / MUTATIONS_PER_BIG_SEED]]
						: &seeds[small[(done - b) % nsmall]];
		struct layout l = layout_of(s->data, s->len);
		memcpy(buf, s->data, s->len);
		size_t len = s->len;
		for (size_t k = 1 + below(3); k; k--)
			mutate(buf, &len, cap, &l);
		ok_parse += ldcache_parse(buf, len, NULL, NULL) == 0;
		run(buf, len);
	}
	printf("# %zu seeds: %zu real, %zu small; %.1f s so far\n", nseeds, nbig, nsmall, now() - start);
	CHECK(done > 0, "%zu seeded mutations ran without a crash (%zu still parsed and round-tripped)%s", done,
	      ok_parse, timed_out ? "; stopped at the time limit" : "");

	/* Random buffers: raw noise, and noise behind each magic so the checks past
	 * the magic get exercised. */
	size_t rdone = 0, rparsed = 0;
	for (; rdone < RANDOM_BUFFERS && !timed_out; rdone++) {
		if (rdone % 64 == 0 && now() - start > TIME_LIMIT_S) {
			timed_out = true;
			break;
		}
		size_t len = below(2048);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(below(4) == 0 ? 0 : rnd());
		int kind = (int)below(3);
		if (kind == 1 && len >= 48) {
			memcpy(buf, "glibc-ld.so.cache1.1", 20);
			put32(buf, len, 20, (uint32_t)below(len / 24 + 2));
			put32(buf, len, 24, (uint32_t)below(len));
			buf[28] = (unsigned char)below(4);
			put32(buf, len, 32, below(4) ? 0 : (uint32_t)below(len));
		} else if (kind == 2 && len >= 16) {
			memcpy(buf, "ld.so-1.7.0", 11);
			put32(buf, len, 12, (uint32_t)below(len / 12 + 2));
		}
		rparsed += ldcache_parse(buf, len, NULL, NULL) == 0;
		run(buf, len);
	}
	CHECK(timed_out || rdone > 0, "%zu random buffers ran without a crash (%zu parsed)%s", rdone, rparsed,
	      timed_out ? "; stopped at the time limit" : "");
	CHECK(ok_parse + rparsed > 0, "round trips equal for every input that parsed (%zu)", ok_parse + rparsed);
	printf("# %.1f s\n", now() - start);

	free(buf);
	for (size_t i = 0; i < nseeds; i++)
		free(seeds[i].data);
	return check_done();
}
