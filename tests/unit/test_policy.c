/* Unit tests of policy/: sizes, the file dialect, --gpu specs, validation, equality and
 * the canonical form.  TAP on stdout (tests/unit/check.h); run from anywhere, no
 * arguments; temporary files go to $TMPDIR (default /tmp) and are removed. */
#include "policy/policy.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char E[POLICY_ERROR_MAX];
/* Big structs live here, not on the stack. */
static struct policy P, Q, R;

#define UUID_A "GPU-0123abcd-4567-89ef-0123-456789abcdef"
#define UUID_A_UPPER "GPU-0123ABCD-4567-89EF-0123-456789ABCDEF"
#define UUID_B "GPU-ffffffff-0000-1111-2222-333333333333"

static int one_line(const char *s)
{
	return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL;
}

/* Parse text into a fresh P with origin "policy.conf". */
static int ptext(const char *text)
{
	policy_init(&P);
	memset(E, 0, sizeof(E));
	return policy_parse_text(&P, text, strlen(text), "policy.conf", E, sizeof(E));
}

/* The text must fail with an error containing every one of the wanted strings. */
static void check_err(const char *label, const char *text, const char *w1, const char *w2)
{
	int rc = ptext(text);
	CHECK(rc == -1 && strstr(E, w1) && (!w2 || strstr(E, w2)) && one_line(E),
	      "error: %s -> %s", label, E);
}

static void check_mem(const char *text, enum policy_memory_kind kind, uint64_t bytes, unsigned pct)
{
	struct policy_memory m = { 0, 0, 0 };
	int rc = policy_parse_memory(text, &m, E, sizeof(E));
	CHECK(rc == 0 && m.kind == kind &&
		      (kind == POLICY_MEMORY_BYTES ? m.bytes == bytes : m.percent == pct),
	      "size '%s' -> %s %llu %u", text, rc ? E : "ok", (unsigned long long)m.bytes, m.percent);
}

static void check_mem_bad(const char *text, const char *want)
{
	struct policy_memory m = { POLICY_MEMORY_BYTES, 77, 0 };
	int rc;

	E[0] = '\0';
	rc = policy_parse_memory(text, &m, E, sizeof(E));
	CHECK(rc == -1 && strstr(E, want) && one_line(E) && m.kind == POLICY_MEMORY_BYTES && m.bytes == 77,
	      "bad size '%s' -> %s", text, E);
}

static void check_spec_err(const char *spec, const char *want)
{
	unsigned before;
	char prefix[256];
	int rc;

	policy_init(&P);
	before = P.ngpus;
	E[0] = '\0';
	rc = policy_add_gpu_spec(&P, spec, E, sizeof(E));
	snprintf(prefix, sizeof(prefix), "--gpu '%s': ", spec);
	for (char *c = prefix; *c; c++) /* control bytes are shown as '?' */
		if ((unsigned char)*c < 0x20)
			*c = '?';
	CHECK(rc == -1 && strncmp(E, prefix, strlen(prefix)) == 0 && strstr(E, want) && P.ngpus == before &&
		      one_line(E),
	      "bad --gpu '%s' -> %s", spec, E);
}

static const char *tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

static int tmpfile_path(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/test_policy.XXXXXX", tmpdir());
	fd = mkstemp(path);
	return fd;
}

static int write_file(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* --- sizes ---------------------------------------------------------------------- */

static void test_sizes(void)
{
	const uint64_t K = 1024, M = K * K, G = M * K, T = G * K;
	char buf[32];
	struct policy_memory m;

	check_mem("1", POLICY_MEMORY_BYTES, 1, 0);
	check_mem("1024", POLICY_MEMORY_BYTES, 1024, 0);
	check_mem("1K", POLICY_MEMORY_BYTES, K, 0);
	check_mem("1k", POLICY_MEMORY_BYTES, K, 0);
	check_mem("1KiB", POLICY_MEMORY_BYTES, K, 0);
	check_mem("1kib", POLICY_MEMORY_BYTES, K, 0);
	check_mem("512M", POLICY_MEMORY_BYTES, 512 * M, 0);
	check_mem("512m", POLICY_MEMORY_BYTES, 512 * M, 0);
	check_mem("512MiB", POLICY_MEMORY_BYTES, 512 * M, 0);
	check_mem("8G", POLICY_MEMORY_BYTES, 8 * G, 0);
	check_mem("8g", POLICY_MEMORY_BYTES, 8 * G, 0);
	check_mem("8GiB", POLICY_MEMORY_BYTES, 8 * G, 0);
	check_mem("8GIB", POLICY_MEMORY_BYTES, 8 * G, 0);
	check_mem("2T", POLICY_MEMORY_BYTES, 2 * T, 0);
	check_mem("2TiB", POLICY_MEMORY_BYTES, 2 * T, 0);
	check_mem("1.5G", POLICY_MEMORY_BYTES, 3 * G / 2, 0);
	check_mem("0.5K", POLICY_MEMORY_BYTES, 512, 0);
	check_mem("1.1G", POLICY_MEMORY_BYTES, 1181116006ull, 0); /* rounded down */
	check_mem("0.25T", POLICY_MEMORY_BYTES, T / 4, 0);
	check_mem("1.5", POLICY_MEMORY_BYTES, 1, 0);
	check_mem("007G", POLICY_MEMORY_BYTES, 7 * G, 0);
	check_mem("1.99999999999999999999999999K", POLICY_MEMORY_BYTES, 2047, 0);
	check_mem("18446744073709551615", POLICY_MEMORY_BYTES, UINT64_MAX, 0);
	check_mem("16777215T", POLICY_MEMORY_BYTES, 16777215ull * T, 0);
	check_mem("16777215.5T", POLICY_MEMORY_BYTES, 16777215ull * T + T / 2, 0);
	check_mem("100%", POLICY_MEMORY_PERCENT, 0, 100);
	check_mem("1%", POLICY_MEMORY_PERCENT, 0, 1);
	check_mem("50%", POLICY_MEMORY_PERCENT, 0, 50);

	check_mem_bad("", "empty size");
	check_mem_bad("0", "'0' is no memory");
	check_mem_bad("0K", "at least 1 byte");
	check_mem_bad("0.0G", "at least 1 byte");
	check_mem_bad("0.1", "at least 1 byte");
	check_mem_bad("-1", "'-1' is not a size");
	check_mem_bad("+1G", "'+1G' is not a size");
	check_mem_bad("G", "'G' is not a size");
	check_mem_bad("8 G", "'8 G' holds a blank");
	check_mem_bad(" 8G", "holds a blank");
	check_mem_bad("8G ", "holds a blank");
	check_mem_bad("8X", "unknown unit 'X' in '8X'");
	check_mem_bad("8GB", "unit 'GB' is ambiguous; write G or GiB");
	check_mem_bad("8kb", "write K or KiB");
	check_mem_bad("8Gi", "unknown unit 'Gi'");
	check_mem_bad("8GiBs", "unknown unit 'GiBs'");
	check_mem_bad("8P", "unknown unit 'P'");
	check_mem_bad("1.", "digits after the point");
	check_mem_bad(".5G", "'.5G' is not a size");
	check_mem_bad("1.5.2G", "unknown unit '.2G'");
	check_mem_bad("0%", "0% is out of range");
	check_mem_bad("101%", "101% is out of range");
	check_mem_bad("1000%", "'1000%' is not a percentage");
	check_mem_bad("50.5%", "'50.5%' is not a percentage");
	check_mem_bad("-5%", "'-5%' is not a percentage");
	check_mem_bad("%", "'%' is not a percentage");
	check_mem_bad("5 %", "holds a blank");
	check_mem_bad("18446744073709551616", "too large");
	check_mem_bad("16777216T", "too large");
	check_mem("16777215.99999999999999999T", POLICY_MEMORY_BYTES, UINT64_MAX, 0);
	check_mem("16777215.999999999999999999999999999T", POLICY_MEMORY_BYTES, UINT64_MAX, 0); /* rounded down */
	check_mem_bad("99999999999999999999999999999", "too large");
	check_mem_bad("17179869184G", "too large");

	m.kind = POLICY_MEMORY_UNSET;
	CHECK(strcmp(policy_memory_text(&m, buf, sizeof(buf)), "unset") == 0, "memory text unset");
	m.kind = POLICY_MEMORY_BYTES;
	m.bytes = 8589934592ull;
	CHECK(strcmp(policy_memory_text(&m, buf, sizeof(buf)), "8589934592") == 0, "memory text bytes");
	m.kind = POLICY_MEMORY_PERCENT;
	m.percent = 50;
	CHECK(strcmp(policy_memory_text(&m, buf, sizeof(buf)), "50%") == 0, "memory text percent");
	CHECK(strcmp(policy_memory_text(&m, buf, 2), "5") == 0, "memory text truncated to the buffer");
}

/* --- profiles and small helpers --------------------------------------------------- */

static void test_profiles(void)
{
	static const char *want[] = { "h200", "h100-80gb", "a100-80gb", "l4", "t4", "rtx-4090" };
	char buf[160];
	size_t n = 0;
	int all = 1;

	while (policy_profiles[n])
		n++;
	CHECK(n == 6, "six profiles, NULL-terminated");
	for (size_t i = 0; i < 6 && i < n; i++)
		all &= strcmp(policy_profiles[i], want[i]) == 0 && policy_profile_known(want[i]);
	CHECK(all, "profiles are h200 h100-80gb a100-80gb l4 t4 rtx-4090, all known");
	CHECK(!policy_profile_known("h300") && !policy_profile_known("") && !policy_profile_known(NULL) &&
		      !policy_profile_known("H200"),
	      "unknown profiles are unknown");
	CHECK(policy_profile_known(POLICY_DEFAULT_PROFILE), "the default profile is known");
	CHECK(strcmp(policy_profiles_text(buf, sizeof(buf)), "h200, h100-80gb, a100-80gb, l4, t4, rtx-4090") == 0,
	      "profiles text: %s", buf);

	policy_init(&P);
	CHECK(P.lower == POLICY_LOWER_AUTO && P.ngpus == 0 && P.nsearch_paths == 0 &&
		      P.memory.kind == POLICY_MEMORY_UNSET && P.emulate_profile[0] == '\0',
	      "policy_init: empty policy");

	CHECK(policy_set_emulate(&P, NULL, E, sizeof(E)) == 0 && P.lower == POLICY_LOWER_EMULATOR &&
		      !P.emulate_profile[0],
	      "set_emulate(NULL) chooses the emulator");
	CHECK(policy_set_emulate(&P, "no", E, sizeof(E)) == 0 && P.lower == POLICY_LOWER_AUTO, "set_emulate(no)");
	CHECK(policy_set_emulate(&P, "l4", E, sizeof(E)) == 0 && P.lower == POLICY_LOWER_EMULATOR &&
		      strcmp(P.emulate_profile, "l4") == 0,
	      "set_emulate(l4)");
	CHECK(policy_set_emulate(&P, "maybe", E, sizeof(E)) == -1 && strstr(E, "'maybe' is not yes, no or a profile") &&
		      strstr(E, "h200, h100-80gb"),
	      "set_emulate(maybe): %s", E);

	policy_init(&P);
	CHECK(policy_add_search_path(&P, "/opt/nvidia", E, sizeof(E)) == 0 && P.nsearch_paths == 1 &&
		      strcmp(P.search_paths[0], "/opt/nvidia") == 0,
	      "add_search_path");
	CHECK(policy_add_search_path(&P, "lib", E, sizeof(E)) == -1 && strstr(E, "'lib' is not absolute"),
	      "add_search_path relative: %s", E);
	CHECK(policy_add_search_path(&P, "/a\nb", E, sizeof(E)) == -1 && strstr(E, "control character") && one_line(E),
	      "add_search_path with a newline: %s", E);

	struct policy_gpu g;
	char src[128];
	memset(&g, 0, sizeof(g));
	CHECK(policy_parse_source("7", &g, E, sizeof(E)) == 0 && g.source == POLICY_SOURCE_INDEX && g.index == 7 &&
		      strcmp(policy_source_text(&g, src, sizeof(src)), "7") == 0,
	      "parse_source 7");
	CHECK(policy_parse_source(UUID_A_UPPER, &g, E, sizeof(E)) == 0 && g.source == POLICY_SOURCE_UUID &&
		      strcmp(g.uuid, UUID_A_UPPER) == 0 &&
		      strcmp(policy_source_text(&g, src, sizeof(src)), UUID_A_UPPER) == 0,
	      "parse_source UUID kept as given");
	CHECK(policy_parse_source("emulated", &g, E, sizeof(E)) == 0 && g.source == POLICY_SOURCE_EMULATED &&
		      g.profile[0] == '\0' && g.uuid[0] == '\0' &&
		      strcmp(policy_source_text(&g, src, sizeof(src)), "emulated") == 0,
	      "parse_source emulated (profile left empty)");
	CHECK(policy_parse_source("emulated:rtx-4090", &g, E, sizeof(E)) == 0 && strcmp(g.profile, "rtx-4090") == 0 &&
		      strcmp(policy_source_text(&g, src, sizeof(src)), "emulated:rtx-4090") == 0,
	      "parse_source emulated:rtx-4090");

	CHECK(policy_check_name("A", 1, E, sizeof(E)) == 0, "name of 1 byte");
	CHECK(policy_check_name("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", 14, E, sizeof(E)) == 0, "UTF-8 name");
	CHECK(policy_check_name("a\xc3", 2, E, sizeof(E)) == -1 && strstr(E, "not valid UTF-8"), "cut UTF-8: %s", E);
	CHECK(policy_check_name("\xc0\xaf", 2, E, sizeof(E)) == -1 && strstr(E, "not valid UTF-8"), "overlong UTF-8");
	CHECK(policy_check_name("\xed\xa0\x80", 3, E, sizeof(E)) == -1, "UTF-16 surrogate in UTF-8");
	CHECK(policy_check_name("a\x7f", 2, E, sizeof(E)) == -1 && strstr(E, "control character"), "DEL in a name");
	CHECK(policy_check_name("", 0, E, sizeof(E)) == -1 && strstr(E, "empty name"), "empty name");

	char pr[64];
	CHECK(strcmp(policy_printable(pr, sizeof(pr), "a\tb\xff\xc3\xa9", 6, 48), "a?b?\xc3\xa9") == 0,
	      "printable: control and stray bytes as ?, UTF-8 kept");
	CHECK(strcmp(policy_printable(pr, sizeof(pr), "abcdef", 6, 3), "abc...") == 0, "printable: cut with ...");
	CHECK(strcmp(policy_printable(pr, sizeof(pr), "ab\xe2\x82\xac", 5, 3), "ab...") == 0,
	      "printable: never cuts a UTF-8 sequence");
	CHECK(strcmp(policy_printable(pr, 4, "abcdef", 6, 48), "abc") == 0, "printable: fits the buffer");
}

/* --- the file dialect: what is accepted --------------------------------------------- */

static void test_accepted(void)
{
	CHECK(ptext("") == 0 && P.ngpus == 0 && P.lower == POLICY_LOWER_AUTO, "empty text");
	CHECK(ptext("\n\n   \n\t\n# comment\n   # indented comment\n") == 0 && P.ngpus == 0,
	      "blank lines and comments");

	CHECK(ptext("emulate = no\n") == 0 && P.lower == POLICY_LOWER_AUTO && !P.emulate_profile[0], "emulate = no");
	CHECK(ptext("emulate = yes\n") == 0 && P.lower == POLICY_LOWER_EMULATOR && !P.emulate_profile[0],
	      "emulate = yes");
	for (size_t i = 0; policy_profiles[i]; i++) {
		char t[64];
		snprintf(t, sizeof(t), "emulate = %s\n", policy_profiles[i]);
		CHECK(ptext(t) == 0 && P.lower == POLICY_LOWER_EMULATOR &&
			      strcmp(P.emulate_profile, policy_profiles[i]) == 0,
		      "emulate = %s", policy_profiles[i]);
	}
	CHECK(ptext("emulate-profile = t4\n") == 0 && P.lower == POLICY_LOWER_AUTO &&
		      strcmp(P.emulate_profile, "t4") == 0,
	      "emulate-profile = t4 keeps the automatic choice");
	CHECK(ptext("emulate = yes\nemulate-profile = l4\n") == 0 && P.lower == POLICY_LOWER_EMULATOR &&
		      strcmp(P.emulate_profile, "l4") == 0,
	      "emulate = yes with emulate-profile");
	CHECK(ptext("emulate-profile = l4\nemulate = no\n") == 0 && P.lower == POLICY_LOWER_AUTO &&
		      strcmp(P.emulate_profile, "l4") == 0,
	      "emulate = no keeps emulate-profile");

	CHECK(ptext("memory = 16G\n") == 0 && P.memory.kind == POLICY_MEMORY_BYTES &&
		      P.memory.bytes == 16ull << 30,
	      "global memory = 16G");
	CHECK(ptext("memory = 50%\n") == 0 && P.memory.kind == POLICY_MEMORY_PERCENT && P.memory.percent == 50,
	      "global memory = 50%%");
	CHECK(ptext("memory = \"8G\"\n") == 0 && P.memory.bytes == 8ull << 30, "quoted memory");

	CHECK(ptext("driver-path = /opt/a\ndriver-path = /opt/b\n") == 0 && P.nsearch_paths == 2 &&
		      strcmp(P.search_paths[0], "/opt/a") == 0 && strcmp(P.search_paths[1], "/opt/b") == 0,
	      "driver-path repeated, in order");
	CHECK(ptext("driver-path = \" /opt/with space \"\n") == -1 && strstr(E, "' /opt/with space ' is not absolute"),
	      "a quoted driver-path must still start with /: %s", E);
	CHECK(ptext("driver-path = \"/opt/with space \"\n") == 0 && strcmp(P.search_paths[0], "/opt/with space ") == 0,
	      "quoted driver-path keeps a trailing blank");
	CHECK(ptext("driver-path = /opt/a b # c\n") == 0 && strcmp(P.search_paths[0], "/opt/a b # c") == 0,
	      "unquoted driver-path with blanks and #");

	CHECK(ptext("[gpu]\ndevice = 0\n") == 0 && P.ngpus == 1 && P.gpus[0].source == POLICY_SOURCE_INDEX &&
		      P.gpus[0].index == 0 && P.gpus[0].memory.kind == POLICY_MEMORY_UNSET && !P.gpus[0].name[0],
	      "device = 0");
	CHECK(ptext("[gpu]\ndevice = 63\n") == 0 && P.gpus[0].index == 63, "device = 63");
	CHECK(ptext("[gpu]\ndevice = 007\n") == 0 && P.gpus[0].index == 7, "device = 007");
	CHECK(ptext("[gpu]\ndevice = " UUID_A "\n") == 0 && P.gpus[0].source == POLICY_SOURCE_UUID &&
		      strcmp(P.gpus[0].uuid, UUID_A) == 0,
	      "device = GPU-uuid");
	CHECK(ptext("[gpu]\ndevice = " UUID_A_UPPER "\n") == 0 && strcmp(P.gpus[0].uuid, UUID_A_UPPER) == 0,
	      "device = GPU-UUID in upper case, stored as given");
	CHECK(ptext("[gpu]\ndevice = gpu-0123abcd-4567-89ef-0123-456789abcdef\n") == 0 &&
		      P.gpus[0].source == POLICY_SOURCE_UUID,
	      "device = gpu-uuid in lower case");
	CHECK(ptext("[gpu]\ndevice = emulated\n") == 0 && P.gpus[0].source == POLICY_SOURCE_EMULATED &&
		      P.gpus[0].profile[0] == '\0',
	      "device = emulated keeps the profile empty until validate");
	for (size_t i = 0; policy_profiles[i]; i++) {
		char t[64];
		snprintf(t, sizeof(t), "[gpu]\ndevice = emulated:%s\n", policy_profiles[i]);
		CHECK(ptext(t) == 0 && P.gpus[0].source == POLICY_SOURCE_EMULATED &&
			      strcmp(P.gpus[0].profile, policy_profiles[i]) == 0,
		      "device = emulated:%s", policy_profiles[i]);
	}
	CHECK(ptext("[gpu]\ndevice = 1\nmemory = 8G\n") == 0 && P.gpus[0].memory.kind == POLICY_MEMORY_BYTES &&
		      P.gpus[0].memory.bytes == 8ull << 30,
	      "[gpu] memory = 8G");
	CHECK(ptext("[gpu]\nmemory = 25%\ndevice = 1\n") == 0 && P.gpus[0].memory.kind == POLICY_MEMORY_PERCENT &&
		      P.gpus[0].memory.percent == 25,
	      "[gpu] memory = 25%% before device");
	CHECK(ptext("[gpu]\ndevice = 1\nname = NVIDIA H200 (small)\n") == 0 &&
		      strcmp(P.gpus[0].name, "NVIDIA H200 (small)") == 0,
	      "plain name");
	CHECK(ptext("[gpu]\ndevice = 1\nname = a=b # not a comment\n") == 0 &&
		      strcmp(P.gpus[0].name, "a=b # not a comment") == 0,
	      "name with = and # unquoted");
	CHECK(ptext("[gpu]\ndevice = 1\nname = say \"hi\"\n") == 0 && strcmp(P.gpus[0].name, "say \"hi\"") == 0,
	      "unquoted name with inner quotes is literal");
	CHECK(ptext("[gpu]\ndevice = 1\nname = back\\slash\n") == 0 && strcmp(P.gpus[0].name, "back\\slash") == 0,
	      "unquoted backslash is literal");
	CHECK(ptext("[gpu]\ndevice = 1\nname = \"  padded # \\\"q\\\" \\\\ \"\n") == 0 &&
		      strcmp(P.gpus[0].name, "  padded # \"q\" \\ ") == 0,
	      "quoted name with blanks, #, escaped quote and backslash: [%s]", P.gpus[0].name);
	CHECK(ptext("[gpu]\ndevice = 1\nname = GPU \xc3\xa9\xe2\x82\xac\n") == 0 &&
		      strcmp(P.gpus[0].name, "GPU \xc3\xa9\xe2\x82\xac") == 0,
	      "UTF-8 name");

	char name95[200];
	memset(name95, 'n', 95);
	name95[95] = '\0';
	char t[400];
	snprintf(t, sizeof(t), "[gpu]\ndevice = 1\nname = %s\n", name95);
	CHECK(ptext(t) == 0 && strlen(P.gpus[0].name) == 95, "name of 95 bytes");

	CHECK(ptext("  emulate\t=\tyes  \n\t[ gpu ]\t\n   device   =   emulated:t4   \n") == 0 &&
		      P.lower == POLICY_LOWER_EMULATOR && strcmp(P.gpus[0].profile, "t4") == 0,
	      "blanks and tabs around keys, values and section names");
	CHECK(ptext("memory = 1G\r\n[gpu]\r\ndevice = 2\r\nname = crlf\r\n") == 0 && P.gpus[0].index == 2 &&
		      strcmp(P.gpus[0].name, "crlf") == 0,
	      "CRLF line ends");
	CHECK(ptext("\xef\xbb\xbfmemory = 1G\n") == 0 && P.memory.bytes == 1ull << 30, "UTF-8 byte order mark");
	CHECK(ptext("[gpu]\ndevice = 3") == 0 && P.gpus[0].index == 3, "no newline at the end");
	CHECK(ptext("[gpu]\ndevice = 1\n[gpu]\ndevice = 0\n[gpu]\ndevice = 2\n") == 0 && P.ngpus == 3 &&
		      P.gpus[0].index == 1 && P.gpus[1].index == 0 && P.gpus[2].index == 2,
	      "sections in order");
	CHECK(ptext("[gpu]\ndevice = 1\n[gpu]\ndevice = 1\n") == 0 && P.ngpus == 2,
	      "duplicates are validate's business, not the parser's");

	char many[2048] = "";
	for (int i = 0; i < POLICY_MAX_GPUS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "[gpu]\ndevice = %d\n", i);
		strcat(many, s);
	}
	CHECK(ptext(many) == 0 && P.ngpus == POLICY_MAX_GPUS, "16 [gpu] sections");
	char paths[2048] = "";
	for (int i = 0; i < POLICY_MAX_SEARCH_PATHS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "driver-path = /p%d\n", i);
		strcat(paths, s);
	}
	CHECK(ptext(paths) == 0 && P.nsearch_paths == POLICY_MAX_SEARCH_PATHS, "16 driver-paths");

	static char longpath[POLICY_PATH_MAX + 64];
	memset(longpath, 0, sizeof(longpath));
	strcpy(longpath, "driver-path = /");
	memset(longpath + strlen(longpath), 'x', POLICY_PATH_MAX - 2);
	CHECK(ptext(longpath) == 0 && strlen(P.search_paths[0]) == POLICY_PATH_MAX - 1, "driver-path of 4095 bytes");

	/* On top of what p holds: globals replace, sections and paths append. */
	policy_init(&P);
	const char *a = "memory = 1G\ndriver-path = /a\n[gpu]\ndevice = 0\n";
	const char *b = "memory = 2G\ndriver-path = /b\n[gpu]\ndevice = 1\n";
	int ra = policy_parse_text(&P, a, strlen(a), "a.conf", E, sizeof(E));
	int rb = policy_parse_text(&P, b, strlen(b), "b.conf", E, sizeof(E));
	CHECK(ra == 0 && rb == 0 && P.memory.bytes == 2ull << 30 && P.ngpus == 2 && P.nsearch_paths == 2 &&
		      P.gpus[1].index == 1,
	      "parsing on top of a policy");
	CHECK(policy_add_gpu_spec(&P, "2", E, sizeof(E)) == 0 && P.ngpus == 3, "--gpu after a file appends");
}

/* --- the file dialect: errors ------------------------------------------------------- */

static void test_errors(void)
{
	/* The example of the brief, exactly. */
	ptext("# a policy\n\nmemory = 8G\n\n[gpu]\ndevice = 0\nmemroy = 4G\n");
	CHECK(strcmp(E, "policy.conf:7: unknown key 'memroy' in [gpu]; expected device, memory or name") == 0,
	      "unknown key in [gpu]: %s", E);
	check_err("unknown global key", "emulat = yes\n", "policy.conf:1: unknown key 'emulat' before any section",
		  "expected emulate, emulate-profile, memory, driver-path, launch, driver-version or trace");
	check_err("unknown section", "[gpus]\ndevice = 0\n", "policy.conf:1: unknown section [gpus]; expected [gpu]",
		  NULL);
	check_err("section case", "[GPU]\n", "unknown section [GPU]", NULL);
	check_err("unclosed section", "\n[gpu\n", "policy.conf:2: section header '[gpu' lacks its closing ']'", NULL);
	check_err("text after section", "[gpu] device = 0\n", "policy.conf:1: text after the section header '[gpu]'",
		  NULL);
	check_err("device before any section", "device = 0\n",
		  "policy.conf:1: key 'device' belongs in a [gpu] section", NULL);
	check_err("name before any section", "\n\nname = x\n", "policy.conf:3: key 'name' belongs in a [gpu] section",
		  NULL);
	check_err("emulate in [gpu]", "[gpu]\ndevice = 0\nemulate = yes\n",
		  "policy.conf:3: key 'emulate' is global: it goes before the first [gpu] section", NULL);
	check_err("driver-path in [gpu]", "[gpu]\ndriver-path = /x\ndevice = 0\n",
		  "policy.conf:2: key 'driver-path' is global", NULL);
	check_err("duplicate global memory", "memory = 1G\nmemory = 2G\n",
		  "policy.conf:2: duplicate key 'memory' (first on line 1)", NULL);
	check_err("duplicate emulate", "emulate = yes\n#\nemulate = no\n",
		  "policy.conf:3: duplicate key 'emulate' (first on line 1)", NULL);
	check_err("duplicate device", "[gpu]\ndevice = 0\ndevice = 1\n",
		  "policy.conf:3: duplicate key 'device' in [gpu] (first on line 2)", NULL);
	check_err("duplicate name", "[gpu]\ndevice = 0\nname = a\nname = b\n",
		  "policy.conf:4: duplicate key 'name' in [gpu] (first on line 3)", NULL);
	CHECK(ptext("[gpu]\ndevice = 0\nmemory = 1G\n[gpu]\ndevice = 1\nmemory = 1G\n") == 0,
	      "the same key in two sections is fine");
	check_err("emulate profile twice", "emulate = t4\nemulate-profile = l4\n",
		  "policy.conf:2: emulate-profile: the profile is already given by emulate = PROFILE on line 1", NULL);
	check_err("emulate profile twice (other order)", "emulate-profile = l4\nemulate = t4\n",
		  "policy.conf:2: emulate = t4: the profile is already given by emulate-profile on line 1", NULL);
	check_err("emulate-profile twice", "emulate-profile = l4\nemulate-profile = l4\n",
		  "policy.conf:2: duplicate key 'emulate-profile'", NULL);
	check_err("missing =", "memory 8G\n", "policy.conf:1: expected 'key = value', a [gpu] header or a # comment; found 'memory 8G'",
		  NULL);
	check_err("missing key", "= 8G\n", "policy.conf:1: missing key before '='", NULL);
	check_err("empty value", "memory =\n", "policy.conf:1: empty value for 'memory'; expected a size", NULL);
	check_err("empty value with blanks", "memory =   \t\n", "empty value for 'memory'", NULL);
	check_err("empty quoted value", "[gpu]\ndevice = 0\nname = \"\"\n", "policy.conf:3: empty value for 'name'",
		  NULL);
	check_err("empty device", "[gpu]\ndevice =\n", "policy.conf:2: empty value for 'device'; expected an index",
		  NULL);
	check_err("empty emulate", "emulate =\n", "empty value for 'emulate'; expected no, yes or a profile", NULL);
	check_err("empty driver-path", "driver-path=\n", "empty value for 'driver-path'; expected an absolute directory",
		  NULL);
	check_err("section without device", "memory = 1G\n[gpu]\nmemory = 2G\n[gpu]\ndevice = 1\n",
		  "policy.conf:2: [gpu] section has no device; expected device = INDEX, GPU-UUID or emulated[:PROFILE]",
		  NULL);
	check_err("last section without device", "[gpu]\ndevice = 1\n[gpu]\nname = x\n",
		  "policy.conf:3: [gpu] section has no device", NULL);

	char many[2048] = "";
	for (int i = 0; i <= POLICY_MAX_GPUS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "[gpu]\ndevice = %d\n", i);
		strcat(many, s);
	}
	check_err("17 sections", many, "policy.conf:33: too many [gpu] sections; at most 16 GPUs", NULL);
	char paths[2048] = "";
	for (int i = 0; i <= POLICY_MAX_SEARCH_PATHS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "driver-path = /p%d\n", i);
		strcat(paths, s);
	}
	check_err("17 driver-paths", paths, "policy.conf:17: too many driver-paths; at most 16", NULL);

	char t[600];
	char name96[100];
	memset(name96, 'n', 96);
	name96[96] = '\0';
	snprintf(t, sizeof(t), "[gpu]\ndevice = 1\nname = %s\n", name96);
	check_err("name of 96 bytes", t, "policy.conf:3: value of 'name' is too long (96 bytes); at most 95 bytes",
		  NULL);
	snprintf(t, sizeof(t), "[gpu]\ndevice = 1\nname = \"%s\"\n", name96);
	check_err("quoted name of 96 bytes", t, "value of 'name' is too long (96 bytes)", NULL);
	check_err("name with a tab", "[gpu]\ndevice = 1\nname = \"a\tb\"\n",
		  "policy.conf:3: name 'a?b' holds a control character", NULL);
	check_err("name not UTF-8", "[gpu]\ndevice = 1\nname = caf\xe9\n", "policy.conf:3: name 'caf?' is not valid UTF-8 (byte 4)",
		  NULL);

	static char longpath[POLICY_PATH_MAX + 64];
	memset(longpath, 0, sizeof(longpath));
	strcpy(longpath, "driver-path = /");
	memset(longpath + strlen(longpath), 'x', POLICY_PATH_MAX - 1);
	check_err("driver-path of 4096 bytes", longpath,
		  "policy.conf:1: value of 'driver-path' is too long (4096 bytes); at most 4095 bytes", NULL);
	static char longline[POLICY_LINE_MAX + 64];
	memset(longline, 0, sizeof(longline));
	strcpy(longline, "\n# ");
	memset(longline + 3, 'c', POLICY_LINE_MAX);
	check_err("line too long", longline, "policy.conf:2: line too long (more than 16383 bytes)", NULL);
	memset(longline, 0, sizeof(longline));
	memset(longline, ' ', POLICY_LINE_MAX - 1);
	CHECK(ptext(longline) == 0, "a line of 16383 bytes is fine");

	check_err("relative driver-path", "driver-path = lib64\n",
		  "policy.conf:1: driver-path 'lib64' is not absolute; expected a directory starting with /", NULL);
	check_err("emulate = maybe", "emulate = maybe\n",
		  "policy.conf:1: emulate: 'maybe' is not yes, no or a profile; known profiles: h200, h100-80gb, a100-80gb, l4, t4, rtx-4090",
		  NULL);
	check_err("emulate = YES", "emulate = YES\n", "'YES' is not yes, no or a profile", NULL);
	check_err("emulate-profile unknown", "emulate-profile = h300\n",
		  "policy.conf:1: emulate-profile: unknown profile 'h300'; known profiles: h200", NULL);
	check_err("emulate-profile = yes", "emulate-profile = yes\n", "unknown profile 'yes'", NULL);

	check_err("device 64", "[gpu]\ndevice = 64\n", "policy.conf:2: device: GPU index 64 is out of range; expected 0..63",
		  NULL);
	check_err("device huge", "[gpu]\ndevice = 99999999999999999999999\n", "GPU index 99999999999999999999999 is out of range",
		  NULL);
	check_err("device -1", "[gpu]\ndevice = -1\n",
		  "policy.conf:2: device: '-1' is not a GPU; expected an index (0..63), a GPU-UUID or emulated[:PROFILE]",
		  NULL);
	check_err("device 1a", "[gpu]\ndevice = 1a\n", "'1a' is not a GPU", NULL);
	check_err("device short uuid", "[gpu]\ndevice = GPU-1234\n",
		  "policy.conf:2: device: 'GPU-1234' is not a GPU UUID; expected GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
		  NULL);
	check_err("device uuid non-hex", "[gpu]\ndevice = GPU-0123abcd-4567-89ef-0123-456789abcdeg\n",
		  "is not a GPU UUID", NULL);
	check_err("device uuid misplaced dash", "[gpu]\ndevice = GPU-0123abcd4-567-89ef-0123-456789abcdef\n",
		  "is not a GPU UUID", NULL);
	check_err("device MIG", "[gpu]\ndevice = MIG-0123abcd-4567-89ef-0123-456789abcdef\n", "is not a GPU;", NULL);
	check_err("device emulated:", "[gpu]\ndevice = emulated:\n",
		  "policy.conf:2: device: missing profile after 'emulated:'; known profiles: h200", NULL);
	check_err("device emulated:h300", "[gpu]\ndevice = emulated:h300\n",
		  "policy.conf:2: device: unknown profile 'h300'; known profiles: h200, h100-80gb, a100-80gb, l4, t4, rtx-4090",
		  NULL);
	check_err("device emulatedx", "[gpu]\ndevice = emulatedx\n", "'emulatedx' is not a GPU", NULL);
	check_err("device EMULATED", "[gpu]\ndevice = EMULATED\n", "'EMULATED' is not a GPU", NULL);

	check_err("memory 8X", "\n\nmemory = 8X\n", "policy.conf:3: memory: unknown unit 'X' in '8X'", NULL);
	check_err("gpu memory 0", "[gpu]\ndevice = 0\nmemory = 0\n", "policy.conf:3: memory: '0' is no memory", NULL);
	check_err("gpu memory 101%", "[gpu]\ndevice = 0\nmemory = 101%\n", "policy.conf:3: memory: 101% is out of range",
		  NULL);
	check_err("memory 8 G", "memory = 8 G\n", "policy.conf:1: memory: '8 G' holds a blank", NULL);

	check_err("unterminated quote", "[gpu]\ndevice = 0\nname = \"abc\n",
		  "policy.conf:3: name: the quoted value lacks its closing '\"'", NULL);
	check_err("bad escape", "[gpu]\ndevice = 0\nname = \"a\\nb\"\n",
		  "policy.conf:3: name: unknown escape '\\n' in a quoted value", NULL);
	check_err("backslash at the end of a quote", "[gpu]\ndevice = 0\nname = \"ab\\\"\n", "lacks its closing", NULL);
	check_err("text after a quote", "[gpu]\ndevice = 0\nname = \"a\" b\n",
		  "policy.conf:3: name: text after the closing '\"' of a quoted value", NULL);
	check_err("comment after a quote", "[gpu]\ndevice = 0\nname = \"a\" # c\n", "text after the closing", NULL);

	/* NUL bytes: text given with its length. */
	policy_init(&P);
	const char nul[] = "memory = 1G\nmem\0ory = 2G\n";
	CHECK(policy_parse_text(&P, nul, sizeof(nul) - 1, "policy.conf", E, sizeof(E)) == -1 &&
		      strstr(E, "policy.conf:2: NUL byte in the line"),
	      "NUL byte: %s", E);

	/* Line numbers survive CRLF and blank lines. */
	check_err("line numbers with CRLF", "\r\n# c\r\n\r\nmemory = 1G\r\nbogus\r\n", "policy.conf:5: expected 'key = value'",
		  NULL);
	/* Control bytes of the input never reach the message raw. */
	check_err("control bytes in a key", "me\x1bmory = 1\n", "unknown key 'me?mory'", NULL);

	/* Origins name the source. */
	policy_init(&P);
	CHECK(policy_parse_text(&P, "x", 1, "/etc/vgpu/ollama.policy", E, sizeof(E)) == -1 &&
		      strncmp(E, "/etc/vgpu/ollama.policy:1: ", 27) == 0,
	      "origin in the message: %s", E);
	/* A short error buffer is not overrun, and NULL is fine. */
	char small[16];
	memset(small, 'Z', sizeof(small));
	policy_init(&P);
	CHECK(policy_parse_text(&P, "x", 1, "policy.conf", small, 8) == -1 && small[7] == '\0' && small[8] == 'Z',
	      "short error buffer: %s", small);
	CHECK(policy_parse_text(&P, "x", 1, "policy.conf", NULL, 0) == -1, "no error buffer");
}

/* --- files --------------------------------------------------------------------------- */

static void test_files(void)
{
	char path[256], dir[256];
	int fd;

	policy_init(&P);
	CHECK(policy_parse_file(&P, "/nonexistent/policy.conf", E, sizeof(E)) == -1 &&
		      strcmp(E, "/nonexistent/policy.conf: No such file or directory") == 0,
	      "missing file: %s", E);
	CHECK(policy_parse_file(&P, tmpdir(), E, sizeof(E)) == -1 && strstr(E, ": Is a directory"),
	      "directory: %s", E);
	CHECK(policy_parse_file(&P, "/dev/null", E, sizeof(E)) == -1 &&
		      strcmp(E, "/dev/null: not a regular file; expected a policy file") == 0,
	      "character device: %s", E);

	fd = tmpfile_path(path, sizeof(path));
	CHECK(fd >= 0, "temporary file %s", path);
	if (fd < 0)
		return;
	close(fd);

	const char *good = "# test\nmemory = 4G\n[gpu]\ndevice = 1\nname = \"file gpu\"\n";
	write_file(path, good, strlen(good));
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == 0 && P.memory.bytes == 4ull << 30 && P.ngpus == 1 &&
		      strcmp(P.gpus[0].name, "file gpu") == 0,
	      "a policy file: %s", E);

	const char *bad = "memory = 4G\n\n[gpu]\ndevice = 1\nmemroy = 2G";
	write_file(path, bad, strlen(bad));
	policy_init(&P);
	char want[512];
	snprintf(want, sizeof(want), "%s:5: unknown key 'memroy' in [gpu]; expected device, memory or name", path);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == -1 && strcmp(E, want) == 0, "file error names PATH:LINE: %s", E);

	/* A line longer than the read buffer, late in a file. */
	static char big[POLICY_FILE_MAX + 2];
	size_t n = 0;
	n += (size_t)sprintf(big + n, "memory = 1G\n");
	memset(big + n, '#', POLICY_LINE_MAX + 10);
	n += POLICY_LINE_MAX + 10;
	big[n++] = '\n';
	write_file(path, big, n);
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == -1 && strstr(E, ":2: line too long"), "long line in a file: %s", E);

	/* Many lines across read-buffer boundaries; the last line without a newline. */
	n = 0;
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(big + n, "# comment line %d with some text to cross buffers\n", i);
	n += (size_t)sprintf(big + n, "[gpu]\ndevice = 5\nname = last");
	write_file(path, big, n);
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == 0 && P.ngpus == 1 && P.gpus[0].index == 5 &&
		      strcmp(P.gpus[0].name, "last") == 0,
	      "long file across buffers: %s", E);
	n += (size_t)sprintf(big + n, "\nbogus\n");
	write_file(path, big, n);
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == -1 && strstr(E, ":5004: expected 'key = value'"),
	      "line numbers across buffers: %s", E);

	/* Exactly 1 MiB is fine, one byte more is not. */
	memset(big, '\n', POLICY_FILE_MAX + 1);
	write_file(path, big, POLICY_FILE_MAX);
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == 0, "1 MiB file: %s", E);
	write_file(path, big, POLICY_FILE_MAX + 1);
	policy_init(&P);
	CHECK(policy_parse_file(&P, path, E, sizeof(E)) == -1 && strstr(E, ": too big (1048577 bytes); a policy file is at most 1 MiB"),
	      "file over 1 MiB: %s", E);

	/* Unreadable: only meaningful when not root. */
	write_file(path, good, strlen(good));
	chmod(path, 0);
	if (geteuid() == 0) {
		CHECK_SKIP("unreadable file: running as root");
	} else {
		policy_init(&P);
		CHECK(policy_parse_file(&P, path, E, sizeof(E)) == -1 && strstr(E, ": Permission denied"),
		      "unreadable file: %s", E);
	}
	unlink(path);

	/* A FIFO must not block. */
	snprintf(dir, sizeof(dir), "%s/test_policy_fifo.%d", tmpdir(), (int)getpid());
	if (mkfifo(dir, 0600) == 0) {
		policy_init(&P);
		CHECK(policy_parse_file(&P, dir, E, sizeof(E)) == -1 && strstr(E, "not a regular file"), "FIFO: %s", E);
		unlink(dir);
	} else {
		CHECK_SKIP("FIFO: mkfifo failed");
	}
}

/* --- --gpu ----------------------------------------------------------------------- */

static void test_specs(void)
{
	policy_init(&P);
	CHECK(policy_add_gpu_spec(&P, "0", E, sizeof(E)) == 0 && P.ngpus == 1 && P.gpus[0].source == POLICY_SOURCE_INDEX &&
		      P.gpus[0].index == 0,
	      "--gpu 0");
	CHECK(policy_add_gpu_spec(&P, "63", E, sizeof(E)) == 0 && P.gpus[1].index == 63, "--gpu 63");
	CHECK(policy_add_gpu_spec(&P, UUID_A, E, sizeof(E)) == 0 && P.gpus[2].source == POLICY_SOURCE_UUID &&
		      strcmp(P.gpus[2].uuid, UUID_A) == 0,
	      "--gpu UUID");
	CHECK(policy_add_gpu_spec(&P, "1,memory=8G", E, sizeof(E)) == 0 && P.gpus[3].memory.bytes == 8ull << 30,
	      "--gpu 1,memory=8G");
	CHECK(policy_add_gpu_spec(&P, "2,memory=50%,name=My GPU", E, sizeof(E)) == 0 &&
		      P.gpus[4].memory.kind == POLICY_MEMORY_PERCENT && P.gpus[4].memory.percent == 50 &&
		      strcmp(P.gpus[4].name, "My GPU") == 0,
	      "--gpu 2,memory=50%%,name=My GPU");
	CHECK(policy_add_gpu_spec(&P, " 3 , name = spaced out , memory = 4G ", E, sizeof(E)) == 0 &&
		      P.gpus[5].index == 3 && strcmp(P.gpus[5].name, "spaced out") == 0 &&
		      P.gpus[5].memory.bytes == 4ull << 30,
	      "--gpu with blanks around items");
	CHECK(policy_add_gpu_spec(&P, "4,name=a=b \"#q\"", E, sizeof(E)) == 0 && strcmp(P.gpus[6].name, "a=b \"#q\"") == 0,
	      "--gpu name with =, quotes and # taken literally");
	policy_init(&P);
	CHECK(policy_add_gpu_spec(&P, "emulated", E, sizeof(E)) == 0 && P.gpus[0].source == POLICY_SOURCE_EMULATED &&
		      !P.gpus[0].profile[0],
	      "--gpu emulated");
	CHECK(policy_add_gpu_spec(&P, "emulated:t4,memory=2G,name=Tiny", E, sizeof(E)) == 0 &&
		      strcmp(P.gpus[1].profile, "t4") == 0 && P.gpus[1].memory.bytes == 2ull << 30 &&
		      strcmp(P.gpus[1].name, "Tiny") == 0,
	      "--gpu emulated:t4,memory=2G,name=Tiny");

	check_spec_err("", "empty; expected SOURCE[,memory=SIZE][,name=NAME]");
	check_spec_err("0,", "empty item");
	check_spec_err(",0", "empty item");
	check_spec_err("0,,memory=1G", "empty item");
	check_spec_err("0, ", "empty item");
	check_spec_err("0,memory", "'memory' is not key=value; expected memory=SIZE or name=NAME");
	check_spec_err("0,memory=", "memory: empty size");
	check_spec_err("0,memory=8X", "memory: unknown unit 'X' in '8X'");
	check_spec_err("0,memory=8 G", "memory: '8 G' holds a blank");
	check_spec_err("0,foo=1", "unknown key 'foo'; expected memory or name");
	check_spec_err("0,device=1", "unknown key 'device'");
	check_spec_err("0,memory=1G,memory=2G", "memory given twice");
	check_spec_err("0,name=a,name=b", "name given twice");
	check_spec_err("0,name=", "empty name");
	check_spec_err("64", "GPU index 64 is out of range; expected 0..63");
	check_spec_err("x", "'x' is not a GPU; expected an index (0..63), a GPU-UUID or emulated[:PROFILE]");
	check_spec_err("memory=8G", "'memory=8G' is not a GPU");
	check_spec_err("GPU-12", "'GPU-12' is not a GPU UUID");
	check_spec_err("emulated:h300", "unknown profile 'h300'; known profiles: h200");
	check_spec_err("emulated:", "missing profile after 'emulated:'");
	check_spec_err("0,name=nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
		       "is too long (115 bytes); at most 95 bytes");
	check_spec_err("0,name=a\tb", "control character");
	check_spec_err("0,memory=0%", "0% is out of range");

	policy_init(&P);
	int ok = 1;
	for (int i = 0; i < POLICY_MAX_GPUS; i++) {
		char s[16];
		snprintf(s, sizeof(s), "%d", i);
		ok &= policy_add_gpu_spec(&P, s, E, sizeof(E)) == 0;
	}
	CHECK(ok && P.ngpus == 16, "16 --gpu specs");
	CHECK(policy_add_gpu_spec(&P, "16", E, sizeof(E)) == -1 &&
		      strcmp(E, "--gpu '16': too many GPUs; at most 16") == 0 && P.ngpus == 16,
	      "17th --gpu: %s", E);
}

/* --- validate ---------------------------------------------------------------------- */

static int vtext(const char *text)
{
	if (ptext(text))
		return -2;
	return policy_validate(&P, E, sizeof(E));
}

static void check_verr(const char *label, const char *text, const char *w1, const char *w2)
{
	int rc = vtext(text);
	CHECK(rc == -1 && strstr(E, w1) && (!w2 || strstr(E, w2)) && one_line(E), "validate error: %s -> %s", label, E);
}

static void test_validate(void)
{
	CHECK(vtext("") == 0 && P.lower == POLICY_LOWER_AUTO && P.ngpus == 0, "empty policy is valid and stays empty");
	CHECK(vtext("memory = 50%\n") == 0 && P.ngpus == 0, "global percent with physical GPUs");
	CHECK(vtext("emulate-profile = t4\n") == 0 && P.lower == POLICY_LOWER_AUTO && P.ngpus == 0,
	      "emulate-profile alone adds nothing");
	CHECK(vtext("emulate = yes\n") == 0 && P.lower == POLICY_LOWER_EMULATOR && P.ngpus == 1 &&
		      P.gpus[0].source == POLICY_SOURCE_EMULATED && strcmp(P.gpus[0].profile, "h200") == 0 &&
		      P.gpus[0].memory.kind == POLICY_MEMORY_UNSET && !P.gpus[0].name[0],
	      "emulate = yes with no GPU: one emulated:h200");
	CHECK(vtext("emulate = t4\nmemory = 8G\n") == 0 && P.ngpus == 1 && strcmp(P.gpus[0].profile, "t4") == 0 &&
		      P.memory.bytes == 8ull << 30,
	      "emulate = t4: one emulated:t4");
	CHECK(vtext("emulate = yes\nemulate-profile = l4\n") == 0 && P.ngpus == 1 && strcmp(P.gpus[0].profile, "l4") == 0,
	      "emulate = yes + emulate-profile = l4");
	CHECK(vtext("[gpu]\ndevice = emulated\n[gpu]\ndevice = emulated:t4\n") == 0 && P.lower == POLICY_LOWER_EMULATOR &&
		      P.ngpus == 2 && strcmp(P.gpus[0].profile, "h200") == 0 && strcmp(P.gpus[1].profile, "t4") == 0,
	      "emulated GPUs choose the emulator; empty profile resolved to the default");
	CHECK(vtext("emulate-profile = a100-80gb\n[gpu]\ndevice = emulated\n") == 0 &&
		      strcmp(P.gpus[0].profile, "a100-80gb") == 0,
	      "empty profile resolved to emulate-profile");
	CHECK(vtext("[gpu]\ndevice = emulated:l4\n[gpu]\ndevice = emulated:l4\n") == 0 && P.ngpus == 2,
	      "two emulated GPUs of one profile");
	CHECK(vtext("[gpu]\ndevice = 0\nmemory = 50%\n[gpu]\ndevice = " UUID_A "\n[gpu]\ndevice = " UUID_B "\n") == 0 &&
		      P.lower == POLICY_LOWER_AUTO && P.ngpus == 3,
	      "physical GPUs by index and UUID, percent memory");
	CHECK(vtext("emulate = yes\nmemory = 4G\n[gpu]\ndevice = emulated:t4\nmemory = 1G\n") == 0, "sizes with the emulator");

	/* Twice is the same as once. */
	vtext("emulate = yes\n[gpu]\ndevice = emulated\n");
	Q = P;
	CHECK(policy_validate(&P, E, sizeof(E)) == 0 && policy_equal(&P, &Q), "validate is idempotent");

	check_verr("mixed", "[gpu]\ndevice = 1\n[gpu]\ndevice = emulated:t4\n",
		   "GPU 0 (device = 1) is physical and GPU 1 (device = emulated:t4) is emulated", "not both");
	check_verr("mixed, emulated first", "[gpu]\ndevice = emulated\n[gpu]\ndevice = " UUID_A "\n",
		   "GPU 1 (device = " UUID_A ") is physical and GPU 0 (device = emulated) is emulated", NULL);
	check_verr("emulate with physical", "emulate = yes\n[gpu]\ndevice = 2\n",
		   "GPU 0 (device = 2) is physical, but --emulate / emulate = ... uses software GPUs only; list them as emulated:PROFILE",
		   NULL);
	check_verr("duplicate index", "[gpu]\ndevice = 3\n[gpu]\ndevice = 1\n[gpu]\ndevice = 3\n",
		   "GPU 0 (device = 3) and GPU 2 (device = 3) are the same GPU; list each physical GPU once", NULL);
	check_verr("duplicate UUID", "[gpu]\ndevice = " UUID_A "\n[gpu]\ndevice = " UUID_A_UPPER "\n",
		   "GPU 0 (device = " UUID_A ") and GPU 1 (device = " UUID_A_UPPER ") are the same GPU", NULL);
	check_verr("percent on an emulated GPU", "[gpu]\ndevice = emulated:t4\nmemory = 50%\n",
		   "GPU 0 (device = emulated:t4): memory = 50%: a percentage needs a physical GPU; give a size", NULL);
	check_verr("global percent with emulate", "emulate = yes\nmemory = 50%\n",
		   "memory = 50%: a percentage needs a physical GPU; give a size", NULL);
	check_verr("global percent with emulated GPUs", "memory = 10%\n[gpu]\ndevice = emulated\nmemory = 1G\n",
		   "memory = 10%: a percentage needs a physical GPU", NULL);

	/* On error, p is unchanged. */
	ptext("[gpu]\ndevice = emulated:t4\nmemory = 50%\n");
	Q = P;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && policy_equal(&P, &Q) && P.lower == POLICY_LOWER_AUTO,
	      "failed validate leaves p unchanged");

	/* Fields set through the API, not the parser. */
	policy_init(&P);
	strcpy(P.emulate_profile, "h300");
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 &&
		      strstr(E, "unknown profile 'h300'; known profiles: h200, h100-80gb, a100-80gb, l4, t4, rtx-4090"),
	      "API: unknown emulate profile: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_EMULATED;
	strcpy(P.gpus[0].profile, "v100");
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "GPU 0: unknown profile 'v100'; known profiles: h200"),
	      "API: unknown GPU profile: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_INDEX;
	P.gpus[0].index = 64;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "GPU 0: index 64 is out of range"), "API: index 64: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_UUID;
	strcpy(P.gpus[0].uuid, "GPU-nope");
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "'GPU-nope' is not a GPU UUID"), "API: bad UUID: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "GPU 0: no device"), "API: GPU without source: %s", E);
	policy_init(&P);
	P.memory.kind = POLICY_MEMORY_BYTES;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "memory: invalid value 0"), "API: 0 bytes: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_INDEX;
	P.gpus[0].memory.kind = POLICY_MEMORY_PERCENT;
	P.gpus[0].memory.percent = 101;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "GPU 0: memory: invalid value 101%"), "API: 101%%: %s", E);
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_INDEX;
	memset(P.gpus[0].name, 'x', sizeof(P.gpus[0].name));
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "GPU 0: name"), "API: unterminated name: %s", E);
	policy_init(&P);
	P.ngpus = POLICY_MAX_GPUS + 1;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "too many GPUs (17); at most 16"), "API: 17 GPUs: %s", E);
	policy_init(&P);
	P.nsearch_paths = POLICY_MAX_SEARCH_PATHS + 1;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "too many driver-paths (17)"), "API: 17 paths: %s", E);
	policy_init(&P);
	P.nsearch_paths = 1;
	strcpy(P.search_paths[0], "relative");
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "not absolute"), "API: relative path: %s", E);
	policy_init(&P);
	P.lower = (enum policy_lower)7;
	CHECK(policy_validate(&P, E, sizeof(E)) == -1 && strstr(E, "invalid lower driver choice"), "API: bad lower: %s", E);
}

/* --- equality ---------------------------------------------------------------------- */

static void test_equal(void)
{
	ptext("emulate-profile = t4\nmemory = 50%\ndriver-path = /opt/a\n[gpu]\ndevice = 1\nname = x\n"
	      "[gpu]\ndevice = " UUID_A "\nmemory = 1G\n[gpu]\ndevice = emulated:l4\n");
	Q = P;
	CHECK(policy_equal(&P, &Q) && policy_equal(&Q, &P), "a copy is equal");

	/* Garbage where meaning ends. */
	memset(Q.gpus[0].name + 2, 'G', sizeof(Q.gpus[0].name) - 2);
	memset(Q.gpus[0].uuid, 'U', sizeof(Q.gpus[0].uuid));          /* unused by an index */
	memset(Q.gpus[0].profile, 'P', sizeof(Q.gpus[0].profile));
	Q.gpus[1].index = 9;                                           /* unused by a UUID */
	Q.gpus[1].memory.percent = 77;                                 /* unused by BYTES */
	Q.memory.bytes = 12345;                                        /* unused by PERCENT */
	memset(Q.emulate_profile + 3, 'E', sizeof(Q.emulate_profile) - 3);
	memset(&Q.gpus[3], 0x5a, sizeof(Q.gpus[3]) * (POLICY_MAX_GPUS - 3)); /* beyond ngpus */
	memset(Q.search_paths[0] + 7, 'S', POLICY_PATH_MAX - 7);
	memset(Q.search_paths[1], 'S', POLICY_PATH_MAX);              /* beyond nsearch_paths */
	CHECK(policy_equal(&P, &Q), "equal ignores bytes after terminators and unused fields");

#define DIFF(what, stmt)                                          \
	do {                                                      \
		Q = P;                                            \
		stmt;                                             \
		CHECK(!policy_equal(&P, &Q), "differs: %s", what); \
	} while (0)
	DIFF("lower", Q.lower = POLICY_LOWER_EMULATOR);
	DIFF("trace", strcpy(Q.trace, "/tmp/t.jsonl"));
	DIFF("emulate_profile", strcpy(Q.emulate_profile, "l4"));
	DIFF("global memory kind", Q.memory.kind = POLICY_MEMORY_UNSET);
	DIFF("global percent", Q.memory.percent = 51);
	DIFF("ngpus", Q.ngpus--);
	DIFF("source", Q.gpus[0].source = POLICY_SOURCE_EMULATED);
	DIFF("index", Q.gpus[0].index = 2);
	DIFF("uuid case", strcpy(Q.gpus[1].uuid, UUID_A_UPPER));
	DIFF("profile", strcpy(Q.gpus[2].profile, "t4"));
	DIFF("gpu bytes", Q.gpus[1].memory.bytes++);
	DIFF("name", strcpy(Q.gpus[0].name, "y"));
	DIFF("name removed", Q.gpus[0].name[0] = '\0');
	DIFF("nsearch_paths", Q.nsearch_paths = 0);
	DIFF("search path", strcpy(Q.search_paths[0], "/opt/b"));
#undef DIFF
}

/* --- canonical form -------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Random text of units that make trouble: blanks, quotes, backslashes, #, =, commas,
 * brackets, UTF-8.  Never a control character. */
static void random_text(char *out, size_t max, int leading_slash)
{
	static const char *units[] = { " ", "\"", "\\", "#", "=", ",", "[", "]", "a", "Z", "0", "-", "\xc3\xa9",
				       "\xe2\x82\xac", "\xf0\x9f\x9a\x80", ":", "'", "%", ";", "/" };
	size_t len = 0, want = rnd(4) == 0 ? max : 1 + rnd((unsigned)max);

	if (leading_slash)
		out[len++] = '/';
	while (len < want) {
		const char *u = units[rnd(sizeof(units) / sizeof(units[0]))];
		size_t ul = strlen(u);
		if (len + ul > want)
			break;
		memcpy(out + len, u, ul);
		len += ul;
	}
	if (len == 0)
		out[len++] = 'x';
	out[len] = '\0';
}

static void random_memory(struct policy_memory *m)
{
	static const uint64_t sizes[] = { 1, 1023, 1024, 8ull << 30, 1610612736, UINT64_MAX, 16777215ull << 40 };
	memset(m, 0, sizeof(*m));
	switch (rnd(3)) {
	case 0:
		m->kind = POLICY_MEMORY_UNSET;
		break;
	case 1:
		m->kind = POLICY_MEMORY_BYTES;
		m->bytes = rnd(2) ? sizes[rnd(7)] : ((uint64_t)rnd(1u << 30) << rnd(34)) + 1;
		break;
	default:
		m->kind = POLICY_MEMORY_PERCENT;
		m->percent = 1 + rnd(100);
		break;
	}
}

static void random_policy(struct policy *p)
{
	static const char *uuids[] = { UUID_A, UUID_A_UPPER, UUID_B, "gpu-abcdefab-cdef-abcd-efab-cdefabcdefab" };

	policy_init(p);
	p->lower = rnd(2) ? POLICY_LOWER_EMULATOR : POLICY_LOWER_AUTO;
	p->launch = rnd(2) ? POLICY_LAUNCH_NOOP : POLICY_LAUNCH_ERROR;
	p->driver_version = rnd(2) ? 0 : (int)((10 + rnd(90)) * 1000 + 10 * rnd(10));
	if (rnd(2))
		strcpy(p->emulate_profile, policy_profiles[rnd(6)]);
	random_memory(&p->memory);
	p->ngpus = rnd(4) == 0 ? POLICY_MAX_GPUS : rnd(POLICY_MAX_GPUS + 1);
	for (unsigned i = 0; i < p->ngpus; i++) {
		struct policy_gpu *g = &p->gpus[i];
		switch (rnd(3)) {
		case 0:
			g->source = POLICY_SOURCE_INDEX;
			g->index = rnd(POLICY_INDEX_MAX + 1);
			break;
		case 1:
			g->source = POLICY_SOURCE_UUID;
			strcpy(g->uuid, uuids[rnd(4)]);
			break;
		default:
			g->source = POLICY_SOURCE_EMULATED;
			if (rnd(4))
				strcpy(g->profile, policy_profiles[rnd(6)]);
			break;
		}
		random_memory(&g->memory);
		if (rnd(3))
			random_text(g->name, POLICY_NAME_MAX - 1, 0);
	}
	p->nsearch_paths = rnd(4) == 0 ? POLICY_MAX_SEARCH_PATHS : rnd(POLICY_MAX_SEARCH_PATHS + 1);
	for (unsigned i = 0; i < p->nsearch_paths; i++)
		random_text(p->search_paths[i], rnd(3) ? 60 : POLICY_PATH_MAX - 1, 1);
	if (rnd(2))
		random_text(p->trace, rnd(3) ? 60 : POLICY_PATH_MAX - 1, 1);
	static const char *const specs[] = {
		"cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=3", "cu?nit:error=CUDA_ERROR_UNKNOWN",
		"nvml*:error=NVML_ERROR_TIMEOUT:p=0.000000001,seed=18446744073709551615",
		"cuLaunch*:error=CUDA_ERROR_LAUNCH_FAILED:every=7", "oom-after=16T", "device-lost-after=0",
		"slow=nvmlDeviceGetCount_v2:1h", "cuMemcpy*:error=CUDA_ERROR_ILLEGAL_ADDRESS:after=12.5ms",
		"cuStream*:error=CUDA_ERROR_NOT_READY:after-bytes=1"
	};
	char e[POLICY_ERROR_MAX];
	for (unsigned n = rnd(4); n > 0; n--)
		policy_add_fault_spec(p, specs[rnd(sizeof(specs) / sizeof(specs[0]))], e, sizeof(e));
}

/* A failed comparison of texts, as TAP comments. */
static void show_if_differs(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return;
	printf("# got:\n# ");
	for (const char *c = got; *c; c++)
		printf(*c == '\n' && c[1] ? "\n# " : "%c", *c);
	printf("# wanted:\n# ");
	for (const char *c = want; *c; c++)
		printf(*c == '\n' && c[1] ? "\n# " : "%c", *c);
}

static char canon_a[POLICY_CANONICAL_MAX + 1], canon_b[POLICY_CANONICAL_MAX + 1];

/* Why the last round_trip failed, for the test's message; "" after success. */
static char RT[POLICY_ERROR_MAX + 64];

static int round_trip_(const struct policy *p, const char *path, const char **why);

/* p through a file and back: equal, and the file's bytes are those of format. */
static int round_trip(const struct policy *p, const char *path, const char **why)
{
	int ok = round_trip_(p, path, why);
	if (ok)
		RT[0] = '\0';
	else
		snprintf(RT, sizeof(RT), " (failed at %s: %s)", *why, E);
	return ok;
}

static int round_trip_(const struct policy *p, const char *path, const char **why)
{
	int fd, n, w;
	ssize_t r;

	*why = "format";
	n = policy_format_canonical(p, canon_a, sizeof(canon_a));
	if (n < 0 || n > POLICY_CANONICAL_MAX || (size_t)n != strlen(canon_a))
		return 0;
	*why = "write";
	fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);
	if (fd < 0)
		return 0;
	w = policy_write_canonical(p, fd);
	close(fd);
	if (w != n)
		return 0;
	*why = "file bytes";
	fd = open(path, O_RDONLY);
	r = read(fd, canon_b, sizeof(canon_b) - 1);
	close(fd);
	if (r != n || memcmp(canon_a, canon_b, (size_t)n) != 0)
		return 0;
	*why = "read";
	memset(&R, 0xa5, sizeof(R)); /* read must not depend on what was there */
	if (policy_read_canonical(&R, path, E, sizeof(E)) != 0)
		return 0;
	*why = "equal";
	if (!policy_equal(p, &R))
		return 0;
	*why = "format of the read-back differs";
	if (policy_format_canonical(&R, canon_b, sizeof(canon_b)) != n || strcmp(canon_a, canon_b) != 0)
		return 0;
	*why = "";
	return 1;
}

static void test_canonical(void)
{
	char path[256];
	const char *why;
	int fd, n;

	fd = tmpfile_path(path, sizeof(path));
	CHECK(fd >= 0, "temporary file for canonical tests");
	if (fd < 0)
		return;
	close(fd);

	/* The exact form. */
	ptext("emulate-profile = t4\nmemory = 16G\ndriver-path = /opt/x\ndriver-path = \"/opt/q \\\"x\\\" \\\\\"\n"
	      "[gpu]\nname = My GPU\nmemory = 50%\ndevice = 0\n[gpu]\ndevice = " UUID_A "\n");
	static const char want1[] =
		"# vgpu-run canonical policy, format 1\n"
		"emulate = no\n"
		"emulate-profile = t4\n"
		"memory = 17179869184\n"
		"driver-path = \"/opt/x\"\n"
		"driver-path = \"/opt/q \\\"x\\\" \\\\\"\n"
		"\n[gpu]\n"
		"device = 0\n"
		"memory = 50%\n"
		"name = \"My GPU\"\n"
		"\n[gpu]\n"
		"device = " UUID_A "\n"
		"# end\n";
	n = policy_format_canonical(&P, canon_a, sizeof(canon_a));
	CHECK(n == (int)strlen(want1) && strcmp(canon_a, want1) == 0, "canonical form of a physical policy");
	show_if_differs(canon_a, want1);
	CHECK(round_trip(&P, path, &why), "round trip of it%s", RT);

	vtext("emulate = yes\nmemory = 8G\n[gpu]\ndevice = emulated\nname = \"  # = \\\"\"\n[gpu]\ndevice = emulated:t4\nmemory = 1.5G\n");
	static const char want2[] =
		"# vgpu-run canonical policy, format 1\n"
		"emulate = yes\n"
		"memory = 8589934592\n"
		"\n[gpu]\n"
		"device = emulated:h200\n"
		"name = \"  # = \\\"\"\n"
		"\n[gpu]\n"
		"device = emulated:t4\n"
		"memory = 1610612736\n"
		"# end\n";
	n = policy_format_canonical(&P, canon_a, sizeof(canon_a));
	CHECK(n == (int)strlen(want2) && strcmp(canon_a, want2) == 0, "canonical form of a validated emulated policy");
	show_if_differs(canon_a, want2);
	CHECK(round_trip(&P, path, &why), "round trip of it%s", RT);

	policy_init(&P);
	n = policy_format_canonical(&P, canon_a, sizeof(canon_a));
	CHECK(strcmp(canon_a, "# vgpu-run canonical policy, format 1\nemulate = no\n# end\n") == 0,
	      "canonical form of the empty policy");
	CHECK(round_trip(&P, path, &why), "round trip of the empty policy%s", RT);

	/* Unvalidated: an emulated GPU with no profile stays so. */
	ptext("[gpu]\ndevice = emulated\n");
	CHECK(round_trip(&P, path, &why) && strstr(canon_a, "device = emulated\n") && R.gpus[0].profile[0] == '\0' &&
		      R.lower == POLICY_LOWER_AUTO,
	      "round trip of an unvalidated emulated GPU%s", RT);

	/* Truncated output: like snprintf. */
	policy_init(&P);
	n = policy_format_canonical(&P, canon_b, 10);
	CHECK(n == (int)strlen("# vgpu-run canonical policy, format 1\nemulate = no\n# end\n") &&
		      strcmp(canon_b, "# vgpu-ru") == 0,
	      "format into a short buffer: %d [%s]", n, canon_b);
	CHECK(policy_format_canonical(&P, NULL, 0) == n, "format with no buffer returns the length");

	/* Worst case: every string at its longest, full of characters to escape. */
	policy_init(&P);
	P.lower = POLICY_LOWER_EMULATOR;
	strcpy(P.emulate_profile, "a100-80gb");
	P.memory.kind = POLICY_MEMORY_BYTES;
	P.memory.bytes = UINT64_MAX;
	P.ngpus = POLICY_MAX_GPUS;
	for (unsigned i = 0; i < POLICY_MAX_GPUS; i++) {
		P.gpus[i].source = POLICY_SOURCE_UUID;
		strcpy(P.gpus[i].uuid, UUID_A);
		P.gpus[i].memory.kind = POLICY_MEMORY_BYTES;
		P.gpus[i].memory.bytes = UINT64_MAX - i;
		memset(P.gpus[i].name, i % 2 ? '"' : '\\', POLICY_NAME_MAX - 1);
	}
	P.nsearch_paths = POLICY_MAX_SEARCH_PATHS;
	for (unsigned i = 0; i < POLICY_MAX_SEARCH_PATHS; i++) {
		P.search_paths[i][0] = '/';
		memset(P.search_paths[i] + 1, i % 2 ? '\\' : '"', POLICY_PATH_MAX - 2);
	}
	P.trace[0] = '/';
	memset(P.trace + 1, '"', POLICY_PATH_MAX - 2);
	n = policy_format_canonical(&P, NULL, 0);
	CHECK(n > 0 && n <= POLICY_CANONICAL_MAX, "worst case length %d <= POLICY_CANONICAL_MAX %d", n,
	      POLICY_CANONICAL_MAX);
	CHECK(round_trip(&P, path, &why), "round trip of the worst case%s", RT);

	/* Policies parsed from text, validated or not. */
	static const char *texts[] = {
		"memory = 1\n",
		"memory = 100%\n[gpu]\ndevice = 63\nmemory = 1%\n",
		"emulate = rtx-4090\n",
		"emulate = yes\n",
		"emulate-profile = h100-80gb\n[gpu]\ndevice = emulated\n[gpu]\ndevice = emulated:l4\nname = \"tr ail \"\n",
		"driver-path = \"/x y/\\\\/\\\"\"\ndriver-path = /#\ndriver-path = /=\n",
		"trace = /tmp/a b/t.jsonl\n",
		"trace = \"/tmp/\\\"q\\\".jsonl\"\nemulate = yes\n",
		"[gpu]\ndevice = " UUID_A_UPPER "\nname = \xf0\x9f\x9a\x80 rocket\n",
		"[gpu]\ndevice = 5\nname = [gpu]\n[gpu]\ndevice = 6\nname = # end\n",
		"[gpu]\ndevice = 5\nname = \"\\\"\"\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ptext(texts[i]);
		CHECK(round_trip(&P, path, &why), "round trip of text %zu%s", i, RT);
		if (policy_validate(&P, E, sizeof(E)) == 0)
			CHECK(round_trip(&P, path, &why), "round trip of text %zu validated%s", i, RT);
	}

	/* Many random policies. */
	int ok = 1, count = 0;
	for (int i = 0; i < 400 && ok; i++) {
		random_policy(&P);
		if (policy_check(&P, E, sizeof(E)) != 0) {
			ok = 0;
			break;
		}
		ok = round_trip(&P, path, &why);
		count++;
	}
	CHECK(ok, "round trip of %d random policies%s", count, RT);

	/* Unwritable policies. */
	policy_init(&P);
	P.ngpus = 1; /* no source */
	errno = 0;
	CHECK(policy_format_canonical(&P, canon_a, sizeof(canon_a)) == -1 && errno == EINVAL, "format of a broken policy: EINVAL");
	errno = 0;
	CHECK(policy_write_canonical(&P, 1) == -1 && errno == EINVAL, "write of a broken policy: EINVAL, nothing written");
	policy_init(&P);
	P.ngpus = 1;
	P.gpus[0].source = POLICY_SOURCE_INDEX;
	strcpy(P.gpus[0].name, "two\nlines");
	CHECK(policy_format_canonical(&P, canon_a, sizeof(canon_a)) == -1, "a name with a newline cannot be written");
	policy_init(&P);
	errno = 0;
	CHECK(policy_write_canonical(&P, -1) == -1 && errno == EBADF, "write to a bad fd: EBADF");

	/* Reading: errors. */
	CHECK(policy_read_canonical(&R, "/nonexistent/policy", E, sizeof(E)) == -1 &&
		      strcmp(E, "/nonexistent/policy: No such file or directory") == 0,
	      "read of a missing file: %s", E);
	const char *plain = "memory = 1G\n";
	write_file(path, plain, strlen(plain));
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 &&
		      strstr(E, ":1: not a vgpu-run canonical policy: the first line is 'memory = 1G'; expected '# vgpu-run canonical policy, format 1'"),
	      "a plain policy is not canonical: %s", E);
	const char *fmt2 = "# vgpu-run canonical policy, format 2\nemulate = no\n# end\n";
	write_file(path, fmt2, strlen(fmt2));
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 &&
		      strstr(E, ":1: canonical policy format '2' is not supported; this vgpu-run reads format 1"),
	      "another format: %s", E);
	write_file(path, "", 0);
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 && strstr(E, ":1: truncated canonical policy"),
	      "an empty file: %s", E);
	const char *after = "# vgpu-run canonical policy, format 1\nemulate = no\n# end\n\n";
	write_file(path, after, strlen(after));
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 && strstr(E, ":4: text after the '# end' line"),
	      "text after the end: %s", E);
	const char *noend = "# vgpu-run canonical policy, format 1\nemulate = no\n# end";
	write_file(path, noend, strlen(noend));
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 && strstr(E, ":3: truncated canonical policy: the last line has no newline"),
	      "no newline after the end: %s", E);
	const char *badkey = "# vgpu-run canonical policy, format 1\nemulate = no\n\n[gpu]\ndevice = 0\nmemory = 1Q\n# end\n";
	write_file(path, badkey, strlen(badkey));
	CHECK(policy_read_canonical(&R, path, E, sizeof(E)) == -1 && strstr(E, ":6: memory: unknown unit 'Q'"),
	      "a bad value in a canonical file names its line: %s", E);

	/* Damage: every truncation of a canonical file is an error; single-byte changes
	 * give an error or a policy, never a crash. */
	ptext("emulate-profile = t4\nmemory = 16G\ndriver-path = /opt/x\n[gpu]\nname = \"My GPU\"\nmemory = 50%\ndevice = 0\n"
	      "[gpu]\ndevice = " UUID_A "\n");
	Q = P;
	n = policy_format_canonical(&Q, canon_a, sizeof(canon_a));
	int all = 1;
	for (int len = 0; len < n; len++) {
		write_file(path, canon_a, (size_t)len);
		E[0] = '\0';
		if (policy_read_canonical(&R, path, E, sizeof(E)) != -1 || !E[0] || !one_line(E))
			all = 0;
	}
	CHECK(all, "each of the %d truncations of a canonical file is an error", n);
	static const char repl[] = { 'x', '\0', '\n', '"', '\\', '#', '=', '[', ' ', '\r', (char)0xff };
	int no_crash = 1, errors = 0;
	for (int pos = 0; pos < n; pos++) {
		for (size_t k = 0; k < sizeof(repl); k++) {
			memcpy(canon_b, canon_a, (size_t)n);
			if (canon_b[pos] == repl[k])
				continue;
			canon_b[pos] = repl[k];
			write_file(path, canon_b, (size_t)n);
			E[0] = '\0';
			int rc = policy_read_canonical(&R, path, E, sizeof(E));
			if (rc == -1) {
				errors++;
				if (!E[0] || !one_line(E))
					no_crash = 0;
			} else if (rc != 0) {
				no_crash = 0;
			}
		}
	}
	CHECK(no_crash && errors > 0, "single-byte damage: %d errors, each one line, no crash", errors);

	unlink(path);
}

/* trace = FILE: an absolute file, once, global; canonical form quoted, after the
 * driver-paths. */
static void test_trace(void)
{
	CHECK(ptext("") == 0 && P.trace[0] == '\0', "no trace by default");
	CHECK(ptext("trace = /tmp/t.jsonl\n") == 0 && strcmp(P.trace, "/tmp/t.jsonl") == 0, "trace = /tmp/t.jsonl");
	CHECK(ptext("trace = \" /tmp/x \"\n") == -1 && strstr(E, "policy.conf:1: trace ' /tmp/x ' is not absolute") &&
		      strstr(E, "expected a file starting with /"),
	      "a relative trace: %s", E);
	check_err("trace twice", "trace = /a\ntrace = /b\n", "policy.conf:2: duplicate key 'trace'", NULL);
	check_err("trace in [gpu]", "[gpu]\ndevice = 0\ntrace = /a\n", "policy.conf:3: key 'trace' is global", NULL);
	check_err("empty trace", "trace = \"\"\n", "empty value for 'trace'; expected an absolute file path", NULL);
	policy_init(&P);
	CHECK(policy_set_trace(&P, "t.jsonl", E, sizeof(E)) == -1 && strstr(E, "trace 't.jsonl' is not absolute") &&
		      P.trace[0] == '\0',
	      "policy_set_trace refuses a relative path: %s", E);
	CHECK(policy_set_trace(&P, "/a\tb", E, sizeof(E)) == -1 && strstr(E, "holds a control character"),
	      "policy_set_trace refuses a control character: %s", E);
	CHECK(policy_set_trace(&P, "/var/t", E, sizeof(E)) == 0 && strcmp(P.trace, "/var/t") == 0, "policy_set_trace");
	memset(P.trace, 'x', sizeof(P.trace));
	CHECK(policy_check(&P, E, sizeof(E)) == -1, "policy_check refuses an unterminated trace");
	P.trace[0] = 'x';
	P.trace[1] = '\0';
	CHECK(policy_check(&P, E, sizeof(E)) == -1 && strstr(E, "trace 'x' is not absolute"), "policy_check refuses a relative trace: %s", E);

	ptext("driver-path = /opt/x\ntrace = \"/tmp/my \\\"trace\\\".jsonl\"\nmemory = 1G\n");
	static const char want[] =
		"# vgpu-run canonical policy, format 1\n"
		"emulate = no\n"
		"memory = 1073741824\n"
		"driver-path = \"/opt/x\"\n"
		"trace = \"/tmp/my \\\"trace\\\".jsonl\"\n"
		"# end\n";
	int n = policy_format_canonical(&P, canon_a, sizeof(canon_a));
	CHECK(n == (int)strlen(want) && strcmp(canon_a, want) == 0, "canonical form with a trace file");
	show_if_differs(canon_a, want);
}

/* A --fault spec must fail with an error naming it and containing want; nothing added. */
static void check_fault_err(const char *spec, const char *want)
{
	char prefix[256];
	policy_init(&P);
	E[0] = '\0';
	int rc = policy_add_fault_spec(&P, spec, E, sizeof(E));
	snprintf(prefix, sizeof(prefix), "--fault '%s': ", spec);
	CHECK(rc == -1 && strncmp(E, prefix, strlen(prefix)) == 0 && strstr(E, want) && P.nfaults == 0 && one_line(E),
	      "bad --fault '%s' -> %s", spec, E);
}

/* Fault rules: --fault specs and [fault] sections, their checks, the canonical form. */
static void test_faults(void)
{
	struct policy_fault *f = &P.faults[0];

	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=3", E, sizeof(E)) == 0 &&
		      P.nfaults == 1 && f->kind == POLICY_FAULT_ERROR && strcmp(f->function, "cuMemAlloc*") == 0 &&
		      f->api == 0 && f->error == 2 && f->when == POLICY_WHEN_NTH && f->n == 3,
	      "--fault cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=3 %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "cuLaunchKernel:error=CUDA_ERROR_LAUNCH_FAILED:p=0.1,seed=42", E, sizeof(E)) == 0 &&
		      f->when == POLICY_WHEN_RANDOM && f->ppb == 100000000u && f->seed == 42 && f->error == 719,
	      "p=0.1,seed=42 -> %u ppb %s", f->ppb, E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "nvmlDeviceGet*:error=NVML_ERROR_GPU_IS_LOST:every=2", E, sizeof(E)) == 0 &&
		      f->api == 1 && f->error == 15 && f->when == POLICY_WHEN_EVERY && f->n == 2,
	      "NVML rule %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "cuMemcpy*:error=CUDA_ERROR_ILLEGAL_ADDRESS:after=1.5s", E, sizeof(E)) == 0 &&
		      f->when == POLICY_WHEN_AFTER && f->ns == 1500000000ull,
	      "after=1.5s %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "cuLaunch*:error=CUDA_ERROR_UNKNOWN:after-bytes=1G", E, sizeof(E)) == 0 &&
		      f->when == POLICY_WHEN_AFTER_BYTES && f->n == 1ull << 30,
	      "after-bytes=1G %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "cuInit:error=CUDA_ERROR_NO_DEVICE", E, sizeof(E)) == 0 &&
		      f->when == POLICY_WHEN_ALWAYS,
	      "no trigger: always %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "oom-after=2G", E, sizeof(E)) == 0 && f->kind == POLICY_FAULT_OOM &&
		      f->n == 2ull << 30,
	      "oom-after=2G %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "device-lost-after=1s", E, sizeof(E)) == 0 && f->kind == POLICY_FAULT_LOST &&
		      f->ns == 1000000000ull && f->error == 46 && strcmp(f->error_name, POLICY_LOST_ERROR) == 0,
	      "device-lost-after=1s: CUDA_ERROR_DEVICE_UNAVAILABLE %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "device-lost-after=250ms:error=CUDA_ERROR_UNKNOWN", E, sizeof(E)) == 0 &&
		      f->ns == 250000000ull && f->error == 999,
	      "device-lost-after with its own code %s", E);
	policy_init(&P);
	CHECK(policy_add_fault_spec(&P, "slow=cuMemAlloc*:10ms", E, sizeof(E)) == 0 && f->kind == POLICY_FAULT_SLOW &&
		      strcmp(f->function, "cuMemAlloc*") == 0 && f->ns == 10000000ull,
	      "slow=cuMemAlloc*:10ms %s", E);

	check_fault_err("cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:nth=-1", "nth: negative count '-1'");
	check_fault_err("cuMemAlloc*:error=CUDA_ERROR_OUT_OF_MEMORY:every=0", "every: 0 is not a count");
	check_fault_err("cuMemAlloc*:error=CUDA_ERROR_OOPS", "unknown error name 'CUDA_ERROR_OOPS'");
	check_fault_err("cuMemAlloc*:error=NVML_ERROR_GPU_IS_LOST", "unknown error name 'NVML_ERROR_GPU_IS_LOST' for cuMemAlloc*");
	check_fault_err("cuMemAlloc*:error=CUDA_SUCCESS", "is success, not an error");
	check_fault_err("cuMemAlloc*", "has no error");
	check_fault_err("foo*:error=CUDA_ERROR_UNKNOWN", "names no CUDA or NVML function");
	check_fault_err("cuMem-Alloc:error=CUDA_ERROR_UNKNOWN", "is not a function name pattern");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:nth=1:every=2", "a rule has one trigger");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:p=1.5", "p: '1.5' is not a probability");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:p=0", "p: '0' is not a probability");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:seed=3", "seed goes with p");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:after=-1s", "negative duration");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:after=5x", "'5x' is not a duration");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:color=red", "unknown key 'color'");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN::nth=2", "an empty item");
	check_fault_err("cuInit:error=CUDA_ERROR_UNKNOWN:nth", "'nth' is not key=value");
	check_fault_err("oom-after=50%", "a percentage is not a size here");
	check_fault_err("oom-after=2G:nth=3", "go with FUNCTION:error=NAME rules only");
	check_fault_err("slow=cuInit", "slow: expected FUNCTION:DURATION");
	check_fault_err("slow=cuInit:10ms:error=CUDA_ERROR_UNKNOWN", "is not a duration");
	check_fault_err("oom-after=1G:device-lost-after=1s", "a rule is one of");
	check_fault_err("", "empty");
	policy_init(&P);
	for (int i = 0; i < POLICY_MAX_FAULTS; i++)
		policy_add_fault_spec(&P, "oom-after=1G", E, sizeof(E));
	CHECK(P.nfaults == POLICY_MAX_FAULTS && policy_add_fault_spec(&P, "oom-after=1G", E, sizeof(E)) == -1 &&
		      strstr(E, "too many fault rules"),
	      "at most %d rules: %s", POLICY_MAX_FAULTS, E);

	/* Globs. */
	CHECK(policy_glob_match("cuMemAlloc*", "cuMemAlloc_v2") && policy_glob_match("cuMemAlloc*", "cuMemAlloc") &&
		      !policy_glob_match("cuMemAlloc*", "cuMemFree") && policy_glob_match("cu*Alloc?v2", "cuMemAlloc_v2") &&
		      policy_glob_match("*", "x") && !policy_glob_match("cuInit", "cuInit2") &&
		      policy_glob_match("cu*_v*", "cuMemAllocPitch_v2"),
	      "glob: * and ?");

	/* Sections. */
	CHECK(ptext("[fault]\nfunction = cuMemAlloc*\nerror = CUDA_ERROR_OUT_OF_MEMORY\nnth = 3\n"
		    "[gpu]\ndevice = 0\n[fault]\noom-after = 1G\n") == 0 && P.nfaults == 2 && P.ngpus == 1 &&
		      P.faults[0].n == 3 && P.faults[0].line == 1 && P.faults[1].kind == POLICY_FAULT_OOM &&
		      P.faults[1].line == 7,
	      "[fault] sections among [gpu] ones %s", E);
	check_err("fault without error", "[fault]\nfunction = cuInit\n", "policy.conf:1: [fault]: the rule for cuInit has no error", NULL);
	check_err("fault key", "[fault]\nfunction = cuInit\nnth = x\n", "policy.conf:3: [fault] nth: 'x' is not a count", NULL);
	check_err("fault unknown key", "[fault]\ndevice = 0\n", "policy.conf:2: [fault] unknown key 'device'", "oom-after");
	check_err("empty fault", "[fault]\n[gpu]\ndevice = 0\n", "policy.conf:1: [fault]: a rule needs a function", NULL);
	check_err("fault twice", "[fault]\nfunction = cuInit\nfunction = cuInit\n", "policy.conf:3: [fault] function given twice", NULL);

	/* Canonical form and round trips. */
	ptext("trace = /t\n[gpu]\ndevice = 1\n[fault]\nfunction = \"cuMem*\"\nerror = CUDA_ERROR_OUT_OF_MEMORY\n"
	      "p = 0.25\n[fault]\nslow = nvmlInit*:1.5ms\n[fault]\ndevice-lost-after = 2\n[fault]\noom-after = 1M\n"
	      "[fault]\nfunction = cuInit\nerror = CUDA_ERROR_NO_DEVICE\nafter = 3ms\n"
	      "[fault]\nfunction = nvmlDeviceGetCount*\nerror = NVML_ERROR_UNKNOWN\nevery = 2\n"
	      "[fault]\nfunction = cuLaunch*\nerror = CUDA_ERROR_UNKNOWN\nafter-bytes = 1K\n");
	static const char want[] =
		"# vgpu-run canonical policy, format 1\n"
		"emulate = no\n"
		"trace = \"/t\"\n"
		"\n[gpu]\ndevice = 1\n"
		"\n[fault]\nfunction = cuMem*\nerror = CUDA_ERROR_OUT_OF_MEMORY\np = 0.250000000\nseed = 0\n"
		"\n[fault]\nslow = nvmlInit*:1500000ns\n"
		"\n[fault]\ndevice-lost-after = 2000000000ns\nerror = CUDA_ERROR_DEVICE_UNAVAILABLE\n"
		"\n[fault]\noom-after = 1048576\n"
		"\n[fault]\nfunction = cuInit\nerror = CUDA_ERROR_NO_DEVICE\nafter = 3000000ns\n"
		"\n[fault]\nfunction = nvmlDeviceGetCount*\nerror = NVML_ERROR_UNKNOWN\nevery = 2\n"
		"\n[fault]\nfunction = cuLaunch*\nerror = CUDA_ERROR_UNKNOWN\nafter-bytes = 1024\n"
		"# end\n";
	int n = policy_format_canonical(&P, canon_a, sizeof(canon_a));
	CHECK(n == (int)strlen(want) && strcmp(canon_a, want) == 0, "canonical form with fault rules %s", E);
	show_if_differs(canon_a, want);
	char path[256];
	const char *why;
	int fd = tmpfile_path(path, sizeof(path));
	if (fd >= 0) {
		close(fd);
		CHECK(round_trip(&P, path, &why), "round trip of fault rules%s", RT);
		Q = P;
		Q.faults[0].seed = 1;
		CHECK(!policy_equal(&P, &Q), "differs: a seed");
		Q = P;
		Q.faults[3].ns = 12345; /* unused by oom-after */
		CHECK(policy_equal(&P, &Q), "equal ignores numbers a rule does not use");
		Q = P;
		Q.faults[1].function[0] = '?';
		CHECK(policy_check(&Q, E, sizeof(E)) == -1 && strstr(E, "names no CUDA or NVML function"),
		      "policy_check refuses a damaged rule: %s", E);
		unlink(path);
	}
}

/* The emulator's keys: launch and driver-version. */
static void test_emulator_keys(void)
{
	int v = 0;

	CHECK(ptext("launch = noop\n") == 0 && P.launch == POLICY_LAUNCH_NOOP, "launch = noop");
	CHECK(ptext("launch = error\n") == 0 && P.launch == POLICY_LAUNCH_ERROR, "launch = error");
	CHECK(ptext("") == 0 && P.launch == POLICY_LAUNCH_ERROR && P.driver_version == 0,
	      "by default launches fail and the driver version is the emulator's own");
	check_err("launch = run", "launch = run\n", "policy.conf:1: launch: 'run' is not error or noop", NULL);
	check_err("launch in [gpu]", "[gpu]\ndevice = emulated\nlaunch = noop\n", "policy.conf:3:", "launch");
	CHECK(ptext("driver-version = 12.8\n") == 0 && P.driver_version == 12080, "driver-version = 12.8 -> 12080");
	CHECK(ptext("driver-version = 13.0\n") == 0 && P.driver_version == 13000, "driver-version = 13.0 -> 13000");
	check_err("driver-version = 12", "driver-version = 12\n", "policy.conf:1: driver-version: '12' is not a CUDA version",
		  "MAJOR.MINOR");
	check_err("driver-version = 12.10", "driver-version = 12.10\n", "is not a CUDA version", NULL);
	check_err("driver-version = 9.0", "driver-version = 9.0\n", "is not a CUDA version", NULL);
	check_err("driver-version = x", "driver-version = x\n", "is not a CUDA version", NULL);
	CHECK(policy_parse_driver_version("11.4", &v, E, sizeof(E)) == 0 && v == 11040, "11.4 -> 11040");
	CHECK(vtext("emulate = yes\nlaunch = noop\ndriver-version = 12.4\n") == 0 && P.launch == POLICY_LAUNCH_NOOP &&
		      P.driver_version == 12040,
	      "launch and driver-version with the emulator");
	check_verr("launch = noop on the real driver", "launch = noop\n", "launch = noop applies to the emulator only",
		   "emulate = yes");
	check_verr("driver-version on the real driver", "driver-version = 12.8\n[gpu]\ndevice = 0\n",
		   "driver-version applies to the emulator only", NULL);
	CHECK(vtext("launch = noop\n[gpu]\ndevice = emulated:t4\n") == 0, "emulated GPUs make launch = noop valid");
}

int main(void)
{
	test_emulator_keys();
	test_sizes();
	test_profiles();
	test_accepted();
	test_errors();
	test_files();
	test_specs();
	test_validate();
	test_equal();
	test_canonical();
	test_trace();
	test_faults();
	return check_done();
}
