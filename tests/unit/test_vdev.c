/* Virtual GPUs (shim/common/vdev.c): the table built from a policy, the program's
 * CUDA_VISIBLE_DEVICES applied among virtual GPUs as the real driver applies it among
 * physical ones (a table of cases), the lower driver's list, caps, UUIDs. */
#include "shim/common/vdev.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char gpus_dir[256];

/* A fake /proc/driver/nvidia/gpus with three GPUs, listed out of bus order. */
static void make_gpus_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(gpus_dir, sizeof gpus_dir, "%s/vgpu-vdev-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(gpus_dir))
		abort();
	static const char *bus[] = { "0000:c1:00.0", "0000:17:00.0", "0000:65:00.0" };
	static const char *uuid[] = { "GPU-cccccccc-0000-0000-0000-000000000003",
				      "GPU-aaaaaaaa-0000-0000-0000-000000000001",
				      "GPU-bbbbbbbb-0000-0000-0000-000000000002" };
	for (int i = 0; i < 3; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", gpus_dir, bus[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/%s/information", gpus_dir, bus[i]);
		FILE *f = fopen(path, "w");
		fprintf(f, "Model: \t\t NVIDIA H200\nIRQ:   \t\t 42\nGPU UUID: \t %s\nBus Type: \t PCIe\n",
			uuid[i]);
		fclose(f);
	}
}

static void remove_gpus_dir(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", gpus_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", gpus_dir);
}

static void policy_of(struct policy *p, const char *text)
{
	char err[POLICY_ERROR_MAX];
	policy_init(p);
	if (policy_parse_text(p, text, strlen(text), "test", err, sizeof err) != 0 ||
	    policy_validate(p, err, sizeof err) != 0) {
		fprintf(stderr, "bad test policy: %s\n", err);
		abort();
	}
}

/* The selection as text: "2,0" */
static const char *selection(const struct vdev_table *t, const char *cvd)
{
	static char out[128];
	unsigned sel[VDEV_MAX];
	int n = vdev_select(t, cvd, sel);
	out[0] = '\0';
	if (n == VDEV_SELECT_REPEAT)
		return "repeat";
	for (int k = 0; k < n; k++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%u", k ? "," : "", sel[k]);
	return out;
}

static void test_emulated(void)
{
	struct policy p;
	struct vdev_table t;
	char why[256];
	policy_of(&p, "memory = 1G\n[gpu]\ndevice = emulated:t4\nname = Small\n"
		      "[gpu]\ndevice = emulated:h200\nmemory = 3G\n[gpu]\ndevice = emulated:l4\n");
	CHECK(vdev_build(&t, &p, "/nonexistent", why, sizeof why) == 0, "emulated policy builds");
	CHECK(t.emulated && !t.passthrough && t.n == 3, "three emulated virtual GPUs");
	CHECK(strcmp(t.dev[0].token, "0") == 0 && strcmp(t.dev[2].token, "2") == 0,
	      "the emulator gets configuration indexes");
	CHECK(strcmp(t.dev[0].name, "Small") == 0 && t.dev[1].name[0] == '\0', "name overrides");
	CHECK(vdev_cap(&t.dev[0], 0) == 1ull << 30 && vdev_cap(&t.dev[1], 0) == 3ull << 30 &&
	      vdev_cap(&t.dev[2], 0) == 1ull << 30, "caps: own, else the global memory");
	CHECK(memcmp(t.dev[0].uuid, t.dev[1].uuid, 16) != 0 && memcmp(t.dev[1].uuid, t.dev[2].uuid, 16) != 0,
	      "virtual UUIDs differ");
	CHECK(strncmp(t.dev[0].uuid_text, "GPU-", 4) == 0 && strlen(t.dev[0].uuid_text) == 40 &&
	      t.dev[0].uuid_text[18] == '8', "UUID text: GPU- and 36 characters, version 8");
	CHECK(strncmp(t.dev[0].uuid_text, "GPU-76677075", 12) != 0,
	      "not the emulator's own UUID form");
	struct vdev_table again;
	vdev_build(&again, &p, "/nonexistent", why, sizeof why);
	CHECK(memcmp(again.dev[1].uuid, t.dev[1].uuid, 16) == 0, "UUIDs are stable");
	CHECK(vdev_find_uuid(&t, t.dev[2].uuid_text) == 2, "find by UUID");

	/* CUDA_VISIBLE_DEVICES among the virtual GPUs: the real driver's rules. */
	char prefix[16], full1[64], upper[64], twice[128], bad[64];
	snprintf(prefix, sizeof prefix, "%.12s", t.dev[1].uuid_text);
	snprintf(full1, sizeof full1, "%s", t.dev[1].uuid_text);
	snprintf(upper, sizeof upper, "%s", t.dev[2].uuid_text);
	for (char *c = upper + 4; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	snprintf(twice, sizeof twice, "%s,%s", t.dev[2].uuid_text, prefix);
	snprintf(bad, sizeof bad, "GPU-76677075-0000-0000-0000-000000000000");
	const struct { const char *cvd, *want, *what; } cases[] = {
		{ NULL, "0,1,2", "unset: every virtual GPU in order" },
		{ "1", "1", "one index" },
		{ "2,0", "2,0", "order of the sequence" },
		{ "0,5,1", "0", "an index out of range ends the list" },
		{ "0,-1,1", "0", "-1 ends the list" },
		{ "1,1", "repeat", "a repeat: cuInit fails (101), as the real driver's" },
		{ "0,2,GPU-zz,0", "0,2", "a repeat after an invalid entry does not count" },
		{ "0,,1", "0", "an empty entry ends the list" },
		{ "", "", "empty: no GPU" },
		{ "x", "", "garbage: no GPU" },
		{ "-1", "", "-1: no GPU" },
		{ " 1", "1", "leading blanks before an index" },
		{ "1 ", "1", "trailing blanks too (measured on driver 580)" },
		{ "1x", "", "trailing garbage: invalid" },
		{ full1, "1", "a full virtual UUID" },
		{ prefix, "1", "a unique UUID prefix" },
		{ upper, "2", "UUID hex in upper case" },
		{ twice, "2,1", "UUIDs in sequence" },
		{ "GPU-", "", "GPU- alone names nothing (measured on driver 580)" },
		{ "GPU-x,1", "", "an unknown prefix: no GPU" },
		{ bad, "", "an unknown (e.g. physical) UUID: no GPU" },
		{ "MIG-0", "", "MIG: not supported" },
		{ "2,GPU-zz", "2", "an unknown UUID after a good index" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = selection(&t, cases[i].cvd);
		CHECK(strcmp(got, cases[i].want) == 0, "CUDA_VISIBLE_DEVICES=%s%s%s → [%s] (%s; got [%s])",
		      cases[i].cvd ? "'" : "", cases[i].cvd ? cases[i].cvd : "(unset)",
		      cases[i].cvd ? "'" : "", cases[i].want, cases[i].what, got);
	}
	unsigned sel[] = { 2, 0 };
	char list[256];
	CHECK(vdev_lower_list(&t, sel, 2, list, sizeof list) == 0 && strcmp(list, "2,0") == 0,
	      "the lower's list for [2,0]: '%s'", list);
	CHECK(vdev_lower_list(&t, sel, 0, list, sizeof list) == 0 && list[0] == '\0',
	      "the lower's list for no GPU is empty");
	CHECK(vdev_lower_list(&t, sel, 2, list, 3) == -1, "a list that does not fit is refused");
}

static void test_physical(void)
{
	struct policy p;
	struct vdev_table t;
	char why[256];
	policy_of(&p, "[gpu]\ndevice = 2\nmemory = 50%\n[gpu]\ndevice = GPU-AAAAAAAA-0000-0000-0000-000000000001\n");
	CHECK(vdev_build(&t, &p, gpus_dir, why, sizeof why) == 0, "physical policy builds (%s)", why);
	CHECK(!t.emulated && t.n == 2, "two physical virtual GPUs");
	CHECK(t.dev[0].lower_index == 2 && strcmp(t.dev[0].token, "GPU-cccccccc-0000-0000-0000-000000000003") == 0,
	      "index 2 = third in bus order (0000:c1:00.0), named to the lower by UUID: %s", t.dev[0].token);
	CHECK(t.dev[1].lower_index == 0 && strcmp(t.dev[1].lower_uuid, "GPU-aaaaaaaa-0000-0000-0000-000000000001") == 0,
	      "a UUID matches case-insensitively, index = bus order");
	CHECK(vdev_cap(&t.dev[0], 1000) == 500 && vdev_cap(&t.dev[1], 1000) == VDEV_NO_CAP,
	      "percent cap of the physical total; no cap");
	CHECK(vdev_cap(&t.dev[0], 150109880321ull) == 75054940160ull, "percent without overflow or rounding up");
	char list[512];
	unsigned sel[] = { 1, 0 };
	vdev_lower_list(&t, sel, 2, list, sizeof list);
	CHECK(strcmp(list, "GPU-aaaaaaaa-0000-0000-0000-000000000001,GPU-cccccccc-0000-0000-0000-000000000003") == 0,
	      "the lower's list by physical UUIDs");
	CHECK(strcmp(selection(&t, "GPU-aaaaaaaa-0000-0000-0000-000000000001"), "") == 0,
	      "a physical UUID selects nothing among virtual GPUs");

	policy_of(&p, "memory = 8G\n");
	CHECK(vdev_build(&t, &p, gpus_dir, why, sizeof why) == 0 && t.n == 3 && !t.passthrough,
	      "no [gpu]: every physical GPU, in bus order");
	CHECK(strcmp(t.dev[0].lower_uuid, "GPU-aaaaaaaa-0000-0000-0000-000000000001") == 0 &&
	      vdev_cap(&t.dev[2], 0) == 8ull << 30, "bus order, the global cap on each");
	CHECK(vdev_build(&t, &p, "/nonexistent", why, sizeof why) == 0 && t.passthrough && t.n == 0 &&
	      vdev_cap(&t.dev[5], 0) == 8ull << 30, "no GPU list to read: passthrough, the global cap");

	policy_of(&p, "[gpu]\ndevice = 7\n");
	CHECK(vdev_build(&t, &p, gpus_dir, why, sizeof why) == -1 && strstr(why, "GPU 7"),
	      "a GPU the machine lacks: %s", why);
	policy_of(&p, "[gpu]\ndevice = 0\n");
	CHECK(vdev_build(&t, &p, "/nonexistent", why, sizeof why) == -1 && strstr(why, "/nonexistent"),
	      "a physical GPU but no GPU list: %s", why);
}

int main(void)
{
	make_gpus_dir();
	test_emulated();
	test_physical();
	remove_gpus_dir();
	return check_done();
}
