/* The policy model: profiles, sizes, sources, names, validation, comparison.
 * ISO C and POSIX only, no allocation, no state kept between calls (see policy.h). */
#include "policy/policy.h"
#include "policy/policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const policy_profiles[] = {
	"h200", "h100-80gb", "a100-80gb", "l4", "t4", "rtx-4090", NULL,
};

/* At most this many bytes of user input are quoted in a message. */
#define SHOWN_MAX 48

void policy_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *policy_errtext(int e, char *buf, size_t buflen)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, buflen);
#else
	if (strerror_r(e, buf, buflen) != 0)
		snprintf(buf, buflen, "error %d", e);
	return buf;
#endif
}


static size_t utf8_seq(const unsigned char *s, size_t n);

const char *policy_printable(char *buf, size_t buflen, const char *s, size_t n, size_t max)
{
	size_t i = 0, o = 0;

	if (!buf || buflen == 0)
		return buf;
	while (i < n && i < max) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : utf8_seq((const unsigned char *)s + i, n - i);

		if (k > 1 && (i + k > max || o + k >= buflen))
			break;
		if (k <= 1 && o + 1 >= buflen)
			break;
		if (k > 1) {
			memcpy(buf + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		buf[o++] = (c < 0x20 || c == 0x7f || c >= 0x80) ? '?' : (char)c;
		i++;
	}
	if (i < n && o + 3 < buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static const char *shown(char *buf, size_t buflen, const char *s, size_t n)
{
	return policy_printable(buf, buflen, s, n, SHOWN_MAX);
}

/* Length of a string held in an array of size max, or max when it is not terminated. */
static size_t field_len(const char *s, size_t max)
{
	const char *nul = memchr(s, '\0', max);
	return nul ? (size_t)(nul - s) : max;
}

int policy_profile_known(const char *profile)
{
	if (!profile)
		return 0;
	for (size_t i = 0; policy_profiles[i]; i++)
		if (strcmp(policy_profiles[i], profile) == 0)
			return 1;
	return 0;
}

const char *policy_profiles_text(char *buf, size_t buflen)
{
	size_t o = 0;

	if (!buf || buflen == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; policy_profiles[i]; i++) {
		int n = snprintf(buf + o, buflen - o, "%s%s", i ? ", " : "", policy_profiles[i]);
		if (n < 0 || (size_t)n >= buflen - o)
			break;
		o += (size_t)n;
	}
	return buf;
}

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->lower = POLICY_LOWER_AUTO;
	p->memory.kind = POLICY_MEMORY_UNSET;
}

/* --- sizes ---------------------------------------------------------------------- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower_ascii(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int policy_parse_memory(const char *text, struct policy_memory *out, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	size_t n, i;

	if (!text || !*text) {
		policy_seterr(err, errlen, "empty size; expected a size such as 8G or 512M, or a percentage such as 50%%");
		return -1;
	}
	n = strlen(text);
	shown(sh, sizeof(sh), text, n);
	for (i = 0; i < n; i++) {
		if (text[i] == ' ' || text[i] == '\t') {
			policy_seterr(err, errlen, "'%s' holds a blank; write a size without blanks, such as 8G", sh);
			return -1;
		}
	}

	if (text[n - 1] == '%') {
		unsigned v = 0;

		for (i = 0; i + 1 < n; i++) {
			if (!is_digit(text[i]) || i >= 3) {
				policy_seterr(err, errlen, "'%s' is not a percentage; expected a whole number from 1 to 100 and %%, such as 50%%", sh);
				return -1;
			}
			v = v * 10 + (unsigned)(text[i] - '0');
		}
		if (n == 1) {
			policy_seterr(err, errlen, "'%%' is not a percentage; expected a whole number from 1 to 100 and %%, such as 50%%");
			return -1;
		}
		if (v < 1 || v > 100) {
			policy_seterr(err, errlen, "%s is out of range; a percentage is 1%% to 100%%", sh);
			return -1;
		}
		out->kind = POLICY_MEMORY_PERCENT;
		out->percent = v;
		out->bytes = 0;
		return 0;
	}

	/* DIGITS [ "." DIGITS ] [ K|M|G|T [ "iB" ] ] */
	uint64_t whole = 0, frac = 0, frac_scale = 1;
	unsigned shift = 0;
	int overflow = 0;

	i = 0;
	if (!is_digit(text[0])) {
		policy_seterr(err, errlen, "'%s' is not a size; expected a number and an optional unit K, M, G or T, such as 8G, 1.5G or 512M, or a percentage such as 50%%", sh);
		return -1;
	}
	for (; i < n && is_digit(text[i]); i++) {
		unsigned d = (unsigned)(text[i] - '0');
		if (whole > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			whole = whole * 10 + d;
	}
	if (i < n && text[i] == '.') {
		size_t nd = 0;

		i++;
		if (i >= n || !is_digit(text[i])) {
			policy_seterr(err, errlen, "'%s' is not a size; a fraction needs digits after the point, such as 1.5G", sh);
			return -1;
		}
		for (; i < n && is_digit(text[i]); i++, nd++) {
			if (nd < 18) { /* later digits can only round down */
				frac = frac * 10 + (uint64_t)(text[i] - '0');
				frac_scale *= 10;
			}
		}
	}
	if (i < n) {
		const char *u = text + i;
		size_t un = n - i;
		char c = lower_ascii(u[0]);

		if (c == 'k')
			shift = 10;
		else if (c == 'm')
			shift = 20;
		else if (c == 'g')
			shift = 30;
		else if (c == 't')
			shift = 40;
		if (shift && un == 2 && lower_ascii(u[1]) == 'b') {
			policy_seterr(err, errlen, "'%s': unit '%s' is ambiguous; write %c or %ciB (units are powers of 1024)",
			       sh, u, (char)(c - 'a' + 'A'), (char)(c - 'a' + 'A'));
			return -1;
		}
		if (!shift || !(un == 1 || (un == 3 && lower_ascii(u[1]) == 'i' && lower_ascii(u[2]) == 'b'))) {
			char ush[SHOWN_MAX + 8];
			policy_seterr(err, errlen, "unknown unit '%s' in '%s'; expected K, M, G or T (powers of 1024; KiB, MiB, GiB, TiB the same), none for bytes, or %% after a whole number",
			       shown(ush, sizeof(ush), u, un), sh);
			return -1;
		}
	}

	/* bytes = whole * 2^shift + floor(frac * 2^shift / frac_scale) */
	if (!overflow && shift && whole > (UINT64_MAX >> shift))
		overflow = 1;
	uint64_t bytes = overflow ? 0 : whole << shift;
	if (!overflow && frac) {
		/* floor(frac * 2^shift / frac_scale) by long division: frac < frac_scale
		 * <= 10^18, so twice the remainder fits in 64 bits; the result < 2^shift. */
		uint64_t q = 0, r = frac;
		for (unsigned b = 0; b < shift; b++) {
			r *= 2;
			q = q * 2 + (r >= frac_scale);
			if (r >= frac_scale)
				r -= frac_scale;
		}
		if (q > UINT64_MAX - bytes)
			overflow = 1;
		else
			bytes += q;
	}
	if (overflow) {
		policy_seterr(err, errlen, "'%s' is too large; a size is at most 16777215T (2^64 - 1 bytes)", sh);
		return -1;
	}
	if (bytes == 0) {
		policy_seterr(err, errlen, "'%s' is no memory; a size must be at least 1 byte", sh);
		return -1;
	}
	out->kind = POLICY_MEMORY_BYTES;
	out->bytes = bytes;
	out->percent = 0;
	return 0;
}

const char *policy_memory_text(const struct policy_memory *m, char *buf, size_t buflen)
{
	if (!buf || buflen == 0)
		return buf;
	switch (m->kind) {
	case POLICY_MEMORY_BYTES:
		snprintf(buf, buflen, "%llu", (unsigned long long)m->bytes);
		break;
	case POLICY_MEMORY_PERCENT:
		snprintf(buf, buflen, "%u%%", m->percent);
		break;
	case POLICY_MEMORY_UNSET:
		snprintf(buf, buflen, "unset");
		break;
	default:
		snprintf(buf, buflen, "invalid");
		break;
	}
	return buf;
}

static int memory_ok(const struct policy_memory *m)
{
	switch (m->kind) {
	case POLICY_MEMORY_UNSET:
		return 1;
	case POLICY_MEMORY_BYTES:
		return m->bytes > 0;
	case POLICY_MEMORY_PERCENT:
		return m->percent >= 1 && m->percent <= 100;
	default:
		return 0;
	}
}

/* --- sources, names, paths ------------------------------------------------------ */

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "GPU-" (any case) and the 8-4-4-4-12 hex form. */
static int uuid_ok(const char *s, size_t n)
{
	static const unsigned groups[] = { 8, 4, 4, 4, 12 };
	size_t i = 4;

	if (n != 40 || lower_ascii(s[0]) != 'g' || lower_ascii(s[1]) != 'p' ||
	    lower_ascii(s[2]) != 'u' || s[3] != '-')
		return 0;
	for (size_t g = 0; g < 5; g++) {
		if (g && s[i++] != '-')
			return 0;
		for (unsigned k = 0; k < groups[g]; k++)
			if (!is_hex(s[i++]))
				return 0;
	}
	return i == n;
}

int policy_parse_source(const char *text, struct policy_gpu *gpu, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8], list[160];
	size_t n = text ? strlen(text) : 0;

	if (n == 0) {
		policy_seterr(err, errlen, "empty device; expected an index (0..%d), a GPU-UUID or emulated[:PROFILE]",
		       POLICY_INDEX_MAX);
		return -1;
	}
	shown(sh, sizeof(sh), text, n);

	if (is_digit(text[0])) {
		unsigned v = 0;
		size_t i;

		for (i = 0; i < n && is_digit(text[i]); i++)
			if (v <= POLICY_INDEX_MAX)
				v = v * 10 + (unsigned)(text[i] - '0');
		if (i == n) {
			if (v > POLICY_INDEX_MAX) {
				policy_seterr(err, errlen, "GPU index %s is out of range; expected 0..%d",
				       sh, POLICY_INDEX_MAX);
				return -1;
			}
			gpu->source = POLICY_SOURCE_INDEX;
			gpu->index = v;
			memset(gpu->uuid, 0, sizeof(gpu->uuid));
			memset(gpu->profile, 0, sizeof(gpu->profile));
			return 0;
		}
	}
	if (n >= 4 && lower_ascii(text[0]) == 'g' && lower_ascii(text[1]) == 'p' &&
	    lower_ascii(text[2]) == 'u' && text[3] == '-') {
		if (!uuid_ok(text, n)) {
			policy_seterr(err, errlen, "'%s' is not a GPU UUID; expected GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx with hex digits, as nvidia-smi -L shows it",
			       sh);
			return -1;
		}
		gpu->source = POLICY_SOURCE_UUID;
		gpu->index = 0;
		memset(gpu->uuid, 0, sizeof(gpu->uuid));
		memcpy(gpu->uuid, text, n);
		memset(gpu->profile, 0, sizeof(gpu->profile));
		return 0;
	}
	if (strncmp(text, "emulated", 8) == 0 && (text[8] == '\0' || text[8] == ':')) {
		const char *prof = text[8] ? text + 9 : "";

		if (text[8] && !*prof) {
			policy_seterr(err, errlen, "missing profile after 'emulated:'; known profiles: %s",
			       policy_profiles_text(list, sizeof(list)));
			return -1;
		}
		if (*prof && !policy_profile_known(prof)) {
			char psh[SHOWN_MAX + 8];
			policy_seterr(err, errlen, "unknown profile '%s'; known profiles: %s",
			       shown(psh, sizeof(psh), prof, strlen(prof)),
			       policy_profiles_text(list, sizeof(list)));
			return -1;
		}
		gpu->source = POLICY_SOURCE_EMULATED;
		gpu->index = 0;
		memset(gpu->uuid, 0, sizeof(gpu->uuid));
		memset(gpu->profile, 0, sizeof(gpu->profile));
		memcpy(gpu->profile, prof, strlen(prof));
		return 0;
	}
	policy_seterr(err, errlen, "'%s' is not a GPU; expected an index (0..%d), a GPU-UUID or emulated[:PROFILE]",
	       sh, POLICY_INDEX_MAX);
	return -1;
}

const char *policy_source_text(const struct policy_gpu *gpu, char *buf, size_t buflen)
{
	if (!buf || buflen == 0)
		return buf;
	switch (gpu->source) {
	case POLICY_SOURCE_INDEX:
		snprintf(buf, buflen, "%u", gpu->index);
		break;
	case POLICY_SOURCE_UUID:
		snprintf(buf, buflen, "%.*s", (int)field_len(gpu->uuid, sizeof(gpu->uuid)), gpu->uuid);
		break;
	case POLICY_SOURCE_EMULATED:
		if (gpu->profile[0])
			snprintf(buf, buflen, "emulated:%.*s",
				 (int)field_len(gpu->profile, sizeof(gpu->profile)), gpu->profile);
		else
			snprintf(buf, buflen, "emulated");
		break;
	default:
		snprintf(buf, buflen, "invalid");
		break;
	}
	return buf;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int policy_check_name(const char *name, size_t len, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];

	if (len == 0) {
		policy_seterr(err, errlen, "empty name; expected 1 to %d bytes of text", POLICY_NAME_MAX - 1);
		return -1;
	}
	shown(sh, sizeof(sh), name, len);
	if (len > POLICY_NAME_MAX - 1) {
		policy_seterr(err, errlen, "name '%s' is too long (%zu bytes); at most %d bytes",
		       sh, len, POLICY_NAME_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)name[i];
		size_t k;

		if (c < 0x20 || c == 0x7f) {
			policy_seterr(err, errlen, "name '%s' holds a control character (byte %zu); expected printable text",
			       sh, i + 1);
			return -1;
		}
		k = utf8_seq((const unsigned char *)name + i, len - i);
		if (!k) {
			policy_seterr(err, errlen, "name '%s' is not valid UTF-8 (byte %zu)", sh, i + 1);
			return -1;
		}
		i += k;
	}
	return 0;
}

/* An absolute path without control characters: a driver-path (what = "driver-path",
 * a directory) or the trace file ("trace", a file). */
static int path_check(const char *what, const char *path, size_t len, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8];
	const char *kind = strcmp(what, "trace") == 0 ? "file" : "directory";

	shown(sh, sizeof(sh), path, len);
	if (len == 0) {
		policy_seterr(err, errlen, "empty %s; expected an absolute %s", what, kind);
		return -1;
	}
	if (path[0] != '/') {
		policy_seterr(err, errlen, "%s '%s' is not absolute; expected a %s starting with /", what, sh, kind);
		return -1;
	}
	if (len > POLICY_PATH_MAX - 1) {
		policy_seterr(err, errlen, "%s '%s' is too long (%zu bytes); at most %d bytes",
		       what, sh, len, POLICY_PATH_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c == 0x7f) {
			policy_seterr(err, errlen, "%s '%s' holds a control character; expected a plain path", what, sh);
			return -1;
		}
	}
	return 0;
}

int policy_add_search_path(struct policy *p, const char *path, char *err, size_t errlen)
{
	size_t len = path ? strlen(path) : 0;

	if (path_check("driver-path", path ? path : "", len, err, errlen))
		return -1;
	if (p->nsearch_paths >= POLICY_MAX_SEARCH_PATHS) {
		policy_seterr(err, errlen, "too many driver-paths; at most %d", POLICY_MAX_SEARCH_PATHS);
		return -1;
	}
	char *dst = p->search_paths[p->nsearch_paths++];
	memset(dst, 0, POLICY_PATH_MAX);
	memcpy(dst, path, len);
	return 0;
}

int policy_set_trace(struct policy *p, const char *path, char *err, size_t errlen)
{
	size_t len = path ? strlen(path) : 0;

	if (path_check("trace", path ? path : "", len, err, errlen))
		return -1;
	memset(p->trace, 0, sizeof(p->trace));
	memcpy(p->trace, path, len);
	return 0;
}

int policy_set_emulate(struct policy *p, const char *value, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8], list[160];

	if (!value || strcmp(value, "yes") == 0) {
		p->lower = POLICY_LOWER_EMULATOR;
		return 0;
	}
	if (strcmp(value, "no") == 0) {
		p->lower = POLICY_LOWER_AUTO;
		return 0;
	}
	if (policy_profile_known(value)) {
		p->lower = POLICY_LOWER_EMULATOR;
		memset(p->emulate_profile, 0, sizeof(p->emulate_profile));
		memcpy(p->emulate_profile, value, strlen(value));
		return 0;
	}
	policy_seterr(err, errlen, "'%s' is not yes, no or a profile; known profiles: %s",
	       shown(sh, sizeof(sh), value, strlen(value)), policy_profiles_text(list, sizeof(list)));
	return -1;
}

/* --- checks --------------------------------------------------------------------- */

int policy_parse_driver_version(const char *text, int *out, char *err, size_t errlen)
{
	/* MAJOR.MINOR as CUDA writes versions; cuDriverGetVersion's number is
	 * 1000 * MAJOR + 10 * MINOR. */
	unsigned major = 0, minor = 0;
	size_t i = 0, digits = 0;
	char sh[SHOWN_MAX + 8];

	while (text[i] >= '0' && text[i] <= '9' && digits < 3)
		major = major * 10 + (unsigned)(text[i++] - '0'), digits++;
	if (digits == 0 || text[i] != '.' || text[i + 1] < '0' || text[i + 1] > '9' || text[i + 2] != '\0' ||
	    major < 10 || major > 99) {
		policy_seterr(err, errlen, "'%s' is not a CUDA version; expected MAJOR.MINOR such as 13.0 or 12.8",
			      shown(sh, sizeof(sh), text, strlen(text)));
		return -1;
	}
	minor = (unsigned)(text[i + 1] - '0');
	*out = (int)(major * 1000 + minor * 10);
	return 0;
}

int policy_check(const struct policy *p, char *err, size_t errlen)
{
	char sh[SHOWN_MAX + 8], list[160], m[32];
	size_t n;

	if (p->lower != POLICY_LOWER_AUTO && p->lower != POLICY_LOWER_EMULATOR) {
		policy_seterr(err, errlen, "invalid lower driver choice %d", (int)p->lower);
		return -1;
	}
	if (p->launch != POLICY_LAUNCH_ERROR && p->launch != POLICY_LAUNCH_NOOP) {
		policy_seterr(err, errlen, "invalid launch choice %d", (int)p->launch);
		return -1;
	}
	if (p->driver_version && (p->driver_version < 10000 || p->driver_version > 99090 ||
				  p->driver_version % 10 != 0 || p->driver_version % 1000 > 90)) {
		policy_seterr(err, errlen, "invalid driver version %d", p->driver_version);
		return -1;
	}
	n = field_len(p->emulate_profile, sizeof(p->emulate_profile));
	if (n == sizeof(p->emulate_profile) || (n && !policy_profile_known(p->emulate_profile))) {
		policy_seterr(err, errlen, "emulate: unknown profile '%s'; known profiles: %s",
		       shown(sh, sizeof(sh), p->emulate_profile, n),
		       policy_profiles_text(list, sizeof(list)));
		return -1;
	}
	if (!memory_ok(&p->memory)) {
		policy_seterr(err, errlen, "memory: invalid value %s", policy_memory_text(&p->memory, m, sizeof(m)));
		return -1;
	}
	if (p->ngpus > POLICY_MAX_GPUS) {
		policy_seterr(err, errlen, "too many GPUs (%u); at most %d", p->ngpus, POLICY_MAX_GPUS);
		return -1;
	}
	for (unsigned i = 0; i < p->ngpus; i++) {
		const struct policy_gpu *g = &p->gpus[i];
		char e[POLICY_ERROR_MAX];

		switch (g->source) {
		case POLICY_SOURCE_INDEX:
			if (g->index > POLICY_INDEX_MAX) {
				policy_seterr(err, errlen, "GPU %u: index %u is out of range; expected 0..%d",
				       i, g->index, POLICY_INDEX_MAX);
				return -1;
			}
			break;
		case POLICY_SOURCE_UUID:
			n = field_len(g->uuid, sizeof(g->uuid));
			if (!uuid_ok(g->uuid, n)) {
				policy_seterr(err, errlen, "GPU %u: '%s' is not a GPU UUID; expected GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
				       i, shown(sh, sizeof(sh), g->uuid, n));
				return -1;
			}
			break;
		case POLICY_SOURCE_EMULATED:
			n = field_len(g->profile, sizeof(g->profile));
			if (n == sizeof(g->profile) || (n && !policy_profile_known(g->profile))) {
				policy_seterr(err, errlen, "GPU %u: unknown profile '%s'; known profiles: %s",
				       i, shown(sh, sizeof(sh), g->profile, n),
				       policy_profiles_text(list, sizeof(list)));
				return -1;
			}
			break;
		default:
			policy_seterr(err, errlen, "GPU %u: no device; expected an index, a GPU-UUID or emulated[:PROFILE]", i);
			return -1;
		}
		if (!memory_ok(&g->memory)) {
			policy_seterr(err, errlen, "GPU %u: memory: invalid value %s",
			       i, policy_memory_text(&g->memory, m, sizeof(m)));
			return -1;
		}
		n = field_len(g->name, sizeof(g->name));
		if (n && policy_check_name(g->name, n, e, sizeof(e))) {
			policy_seterr(err, errlen, "GPU %u: %s", i, e);
			return -1;
		}
	}
	if (p->nsearch_paths > POLICY_MAX_SEARCH_PATHS) {
		policy_seterr(err, errlen, "too many driver-paths (%u); at most %d",
		       p->nsearch_paths, POLICY_MAX_SEARCH_PATHS);
		return -1;
	}
	for (unsigned i = 0; i < p->nsearch_paths; i++) {
		n = field_len(p->search_paths[i], POLICY_PATH_MAX);
		if (path_check("driver-path", p->search_paths[i], n, err, errlen))
			return -1;
	}
	n = field_len(p->trace, sizeof(p->trace));
	if (n == sizeof(p->trace) || (n && path_check("trace", p->trace, n, err, errlen)))
		return -1;
	if (p->nfaults > POLICY_MAX_FAULTS) {
		policy_seterr(err, errlen, "too many fault rules (%u); at most %d", p->nfaults, POLICY_MAX_FAULTS);
		return -1;
	}
	for (unsigned i = 0; i < p->nfaults; i++)
		if (policy_fault_check(&p->faults[i], err, errlen))
			return -1;
	return 0;
}

static int uuid_same(const char *a, const char *b)
{
	for (size_t i = 0; i < POLICY_UUID_MAX; i++) {
		if (lower_ascii(a[i]) != lower_ascii(b[i]))
			return 0;
		if (!a[i])
			return 1;
	}
	return 1;
}

int policy_validate(struct policy *p, char *err, size_t errlen)
{
	char s1[POLICY_UUID_MAX + 16], s2[POLICY_UUID_MAX + 16], m[32];
	int first_emulated = -1, first_physical = -1;
	enum policy_lower lower;
	const char *profile;

	if (policy_check(p, err, errlen))
		return -1;

	for (unsigned i = 0; i < p->ngpus; i++) {
		if (p->gpus[i].source == POLICY_SOURCE_EMULATED) {
			if (first_emulated < 0)
				first_emulated = (int)i;
		} else if (first_physical < 0) {
			first_physical = (int)i;
		}
	}
	if (first_emulated >= 0 && first_physical >= 0) {
		policy_seterr(err, errlen,
		       "GPU %d (device = %s) is physical and GPU %d (device = %s) is emulated; a policy lists either physical GPUs or emulated ones, not both",
		       first_physical, policy_source_text(&p->gpus[first_physical], s1, sizeof(s1)),
		       first_emulated, policy_source_text(&p->gpus[first_emulated], s2, sizeof(s2)));
		return -1;
	}
	lower = first_emulated >= 0 ? POLICY_LOWER_EMULATOR : p->lower;
	if (lower == POLICY_LOWER_EMULATOR && first_physical >= 0) {
		policy_seterr(err, errlen,
		       "GPU %d (device = %s) is physical, but --emulate / emulate = ... uses software GPUs only; list them as emulated:PROFILE",
		       first_physical, policy_source_text(&p->gpus[first_physical], s1, sizeof(s1)));
		return -1;
	}
	for (unsigned i = 0; i < p->ngpus; i++) {
		const struct policy_gpu *a = &p->gpus[i];
		if (a->source == POLICY_SOURCE_EMULATED)
			continue;
		for (unsigned j = 0; j < i; j++) {
			const struct policy_gpu *b = &p->gpus[j];
			if (a->source == b->source &&
			    ((a->source == POLICY_SOURCE_INDEX && a->index == b->index) ||
			     (a->source == POLICY_SOURCE_UUID && uuid_same(a->uuid, b->uuid)))) {
				policy_seterr(err, errlen,
				       "GPU %u (device = %s) and GPU %u (device = %s) are the same GPU; list each physical GPU once",
				       j, policy_source_text(b, s1, sizeof(s1)),
				       i, policy_source_text(a, s2, sizeof(s2)));
				return -1;
			}
		}
	}
	if (lower == POLICY_LOWER_EMULATOR) {
		if (p->memory.kind == POLICY_MEMORY_PERCENT) {
			policy_seterr(err, errlen,
			       "memory = %s: a percentage needs a physical GPU; give a size (the GPUs are emulated)",
			       policy_memory_text(&p->memory, m, sizeof(m)));
			return -1;
		}
		for (unsigned i = 0; i < p->ngpus; i++) {
			if (p->gpus[i].memory.kind == POLICY_MEMORY_PERCENT) {
				policy_seterr(err, errlen,
				       "GPU %u (device = %s): memory = %s: a percentage needs a physical GPU; give a size",
				       i, policy_source_text(&p->gpus[i], s1, sizeof(s1)),
				       policy_memory_text(&p->gpus[i].memory, m, sizeof(m)));
				return -1;
			}
		}
	}

	if (lower != POLICY_LOWER_EMULATOR && (p->launch != POLICY_LAUNCH_ERROR || p->driver_version)) {
		policy_seterr(err, errlen,
			      "%s applies to the emulator only, and this policy uses the real driver; add emulate = yes (or --emulate)",
			      p->launch != POLICY_LAUNCH_ERROR ? "launch = noop" : "driver-version");
		return -1;
	}

	/* Everything checked: complete p. */
	p->lower = lower;
	if (lower != POLICY_LOWER_EMULATOR)
		return 0;
	profile = p->emulate_profile[0] ? p->emulate_profile : POLICY_DEFAULT_PROFILE;
	if (p->ngpus == 0) {
		memset(&p->gpus[0], 0, sizeof(p->gpus[0]));
		p->gpus[0].source = POLICY_SOURCE_EMULATED;
		p->ngpus = 1;
	}
	for (unsigned i = 0; i < p->ngpus; i++) {
		struct policy_gpu *g = &p->gpus[i];
		if (!g->profile[0]) {
			memset(g->profile, 0, sizeof(g->profile));
			memcpy(g->profile, profile, strlen(profile));
		}
	}
	return 0;
}

/* --- comparison ----------------------------------------------------------------- */

static int memory_equal(const struct policy_memory *a, const struct policy_memory *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == POLICY_MEMORY_BYTES)
		return a->bytes == b->bytes;
	if (a->kind == POLICY_MEMORY_PERCENT)
		return a->percent == b->percent;
	return 1;
}

static int field_equal(const char *a, const char *b, size_t max)
{
	return strncmp(a, b, max) == 0;
}

int policy_equal(const struct policy *a, const struct policy *b)
{
	if (a->lower != b->lower || a->launch != b->launch || a->driver_version != b->driver_version ||
	    !field_equal(a->emulate_profile, b->emulate_profile, POLICY_PROFILE_MAX) ||
	    !memory_equal(&a->memory, &b->memory) || a->ngpus != b->ngpus ||
	    a->nsearch_paths != b->nsearch_paths || a->ngpus > POLICY_MAX_GPUS ||
	    !field_equal(a->trace, b->trace, POLICY_PATH_MAX) ||
	    a->nsearch_paths > POLICY_MAX_SEARCH_PATHS)
		return 0;
	for (unsigned i = 0; i < a->ngpus; i++) {
		const struct policy_gpu *x = &a->gpus[i], *y = &b->gpus[i];

		if (x->source != y->source || !memory_equal(&x->memory, &y->memory) ||
		    !field_equal(x->name, y->name, POLICY_NAME_MAX))
			return 0;
		switch (x->source) {
		case POLICY_SOURCE_INDEX:
			if (x->index != y->index)
				return 0;
			break;
		case POLICY_SOURCE_UUID:
			if (!field_equal(x->uuid, y->uuid, POLICY_UUID_MAX))
				return 0;
			break;
		case POLICY_SOURCE_EMULATED:
			if (!field_equal(x->profile, y->profile, POLICY_PROFILE_MAX))
				return 0;
			break;
		}
	}
	for (unsigned i = 0; i < a->nsearch_paths; i++)
		if (!field_equal(a->search_paths[i], b->search_paths[i], POLICY_PATH_MAX))
			return 0;
	if (a->nfaults != b->nfaults || a->nfaults > POLICY_MAX_FAULTS)
		return 0;
	for (unsigned i = 0; i < a->nfaults; i++)
		if (!policy_fault_equal(&a->faults[i], &b->faults[i]))
			return 0;
	return 1;
}
