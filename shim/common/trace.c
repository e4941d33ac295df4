#include "shim/common/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/common/shim.h"

int trace_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	if (cap - *len < n)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

int trace_put_u64(char *buf, size_t cap, size_t *len, uint64_t v)
{
	char d[20];
	size_t k = sizeof d;
	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return trace_put(buf, cap, len, d + k, sizeof d - k);
}

int trace_put_i64(char *buf, size_t cap, size_t *len, int64_t v)
{
	if (v >= 0)
		return trace_put_u64(buf, cap, len, (uint64_t)v);
	if (trace_put(buf, cap, len, "-", 1))
		return -1;
	return trace_put_u64(buf, cap, len, (uint64_t)0 - (uint64_t)v);
}

int trace_put_hex(char *buf, size_t cap, size_t *len, uint64_t v)
{
	char d[20];
	size_t k = sizeof d;
	do {
		d[--k] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	d[--k] = 'x';
	d[--k] = '0';
	return trace_put(buf, cap, len, d + k, sizeof d - k);
}

int trace_put_string(char *buf, size_t cap, size_t *len, const char *s, size_t max)
{
	if (trace_put(buf, cap, len, "\"", 1))
		return -1;
	for (size_t i = 0; i < max && s[i];) {
		/* A run of plain characters (every name is one) in one copy. */
		size_t run = 0;
		while (i + run < max && s[i + run] >= 0x20 && s[i + run] < 0x7f && s[i + run] != '"' &&
		       s[i + run] != '\\')
			run++;
		if (run) {
			if (trace_put(buf, cap, len, s + i, run))
				return -1;
			i += run;
			continue;
		}
		if (i >= max || !s[i])
			break;
		unsigned char c = (unsigned char)s[i++];
		char e[6];
		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			if (trace_put(buf, cap, len, e, 2))
				return -1;
		} else if (c < 0x20 || c >= 0x7f) {
			/* Control characters, and any byte above ASCII taken as Latin-1: the
			 * line stays valid JSON (and UTF-8) whatever the bytes were. */
			memcpy(e, "\\u00", 4);
			e[4] = "0123456789abcdef"[c >> 4];
			e[5] = "0123456789abcdef"[c & 15];
			if (trace_put(buf, cap, len, e, 6))
				return -1;
		} else if (trace_put(buf, cap, len, (const char *)&c, 1)) {
			return -1;
		}
	}
	return trace_put(buf, cap, len, "\"", 1);
}

static int identify(struct hook_lib *h, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	h->trace_dev = st.st_dev;
	h->trace_ino = st.st_ino;
	return 0;
}

int trace_open(struct shim_lib *l, const char *path)
{
	struct hook_lib *h = &l->hook;
	snprintf(h->trace_path, sizeof h->trace_path, "%s", path);
	/* No O_CREAT: the launcher made the file, as the user, before the sandbox began. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		shim_say(l, "cannot open the trace file %s: %s; this process is not traced", path,
			 strerror(errno));
		return -1;
	}
	if (identify(h, fd) != 0) {
		shim_say(l, "cannot stat the trace file %s: %s; this process is not traced", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	h->trace_fd = fd;
	return 0;
}

/* The trace fd, still the file opened at start-up: a program may have closed it and
 * got the number back for a file of its own, which must never receive our lines. */
static int trace_fd(struct hook_lib *h)
{
	int fd = __atomic_load_n(&h->trace_fd, __ATOMIC_ACQUIRE);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == h->trace_dev && st.st_ino == h->trace_ino)
		return fd;
	pthread_mutex_lock(&h->fd_lock);
	fd = __atomic_load_n(&h->trace_fd, __ATOMIC_ACQUIRE);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != h->trace_dev || st.st_ino != h->trace_ino) {
		fd = open(h->trace_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != h->trace_dev ||
				st.st_ino != h->trace_ino)) {
			close(fd); /* another file under that name now: not ours to write */
			fd = -1;
		}
		__atomic_store_n(&h->trace_fd, fd, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&h->fd_lock);
	return fd;
}

void trace_flush(struct shim_lib *l, struct hook_thread *t)
{
	struct hook_lib *h = &l->hook;
	const char *p = t->buf;
	size_t n = t->len;
	t->len = 0;
	if (n == 0)
		return;
	int fd = trace_fd(h);
	const char *why = "the file is gone";
	while (fd >= 0 && n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			why = w < 0 ? strerror(errno) : "nothing written";
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (n && __atomic_exchange_n(&h->write_failed, 1, __ATOMIC_RELAXED) == 0)
		shim_say(l, "cannot write the trace file %s: %s; records are lost", h->trace_path, why);
}

void trace_lock(struct hook_thread *t)
{
	/* Contended only by the exit flush: a spin with yields is enough. */
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

void trace_unlock(struct hook_thread *t)
{
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
}

void trace_record(struct shim_lib *l, struct hook_thread *t, unsigned slot, int64_t t_real,
		  int64_t ns, int result, int fault, const char *args, size_t argslen)
{
	struct hook_lib *h = &l->hook;
	char line[TRACE_LINE_MAX];
	size_t n = 0, cap = sizeof line - 2; /* room for "}\n" */
	const char *fn = h->name[slot] ? h->name[slot] : "?";

	if (!t->wholen) {
		/* What every record of this thread says after "t": made once. */
		size_t w = 0, wcap = sizeof t->who;
		trace_put(t->who, wcap, &w, ",\"pid\":", 7);
		trace_put_i64(t->who, wcap, &w, h->pid);
		trace_put(t->who, wcap, &w, ",\"tid\":", 7);
		trace_put_i64(t->who, wcap, &w, t->tid);
		trace_put(t->who, wcap, &w, ",\"api\":\"", 8);
		trace_put(t->who, wcap, &w, h->tag, strlen(h->tag));
		trace_put(t->who, wcap, &w, "\",\"fn\":", 7);
		t->wholen = w;
	}
	trace_put(line, cap, &n, "{\"t\":", 5);
	trace_put_i64(line, cap, &n, t_real);
	trace_put(line, cap, &n, t->who, t->wholen);
	trace_put_string(line, cap, &n, fn, 256);
	trace_put(line, cap, &n, ",\"result\":", 10);
	const char *rn = h->no_status_slot[slot] ? NULL : h->result_name(result);
	if (h->no_status_slot[slot])
		trace_put(line, cap, &n, "null", 4);
	else if (rn)
		trace_put_string(line, cap, &n, rn, 64);
	else
		trace_put_i64(line, cap, &n, result);
	trace_put(line, cap, &n, ",\"ns\":", 6);
	trace_put_i64(line, cap, &n, ns);
	if (fault)
		trace_put(line, cap, &n, ",\"fault\":true", 13);
	if (args) {
		size_t mark = n;
		/* Arguments that do not fit are left out whole: the line stays valid. */
		if (trace_put(line, cap, &n, ",\"args\":{", 9) || trace_put(line, cap, &n, args, argslen) ||
		    trace_put(line, cap, &n, "}", 1))
			n = mark;
	}
	line[n++] = '}';
	line[n++] = '\n';

	trace_lock(t);
	if (t->len + n > sizeof t->buf)
		trace_flush(l, t);
	memcpy(t->buf + t->len, line, n);
	t->len += n;
	if (t->len > sizeof t->buf - TRACE_LINE_MAX || __atomic_load_n(&h->exiting, __ATOMIC_ACQUIRE))
		trace_flush(l, t);
	trace_unlock(t);
}
