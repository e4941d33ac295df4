/* The policy model: what GPUs a sandbox sees and how they are shaped.
 *
 * One struct, filled from a policy file (policy_parse_file) and from command-line
 * flags (policy_add_gpu_spec, policy_parse_memory, policy_set_emulate,
 * policy_add_search_path), checked once (policy_validate), then written into the
 * runtime dir in canonical form (policy_write_canonical) for the shim to read
 * (policy_read_canonical).  This code is linked into the static musl launcher and
 * into the glibc shim, so it uses nothing but ISO C and POSIX, and never allocates:
 * every field has a fixed size, so a policy can live in a static variable of the shim.
 * No function keeps state between calls; all are thread-safe on distinct structs.
 * The dialect is documented in docs/vgpu-policy.5.
 *
 * Errors are reported as one line (no newline) in a caller-provided buffer, in the
 * form the launcher prints after "vgpu-run: ": "FILE:LINE: what was wrong; what was
 * expected".  err may be NULL or errlen 0; a long message is truncated.
 */
#ifndef VGPU_POLICY_H
#define VGPU_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_GPUS 16
#define POLICY_MAX_SEARCH_PATHS 16
#define POLICY_NAME_MAX 96     /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define POLICY_UUID_MAX 96     /* "GPU-" + 36 (room to spare; MIG- forms are not accepted) */
#define POLICY_PROFILE_MAX 32
#define POLICY_PATH_MAX 4096
#define POLICY_ERROR_MAX 512
#define POLICY_INDEX_MAX 63         /* device = INDEX: 0..63 */
#define POLICY_LINE_MAX 16384       /* a policy file line holds at most 16383 bytes */
#define POLICY_FILE_MAX (1024 * 1024) /* a policy file holds at most 1 MiB */
/* An upper bound of the canonical form's length (see policy_format_canonical). */
#define POLICY_CANONICAL_MAX (160 * 1024)
#define POLICY_CANONICAL_HEADER "# vgpu-run canonical policy, format 1"
#define POLICY_CANONICAL_END "# end"
#define POLICY_DEFAULT_PROFILE "h200"
#define POLICY_MAX_FAULTS 16
#define POLICY_FAULT_FN_MAX 128     /* a function name pattern holds at most 127 bytes */
/* device-lost-after's CUDA code unless error= says another. */
#define POLICY_LOST_ERROR "CUDA_ERROR_DEVICE_UNAVAILABLE"
#define POLICY_FAULT_KEYS                                                                 \
	"function, error, nth, every, after-bytes, after, p, seed, oom-after, device-lost-after " \
	"or slow"

enum policy_source_kind {
	POLICY_SOURCE_INDEX = 1,    /* physical GPU by index (nvidia-smi / PCI bus order) */
	POLICY_SOURCE_UUID,         /* physical GPU by "GPU-..." UUID */
	POLICY_SOURCE_EMULATED,     /* a software GPU of the emulator, by profile */
};

/* Fault injection (vgpu-policy(5), FAULTS; --fault SPEC): calls of chosen functions
 * fail with a chosen code.  A rule is one of: */
enum policy_fault_kind {
	POLICY_FAULT_ERROR = 1, /* function (a glob) fails with error, when its trigger fires */
	POLICY_FAULT_SLOW,      /* function takes ns longer (slow=FUNCTION:DURATION) */
	POLICY_FAULT_OOM,       /* allocations fail once the sandbox holds n bytes (oom-after) */
	POLICY_FAULT_LOST,      /* every device call fails, ns after the start (device-lost-after) */
};

/* When an ERROR rule fires, counted over the whole sandbox. */
enum policy_fault_when {
	POLICY_WHEN_ALWAYS = 0,
	POLICY_WHEN_NTH,         /* the n-th matching call only (nth=N) */
	POLICY_WHEN_EVERY,       /* every n-th matching call (every=N) */
	POLICY_WHEN_AFTER_BYTES, /* while the sandbox holds n bytes of device memory or more */
	POLICY_WHEN_AFTER,       /* from ns after the sandbox's start (after=T) */
	POLICY_WHEN_RANDOM,      /* with probability ppb / 10^9, by seed and call number (p=, seed=) */
};

struct policy_fault {
	enum policy_fault_kind kind;
	char function[POLICY_FAULT_FN_MAX];  /* ERROR, SLOW: the pattern (* and ?) */
	int api;                 /* enum api_kind (policy/api_codes.h): by the pattern's prefix */
	char error_name[64];     /* ERROR, LOST: the code's name */
	int error;               /* its value */
	enum policy_fault_when when;
	uint64_t n;              /* NTH, EVERY: the count; AFTER_BYTES, OOM: bytes */
	uint64_t ns;             /* AFTER, LOST: since the start; SLOW: the delay */
	uint32_t ppb;            /* RANDOM */
	uint64_t seed;           /* RANDOM */
	int has_seed;
	unsigned line;           /* the policy file's line (0: --fault); not in the canonical form */
};

/* A memory limit: none, an absolute size, or a share of the physical GPU's memory. */
enum policy_memory_kind {
	POLICY_MEMORY_UNSET = 0,
	POLICY_MEMORY_BYTES,
	POLICY_MEMORY_PERCENT,
};

struct policy_memory {
	enum policy_memory_kind kind;
	uint64_t bytes;      /* POLICY_MEMORY_BYTES */
	unsigned percent;    /* POLICY_MEMORY_PERCENT: 1..100 */
};

struct policy_gpu {
	enum policy_source_kind source;
	unsigned index;                     /* POLICY_SOURCE_INDEX */
	char uuid[POLICY_UUID_MAX];         /* POLICY_SOURCE_UUID */
	char profile[POLICY_PROFILE_MAX];   /* POLICY_SOURCE_EMULATED; empty ("emulated"
	                                       alone): the default, until policy_validate */
	struct policy_memory memory;        /* unset: the global memory, else the whole GPU */
	char name[POLICY_NAME_MAX];         /* empty: the GPU's own name */
};

enum policy_lower {
	POLICY_LOWER_AUTO = 0,  /* the real driver when one is installed, else the emulator */
	POLICY_LOWER_EMULATOR,  /* the emulator even where a driver exists */
};

/* What the emulator does with a kernel launch: it runs no GPU code. */
enum policy_launch {
	POLICY_LAUNCH_ERROR = 0, /* CUDA_ERROR_NOT_SUPPORTED, with one message */
	POLICY_LAUNCH_NOOP,      /* success, doing nothing: for programs that must get past launches */
};

struct policy {
	enum policy_lower lower;
	/* The emulator's kernel launches (`launch = error | noop`). */
	enum policy_launch launch;
	/* The CUDA driver version the emulator reports, as cuDriverGetVersion does
	 * (12080 for 12.8; `driver-version = 12.8`); 0: its default, 13.0. */
	int driver_version;
	/* Profile of the default emulated GPU (`emulate = PROFILE`, --emulate=PROFILE);
	 * empty: POLICY_DEFAULT_PROFILE. */
	char emulate_profile[POLICY_PROFILE_MAX];
	/* Every GPU without a memory of its own gets this one; with no [gpu] section at
	 * all it applies to every physical GPU. */
	struct policy_memory memory;
	/* The GPUs, in virtual-ordinal order.  None: every physical GPU, unchanged
	 * (or, with the emulator, one GPU of POLICY_DEFAULT_PROFILE). */
	unsigned ngpus;
	struct policy_gpu gpus[POLICY_MAX_GPUS];
	/* Extra directories to search for the driver (the policy's `driver-path`). */
	unsigned nsearch_paths;
	char search_paths[POLICY_MAX_SEARCH_PATHS][POLICY_PATH_MAX];
	/* Where every CUDA and NVML call of the sandbox is recorded (`trace = FILE`,
	 * --trace FILE; docs/tracing.md): an absolute path; empty: no tracing. */
	char trace[POLICY_PATH_MAX];
	/* Fault rules, in order ([fault] sections, then --fault). */
	unsigned nfaults;
	struct policy_fault faults[POLICY_MAX_FAULTS];
};

/* Emulator device profiles the policy accepts (emulated:PROFILE), NULL-terminated. */
extern const char *const policy_profiles[];
int policy_profile_known(const char *profile);
/* "h200, h100-80gb, ..." into buf (truncated to buflen); returns buf. */
const char *policy_profiles_text(char *buf, size_t buflen);

/* "12.8" or "13.0" → 12080 / 13000 (major 10..99, minor 0..9); 0 or -1 with err. */
int policy_parse_driver_version(const char *text, int *out, char *err, size_t errlen);

/* An empty policy: no GPU listed, no memory limit, lower AUTO. */
void policy_init(struct policy *p);

/* Sizes: "8G", "512M", "1.5G", "1024" (bytes), suffixes K M G T (binary; KiB MiB GiB
 * TiB the same; any case; no blank before them; a fraction rounded down to whole
 * bytes; 1 to 2^64-1 bytes), or "N%" with N in 1..100.  Returns 0, or -1 with a
 * one-line reason in err (without the input's location: the caller adds it) and out
 * unchanged. */
int policy_parse_memory(const char *text, struct policy_memory *out, char *err, size_t errlen);

/* Parse a policy file into p (on top of what p holds: global keys the file gives
 * replace p's, [gpu] sections and driver-paths are appended).  Returns 0, or -1 with
 * "PATH:LINE: ..." in err; on error p may hold part of the file (do not use it).
 * A file that cannot be opened gives "PATH: strerror"; one that is not a regular
 * file, or is larger than POLICY_FILE_MAX, is an error too. */
int policy_parse_file(struct policy *p, const char *path, char *err, size_t errlen);
/* The same for text already in memory; origin names it in errors. */
int policy_parse_text(struct policy *p, const char *text, size_t len, const char *origin,
		      char *err, size_t errlen);
/* The same for an open file (read from its current offset to its end; not closed);
 * origin names it in errors.  Uses about 22 KiB of stack (no allocation).  flags: 0, or POLICY_PARSE_CANONICAL to accept only
 * the canonical form (POLICY_CANONICAL_HEADER as the first line, POLICY_CANONICAL_END
 * as the last, ended by a newline: a truncated file is an error). */
#define POLICY_PARSE_CANONICAL 1u
int policy_parse_fd(struct policy *p, int fd, const char *origin, unsigned flags,
		    char *err, size_t errlen);

/* One --gpu SPEC: SOURCE[,key=value...] with SOURCE an index, a GPU- UUID, or
 * emulated[:PROFILE]; keys memory and name as in a [gpu] section (a name cannot hold
 * a comma; blanks around items are trimmed).  Appends to p, or changes nothing on
 * error.  Errors name the spec: "--gpu 'SPEC': ...". */
int policy_add_gpu_spec(struct policy *p, const char *spec, char *err, size_t errlen);

/* --emulate[=VALUE] / emulate = VALUE: NULL or "yes" chooses the emulator, "no" the
 * automatic choice, a profile name both the emulator and its default profile.  Errors
 * (unknown value) come without location, like policy_parse_memory's. */
int policy_set_emulate(struct policy *p, const char *value, char *err, size_t errlen);
/* Appends a driver-path (absolute, shorter than POLICY_PATH_MAX, no control
 * characters); errors without location. */
int policy_add_search_path(struct policy *p, const char *path, char *err, size_t errlen);
/* --fault SPEC: FUNCTION:error=NAME[:TRIGGER], oom-after=SIZE, device-lost-after=T or
 * slow=FUNCTION:DURATION; items separated by ':' or ','; TRIGGER one of nth=N,
 * every=N, after-bytes=SIZE, after=T, p=P[,seed=N].  Appends a rule to p, or changes
 * nothing; errors name the spec: "--fault 'SPEC': ...". */
int policy_add_fault_spec(struct policy *p, const char *spec, char *err, size_t errlen);
/* One key of a rule ([fault] section line or SPEC item) into f; errors without location.
 * policy_fault_finish then checks the rule as a whole and resolves its API and code. */
int policy_fault_item(struct policy_fault *f, const char *key, const char *value, char *err,
		      size_t errlen);
int policy_fault_finish(struct policy_fault *f, char *err, size_t errlen);
/* A finished rule is well-formed (policy_check's part). */
int policy_fault_check(const struct policy_fault *f, char *err, size_t errlen);
int policy_fault_equal(const struct policy_fault *a, const struct policy_fault *b);
/* Glob: '*' any run of characters, '?' one; 1 when name matches. */
int policy_glob_match(const char *pattern, const char *name);
/* "1s", "500ms", "2.5" (seconds), "10us", "3ns", "1m", "1h" into ns. */
int policy_parse_duration(const char *text, uint64_t *ns, char *err, size_t errlen);

/* Sets the trace file (absolute, shorter than POLICY_PATH_MAX, no control
 * characters); errors without location. */
int policy_set_trace(struct policy *p, const char *path, char *err, size_t errlen);
/* The value of `device =`: an index 0..63, a GPU-UUID, or emulated[:PROFILE] (a known
 * profile; empty with plain "emulated").  Sets gpu's source, index, uuid and profile;
 * leaves memory and name alone.  Errors without location. */
int policy_parse_source(const char *text, struct policy_gpu *gpu, char *err, size_t errlen);
/* A GPU name: 1..POLICY_NAME_MAX-1 bytes of UTF-8 without control characters. */
int policy_check_name(const char *name, size_t len, char *err, size_t errlen);
/* Every field of p well-formed (strings terminated, values in range, known profiles,
 * counts within bounds), without the rules across GPUs of policy_validate and
 * without changing p.  What passes can be written in canonical form. */
int policy_check(const struct policy *p, char *err, size_t errlen);
/* At most max of the n bytes of s as they can be quoted in a one-line message:
 * control bytes and bytes that are not UTF-8 as '?', "..." after a cut; returns buf. */
const char *policy_printable(char *buf, size_t buflen, const char *s, size_t n, size_t max);
/* "device = ..." text of one GPU ("3", "GPU-...", "emulated:t4", "emulated"). */
const char *policy_source_text(const struct policy_gpu *gpu, char *buf, size_t buflen);

/* Checks the whole policy for consistency (policy_check, no mixing of emulated and
 * physical GPUs, no physical GPU with the emulator chosen, no duplicate physical GPU,
 * a percent only for physical GPUs), then completes it: any emulated GPU chooses the
 * emulator; with the emulator chosen and no GPU listed, adds one emulated GPU of
 * emulate_profile (empty: POLICY_DEFAULT_PROFILE); an emulated GPU with an empty
 * profile gets that profile.  On error p is unchanged.  Validating twice changes
 * nothing more. */
int policy_validate(struct policy *p, char *err, size_t errlen);

/* Canonical form: a policy file in the same dialect, every field spelled out, sizes in
 * bytes, one value per line, sorted as the struct is (format in vgpu-policy(5)).
 * Reading it back gives an equal struct (policy_equal).
 * format: like snprintf, returns the length of the whole form (never more than
 * POLICY_CANONICAL_MAX) and writes as much as fits in buf, NUL-terminated when
 * buflen > 0; or -1 with errno EINVAL when p fails policy_check.
 * write returns the bytes written or -1 (errno set; EINVAL as above).
 * read starts from policy_init and accepts only the canonical form (see
 * policy_parse_fd); it does not validate. */
int policy_format_canonical(const struct policy *p, char *buf, size_t buflen);
int policy_write_canonical(const struct policy *p, int fd);
int policy_read_canonical(struct policy *p, const char *path, char *err, size_t errlen);
/* 1 when a and b describe the same policy: fields compared by meaning (what a kind
 * uses, strings up to their terminator), never bytes of padding or after a string. */
int policy_equal(const struct policy *a, const struct policy *b);

/* The memory text of a struct policy_memory as the canonical form writes it
 * ("8589934592", "50%", "unset"); for --dry-run and messages. */
const char *policy_memory_text(const struct policy_memory *m, char *buf, size_t buflen);

#endif
