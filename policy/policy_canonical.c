/* The canonical form of a policy (vgpu-policy(5), CANONICAL FORM): written by the
 * launcher into the runtime dir, read by the shim.  ISO C and POSIX only, no
 * allocation, no state kept between calls. */
#include "policy/policy.h"
#include "policy/policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Where the text goes: a caller's buffer (bytes past its end only counted), or an fd
 * through a small chunk buffer. */
struct sink {
	char *buf;
	size_t cap;
	size_t len;       /* bytes of the whole form so far */
	int to_fd;        /* 0: buffer mode */
	int fd;
	int error;        /* errno of a failed write */
	size_t clen;
	char chunk[2048];
};

static void flush(struct sink *s)
{
	size_t off = 0;

	while (off < s->clen && !s->error) {
		ssize_t w = write(s->fd, s->chunk + off, s->clen - off);
		if (w < 0) {
			if (errno != EINTR)
				s->error = errno;
			continue;
		}
		if (w == 0) {
			s->error = EIO;
			break;
		}
		off += (size_t)w;
	}
	s->clen = 0;
}

static void put(struct sink *s, const char *d, size_t n)
{
	if (!s->to_fd) {
		if (s->len < s->cap) {
			size_t room = s->cap - 1 - s->len;
			memcpy(s->buf + s->len, d, n < room ? n : room);
		}
	} else {
		for (size_t i = 0; i < n;) {
			size_t k = sizeof(s->chunk) - s->clen;
			if (k > n - i)
				k = n - i;
			memcpy(s->chunk + s->clen, d + i, k);
			s->clen += k;
			i += k;
			if (s->clen == sizeof(s->chunk))
				flush(s);
		}
	}
	s->len += n;
}

static void puts_(struct sink *s, const char *str)
{
	put(s, str, strlen(str));
}

static void putf(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct sink *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(s, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* "text" with \" and \\ escaped, up to its terminator within max bytes. */
static void put_quoted(struct sink *s, const char *text, size_t max)
{
	put(s, "\"", 1);
	for (size_t i = 0; i < max && text[i]; i++) {
		if (text[i] == '"' || text[i] == '\\')
			put(s, "\\", 1);
		put(s, text + i, 1);
	}
	put(s, "\"", 1);
}

/* A [fault] section: the keys a rule was given, every value exact (sizes in bytes,
 * durations in ns, the probability with nine decimals). */
static void format_fault(const struct policy_fault *f, struct sink *s)
{
	static const char *const when_key[] = {
		[POLICY_WHEN_NTH] = "nth", [POLICY_WHEN_EVERY] = "every", [POLICY_WHEN_AFTER_BYTES] = "after-bytes",
	};

	puts_(s, "\n[fault]\n");
	switch (f->kind) {
	case POLICY_FAULT_ERROR:
		putf(s, "function = %s\nerror = %s\n", f->function, f->error_name);
		break;
	case POLICY_FAULT_SLOW:
		putf(s, "slow = %s:%lluns\n", f->function, (unsigned long long)f->ns);
		break;
	case POLICY_FAULT_OOM:
		putf(s, "oom-after = %llu\n", (unsigned long long)f->n);
		break;
	case POLICY_FAULT_LOST:
		putf(s, "device-lost-after = %lluns\nerror = %s\n", (unsigned long long)f->ns, f->error_name);
		break;
	}
	switch (f->when) {
	case POLICY_WHEN_ALWAYS:
		break;
	case POLICY_WHEN_NTH:
	case POLICY_WHEN_EVERY:
	case POLICY_WHEN_AFTER_BYTES:
		putf(s, "%s = %llu\n", when_key[f->when], (unsigned long long)f->n);
		break;
	case POLICY_WHEN_AFTER:
		putf(s, "after = %lluns\n", (unsigned long long)f->ns);
		break;
	case POLICY_WHEN_RANDOM:
		putf(s, "p = %u.%09u\nseed = %llu\n", f->ppb / 1000000000u, f->ppb % 1000000000u,
		     (unsigned long long)f->seed);
		break;
	}
}

static void format(const struct policy *p, struct sink *s)
{
	char m[32], src[POLICY_UUID_MAX + 16];

	puts_(s, POLICY_CANONICAL_HEADER "\n");
	puts_(s, p->lower == POLICY_LOWER_EMULATOR ? "emulate = yes\n" : "emulate = no\n");
	if (p->emulate_profile[0])
		putf(s, "emulate-profile = %s\n", p->emulate_profile);
	if (p->memory.kind != POLICY_MEMORY_UNSET)
		putf(s, "memory = %s\n", policy_memory_text(&p->memory, m, sizeof(m)));
	if (p->launch == POLICY_LAUNCH_NOOP)
		puts_(s, "launch = noop\n");
	if (p->driver_version)
		putf(s, "driver-version = %d.%d\n", p->driver_version / 1000, p->driver_version % 1000 / 10);
	for (unsigned i = 0; i < p->nsearch_paths; i++) {
		puts_(s, "driver-path = ");
		put_quoted(s, p->search_paths[i], POLICY_PATH_MAX);
		puts_(s, "\n");
	}
	if (p->trace[0]) {
		puts_(s, "trace = ");
		put_quoted(s, p->trace, POLICY_PATH_MAX);
		puts_(s, "\n");
	}
	for (unsigned i = 0; i < p->ngpus; i++) {
		const struct policy_gpu *g = &p->gpus[i];

		putf(s, "\n[gpu]\ndevice = %s\n", policy_source_text(g, src, sizeof(src)));
		if (g->memory.kind != POLICY_MEMORY_UNSET)
			putf(s, "memory = %s\n", policy_memory_text(&g->memory, m, sizeof(m)));
		if (g->name[0]) {
			puts_(s, "name = ");
			put_quoted(s, g->name, POLICY_NAME_MAX);
			puts_(s, "\n");
		}
	}
	for (unsigned i = 0; i < p->nfaults; i++)
		format_fault(&p->faults[i], s);
	puts_(s, POLICY_CANONICAL_END "\n");
}

int policy_format_canonical(const struct policy *p, char *buf, size_t buflen)
{
	struct sink s;

	if (policy_check(p, NULL, 0)) {
		errno = EINVAL;
		return -1;
	}
	s.buf = buf;
	s.cap = buf ? buflen : 0;
	s.len = 0;
	s.to_fd = 0;
	s.fd = -1;
	s.error = 0;
	s.clen = 0;
	format(p, &s);
	if (s.cap)
		buf[s.len < s.cap ? s.len : s.cap - 1] = '\0';
	return (int)s.len;
}

int policy_write_canonical(const struct policy *p, int fd)
{
	struct sink s;

	if (policy_check(p, NULL, 0)) {
		errno = EINVAL;
		return -1;
	}
	s.buf = NULL;
	s.cap = 0;
	s.len = 0;
	s.to_fd = 1;
	s.fd = fd;
	s.error = 0;
	s.clen = 0;
	format(p, &s);
	flush(&s);
	if (s.error) {
		errno = s.error;
		return -1;
	}
	return (int)s.len;
}


int policy_read_canonical(struct policy *p, const char *path, char *err, size_t errlen)
{
	char e[128];
	int fd, rc;

	policy_init(p);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, policy_errtext(errno, e, sizeof(e)));
		return -1;
	}
	rc = policy_parse_fd(p, fd, path, POLICY_PARSE_CANONICAL, err, errlen);
	close(fd);
	return rc;
}
