/* The shared accounting region (shim/common/accounting.c): caps, concurrency across
 * processes and threads, reclaim of dead processes' shares, clamping.  Each test maps a
 * fresh temp file made like the launcher makes RUNDIR/accounting. */
#include "shim/common/accounting.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char region_path[256];

/* A fresh region, as launcher/runtime.c runtime_create writes it, opened. */
static int fresh(struct accounting *a)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(region_path, sizeof region_path, "%s/vgpu-accounting-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(region_path);
	if (fd < 0)
		return -1;
	struct accounting_header h = {
		.magic = ACCOUNTING_MAGIC,
		.version = ACCOUNTING_VERSION,
		.ngpus = 2,
		.region_size = ACCOUNTING_REGION_SIZE,
	};
	int ok = ftruncate(fd, ACCOUNTING_REGION_SIZE) == 0 && write(fd, &h, sizeof h) == (ssize_t)sizeof h;
	close(fd);
	char err[512];
	if (!ok || accounting_open(a, region_path, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", ok ? err : "cannot write the region");
		unlink(region_path);
		return -1;
	}
	unlink(region_path); /* the mapping stays: children inherit it MAP_SHARED */
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- open ----------------------------------------------------------------------------- */

static void test_open(void)
{
	struct accounting a;
	char err[512];
	CHECK(fresh(&a) == 0, "a region made like the launcher's opens");
	CHECK(a.nslots == (ACCOUNTING_REGION_SIZE - ACCOUNTING_SLOTS_OFFSET) / 192 && a.nslots > 5000,
	      "%u process slots in %u bytes", a.nslots, ACCOUNTING_REGION_SIZE);
	accounting_close(&a);

	char bad[] = "/tmp/vgpu-accounting-bad-XXXXXX";
	int fd = mkstemp(bad);
	struct accounting_header h = { .magic = 1, .version = ACCOUNTING_VERSION,
				       .region_size = ACCOUNTING_REGION_SIZE };
	CHECK(fd >= 0 && ftruncate(fd, ACCOUNTING_REGION_SIZE) == 0 && write(fd, &h, sizeof h) == sizeof h,
	      "a region with a wrong magic written");
	close(fd);
	CHECK(accounting_open(&a, bad, err, sizeof err) == -1 && strstr(err, "not an accounting region"),
	      "a wrong magic is refused: %s", err);
	unlink(bad);
	CHECK(accounting_open(&a, "/nonexistent/accounting", err, sizeof err) == -1 && a.r == NULL,
	      "a missing file is refused: %s", err);
}

/* --- one process ------------------------------------------------------------------------ */

static void test_single(void)
{
	struct accounting a;
	if (fresh(&a) != 0) {
		CHECK(0, "region for the single-process tests");
		return;
	}
	CHECK(accounting_used(&a, 0) == 0 && accounting_slots_in_use(&a) == 0, "a fresh region is empty");
	CHECK(accounting_reserve(&a, 0, 100, 1000) == 0 && accounting_used(&a, 0) == 100,
	      "reserve 100 under a cap of 1000");
	CHECK(accounting_slots_in_use(&a) == 1 && accounting_mine(&a, 0) == 100,
	      "the first reservation claims this process's slot");
	CHECK(accounting_reserve(&a, 0, 900, 1000) == 0 && accounting_used(&a, 0) == 1000,
	      "reserve up to exactly the cap");
	CHECK(accounting_reserve(&a, 0, 1, 1000) == -1 && accounting_used(&a, 0) == 1000,
	      "one byte over the cap fails and changes nothing");
	CHECK(accounting_reserve(&a, 1, 500, 600) == 0 && accounting_used(&a, 1) == 500 &&
	      accounting_used(&a, 0) == 1000, "GPUs are counted apart");
	CHECK(accounting_reserve(&a, 1, UINT64_MAX, UINT64_MAX) == -1 && accounting_used(&a, 1) == 500,
	      "a size that would overflow the total fails");
	CHECK(accounting_reserve(&a, 2, 2000, 1000) == -1 && accounting_used(&a, 2) == 0,
	      "more than the cap alone fails");
	CHECK(accounting_reserve(&a, ACCOUNTING_MAX_GPUS, 1, 1000) == -1 &&
	      accounting_used(&a, ACCOUNTING_MAX_GPUS) == 0, "a GPU index out of range fails");
	accounting_release(&a, 0, 400);
	CHECK(accounting_used(&a, 0) == 600 && accounting_mine(&a, 0) == 600, "release 400");
	CHECK(accounting_reserve(&a, 0, 400, 1000) == 0 && accounting_used(&a, 0) == 1000,
	      "released room can be reserved again");
	accounting_release(&a, 0, 1000);
	accounting_release(&a, 1, 500);
	CHECK(accounting_used(&a, 0) == 0 && accounting_used(&a, 1) == 0, "everything released");
	CHECK(accounting_reclaim_dead(&a) == 0 && accounting_slots_in_use(&a) == 1,
	      "a live process's slot is not reclaimed");

	/* The hot path: no system calls, far below 100 ns on a release build. */
	double t0 = now();
	int n = 200000, fails = 0;
	for (int i = 0; i < n; i++) {
		fails += accounting_reserve(&a, 0, 4096, 1u << 30) != 0;
		accounting_release(&a, 0, 4096);
	}
	double ns = (now() - t0) / n * 1e9;
	CHECK(fails == 0 && accounting_used(&a, 0) == 0, "%d reserve+release pairs: %.1f ns a pair (debug build)",
	      n, ns);
	CHECK(ns < 2000, "the hot path stays cheap (%.1f ns a pair, unoptimised)", ns);
	accounting_close(&a);
}

/* --- release below zero -------------------------------------------------------------------- */

static void test_clamp(void)
{
	struct accounting a;
	if (fresh(&a) != 0) {
		CHECK(0, "region for the clamp tests");
		return;
	}
	/* Another process holds 300: an over-release here must not eat into it. */
	int ready[2];
	if (pipe(ready) != 0)
		return;
	pid_t other = fork();
	if (other == 0) {
		accounting_reserve(&a, 0, 300, 10000);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	char c;
	(void)!read(ready[0], &c, 1);

	char log[] = "/tmp/vgpu-accounting-stderr-XXXXXX";
	int lfd = mkstemp(log);
	int saved = dup(2);
	dup2(lfd, 2);
	CHECK(accounting_reserve(&a, 0, 100, 10000) == 0 && accounting_used(&a, 0) == 400,
	      "reserve 100 beside another process's 300");
	accounting_release(&a, 0, 150);
	CHECK(accounting_used(&a, 0) == 300 && accounting_mine(&a, 0) == 0,
	      "releasing 150 of 100 clamps at this process's share: the other's 300 stay");
	accounting_release(&a, 0, 50);
	CHECK(accounting_used(&a, 0) == 300, "releasing with nothing held changes nothing");
	accounting_release(&a, 1, 10);
	CHECK(accounting_used(&a, 1) == 0, "a GPU total never goes below zero");
	dup2(saved, 2);
	close(saved);
	char buf[4096];
	ssize_t n = pread(lfd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	int lines = 0;
	for (char *p = buf; (p = strstr(p, "released more")); p++)
		lines++;
	CHECK(lines == 1, "the over-release is reported once on stderr, not per call (%d)", lines);
	close(lfd);
	unlink(log);

	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	CHECK(accounting_reclaim_dead(&a) == 1 && accounting_used(&a, 0) == 0,
	      "the other process's 300 go when it dies");
	accounting_close(&a);
}

/* --- 3 processes x 4 threads against one cap ------------------------------------------------ */

#define CAP (1u << 20)
#define ITER 300000

struct worker {
	struct accounting *a;
	unsigned seed;
	long ok, refused, over_cap;
};

static void *worker(void *p)
{
	struct worker *w = p;
	uint64_t held[2][8];
	int nheld[2] = { 0, 0 };
	for (int i = 0; i < ITER; i++) {
		unsigned gpu = (unsigned)(rand_r(&w->seed) & 1);
		int r = rand_r(&w->seed);
		if (nheld[gpu] < 8 && (r & 3) != 0) {
			uint64_t size = 1 + (uint64_t)rand_r(&w->seed) % (CAP / 8);
			if (accounting_reserve(w->a, gpu, size, CAP) == 0) {
				w->ok++;
				if (accounting_used(w->a, gpu) > CAP)
					w->over_cap++;
				held[gpu][nheld[gpu]++] = size;
			} else {
				w->refused++;
			}
		} else if (nheld[gpu] > 0) {
			int k = rand_r(&w->seed) % nheld[gpu];
			accounting_release(w->a, gpu, held[gpu][k]);
			held[gpu][k] = held[gpu][--nheld[gpu]];
		}
	}
	for (int g = 0; g < 2; g++)
		while (nheld[g] > 0)
			accounting_release(w->a, (unsigned)g, held[g][--nheld[g]]);
	return NULL;
}

/* One process: 4 threads; writes "ok refused over_cap" to fd. */
static void worker_process(struct accounting *a, int fd, unsigned seed)
{
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .a = a, .seed = seed * 7919u + (unsigned)i };
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	long sum[3] = { 0, 0, 0 };
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		sum[0] += w[i].ok;
		sum[1] += w[i].refused;
		sum[2] += w[i].over_cap;
	}
	(void)!write(fd, sum, sizeof sum);
}

static void test_concurrent(void)
{
	struct accounting a;
	if (fresh(&a) != 0) {
		CHECK(0, "region for the concurrency tests");
		return;
	}
	int p[2];
	if (pipe(p) != 0)
		return;
	double t0 = now();
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			worker_process(&a, p[1], (unsigned)getpid() ^ (unsigned)i);
			_exit(0);
		}
	}
	close(p[1]);
	long total[3] = { 0, 0, 0 };
	int reports = 0, clean = 0;
	for (int i = 0; i < 3; i++) {
		long sum[3];
		if (read(p[0], sum, sizeof sum) == (ssize_t)sizeof sum) {
			reports++;
			for (int k = 0; k < 3; k++)
				total[k] += sum[k];
		}
	}
	close(p[0]);
	for (int i = 0; i < 3; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			clean++;
	}
	CHECK(reports == 3 && clean == 3, "3 processes x 4 threads ran (%.2f s)", now() - t0);
	CHECK(total[2] == 0, "used never exceeded the cap after any of %ld successful reserves (%ld over)",
	      total[0], total[2]);
	CHECK(total[0] > 1000 && total[1] > 1000,
	      "the cap was contended: %ld reserves succeeded, %ld were refused", total[0], total[1]);
	CHECK(accounting_used(&a, 0) == 0 && accounting_used(&a, 1) == 0,
	      "everything released: used is 0 on both GPUs");
	accounting_reclaim_dead(&a);
	CHECK(accounting_slots_in_use(&a) == 0, "the exited workers' slots are reclaimed");
	accounting_close(&a);
}

/* --- reclaim of the dead ---------------------------------------------------------------------- */

/* A child that reserves b0 on GPU 0 and b1 on GPU 1, says so, and waits to be killed. */
static pid_t holder(struct accounting *a, uint64_t b0, uint64_t b1)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char ok = accounting_reserve(a, 0, b0, 1u << 30) == 0 &&
			  accounting_reserve(a, 1, b1, 1u << 30) == 0 ? 'y' : 'n';
		(void)!write(p[1], &ok, 1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ok = 'n';
	(void)!read(p[0], &ok, 1);
	close(p[0]);
	if (ok != 'y') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void test_reclaim(void)
{
	struct accounting a;
	if (fresh(&a) != 0) {
		CHECK(0, "region for the reclaim tests");
		return;
	}
	CHECK(accounting_reserve(&a, 0, 1000, 1u << 30) == 0, "this (live) process holds 1000 on GPU 0");

	pid_t h = holder(&a, 300, 200);
	CHECK(h > 0 && accounting_used(&a, 0) == 1300 && accounting_used(&a, 1) == 200,
	      "a child holds 300 + 200");
	CHECK(accounting_reclaim_dead(&a) == 0 && accounting_used(&a, 0) == 1300,
	      "while it lives, nothing is reclaimed");
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	CHECK(accounting_slots_in_use(&a) == 2, "the SIGKILLed child's slot is still claimed");
	CHECK(accounting_reclaim_dead(&a) == 1, "its slot is reclaimed");
	CHECK(accounting_used(&a, 0) == 1000 && accounting_used(&a, 1) == 0 && accounting_slots_in_use(&a) == 1,
	      "its share is subtracted, ours stays");
	CHECK(accounting_reclaim_dead(&a) == 0 && accounting_used(&a, 0) == 1000, "a second walk subtracts nothing");

	/* Two reclaimers racing over many dead slots: each subtracted exactly once. */
	int rounds = 20, exact = 0, split = 0;
	for (int r = 0; r < rounds; r++) {
		pid_t dead[8];
		int nd = 0;
		for (int i = 0; i < 8; i++)
			if ((dead[nd] = holder(&a, 100 + (uint64_t)i, 7)) > 0)
				nd++;
		for (int i = 0; i < nd; i++)
			kill(dead[i], SIGKILL);
		for (int i = 0; i < nd; i++)
			waitpid(dead[i], NULL, 0);
		int go[2], res[2];
		if (pipe(go) != 0 || pipe(res) != 0)
			break;
		pid_t rk[2];
		for (int k = 0; k < 2; k++) {
			rk[k] = fork();
			if (rk[k] == 0) {
				char c;
				(void)!read(go[0], &c, 1);
				int n = accounting_reclaim_dead(&a);
				(void)!write(res[1], &n, sizeof n);
				_exit(0);
			}
		}
		(void)!write(go[1], "gg", 2);
		int n[2] = { 0, 0 };
		for (int k = 0; k < 2; k++) {
			(void)!read(res[0], &n[k], sizeof n[k]);
			waitpid(rk[k], NULL, 0);
		}
		close(go[0]); close(go[1]); close(res[0]); close(res[1]);
		if (n[0] + n[1] == nd && accounting_used(&a, 0) == 1000 && accounting_used(&a, 1) == 0)
			exact++;
		if (n[0] > 0 && n[1] > 0)
			split++;
	}
	CHECK(exact == rounds, "two racing reclaimers: each dead slot reclaimed exactly once, totals exact "
			       "(%d of %d rounds; %d with both reclaiming some)", exact, rounds, split);
	CHECK(accounting_slots_in_use(&a) == 1, "only this process's slot is left");

	/* A slot with our pid but another start time: a previous owner of the pid. */
	uint64_t start = accounting_start_time((int)getpid());
	CHECK(start != 0, "this process's start time is %llu ticks", (unsigned long long)start);
	struct accounting_slot *fake = &a.r->slot[a.nslots - 1];
	fake->key = ACCOUNTING_KEY(ACCOUNTING_SLOT_ACTIVE, getpid(), start + 1);
	fake->bytes[0] = 700;
	__atomic_add_fetch(&a.r->gpu[0].used, 700, __ATOMIC_SEQ_CST);
	__atomic_store_n(&a.r->slot_hwm, a.nslots, __ATOMIC_SEQ_CST);
	struct accounting_slot *twin = &a.r->slot[a.nslots - 2];
	twin->key = ACCOUNTING_KEY(ACCOUNTING_SLOT_ACTIVE, getpid(), start);
	twin->bytes[0] = 50;
	__atomic_add_fetch(&a.r->gpu[0].used, 50, __ATOMIC_SEQ_CST);
	CHECK(accounting_reclaim_dead(&a) == 1 && fake->key == 0 && accounting_used(&a, 0) == 1050,
	      "our pid with another start time counts as dead; our pid and start time as alive");
	twin->key = 0;

	/* At the cap, reserve reclaims the dead before it fails. */
	h = holder(&a, 2000, 0);
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	CHECK(h > 0 && accounting_used(&a, 0) == 3050, "a dead child left 2000 behind");
	CHECK(accounting_reserve(&a, 0, 2000, 3100) == 0 && accounting_used(&a, 0) == 3050,
	      "a reservation over the cap reclaims the dead share first, then succeeds");
	CHECK(accounting_reserve(&a, 0, 1000, 3100) == -1 && accounting_used(&a, 0) == 3050,
	      "with nothing dead to reclaim, it fails");
	accounting_close(&a);
}

/* --- fork ----------------------------------------------------------------------------------- */

static void test_fork(void)
{
	struct accounting a;
	if (fresh(&a) != 0) {
		CHECK(0, "region for the fork test");
		return;
	}
	accounting_reserve(&a, 0, 10, 1000);
	int p[2];
	if (pipe(p) != 0)
		return;
	pid_t kid = fork();
	if (kid == 0) {
		uint64_t r[2];
		r[0] = accounting_mine(&a, 0); /* not the parent's */
		accounting_reserve(&a, 0, 5, 1000);
		r[1] = accounting_mine(&a, 0);
		(void)!write(p[1], r, sizeof r);
		_exit(0);
	}
	uint64_t r[2] = { 99, 99 };
	(void)!read(p[0], r, sizeof r);
	waitpid(kid, NULL, 0);
	CHECK(r[0] == 0 && r[1] == 5 && accounting_mine(&a, 0) == 10,
	      "a forked child gets its own slot, not its parent's");
	CHECK(accounting_reclaim_dead(&a) == 1 && accounting_used(&a, 0) == 10, "and its share goes when it exits");
	accounting_close(&a);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* children fork: no buffered output twice */
	test_open();
	test_single();
	test_clamp();
	test_concurrent();
	test_reclaim();
	test_fork();
	return check_done();
}
