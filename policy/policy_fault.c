/* Fault rules of a policy (vgpu-policy(5), FAULTS): a [fault] section's keys, the same
 * keys as the items of a --fault SPEC, and the checks of a whole rule.  ISO C and POSIX
 * only, no allocation, no state kept between calls.
 *
 * What the function names match is not known here (the export lists belong to the
 * launcher and the shim): a pattern only has to name one API, by its prefix. */
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "policy/api_codes.h"

#include <stdio.h>
#include <string.h>

#define SHOWN_MAX 48
#define SPEC_SHOWN_MAX 160

static const char *shown(char *buf, size_t buflen, const char *s)
{
	return policy_printable(buf, buflen, s, strlen(s), SHOWN_MAX);
}

int policy_glob_match(const char *pattern, const char *name)
{
	/* '*' any run, '?' one character; the last '*' seen is the only backtrack point
	 * needed (the classic linear glob). */
	const char *star = NULL, *resume = NULL;
	while (*name) {
		if (*pattern == '*') {
			star = pattern++;
			resume = name;
		} else if (*pattern == '?' || *pattern == *name) {
			pattern++;
			name++;
		} else if (star) {
			pattern = star + 1;
			name = ++resume;
		} else {
			return 0;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/* The API a pattern names by its prefix: CUDA's functions start with "cu", NVML's with
 * "nvml"; -1 for anything else. */
static int pattern_api(const char *pattern)
{
	if (strncmp(pattern, "nvml", 4) == 0)
		return API_NVML;
	if (strncmp(pattern, "cu", 2) == 0)
		return API_CUDA;
	return -1;
}

static int check_pattern(const char *what, const char *pattern, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	size_t n = strlen(pattern);
	if (n == 0 || n >= POLICY_FAULT_FN_MAX) {
		policy_seterr(err, errlen, "%s: '%s' is not a function name pattern; expected 1 to %d "
			      "letters, digits, _, * and ?", what, shown(sh, sizeof sh, pattern),
			      POLICY_FAULT_FN_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = pattern[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '*' || c == '?')) {
			policy_seterr(err, errlen, "%s: '%s' is not a function name pattern; expected "
				      "letters, digits, _, * and ?", what, shown(sh, sizeof sh, pattern));
			return -1;
		}
	}
	if (pattern_api(pattern) < 0) {
		policy_seterr(err, errlen, "%s: '%s' names no CUDA or NVML function; CUDA's start with "
			      "cu, NVML's with nvml", what, shown(sh, sizeof sh, pattern));
		return -1;
	}
	return 0;
}

/* A count: decimal, 1 to 2^63. */
static int parse_count(const char *key, const char *v, uint64_t *out, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	uint64_t n = 0;
	if (v[0] == '-') {
		policy_seterr(err, errlen, "%s: negative count '%s'; expected a whole number from 1",
			      key, shown(sh, sizeof sh, v));
		return -1;
	}
	if (!v[0]) {
		policy_seterr(err, errlen, "%s: empty; expected a whole number from 1", key);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX / 2 - 9) / 10) {
			policy_seterr(err, errlen, "%s: '%s' is not a count; expected a whole number "
				      "from 1", key, shown(sh, sizeof sh, v));
			return -1;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0) {
		policy_seterr(err, errlen, "%s: 0 is not a count; expected a whole number from 1", key);
		return -1;
	}
	*out = n;
	return 0;
}

int policy_parse_duration(const char *text, uint64_t *ns, char *err, size_t errlen)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		      { "m", 60000000000ull }, { "h", 3600000000000ull }, { "", 1000000000 } };
	char sh[SHOWN_MAX + 8];
	const char *p = text;
	uint64_t whole = 0, frac = 0, scale = 1;
	int digits = 0;
	if (*p == '-') {
		policy_seterr(err, errlen, "'%s' is a negative duration; expected 0 or more, such as 1s, "
			      "500ms or 2.5", shown(sh, sizeof sh, text));
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > UINT64_MAX / 100)
			goto bad;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (scale < 1000000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
	}
	if (!digits)
		goto bad;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(p, units[i].unit) == 0) {
			/* whole and fraction in ns, the fraction rounded down to whole ns.  64-bit
			 * arithmetic only: 128-bit division would link compiler_rt's generic
			 * memcpy into the libraries in place of glibc's (docs/performance.md).
			 * unit and scale share a large factor g (scale is a power of 10), so
			 * frac * (unit / g) stays small. */
			uint64_t unit = units[i].ns, a = unit, b = scale;
			while (b) {
				uint64_t t = a % b;
				a = b;
				b = t;
			}
			uint64_t part = frac * (unit / a) / (scale / a);
			if (whole > (UINT64_MAX - part) / unit)
				goto bad;
			*ns = whole * unit + part;
			return 0;
		}
	}
bad:
	policy_seterr(err, errlen, "'%s' is not a duration; expected a number with ns, us, ms, s, m "
		      "or h (seconds without), such as 1s, 500ms or 2.5", shown(sh, sizeof sh, text));
	return -1;
}

/* p: a probability, 0 < p <= 1, as a decimal; in parts per 10^9. */
static int parse_probability(const char *v, uint32_t *ppb, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = v;
	int digits = 0;
	for (; *p >= '0' && *p <= '9' && whole <= 1; p++, digits++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (scale < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
	uint64_t x = whole * 1000000000ull + frac * (1000000000ull / scale);
	if (!digits || *p || whole > 1 || x == 0 || x > 1000000000ull) {
		policy_seterr(err, errlen, "p: '%s' is not a probability; expected a number above 0 "
			      "and at most 1, such as 0.1", shown(sh, sizeof sh, v));
		return -1;
	}
	*ppb = (uint32_t)x;
	return 0;
}

static int parse_u64(const char *key, const char *v, uint64_t *out, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	uint64_t n = 0;
	if (!v[0])
		goto bad;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return 0;
bad:
	policy_seterr(err, errlen, "%s: '%s' is not a whole number from 0", key, shown(sh, sizeof sh, v));
	return -1;
}

static int set_kind(struct policy_fault *f, enum policy_fault_kind kind, const char *key, char *err,
		    size_t errlen)
{
	if (f->kind && f->kind != kind) {
		policy_seterr(err, errlen, "%s: a rule is one of function=...:error=..., oom-after, "
			      "device-lost-after or slow; give each its own", key);
		return -1;
	}
	f->kind = kind;
	return 0;
}

static int set_when(struct policy_fault *f, enum policy_fault_when when, const char *key, char *err,
		    size_t errlen)
{
	if (f->when != POLICY_WHEN_ALWAYS) {
		policy_seterr(err, errlen, "%s: a rule has one trigger (nth, every, after-bytes, after "
			      "or p); give another rule for another", key);
		return -1;
	}
	f->when = when;
	return 0;
}

static int set_error(struct policy_fault *f, const char *v, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	if (f->error_name[0]) {
		policy_seterr(err, errlen, "error given twice; give it once");
		return -1;
	}
	if (strlen(v) >= sizeof f->error_name || (strncmp(v, "CUDA_", 5) != 0 && strncmp(v, "NVML_", 5) != 0)) {
		policy_seterr(err, errlen, "error: unknown error name '%s'; expected a CUresult such as "
			      "CUDA_ERROR_OUT_OF_MEMORY or an nvmlReturn_t such as NVML_ERROR_GPU_IS_LOST",
			      shown(sh, sizeof sh, v));
		return -1;
	}
	memcpy(f->error_name, v, strlen(v) + 1);
	return 0;
}

int policy_fault_item(struct policy_fault *f, const char *key, const char *v, char *err, size_t errlen)
{
	char e[POLICY_ERROR_MAX];
	if (strcmp(key, "function") == 0) {
		if (f->function[0]) {
			policy_seterr(err, errlen, "function given twice; give one pattern per rule");
			return -1;
		}
		if (set_kind(f, POLICY_FAULT_ERROR, key, err, errlen) || check_pattern("function", v, err, errlen))
			return -1;
		memcpy(f->function, v, strlen(v) + 1);
		return 0;
	}
	if (strcmp(key, "error") == 0)
		return set_error(f, v, err, errlen);
	if (strcmp(key, "nth") == 0 || strcmp(key, "every") == 0) {
		if (set_when(f, key[0] == 'n' ? POLICY_WHEN_NTH : POLICY_WHEN_EVERY, key, err, errlen))
			return -1;
		return parse_count(key, v, &f->n, err, errlen);
	}
	if (strcmp(key, "after-bytes") == 0 || strcmp(key, "oom-after") == 0) {
		struct policy_memory m;
		if (key[0] == 'a' ? set_when(f, POLICY_WHEN_AFTER_BYTES, key, err, errlen)
				  : set_kind(f, POLICY_FAULT_OOM, key, err, errlen))
			return -1;
		if (policy_parse_memory(v, &m, e, sizeof e) != 0 || m.kind != POLICY_MEMORY_BYTES) {
			policy_seterr(err, errlen, "%s: %s", key,
				      m.kind == POLICY_MEMORY_PERCENT ? "a percentage is not a size here; give bytes such as 2G" : e);
			return -1;
		}
		f->n = m.bytes;
		return 0;
	}
	if (strcmp(key, "after") == 0 || strcmp(key, "device-lost-after") == 0) {
		if (key[0] == 'a' ? set_when(f, POLICY_WHEN_AFTER, key, err, errlen)
				  : set_kind(f, POLICY_FAULT_LOST, key, err, errlen))
			return -1;
		if (policy_parse_duration(v, &f->ns, e, sizeof e) != 0) {
			policy_seterr(err, errlen, "%s: %s", key, e);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "p") == 0) {
		if (set_when(f, POLICY_WHEN_RANDOM, key, err, errlen))
			return -1;
		return parse_probability(v, &f->ppb, err, errlen);
	}
	if (strcmp(key, "seed") == 0) {
		if (f->has_seed) {
			policy_seterr(err, errlen, "seed given twice; give it once");
			return -1;
		}
		f->has_seed = 1;
		return parse_u64("seed", v, &f->seed, err, errlen);
	}
	if (strcmp(key, "slow") == 0) {
		/* FUNCTION:DURATION */
		const char *colon = strchr(v, ':');
		char fn[POLICY_FAULT_FN_MAX + 1];
		size_t n = colon ? (size_t)(colon - v) : 0;
		if (set_kind(f, POLICY_FAULT_SLOW, key, err, errlen))
			return -1;
		if (!colon || n >= sizeof fn) {
			policy_seterr(err, errlen, "slow: expected FUNCTION:DURATION, such as "
				      "cuMemAlloc*:10ms");
			return -1;
		}
		memcpy(fn, v, n);
		fn[n] = '\0';
		if (check_pattern("slow", fn, err, errlen))
			return -1;
		if (policy_parse_duration(colon + 1, &f->ns, e, sizeof e) != 0) {
			policy_seterr(err, errlen, "slow: %s", e);
			return -1;
		}
		memcpy(f->function, fn, n + 1);
		return 0;
	}
	char sh[SHOWN_MAX + 8];
	policy_seterr(err, errlen, "unknown key '%s'; expected " POLICY_FAULT_KEYS, shown(sh, sizeof sh, key));
	return -1;
}

int policy_fault_finish(struct policy_fault *f, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	switch (f->kind) {
	case POLICY_FAULT_ERROR:
		if (!f->error_name[0]) {
			policy_seterr(err, errlen, "the rule for %s has no error; add error=NAME, such as "
				      "error=%s", f->function,
				      pattern_api(f->function) == API_NVML ? "NVML_ERROR_UNKNOWN" : "CUDA_ERROR_OUT_OF_MEMORY");
			return -1;
		}
		break;
	case POLICY_FAULT_LOST:
		break;
	case POLICY_FAULT_OOM:
	case POLICY_FAULT_SLOW:
		if (f->error_name[0]) {
			policy_seterr(err, errlen, "%s takes no error (it fails with its own, or none)",
				      f->kind == POLICY_FAULT_OOM ? "oom-after" : "slow");
			return -1;
		}
		break;
	default:
		policy_seterr(err, errlen, "a rule needs a function (FUNCTION:error=NAME), oom-after, "
			      "device-lost-after or slow");
		return -1;
	}
	if (f->kind != POLICY_FAULT_ERROR && f->when != POLICY_WHEN_ALWAYS) {
		policy_seterr(err, errlen, "nth, every, after-bytes, after and p go with "
			      "FUNCTION:error=NAME rules only");
		return -1;
	}
	if (f->has_seed && f->when != POLICY_WHEN_RANDOM) {
		policy_seterr(err, errlen, "seed goes with p (a probability) only");
		return -1;
	}
	if (f->when == POLICY_WHEN_RANDOM)
		f->has_seed = 1; /* seed 0 unless given: always written in the canonical form */
	f->api = f->kind == POLICY_FAULT_OOM || f->kind == POLICY_FAULT_LOST ? API_CUDA : pattern_api(f->function);
	if (f->kind == POLICY_FAULT_LOST && !f->error_name[0])
		memcpy(f->error_name, POLICY_LOST_ERROR, sizeof POLICY_LOST_ERROR);
	if (f->error_name[0]) {
		int code;
		if (api_code_parse((enum api_kind)f->api, f->error_name, &code) != 0) {
			policy_seterr(err, errlen, "error: unknown error name '%s' for %s; expected %s",
				      shown(sh, sizeof sh, f->error_name),
				      f->kind == POLICY_FAULT_LOST ? "device-lost-after (CUDA's code)" : f->function,
				      f->api == API_NVML ? "an nvmlReturn_t such as NVML_ERROR_GPU_IS_LOST"
							 : "a CUresult such as CUDA_ERROR_OUT_OF_MEMORY");
			return -1;
		}
		if (code == 0) {
			policy_seterr(err, errlen, "error: %s is success, not an error", f->error_name);
			return -1;
		}
		f->error = code;
	}
	return 0;
}

int policy_add_fault_spec(struct policy *p, const char *spec, char *err, size_t errlen)
{
	char sh[SPEC_SHOWN_MAX + 8], e[POLICY_ERROR_MAX], item[POLICY_FAULT_FN_MAX + 64];
	struct policy_fault f;
	size_t n = spec ? strlen(spec) : 0;

	policy_printable(sh, sizeof sh, spec ? spec : "", n, SPEC_SHOWN_MAX);
	memset(&f, 0, sizeof f);
	if (n == 0) {
		policy_seterr(err, errlen, "--fault '': empty; expected FUNCTION:error=NAME[:TRIGGER], "
			      "oom-after=SIZE, device-lost-after=T or slow=FUNCTION:DURATION");
		return -1;
	}
	if (p->nfaults >= POLICY_MAX_FAULTS) {
		policy_seterr(err, errlen, "--fault '%s': too many fault rules; at most %d", sh, POLICY_MAX_FAULTS);
		return -1;
	}
	if (strncmp(spec, "slow=", 5) == 0) {
		/* Its value holds a ':' of its own. */
		if (policy_fault_item(&f, "slow", spec + 5, e, sizeof e) != 0)
			goto fail;
	} else {
		/* Items split at ':' and ','; the first is the function unless it is key=value. */
		size_t off = 0;
		for (int first = 1; off <= n; first = 0) {
			size_t len = strcspn(spec + off, ":,");
			if (len == 0 || len >= sizeof item) {
				snprintf(e, sizeof e, len ? "an item is too long" : "an empty item; items are "
					 "separated by : or ,");
				goto fail;
			}
			memcpy(item, spec + off, len);
			item[len] = '\0';
			off += len + 1;
			char *eq = strchr(item, '=');
			if (!eq && first) {
				if (policy_fault_item(&f, "function", item, e, sizeof e) != 0)
					goto fail;
				continue;
			}
			if (!eq) {
				char ish[SHOWN_MAX + 8];
				snprintf(e, sizeof e, "'%s' is not key=value; expected error=NAME, nth=N, "
					 "every=N, after-bytes=SIZE, after=T, p=P or seed=N",
					 policy_printable(ish, sizeof ish, item, len, SHOWN_MAX));
				goto fail;
			}
			*eq = '\0';
			if (policy_fault_item(&f, item, eq + 1, e, sizeof e) != 0)
				goto fail;
		}
	}
	if (policy_fault_finish(&f, e, sizeof e) != 0)
		goto fail;
	p->faults[p->nfaults++] = f;
	return 0;
fail:
	policy_seterr(err, errlen, "--fault '%s': %s", sh, e);
	return -1;
}

int policy_fault_check(const struct policy_fault *f, char *err, size_t errlen)
{
	struct policy_fault g;
	char e[POLICY_ERROR_MAX];
	/* A rule is well-formed when finishing a copy of it changes nothing. */
	if (memchr(f->function, '\0', sizeof f->function) == NULL ||
	    memchr(f->error_name, '\0', sizeof f->error_name) == NULL) {
		policy_seterr(err, errlen, "fault rule: unterminated text");
		return -1;
	}
	if ((f->kind == POLICY_FAULT_ERROR || f->kind == POLICY_FAULT_SLOW) &&
	    check_pattern("function", f->function, e, sizeof e) != 0) {
		policy_seterr(err, errlen, "fault rule: %s", e);
		return -1;
	}
	if (f->when > POLICY_WHEN_RANDOM || (f->when == POLICY_WHEN_RANDOM && (f->ppb == 0 || f->ppb > 1000000000u)) ||
	    ((f->when == POLICY_WHEN_NTH || f->when == POLICY_WHEN_EVERY) && f->n == 0)) {
		policy_seterr(err, errlen, "fault rule: invalid trigger");
		return -1;
	}
	g = *f;
	if (policy_fault_finish(&g, e, sizeof e) != 0) {
		policy_seterr(err, errlen, "fault rule: %s", e);
		return -1;
	}
	if (g.api != f->api || g.error != f->error) {
		policy_seterr(err, errlen, "fault rule: its API or error code does not match its names");
		return -1;
	}
	return 0;
}

int policy_fault_equal(const struct policy_fault *a, const struct policy_fault *b)
{
	/* By meaning: each number only where the rule's kind and trigger use it. */
	int uses_n = a->kind == POLICY_FAULT_OOM || a->when == POLICY_WHEN_NTH || a->when == POLICY_WHEN_EVERY ||
		     a->when == POLICY_WHEN_AFTER_BYTES;
	int uses_ns = a->kind == POLICY_FAULT_LOST || a->kind == POLICY_FAULT_SLOW || a->when == POLICY_WHEN_AFTER;
	int random = a->when == POLICY_WHEN_RANDOM;
	return a->kind == b->kind && strncmp(a->function, b->function, POLICY_FAULT_FN_MAX) == 0 &&
	       a->api == b->api && a->error == b->error &&
	       strncmp(a->error_name, b->error_name, sizeof a->error_name) == 0 && a->when == b->when &&
	       (!uses_n || a->n == b->n) && (!uses_ns || a->ns == b->ns) &&
	       (!random || (a->ppb == b->ppb && a->seed == b->seed));
}
