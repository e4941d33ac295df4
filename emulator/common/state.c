/* Memory in use on each emulated GPU (state.h), shared by the CUDA and NVML sides of the
 * emulator and, inside a vgpu-run sandbox, by all its processes.
 *
 * Inside a sandbox the numbers live in "emulator-state" in the runtime dir: a file of
 * fixed size mapped MAP_SHARED.  It is created complete (written under a temporary name
 * and linked into place, so nobody ever maps a half-made one).  It holds one slot per
 * process that uses a GPU: the process's pid and start time (for NVML's process lists;
 * a reused pid has another start time) and its bytes per device, updated with atomics.
 * Nothing is ever summed into a global counter that a crashed process could leave
 * wrong: a device's usage is the sum over the slots of live processes.
 *
 * Which slots are live: each process owning a slot holds an open-file-description lock
 * (F_OFD_SETLK) on one byte standing for that slot.  The kernel drops the lock when the
 * process dies, however it dies, so a slot whose byte is unlocked belongs to nobody:
 * readers skip it and the next process to come takes it over.  A kernel without OFD
 * locks (before 3.15) falls back to checking the pid and its start time in /proc.
 *
 * Asking the kernel costs a system call per slot, too much for every allocation of every
 * process of a busy sandbox.  So the capacity check of an allocation (emu_state_take)
 * remembers what it learnt, per process, keyed by the slot's owner (its pid and the
 * number of times the slot was claimed): a slot found dead stays dead until it is
 * claimed again, which changes the key; a slot found live is believed live for at most
 * a millisecond.  The only error this allows is counting a process that died within the
 * last millisecond, and an allocation that this would refuse is checked again the exact
 * way before it is refused.  Queries (emu_state_used, emu_state_processes: NVML,
 * cuMemGetInfo) always ask the kernel.
 *
 * Outside a sandbox the same structure lives in a memfd of this process
 * ("vgpu-emulator-state"), so that the CUDA and the NVML library, each with its own copy
 * of this code, see the same numbers: the second to start finds the first's memfd among
 * the process's descriptors.  It is close-on-exec: a program exec'd from here starts
 * afresh, while fork()ed children share it (as in a sandbox).  Without memfd it is this
 * library's own memory.  After fork() the child starts with no slot of its own (its
 * parent keeps the parent's) and takes one with an open file description of its own. */
#include "emulator/common/state.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emulator/common/config.h"
#include "shim/common/runtime_dir.h"

#define STATE_MAGIC 0x3174617473757067ULL /* "gpustat1" */
#define STATE_VERSION 1
#define STATE_SLOTS 256
#define STATE_FILE "emulator-state"
#define STATE_MEMFD "vgpu-emulator-state"
/* The byte locked for slot i: past the data, where locks cost nothing. */
#define LOCK_BASE (1LL << 30)

struct slot {
	int32_t pid;          /* 0: free (or being claimed) */
	uint32_t claims;      /* times the slot was taken: with the pid, names its owner */
	uint64_t start_time;  /* /proc/PID/stat field 22 */
	uint64_t devices;     /* bit i: uses device i */
	uint64_t base[EMU_MAX_DEVICES];  /* context footprint (emu_state_register_process) */
	uint64_t alloc[EMU_MAX_DEVICES]; /* allocations (emu_state_add_used), two's complement */
};

struct state_file {
	uint64_t magic;
	uint32_t version, nslots;
	uint32_t hiwater; /* slots [0, hiwater) have ever been used */
	uint32_t reserved[3];
	struct slot slots[STATE_SLOTS];
};

static pthread_mutex_t state_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static struct state_file local_state;
static struct state_file *st = &local_state;
static int shared;         /* st is a file (the sandbox's, or this process's memfd) */
static int lock_fd = -1;   /* our open file description of it (OFD locks) */
static int forked;         /* in a fork()ed child: lock_fd is the parent's description */
static int ofd_locks = 1;  /* the kernel has them */
static int my_slot = -1;
static char state_path[4096];

static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold anything: count fields after its closing ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

/* What emu_state_take() learnt of other slots (see the top): per slot, 0 (nothing) or
 *   bits 0-22 the owner's pid (pids are below 2^22), 23-38 the slot's claims (low 16
 *   bits), 39 live, 40-63 the epoch it was found live in (low 24 bits).
 * An epoch lasts at most EPOCH_NS; a live entry is believed only in its own. */
#define EPOCH_NS 1000000ULL
#define MEMO_KEY(pid, claims) (((uint64_t)(pid) & 0x7fffffULL) | ((uint64_t)((claims) & 0xffffu) << 23))
#define MEMO_KEY_MASK ((1ULL << 39) - 1)
#define MEMO_LIVE (1ULL << 39)
#define MEMO_EPOCH_SHIFT 40
static uint64_t live_memo[STATE_SLOTS];
static uint64_t memo_epoch = 1, memo_epoch_end;

static void atfork_child(void)
{
	/* The child is single-threaded here.  It does not own its parent's slot, and the
	 * inherited descriptor shares the parent's locks: the child opens a description of
	 * its own (through the inherited one: state_path) before it next looks at locks. */
	pthread_mutex_init(&state_mutex, NULL);
	forked = 1;
	my_slot = -1;
	memset(live_memo, 0, sizeof live_memo);
	if (!shared)
		memset(&local_state, 0, sizeof local_state);
}

static int open_lock_fd(void)
{
	if (!shared)
		return -1;
	if (__atomic_load_n(&forked, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&state_mutex);
		if (forked) {
			int fd = open(state_path, O_RDWR | O_CLOEXEC);
			if (fd >= 0) {
				if (lock_fd >= 0)
					close(lock_fd);
				lock_fd = fd;
				if (strncmp(state_path, "/proc/self/fd/", 14) == 0)
					snprintf(state_path, sizeof state_path, "/proc/self/fd/%d", fd);
			}
			__atomic_store_n(&forked, 0, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&state_mutex);
	}
	return lock_fd;
}

/* Maps a state file opened as fd (which becomes our lock descriptor), or NULL. */
static struct state_file *map_fd(int fd)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < sizeof(struct state_file)) {
		close(fd);
		return NULL;
	}
	struct state_file *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != STATE_MAGIC || s->version != STATE_VERSION ||
	    s->nslots != STATE_SLOTS) {
		munmap(s, sizeof *s);
		close(fd);
		return NULL;
	}
	lock_fd = fd;
	return s;
}

/* Maps the sandbox's state file, creating it complete if it is not there yet. */
static struct state_file *map_shared(const char *dir)
{
	char tmp[4200];
	if (snprintf(state_path, sizeof state_path, "%s/%s", dir, STATE_FILE) >= (int)sizeof state_path)
		return NULL;
	int fd = open(state_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		snprintf(tmp, sizeof tmp, "%s/.%s.%d", dir, STATE_FILE, (int)getpid());
		int t = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (t < 0)
			return NULL;
		int ok = fchmod(t, 0666) == 0 && ftruncate(t, sizeof(struct state_file)) == 0;
		if (ok) {
			struct state_file *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, t, 0);
			if (s != MAP_FAILED) {
				s->version = STATE_VERSION;
				s->nslots = STATE_SLOTS;
				__atomic_store_n(&s->magic, STATE_MAGIC, __ATOMIC_RELEASE);
				munmap(s, sizeof *s);
			} else {
				ok = 0;
			}
		}
		/* Linked into place whole; losing the race to another process is fine. */
		if (ok && link(tmp, state_path) != 0 && errno != EEXIST)
			ok = 0;
		unlink(tmp);
		close(t);
		if (!ok)
			return NULL;
		fd = open(state_path, O_RDWR | O_CLOEXEC);
	}
	return fd < 0 ? NULL : map_fd(fd);
}

/* This process's memfd: another library of the process may have made it already. */
static int find_memfd(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int found = -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[64], target[256];
		int n = atoi(e->d_name);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || n == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", n);
		ssize_t len = readlink(path, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, "/memfd:" STATE_MEMFD " ", 7 + strlen(STATE_MEMFD) + 1) == 0 &&
		    (found < 0 || n < found))
			found = n; /* the lowest: two libraries racing agree on one */
	}
	closedir(d);
	return found;
}

static struct state_file *map_local(void)
{
	int fd = -1;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		int existing = find_memfd();
		if (existing >= 0) {
			snprintf(state_path, sizeof state_path, "/proc/self/fd/%d", existing);
			/* Its maker may still be writing the header. */
			for (int i = 0; i < 100; i++) {
				fd = open(state_path, O_RDWR | O_CLOEXEC);
				if (fd < 0)
					break;
				struct state_file *s = map_fd(fd);
				if (s)
					return s;
				fd = -1;
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
			return NULL;
		}
		int m = memfd_create(STATE_MEMFD, MFD_CLOEXEC);
		if (m < 0)
			return NULL;
		struct state_file *s = MAP_FAILED;
		if (ftruncate(m, sizeof(struct state_file)) == 0)
			s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
		if (s == MAP_FAILED) {
			close(m);
			return NULL;
		}
		s->version = STATE_VERSION;
		s->nslots = STATE_SLOTS;
		__atomic_store_n(&s->magic, STATE_MAGIC, __ATOMIC_RELEASE);
		munmap(s, sizeof *s);
		/* Made at the same moment by the other library: both keep the lowest. */
		if (find_memfd() != m) {
			close(m);
			continue;
		}
		snprintf(state_path, sizeof state_path, "/proc/self/fd/%d", m);
		return map_fd(m);
	}
	return NULL;
}

static void state_init(void)
{
	char dir[4096];
	struct state_file *s = runtime_dir_find(dir, sizeof dir) == 0 ? map_shared(dir) : map_local();
	if (s) {
		st = s;
		shared = 1;
	}
	if (!shared) {
		local_state.magic = STATE_MAGIC;
		local_state.version = STATE_VERSION;
		local_state.nslots = STATE_SLOTS;
	}
	pthread_atfork(NULL, NULL, atfork_child);
}

static void ensure_init(void)
{
	pthread_once(&state_once, state_init);
}

/* Is slot i (not ours) owned by a live process? */
static int slot_live(unsigned i)
{
	struct slot *s = &st->slots[i];
	pid_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
	if (pid <= 0)
		return 0;
	if (!shared)
		return 0;
	if (ofd_locks && open_lock_fd() >= 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BASE + i, .l_len = 1 };
		if (fcntl(lock_fd, F_OFD_GETLK, &fl) == 0)
			return fl.l_type != F_UNLCK;
		if (errno != EINVAL)
			return 1; /* cannot tell: count it rather than hide usage */
		ofd_locks = 0;
	}
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 0;
	return proc_start_time(pid) == __atomic_load_n(&s->start_time, __ATOMIC_ACQUIRE);
}

static void take_slot(unsigned i, pid_t me, uint64_t start)
{
	struct slot *s = &st->slots[i];
	__atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
	for (unsigned d = 0; d < EMU_MAX_DEVICES; d++) {
		__atomic_store_n(&s->base[d], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->alloc[d], 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->devices, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->start_time, start, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->claims, 1, __ATOMIC_RELAXED); /* published with the pid */
	__atomic_store_n(&s->pid, me, __ATOMIC_RELEASE);
	uint32_t hw = __atomic_load_n(&st->hiwater, __ATOMIC_RELAXED);
	while (hw < i + 1 && !__atomic_compare_exchange_n(&st->hiwater, &hw, i + 1, 0, __ATOMIC_ACQ_REL,
							  __ATOMIC_RELAXED))
		;
	my_slot = (int)i;
}

/* This process's slot (claimed on first use), or NULL when the file is full. */
static struct slot *my(void)
{
	ensure_init();
	int slot = __atomic_load_n(&my_slot, __ATOMIC_ACQUIRE);
	if (slot >= 0)
		return &st->slots[slot];
	open_lock_fd(); /* after fork(): our own description first (it takes the mutex) */
	pthread_mutex_lock(&state_mutex);
	if (my_slot < 0) {
		pid_t me = getpid();
		if (!shared) {
			take_slot(0, me, 0);
		} else {
			uint64_t start = proc_start_time(me);
			for (unsigned i = 0; i < STATE_SLOTS && my_slot < 0; i++) {
				if (ofd_locks && lock_fd >= 0) {
					struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
							    .l_start = LOCK_BASE + i, .l_len = 1 };
					if (fcntl(lock_fd, F_OFD_SETLK, &fl) == 0) {
						take_slot(i, me, start);
						continue;
					}
					if (errno != EINVAL)
						continue; /* held by a live process */
					ofd_locks = 0;
				}
				/* No OFD locks: a free slot or one of a dead process. */
				int32_t pid = __atomic_load_n(&st->slots[i].pid, __ATOMIC_ACQUIRE);
				if (pid > 0 && slot_live(i))
					continue;
				if (__atomic_compare_exchange_n(&st->slots[i].pid, &pid, -1, 0, __ATOMIC_ACQ_REL,
								__ATOMIC_RELAXED))
					take_slot(i, me, start);
			}
		}
	}
	slot = my_slot;
	pthread_mutex_unlock(&state_mutex);
	return slot >= 0 ? &st->slots[slot] : NULL;
}

static uint64_t slot_used(const struct slot *s, unsigned device)
{
	return __atomic_load_n(&s->base[device], __ATOMIC_RELAXED) +
	       __atomic_load_n(&s->alloc[device], __ATOMIC_RELAXED);
}

/* The epoch of this moment (a new one every EPOCH_NS at most). */
static uint64_t epoch_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uint64_t end = __atomic_load_n(&memo_epoch_end, __ATOMIC_ACQUIRE);
	if (now < end)
		return __atomic_load_n(&memo_epoch, __ATOMIC_ACQUIRE);
	/* Threads racing here may each start an epoch: that only shortens one. */
	uint64_t e = __atomic_add_fetch(&memo_epoch, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&memo_epoch_end, now + EPOCH_NS, __ATOMIC_RELEASE);
	return e;
}

/* slot_live(i), from what was learnt when it still holds (see the top). */
static int slot_live_memo(unsigned i, uint64_t epoch)
{
	const struct slot *s = &st->slots[i];
	int32_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
	if (pid <= 0 || !shared)
		return 0;
	uint32_t claims = __atomic_load_n(&s->claims, __ATOMIC_RELAXED);
	uint64_t key = MEMO_KEY(pid, claims);
	uint64_t m = __atomic_load_n(&live_memo[i], __ATOMIC_RELAXED);
	if (m && (m & MEMO_KEY_MASK) == key) {
		if (!(m & MEMO_LIVE))
			return 0; /* dead stays dead until the slot is claimed again */
		if ((m >> MEMO_EPOCH_SHIFT) == (epoch & ((1ULL << (64 - MEMO_EPOCH_SHIFT)) - 1)))
			return 1;
	}
	int live = slot_live(i);
	__atomic_store_n(&live_memo[i], key | (live ? MEMO_LIVE | (epoch << MEMO_EPOCH_SHIFT) : 0), __ATOMIC_RELAXED);
	return live;
}

/* The device's usage over the live processes; exact: whether each other slot is live is
 * asked now; else believed from the memo. */
static uint64_t used_sum(unsigned device, int exact)
{
	uint64_t sum = 0, epoch = exact ? 0 : epoch_now();
	unsigned n = __atomic_load_n(&st->hiwater, __ATOMIC_ACQUIRE);
	int mine = __atomic_load_n(&my_slot, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < STATE_SLOTS; i++) {
		const struct slot *s = &st->slots[i];
		if (!(__atomic_load_n(&s->devices, __ATOMIC_RELAXED) & (1ULL << device)))
			continue;
		if ((int)i == mine || (exact ? slot_live(i) : slot_live_memo(i, epoch)))
			sum += slot_used(s, device);
	}
	return sum;
}

uint64_t emu_state_used(unsigned device)
{
	if (device >= EMU_MAX_DEVICES)
		return 0;
	ensure_init();
	return used_sum(device, 1);
}

void emu_state_add_used(unsigned device, int64_t delta)
{
	if (device >= EMU_MAX_DEVICES)
		return;
	struct slot *s = my();
	if (s) {
		__atomic_fetch_or(&s->devices, 1ULL << device, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->alloc[device], (uint64_t)delta, __ATOMIC_RELAXED);
	}
}

int emu_state_take(unsigned device, uint64_t bytes, uint64_t limit)
{
	if (device >= EMU_MAX_DEVICES || bytes > (uint64_t)INT64_MAX)
		return -1;
	emu_state_add_used(device, (int64_t)bytes);
	/* Counted first, then the sum: of two processes taking the last bytes at once, at
	 * least one sees the other's.  The memo may only count too much (a process that
	 * just died): before refusing, the exact sum. */
	if (used_sum(device, 0) <= limit || used_sum(device, 1) <= limit)
		return 0;
	emu_state_add_used(device, -(int64_t)bytes);
	return -1;
}

void emu_state_register_process(unsigned device, uint64_t used_bytes)
{
	if (device >= EMU_MAX_DEVICES)
		return;
	struct slot *s = my();
	if (!s)
		return;
	__atomic_store_n(&s->base[device], used_bytes, __ATOMIC_RELAXED);
	__atomic_fetch_or(&s->devices, 1ULL << device, __ATOMIC_RELAXED);
}

unsigned emu_state_processes(unsigned device, pid_t *pids, uint64_t *used, unsigned max)
{
	if (device >= EMU_MAX_DEVICES)
		return 0;
	ensure_init();
	unsigned count = 0;
	unsigned n = __atomic_load_n(&st->hiwater, __ATOMIC_ACQUIRE);
	int mine = __atomic_load_n(&my_slot, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < STATE_SLOTS; i++) {
		const struct slot *s = &st->slots[i];
		if (!(__atomic_load_n(&s->devices, __ATOMIC_RELAXED) & (1ULL << device)))
			continue;
		if ((int)i != mine && !slot_live(i))
			continue;
		if (count < max) {
			if (pids)
				pids[count] = (int)i == mine && !shared ? getpid() : __atomic_load_n(&s->pid, __ATOMIC_RELAXED);
			if (used)
				used[count] = slot_used(s, device);
		}
		count++;
	}
	return count;
}
