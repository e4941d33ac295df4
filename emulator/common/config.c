/* What hardware the emulator has (config.h): read once per process.
 *
 * Sources, in order:
 *   1. inside a vgpu-run sandbox (runtime_dir_find), the canonical policy there: its
 *      [gpu] sections with device = emulated:PROFILE, in order (none: one GPU of the
 *      policy's emulate profile), its `launch` and `driver-version`; the environment
 *      is not read (every process of the sandbox must see the same machine); then
 *      the GPUs of RUNDIR/emulator-extra-gpus, if a test wrote one (extra_devices);
 *   2. else, loaded directly: VGPU_EMULATOR_DEVICES: profile keys separated by commas
 *      ("t4,h200"), or "none" for a machine without GPUs; unset or empty: one h200.
 *      The driver version is VGPU_EMULATOR_DRIVER_VERSION ("12080" or "12.8"), else
 *      13000; VGPU_EMULATOR_LAUNCH=noop makes kernel launches succeed doing nothing.
 * A bad value leaves the configuration unusable with the reason in error: cuInit
 * reports it. */
#include "emulator/common/config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "shim/common/runtime_dir.h"

static struct emu_config config;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* 64-bit FNV-1a of a string, continuing from h. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A UUID of our own: "vgpu" in the first four bytes (GPU-76677075-...), then a hash of
 * the profile and the ordinal.  Real GPUs' UUIDs are random; one starting with these
 * 32 bits is not one we could ever be given by NVIDIA's tools in practice, and the same
 * (profile, ordinal) gives the same UUID in every process and on every machine. */
static void make_uuid(uint8_t uuid[16], const char *profile, unsigned ordinal)
{
	char ord[16];
	snprintf(ord, sizeof ord, "/%u", ordinal);
	uint64_t a = fnv1a(fnv1a(0xcbf29ce484222325ULL, "vgpu-emulator/"), profile);
	a = fnv1a(a, ord);
	uint64_t b = fnv1a(fnv1a(a ^ 0x9e3779b97f4a7c15ULL, profile), ord);
	memcpy(uuid, "vgpu", 4);
	for (int i = 0; i < 8; i++)
		uuid[4 + i] = (uint8_t)(a >> (8 * i));
	for (int i = 0; i < 4; i++)
		uuid[12 + i] = (uint8_t)(b >> (8 * i));
}

static int add_device(const char *key)
{
	if (config.ndevices >= EMU_MAX_DEVICES) {
		snprintf(config.error, sizeof config.error,
			 "more than %d emulated GPUs", EMU_MAX_DEVICES);
		return -1;
	}
	const struct emu_profile *p = emu_profile_find(key);
	if (!p) {
		snprintf(config.error, sizeof config.error,
			 "unknown GPU profile '%.64s' (known: h200, h100-80gb, a100-80gb, l4, t4, rtx-4090)",
			 key);
		return -1;
	}
	unsigned i = config.ndevices++;
	struct emu_device_config *d = &config.devices[i];
	d->profile = p;
	make_uuid(d->uuid, p->key, i);
	d->pci_domain = 0;
	d->pci_bus = (int)i + 1;
	d->pci_device = 0;
	return 0;
}

/* Adds the GPUs of "t4,h200" (what names the list, for the error); -1 when the list is
 * bad (then no GPU at all). */
static int add_devices(const char *text, const char *what)
{
	const char *s = text;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strcspn(s, ",");
		size_t m = n;
		while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
			m--;
		char key[64];
		if (m == 0 || m >= sizeof key) {
			snprintf(config.error, sizeof config.error,
				 "%s='%.64s': expected profile names separated by commas", what, text);
			config.ndevices = 0;
			return -1;
		}
		memcpy(key, s, m);
		key[m] = '\0';
		if (add_device(key) != 0) {
			config.ndevices = 0;
			return -1;
		}
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	return 0;
}

/* "t4,h200" / "none" / "" */
static void devices_from_env(const char *text)
{
	if (!text || !*text) {
		add_device(POLICY_DEFAULT_PROFILE);
		return;
	}
	if (strcmp(text, "none") == 0)
		return;
	add_devices(text, "VGPU_EMULATOR_DEVICES");
}

/* RUNDIR/emulator-extra-gpus, when there is one: more GPUs of the emulated machine, after
 * the policy's (its first line: profile keys separated by commas, as
 * VGPU_EMULATOR_DEVICES, blanks around them allowed).  vgpu-run never writes it: it is how a test gives the
 * emulator GPUs that the sandbox's policy does not list, as a real machine has GPUs that
 * a policy leaves out (the policy's GPU v is still the emulator's GPU v; the extra ones
 * come after and are outside the shim's view).  0, or -1 with config.error set. */
static int extra_devices(const char *dir)
{
	char path[4200], text[512];
	snprintf(path, sizeof path, "%s/" EMU_EXTRA_GPUS_FILE, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(text, 1, sizeof text - 1, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	if (bad || !text[0]) {
		snprintf(config.error, sizeof config.error,
			 "%.3000s: expected profile names separated by commas", path);
		config.ndevices = 0;
		return -1;
	}
	return add_devices(text, path);
}

static int devices_from_policy(void)
{
	char dir[4096];
	if (runtime_dir_find(dir, sizeof dir) != 0)
		return -1;
	char path[4200];
	snprintf(path, sizeof path, "%s/policy", dir);
	/* struct policy is large (search paths): not on the stack of a program's thread. */
	static struct policy pol;
	char err[POLICY_ERROR_MAX];
	if (policy_read_canonical(&pol, path, err, sizeof err) != 0) {
		snprintf(config.error, sizeof config.error, "cannot read the sandbox policy: %.200s", err);
		return 0;
	}
	/* Inside a sandbox the policy decides, whatever the environment says. */
	config.launch_noop = pol.launch == POLICY_LAUNCH_NOOP;
	if (pol.driver_version)
		config.driver_version = pol.driver_version;
	for (unsigned i = 0; i < pol.ngpus; i++) {
		if (pol.gpus[i].source != POLICY_SOURCE_EMULATED)
			continue;
		const char *key = pol.gpus[i].profile[0] ? pol.gpus[i].profile
			: pol.emulate_profile[0]          ? pol.emulate_profile
							  : POLICY_DEFAULT_PROFILE;
		if (add_device(key) != 0) {
			config.ndevices = 0;
			return 0;
		}
	}
	if (config.ndevices == 0)
		add_device(pol.emulate_profile[0] ? pol.emulate_profile : POLICY_DEFAULT_PROFILE);
	extra_devices(dir);
	return 0;
}

/* "13000", "12080", "12.8", "13.0" -> 1000*major + 10*minor */
static int parse_driver_version(const char *s, int *out)
{
	char *end;
	long major = strtol(s, &end, 10);
	if (end == s || major < 0)
		return -1;
	if (*end == '\0') {
		if (major < 1000 || major > 99990)
			return -1;
		*out = (int)major;
		return 0;
	}
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return -1;
	const char *m = end + 1;
	long minor = strtol(m, &end, 10);
	if (*end != '\0' || minor > 99 || major < 1 || major > 99)
		return -1;
	*out = (int)(major * 1000 + minor * 10);
	return 0;
}

static void load(void)
{
	config.driver_version = 13000;
	if (devices_from_policy() == 0)
		return;
	/* Loaded directly, outside vgpu-run: the environment configures the emulator. */
	const char *v = getenv("VGPU_EMULATOR_DRIVER_VERSION");
	if (v && *v && parse_driver_version(v, &config.driver_version) != 0) {
		config.driver_version = 13000;
		snprintf(config.error, sizeof config.error,
			 "VGPU_EMULATOR_DRIVER_VERSION='%.32s': expected a CUDA version such as 12080 or 12.8",
			 v);
		return;
	}
	const char *launch = getenv("VGPU_EMULATOR_LAUNCH");
	config.launch_noop = launch && strcmp(launch, "noop") == 0;
	devices_from_env(getenv("VGPU_EMULATOR_DEVICES"));
}

const struct emu_config *emu_config(void)
{
	pthread_once(&config_once, load);
	return &config;
}
