/* vgpu-run --trace-report FILE: a summary of a trace (docs/tracing.md) like strace -c,
 * one table per process: calls, errors, total and mean time of each function.
 *
 * Each line must be a JSON object (checked in full, by the small reader below) with at
 * least "pid" (an integer), "fn" (a string), "result" (a string, an integer or null)
 * and "ns" (an integer).  A result is an error unless it is null or a name ending in
 * "_SUCCESS". */
#include "launcher/trace_report.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/log.h"

/* --- a JSON reader, for one line ------------------------------------------------------- */

struct json {
	const char *p, *end;
	const char *why;        /* the first problem found */
};

/* What a record holds, for the report. */
struct record {
	int64_t pid, ns;
	int has_pid, has_ns, has_fn, has_result;
	char fn[256];
	int error;
};

static void ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int bad(struct json *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return -1;
}

/* A string; its text (escapes kept as \uXXXX are decoded only when ASCII) into out
 * (cap bytes, truncated) when out is not NULL. */
static int string(struct json *j, char *out, size_t cap)
{
	size_t n = 0;
	if (j->p >= j->end || *j->p != '"')
		return bad(j, "expected a string");
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		if (c < 0x20)
			return bad(j, "a control character in a string");
		if (c == '\\') {
			if (j->p >= j->end)
				return bad(j, "a string ends inside an escape");
			char e = *j->p++;
			switch (e) {
			case '"': case '\\': case '/': c = (unsigned char)e; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;
				for (int k = 0; k < 4; k++) {
					if (j->p >= j->end)
						return bad(j, "a short \\u escape");
					char h = *j->p++;
					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return bad(j, "a bad \\u escape");
				}
				c = v < 0x80 ? (unsigned char)v : '?';
				break;
			}
			default:
				return bad(j, "an unknown escape in a string");
			}
		}
		if (out && n + 1 < cap)
			out[n++] = (char)c;
	}
	if (j->p >= j->end)
		return bad(j, "a string lacks its closing quote");
	j->p++;
	if (out && cap)
		out[n] = '\0';
	return 0;
}

/* A number; *is_int and *v when it is an integer that fits 64 bits. */
static int number(struct json *j, int *is_int, int64_t *v)
{
	const char *s = j->p;
	int neg = 0, digits = 0, frac = 0;
	uint64_t u = 0;
	int overflow = 0;
	if (j->p < j->end && *j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (j->p < j->end && *j->p == '0') {
		j->p++;
		digits = 1;
	} else {
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
			unsigned d = (unsigned)(*j->p++ - '0');
			if (u > (UINT64_MAX - d) / 10)
				overflow = 1;
			u = u * 10 + d;
			digits++;
		}
	}
	if (!digits)
		return bad(j, "expected a value");
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		frac = 1;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return bad(j, "a number lacks digits after its point");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		frac = 1;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return bad(j, "a number lacks its exponent");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	(void)s;
	*is_int = !frac && !overflow && u <= (uint64_t)INT64_MAX + (uint64_t)neg;
	if (*is_int)
		*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int literal(struct json *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return bad(j, "expected a value");
	j->p += n;
	return 0;
}

static int value(struct json *j, int depth);

static int object(struct json *j, int depth, struct record *r)
{
	j->p++; /* '{' */
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		char key[16];
		ws(j);
		if (string(j, key, sizeof key))
			return -1;
		ws(j);
		if (j->p >= j->end || *j->p != ':')
			return bad(j, "expected ':' after a key");
		j->p++;
		ws(j);
		if (r && strcmp(key, "fn") == 0) {
			if (string(j, r->fn, sizeof r->fn))
				return bad(j, "\"fn\" is not a string");
			r->has_fn = 1;
		} else if (r && (strcmp(key, "pid") == 0 || strcmp(key, "ns") == 0)) {
			int is_int = 0;
			int64_t v = 0;
			if (j->p >= j->end || (*j->p != '-' && (*j->p < '0' || *j->p > '9')) ||
			    number(j, &is_int, &v) || !is_int)
				return bad(j, key[0] == 'p' ? "\"pid\" is not an integer" : "\"ns\" is not an integer");
			if (key[0] == 'p') {
				r->pid = v;
				r->has_pid = 1;
			} else {
				r->ns = v;
				r->has_ns = 1;
			}
		} else if (r && strcmp(key, "result") == 0) {
			char name[128];
			r->has_result = 1;
			if (j->p < j->end && *j->p == '"') {
				if (string(j, name, sizeof name))
					return -1;
				size_t n = strlen(name);
				r->error = !(n >= 8 && strcmp(name + n - 8, "_SUCCESS") == 0);
			} else if (j->p < j->end && *j->p == 'n') {
				if (literal(j, "null"))
					return -1;
				r->error = 0;
			} else {
				int is_int = 0;
				int64_t v = 0;
				if (number(j, &is_int, &v) || !is_int)
					return bad(j, "\"result\" is not a name, an integer or null");
				r->error = v != 0;
			}
		} else if (value(j, depth + 1)) {
			return -1;
		}
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		return bad(j, "expected ',' or '}' in an object");
	}
}

static int array(struct json *j, int depth)
{
	j->p++; /* '[' */
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (value(j, depth + 1))
			return -1;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 0;
		}
		return bad(j, "expected ',' or ']' in an array");
	}
}

static int value(struct json *j, int depth)
{
	int is_int;
	int64_t v;
	if (depth > 32)
		return bad(j, "nested too deep");
	if (j->p >= j->end)
		return bad(j, "expected a value");
	switch (*j->p) {
	case '{': return object(j, depth, NULL);
	case '[': return array(j, depth);
	case '"': return string(j, NULL, 0);
	case 't': return literal(j, "true");
	case 'f': return literal(j, "false");
	case 'n': return literal(j, "null");
	default: return number(j, &is_int, &v);
	}
}

/* 0 and r filled, or -1 with why. */
static int parse_record(const char *line, size_t len, struct record *r, const char **why)
{
	struct json j = { line, line + len, NULL };
	memset(r, 0, sizeof *r);
	ws(&j);
	if (j.p >= j.end || *j.p != '{') {
		*why = "not a JSON object";
		return -1;
	}
	if (object(&j, 0, r)) {
		*why = j.why;
		return -1;
	}
	ws(&j);
	if (j.p != j.end) {
		*why = "text after the object";
		return -1;
	}
	if (!r->has_pid || !r->has_fn || !r->has_ns || !r->has_result) {
		*why = !r->has_pid ? "no \"pid\"" : !r->has_fn ? "no \"fn\"" : !r->has_ns ? "no \"ns\"" : "no \"result\"";
		return -1;
	}
	return 0;
}

/* --- the tally: (pid, function) → calls, errors, time ---------------------------------- */

struct stat_entry {
	int64_t pid;
	char *fn;
	uint64_t calls, errors;
	double ns;
};

struct tally {
	struct stat_entry *e;   /* open addressing; fn NULL: empty */
	size_t cap, n;
};

static uint64_t hash(int64_t pid, const char *fn)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)pid;
	for (; *fn; fn++)
		h = (h ^ (unsigned char)*fn) * 1099511628211ull;
	return h;
}

static struct stat_entry *find(struct tally *t, int64_t pid, const char *fn)
{
	if (2 * (t->n + 1) > t->cap) {
		struct tally g = { NULL, t->cap ? 2 * t->cap : 256, 0 };
		g.e = calloc(g.cap, sizeof *g.e);
		if (!g.e)
			die("--trace-report: out of memory");
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->e[i].fn)
				continue;
			size_t k = hash(t->e[i].pid, t->e[i].fn) & (g.cap - 1);
			while (g.e[k].fn)
				k = (k + 1) & (g.cap - 1);
			g.e[k] = t->e[i];
			g.n++;
		}
		free(t->e);
		*t = g;
	}
	size_t k = hash(pid, fn) & (t->cap - 1);
	while (t->e[k].fn && (t->e[k].pid != pid || strcmp(t->e[k].fn, fn) != 0))
		k = (k + 1) & (t->cap - 1);
	if (!t->e[k].fn) {
		t->e[k].pid = pid;
		t->e[k].fn = strdup(fn);
		if (!t->e[k].fn)
			die("--trace-report: out of memory");
		t->n++;
	}
	return &t->e[k];
}

/* By process, then most time first (strace -c's order), then name. */
static int by_pid_time(const void *a, const void *b)
{
	const struct stat_entry *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	return strcmp(x->fn, y->fn);
}

static const char rule[] = "------ ----------- ----------- --------- --------- ----------------\n";

static void print_process(const struct stat_entry *e, size_t n)
{
	uint64_t calls = 0, errors = 0;
	double ns = 0;
	for (size_t i = 0; i < n; i++) {
		calls += e[i].calls;
		errors += e[i].errors;
		ns += e[i].ns;
	}
	printf("process %lld: %llu calls, %llu errors, %.6f seconds\n", (long long)e[0].pid,
	       (unsigned long long)calls, (unsigned long long)errors, ns / 1e9);
	printf("%% time     seconds  usecs/call     calls    errors function\n%s", rule);
	for (size_t i = 0; i < n; i++)
		printf("%6.2f %11.6f %11.3f %9llu %9llu %s\n", ns > 0 ? 100.0 * e[i].ns / ns : 0.0,
		       e[i].ns / 1e9, e[i].ns / 1e3 / (double)e[i].calls, (unsigned long long)e[i].calls,
		       (unsigned long long)e[i].errors, e[i].fn);
	printf("%s%6.2f %11.6f %11.3f %9llu %9llu total\n\n", rule, 100.0, ns / 1e9,
	       calls ? ns / 1e3 / (double)calls : 0.0, (unsigned long long)calls, (unsigned long long)errors);
}

int trace_report(const char *path)
{
	FILE *in = fopen(path, "re");
	if (!in)
		die_errno("--trace-report %s", path);
	struct tally t = { NULL, 0, 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long long lineno = 0, records = 0;
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			len--;
		struct record r;
		const char *why = NULL;
		if (memchr(line, '\0', (size_t)len))
			die("--trace-report %s:%llu: a NUL byte; not a trace (JSON lines)", path, lineno);
		if (parse_record(line, (size_t)len, &r, &why) != 0)
			die("--trace-report %s:%llu: %s; not a trace record (JSON lines of vgpu-run --trace)",
			    path, lineno, why ? why : "not JSON");
		struct stat_entry *e = find(&t, r.pid, r.fn);
		e->calls++;
		e->errors += (uint64_t)r.error;
		e->ns += (double)(r.ns > 0 ? r.ns : 0);
		records++;
	}
	if (ferror(in))
		die_errno("--trace-report %s: cannot read it", path);
	fclose(in);
	free(line);

	/* Compact the table, sort, print per process. */
	size_t n = 0;
	for (size_t i = 0; i < t.cap; i++)
		if (t.e[i].fn)
			t.e[n++] = t.e[i];
	qsort(t.e, n, sizeof *t.e, by_pid_time);
	size_t processes = 0;
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && t.e[k].pid == t.e[i].pid)
			k++;
		print_process(t.e + i, k - i);
		processes++;
		i = k;
	}
	printf("%llu calls in %zu processes\n", records, processes);
	if (fflush(stdout) != 0 || ferror(stdout))
		die_errno("--trace-report: cannot write the report");
	for (size_t i = 0; i < n; i++)
		free(t.e[i].fn);
	free(t.e);
	return 0;
}
