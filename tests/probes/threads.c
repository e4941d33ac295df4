/* threads: start 8 POSIX threads, let each do some work, join them, check the results.
 *
 * Exit 0 when all 8 ran and returned the right answer, 1 otherwise (with a message).
 * glibc's pthread_create tries clone3 first and falls back to clone only when clone3
 * fails with ENOSYS; vgpu-run's seccomp filter answers clone3 with exactly that, so
 * this passing inside the sandbox shows threaded programs still start.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 8
#define ROUNDS 200000

struct job {
	unsigned seed;
	uint64_t result;
	pid_t tid;
};

/* A little arithmetic per thread, checked against the same computation done inline. */
static uint64_t work(unsigned seed)
{
	uint64_t x = seed * 2654435761u + 1;
	for (int i = 0; i < ROUNDS; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static void *run(void *arg)
{
	struct job *job = arg;
	job->tid = (pid_t)syscall(SYS_gettid); /* gettid() needs glibc 2.30 */
	job->result = work(job->seed);
	return job;
}

int main(void)
{
	pthread_t threads[NTHREADS];
	struct job jobs[NTHREADS];
	int started = 0, good = 0;

	for (int i = 0; i < NTHREADS; i++) {
		jobs[i] = (struct job){ .seed = (unsigned)i + 1 };
		int err = pthread_create(&threads[i], NULL, run, &jobs[i]);
		if (err != 0) {
			fprintf(stderr, "threads: pthread_create #%d: %s\n", i, strerror(err));
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		void *ret = NULL;
		int err = pthread_join(threads[i], &ret);
		if (err != 0) {
			fprintf(stderr, "threads: pthread_join #%d: %s\n", i, strerror(err));
			continue;
		}
		if (ret == &jobs[i] && jobs[i].result == work(jobs[i].seed) && jobs[i].tid != getpid())
			good++;
		else
			fprintf(stderr, "threads: thread #%d returned a wrong result\n", i);
	}
	printf("threads: %d started, %d finished correctly\n", started, good);
	return good == NTHREADS ? 0 : 1;
}
