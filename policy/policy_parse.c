/* Reading the policy dialect (vgpu-policy(5)) from a file, from memory, and from
 * --gpu specs.  ISO C and POSIX only, no allocation, no state kept between calls. */
#include "policy/policy.h"
#include "policy/policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOWN_MAX 48
#define SPEC_SHOWN_MAX 160


static const char *shown(char *buf, size_t buflen, const char *s, size_t n, size_t max)
{
	return policy_printable(buf, buflen, s, n, max);
}


static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* --- keys ----------------------------------------------------------------------- */

enum key_id {
	K_EMULATE, K_EMULATE_PROFILE, K_MEMORY, K_DRIVER_PATH, K_LAUNCH, K_DRIVER_VERSION,
	K_TRACE, K_DEVICE, K_GPU_MEMORY, K_NAME, K_COUNT
};
enum key_place { GLOBAL, GPU };

static const struct key {
	const char *name;
	enum key_place place;
	size_t max;               /* longest value, in bytes */
	const char *expected;
} keys[K_COUNT] = {
	[K_EMULATE] = { "emulate", GLOBAL, 127, "no, yes or a profile" },
	[K_EMULATE_PROFILE] = { "emulate-profile", GLOBAL, POLICY_PROFILE_MAX - 1, "a profile" },
	[K_MEMORY] = { "memory", GLOBAL, 127, "a size such as 8G or a percentage such as 50%" },
	[K_DRIVER_PATH] = { "driver-path", GLOBAL, POLICY_PATH_MAX - 1, "an absolute directory" },
	[K_LAUNCH] = { "launch", GLOBAL, 127, "error or noop" },
	[K_DRIVER_VERSION] = { "driver-version", GLOBAL, 127, "a CUDA version such as 13.0 or 12.8" },
	[K_TRACE] = { "trace", GLOBAL, POLICY_PATH_MAX - 1, "an absolute file path" },
	[K_DEVICE] = { "device", GPU, 127, "an index (0..63), a GPU-UUID or emulated[:PROFILE]" },
	[K_GPU_MEMORY] = { "memory", GPU, 127, "a size such as 8G or a percentage such as 50%" },
	[K_NAME] = { "name", GPU, POLICY_NAME_MAX - 1, "the name the GPU reports" },
};

#define GLOBAL_KEYS "emulate, emulate-profile, memory, driver-path, launch, driver-version or trace"
#define GPU_KEYS "device, memory or name"

static int key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* The key of that name in that place, or -1; *elsewhere is set when the key exists
 * but belongs to the other place. */
static int key_find(const char *k, size_t n, enum key_place place, int *elsewhere)
{
	*elsewhere = 0;
	for (int i = 0; i < K_COUNT; i++) {
		if (!key_is(k, n, keys[i].name))
			continue;
		if (keys[i].place == place)
			return i;
		*elsewhere = 1;
	}
	return -1;
}

/* --- the parser ------------------------------------------------------------------ */

struct pstate {
	struct policy *p;
	const char *origin;
	unsigned flags;
	unsigned lineno;
	char *err;
	size_t errlen;
	struct policy_gpu *gpu;        /* the [gpu] section being read, or NULL */
	struct policy_fault *fault;    /* the [fault] section being read, or NULL */
	unsigned gpu_line;             /* its header line (of either kind) */
	unsigned seen[K_COUNT];        /* line of each key in its current section */
	unsigned profile_line;         /* line that gave the emulate profile */
	int profile_by_emulate;        /* ... as emulate = PROFILE */
	unsigned end_line;             /* canonical: the line of POLICY_CANONICAL_END */
};

static int fail(struct pstate *st, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct pstate *st, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!st->err || st->errlen == 0)
		return -1;
	n = snprintf(st->err, st->errlen, "%s:%u: ", st->origin, line);
	if (n < 0 || (size_t)n >= st->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The value as written: plain (taken as it is) or "quoted" with \" and \\ escapes.
 * Writes at most cap-1 bytes and a NUL to out; *outlen is the full length. */
static int unquote(struct pstate *st, const char *key, const char *v, size_t n, char *out,
		   size_t cap, size_t *outlen)
{
	size_t o = 0, i;

	if (n == 0 || v[0] != '"') {
		for (i = 0; i < n; i++, o++)
			if (o + 1 < cap)
				out[o] = v[i];
		out[o + 1 < cap ? o : cap - 1] = '\0';
		*outlen = o;
		return 0;
	}
	for (i = 1; i < n; i++) {
		char c = v[i];

		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= n || (v[i + 1] != '"' && v[i + 1] != '\\')) {
				char sh[8];
				return fail(st, st->lineno,
					    "%s: unknown escape '\\%s' in a quoted value; only \\\" and \\\\ are escapes",
					    key, i + 1 < n ? shown(sh, sizeof(sh), v + i + 1, 1, 1) : "");
			}
			c = v[++i];
		}
		if (o + 1 < cap)
			out[o] = c;
		o++;
	}
	if (i >= n)
		return fail(st, st->lineno, "%s: the quoted value lacks its closing '\"'", key);
	if (i + 1 != n)
		return fail(st, st->lineno, "%s: text after the closing '\"' of a quoted value", key);
	out[o + 1 < cap ? o : cap - 1] = '\0';
	*outlen = o;
	return 0;
}

static int end_section(struct pstate *st)
{
	char e[POLICY_ERROR_MAX];
	if (st->fault && policy_fault_finish(st->fault, e, sizeof(e)) != 0)
		return fail(st, st->gpu_line, "[fault]: %s", e);
	if (st->gpu && st->gpu->source == 0)
		return fail(st, st->gpu_line,
			    "[gpu] section has no device; expected device = INDEX, GPU-UUID or emulated[:PROFILE]");
	return 0;
}

static int section(struct pstate *st, const char *s, size_t n)
{
	char sh[SHOWN_MAX + 8];
	const char *close = memchr(s, ']', n);
	const char *in = s + 1;
	size_t inn;

	if (!close)
		return fail(st, st->lineno, "section header '%s' lacks its closing ']'; expected [gpu] or [fault]",
			    shown(sh, sizeof(sh), s, n, SHOWN_MAX));
	if ((size_t)(close - s) + 1 != n)
		return fail(st, st->lineno, "text after the section header '%s'; expected [gpu] alone on its line",
			    shown(sh, sizeof(sh), s, (size_t)(close - s) + 1, SHOWN_MAX));
	inn = (size_t)(close - in);
	trim(&in, &inn);
	if (!key_is(in, inn, "gpu") && !key_is(in, inn, "fault"))
		return fail(st, st->lineno, "unknown section [%s]; expected [gpu] or [fault]",
			    shown(sh, sizeof(sh), in, inn, SHOWN_MAX));
	if (end_section(st))
		return -1;
	if (key_is(in, inn, "fault")) {
		if (st->p->nfaults >= POLICY_MAX_FAULTS)
			return fail(st, st->lineno, "too many [fault] sections; at most %d rules", POLICY_MAX_FAULTS);
		st->fault = &st->p->faults[st->p->nfaults++];
		memset(st->fault, 0, sizeof(*st->fault));
		st->fault->line = st->lineno;
		st->gpu = NULL;
		st->gpu_line = st->lineno;
		return 0;
	}
	st->fault = NULL;
	if (st->p->ngpus >= POLICY_MAX_GPUS)
		return fail(st, st->lineno, "too many [gpu] sections; at most %d GPUs", POLICY_MAX_GPUS);
	st->gpu = &st->p->gpus[st->p->ngpus++];
	memset(st->gpu, 0, sizeof(*st->gpu));
	st->gpu_line = st->lineno;
	for (int i = 0; i < K_COUNT; i++)
		if (keys[i].place == GPU)
			st->seen[i] = 0;
	return 0;
}

static int assign(struct pstate *st, int k, const char *val)
{
	struct policy *p = st->p;
	char e[POLICY_ERROR_MAX], sh[SHOWN_MAX + 8], list[160];

	switch (k) {
	case K_EMULATE:
		if (policy_profile_known(val) && st->profile_line)
			return fail(st, st->lineno,
				    "emulate = %s: the profile is already given by emulate-profile on line %u; write emulate = yes",
				    val, st->profile_line);
		if (policy_set_emulate(p, val, e, sizeof(e)))
			return fail(st, st->lineno, "emulate: %s", e);
		if (policy_profile_known(val)) {
			st->profile_line = st->lineno;
			st->profile_by_emulate = 1;
		}
		return 0;
	case K_EMULATE_PROFILE:
		if (!policy_profile_known(val))
			return fail(st, st->lineno, "emulate-profile: unknown profile '%s'; known profiles: %s",
				    shown(sh, sizeof(sh), val, strlen(val), SHOWN_MAX),
				    policy_profiles_text(list, sizeof(list)));
		if (st->profile_line)
			return fail(st, st->lineno, "emulate-profile: the profile is already given by %s on line %u; give it once",
				    st->profile_by_emulate ? "emulate = PROFILE" : "emulate-profile",
				    st->profile_line);
		memset(p->emulate_profile, 0, sizeof(p->emulate_profile));
		memcpy(p->emulate_profile, val, strlen(val));
		st->profile_line = st->lineno;
		return 0;
	case K_MEMORY:
		if (policy_parse_memory(val, &p->memory, e, sizeof(e)))
			return fail(st, st->lineno, "memory: %s", e);
		return 0;
	case K_DRIVER_PATH:
		if (policy_add_search_path(p, val, e, sizeof(e)))
			return fail(st, st->lineno, "%s", e);
		return 0;
	case K_LAUNCH:
		if (strcmp(val, "error") == 0)
			p->launch = POLICY_LAUNCH_ERROR;
		else if (strcmp(val, "noop") == 0)
			p->launch = POLICY_LAUNCH_NOOP;
		else
			return fail(st, st->lineno, "launch: '%s' is not error or noop",
				    shown(sh, sizeof(sh), val, strlen(val), SHOWN_MAX));
		return 0;
	case K_DRIVER_VERSION:
		if (policy_parse_driver_version(val, &p->driver_version, e, sizeof(e)))
			return fail(st, st->lineno, "driver-version: %s", e);
		return 0;
	case K_TRACE:
		if (policy_set_trace(p, val, e, sizeof(e)))
			return fail(st, st->lineno, "%s", e);
		return 0;
	case K_DEVICE:
		if (policy_parse_source(val, st->gpu, e, sizeof(e)))
			return fail(st, st->lineno, "device: %s", e);
		return 0;
	case K_GPU_MEMORY:
		if (policy_parse_memory(val, &st->gpu->memory, e, sizeof(e)))
			return fail(st, st->lineno, "memory: %s", e);
		return 0;
	case K_NAME:
		if (policy_check_name(val, strlen(val), e, sizeof(e)))
			return fail(st, st->lineno, "%s", e);
		memset(st->gpu->name, 0, sizeof(st->gpu->name));
		memcpy(st->gpu->name, val, strlen(val));
		return 0;
	}
	return -1;
}

/* A key = value line of a [fault] section: the rule's own keys (policy_fault.c). */
static int fault_line(struct pstate *st, const char *key, size_t kn, const char *v, size_t vn)
{
	char k[32], val[POLICY_FAULT_FN_MAX + 64], e[POLICY_ERROR_MAX], sh[SHOWN_MAX + 8];
	size_t len = 0;

	if (kn >= sizeof(k))
		return fail(st, st->lineno, "unknown key '%s' in [fault]; expected " POLICY_FAULT_KEYS,
			    shown(sh, sizeof(sh), key, kn, SHOWN_MAX));
	memcpy(k, key, kn);
	k[kn] = '\0';
	trim(&v, &vn);
	if (unquote(st, k, v, vn, val, sizeof(val), &len))
		return -1;
	if (len == 0)
		return fail(st, st->lineno, "empty value for '%s'", k);
	if (len >= sizeof(val))
		return fail(st, st->lineno, "value of '%s' is too long (%zu bytes)", k, len);
	if (memchr(val, '\0', len))
		return fail(st, st->lineno, "NUL byte in the line; a policy file is text");
	if (policy_fault_item(st->fault, k, val, e, sizeof(e)) != 0)
		return fail(st, st->lineno, "[fault] %s", e);
	return 0;
}

static int parse_line(struct pstate *st, const char *s, size_t n)
{
	char sh[SHOWN_MAX + 8], val[POLICY_PATH_MAX];
	const char *eq, *key, *v;
	size_t kn, vn, len = 0;
	int canonical = (st->flags & POLICY_PARSE_CANONICAL) != 0;
	int k, elsewhere;

	if (n && s[n - 1] == '\r')
		n--;
	if (canonical && st->end_line)
		return fail(st, st->lineno, "text after the '%s' line that ends a canonical policy",
			    POLICY_CANONICAL_END);
	if (canonical && st->lineno == 1) {
		static const char fmt_prefix[] = "# vgpu-run canonical policy, format ";
		size_t pl = sizeof(fmt_prefix) - 1;

		if (key_is(s, n, POLICY_CANONICAL_HEADER))
			return 0;
		if (n > pl && memcmp(s, fmt_prefix, pl) == 0)
			return fail(st, 1, "canonical policy format '%s' is not supported; this vgpu-run reads format 1",
				    shown(sh, sizeof(sh), s + pl, n - pl, SHOWN_MAX));
		return fail(st, 1, "not a vgpu-run canonical policy: the first line is '%s'; expected '%s'",
			    shown(sh, sizeof(sh), s, n, SHOWN_MAX), POLICY_CANONICAL_HEADER);
	}
	if (!canonical && st->lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3; /* a UTF-8 byte order mark */
		n -= 3;
	}
	if (memchr(s, '\0', n))
		return fail(st, st->lineno, "NUL byte in the line; a policy file is text");
	trim(&s, &n);
	if (n == 0)
		return 0;
	if (s[0] == '#') {
		if (canonical && key_is(s, n, POLICY_CANONICAL_END))
			st->end_line = st->lineno;
		return 0;
	}
	if (s[0] == '[')
		return section(st, s, n);

	eq = memchr(s, '=', n);
	if (!eq)
		return fail(st, st->lineno, "expected 'key = value', a [gpu] header or a # comment; found '%s'",
			    shown(sh, sizeof(sh), s, n, SHOWN_MAX));
	key = s;
	kn = (size_t)(eq - s);
	trim(&key, &kn);
	if (kn == 0)
		return fail(st, st->lineno, "missing key before '='; expected 'key = value'");
	if (st->fault)
		return fault_line(st, key, kn, eq + 1, n - (size_t)(eq + 1 - s));
	shown(sh, sizeof(sh), key, kn, SHOWN_MAX);
	k = key_find(key, kn, st->gpu ? GPU : GLOBAL, &elsewhere);
	if (k < 0) {
		if (st->gpu && elsewhere)
			return fail(st, st->lineno,
				    "key '%s' is global: it goes before the first [gpu] section; expected " GPU_KEYS " in [gpu]",
				    sh);
		if (elsewhere)
			return fail(st, st->lineno,
				    "key '%s' belongs in a [gpu] section; expected " GLOBAL_KEYS " before the first [gpu]",
				    sh);
		if (st->gpu)
			return fail(st, st->lineno, "unknown key '%s' in [gpu]; expected " GPU_KEYS, sh);
		return fail(st, st->lineno, "unknown key '%s' before any section; expected " GLOBAL_KEYS " (or a [gpu] section)",
			    sh);
	}
	if (k != K_DRIVER_PATH && st->seen[k])
		return fail(st, st->lineno, "duplicate key '%s'%s (first on line %u); give each key once",
			    keys[k].name, st->gpu ? " in [gpu]" : "", st->seen[k]);
	st->seen[k] = st->lineno;

	v = eq + 1;
	vn = n - (size_t)(v - s);
	trim(&v, &vn);
	if (unquote(st, keys[k].name, v, vn, val, sizeof(val), &len))
		return -1;
	if (len == 0)
		return fail(st, st->lineno, "empty value for '%s'; expected %s", keys[k].name, keys[k].expected);
	if (len > keys[k].max)
		return fail(st, st->lineno, "value of '%s' is too long (%zu bytes); at most %zu bytes",
			    keys[k].name, len, keys[k].max);
	if (memchr(val, '\0', len))
		return fail(st, st->lineno, "NUL byte in the line; a policy file is text");
	return assign(st, k, val);
}

static void pstate_init(struct pstate *st, struct policy *p, const char *origin, unsigned flags,
			char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	st->p = p;
	st->origin = origin ? origin : "policy";
	st->flags = flags;
	st->err = err;
	st->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
}

/* One line without its '\n'; complete: whether a '\n' ended it. */
static int feed_line(struct pstate *st, const char *s, size_t n, int complete)
{
	st->lineno++;
	if (n > POLICY_LINE_MAX - 1)
		return fail(st, st->lineno, "line too long (more than %d bytes)", POLICY_LINE_MAX - 1);
	if (!complete && (st->flags & POLICY_PARSE_CANONICAL))
		return fail(st, st->lineno, "truncated canonical policy: the last line has no newline");
	return parse_line(st, s, n);
}

static int finish(struct pstate *st)
{
	if (end_section(st))
		return -1;
	if ((st->flags & POLICY_PARSE_CANONICAL) && !st->end_line)
		return fail(st, st->lineno ? st->lineno : 1,
			    "truncated canonical policy: it does not end with the '%s' line",
			    POLICY_CANONICAL_END);
	return 0;
}

static int parse_text_flags(struct policy *p, const char *text, size_t len, const char *origin,
			    unsigned flags, char *err, size_t errlen)
{
	struct pstate st;
	size_t off = 0;

	pstate_init(&st, p, origin, flags, err, errlen);
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

		if (feed_line(&st, text + off, n, nl != NULL))
			return -1;
		off += n + (nl ? 1 : 0);
	}
	return finish(&st);
}

int policy_parse_text(struct policy *p, const char *text, size_t len, const char *origin,
		      char *err, size_t errlen)
{
	return parse_text_flags(p, text, len, origin, 0, err, errlen);
}

int policy_parse_fd(struct policy *p, int fd, const char *origin, unsigned flags, char *err,
		    size_t errlen)
{
	struct pstate st;
	struct stat sb;
	char buf[POLICY_LINE_MAX], e[128];
	size_t fill = 0, total = 0;

	pstate_init(&st, p, origin, flags, err, errlen);
	if (fstat(fd, &sb) != 0) {
		policy_seterr(err, errlen, "%s: %s", st.origin, policy_errtext(errno, e, sizeof(e)));
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		policy_seterr(err, errlen, "%s: %s; expected a policy file", st.origin, policy_errtext(EISDIR, e, sizeof(e)));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		policy_seterr(err, errlen, "%s: not a regular file; expected a policy file", st.origin);
		return -1;
	}
	if (sb.st_size > POLICY_FILE_MAX) {
		policy_seterr(err, errlen, "%s: too big (%lld bytes); a policy file is at most 1 MiB",
		       st.origin, (long long)sb.st_size);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + fill, sizeof(buf) - fill);
		size_t start = 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			policy_seterr(err, errlen, "%s: %s", st.origin, policy_errtext(errno, e, sizeof(e)));
			return -1;
		}
		if (r == 0)
			break;
		total += (size_t)r;
		if (total > POLICY_FILE_MAX) {
			policy_seterr(err, errlen, "%s: too big (more than 1 MiB); a policy file is at most 1 MiB",
			       st.origin);
			return -1;
		}
		fill += (size_t)r;
		for (;;) {
			char *nl = memchr(buf + start, '\n', fill - start);
			if (!nl)
				break;
			if (feed_line(&st, buf + start, (size_t)(nl - (buf + start)), 1))
				return -1;
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, fill - start);
		fill -= start;
		if (fill == sizeof(buf))
			return fail(&st, st.lineno + 1, "line too long (more than %d bytes)",
				    POLICY_LINE_MAX - 1);
	}
	if (fill && feed_line(&st, buf, fill, 0))
		return -1;
	return finish(&st);
}

int policy_parse_file(struct policy *p, const char *path, char *err, size_t errlen)
{
	char e[128];
	int fd, rc;

	/* O_NONBLOCK: a FIFO must not hang us; policy_parse_fd rejects it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		policy_seterr(err, errlen, "%s: %s", path, policy_errtext(errno, e, sizeof(e)));
		return -1;
	}
	rc = policy_parse_fd(p, fd, path, 0, err, errlen);
	close(fd);
	return rc;
}

/* --- --gpu SPEC ------------------------------------------------------------------ */

int policy_add_gpu_spec(struct policy *p, const char *spec, char *err, size_t errlen)
{
	char sh[SPEC_SHOWN_MAX + 8], ish[SHOWN_MAX + 8], e[POLICY_ERROR_MAX], val[POLICY_NAME_MAX + 32];
	struct policy_gpu g;
	size_t n = spec ? strlen(spec) : 0, off = 0;
	int item = 0, seen_memory = 0, seen_name = 0;

	shown(sh, sizeof(sh), spec ? spec : "", n, SPEC_SHOWN_MAX);
	if (n == 0) {
		policy_seterr(err, errlen, "--gpu '': empty; expected SOURCE[,memory=SIZE][,name=NAME] with SOURCE an index, a GPU-UUID or emulated[:PROFILE]");
		return -1;
	}
	memset(&g, 0, sizeof(g));
	while (off <= n) {
		const char *comma = memchr(spec + off, ',', n - off);
		const char *s = spec + off;
		size_t sn = comma ? (size_t)(comma - s) : n - off;
		const char *eq, *k, *v;
		size_t kn, vn;

		off += sn + 1;
		trim(&s, &sn);
		if (sn == 0) {
			policy_seterr(err, errlen, "--gpu '%s': empty item; expected SOURCE[,memory=SIZE][,name=NAME]", sh);
			return -1;
		}
		if (item++ == 0) {
			if (sn >= sizeof(val)) {
				policy_seterr(err, errlen, "--gpu '%s': '%s' is not a GPU; expected an index (0..%d), a GPU-UUID or emulated[:PROFILE]",
				       sh, shown(ish, sizeof(ish), s, sn, SHOWN_MAX), POLICY_INDEX_MAX);
				return -1;
			}
			memcpy(val, s, sn);
			val[sn] = '\0';
			if (policy_parse_source(val, &g, e, sizeof(e))) {
				policy_seterr(err, errlen, "--gpu '%s': %s", sh, e);
				return -1;
			}
			continue;
		}
		eq = memchr(s, '=', sn);
		if (!eq) {
			policy_seterr(err, errlen, "--gpu '%s': '%s' is not key=value; expected memory=SIZE or name=NAME",
			       sh, shown(ish, sizeof(ish), s, sn, SHOWN_MAX));
			return -1;
		}
		k = s;
		kn = (size_t)(eq - s);
		trim(&k, &kn);
		v = eq + 1;
		vn = sn - (size_t)(v - s);
		trim(&v, &vn);
		if (key_is(k, kn, "memory")) {
			if (seen_memory++) {
				policy_seterr(err, errlen, "--gpu '%s': memory given twice; give it once", sh);
				return -1;
			}
			if (vn >= sizeof(val)) {
				policy_seterr(err, errlen, "--gpu '%s': memory: '%s' is not a size; expected a size such as 8G or a percentage such as 50%%",
				       sh, shown(ish, sizeof(ish), v, vn, SHOWN_MAX));
				return -1;
			}
			memcpy(val, v, vn);
			val[vn] = '\0';
			if (policy_parse_memory(val, &g.memory, e, sizeof(e))) {
				policy_seterr(err, errlen, "--gpu '%s': memory: %s", sh, e);
				return -1;
			}
		} else if (key_is(k, kn, "name")) {
			if (seen_name++) {
				policy_seterr(err, errlen, "--gpu '%s': name given twice; give it once", sh);
				return -1;
			}
			if (policy_check_name(v, vn, e, sizeof(e))) {
				policy_seterr(err, errlen, "--gpu '%s': %s", sh, e);
				return -1;
			}
			memcpy(g.name, v, vn);
		} else {
			policy_seterr(err, errlen, "--gpu '%s': unknown key '%s'; expected memory or name",
			       sh, shown(ish, sizeof(ish), k, kn, SHOWN_MAX));
			return -1;
		}
	}
	if (p->ngpus >= POLICY_MAX_GPUS) {
		policy_seterr(err, errlen, "--gpu '%s': too many GPUs; at most %d", sh, POLICY_MAX_GPUS);
		return -1;
	}
	p->gpus[p->ngpus++] = g;
	return 0;
}
