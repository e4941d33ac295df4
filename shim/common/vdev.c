#include "shim/common/vdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shim/common/physical_gpus.h"

/* 64-bit FNV-1a over n bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A 64-bit finaliser (splitmix64's), so that nearby inputs give unrelated bytes. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void vdev_make_uuid(unsigned v, const char *identity, unsigned char uuid[16])
{
	static const char tag[] = "vgpu-run virtual GPU";
	char idx[16];
	int n = snprintf(idx, sizeof idx, "/%u/", v);
	uint64_t h = fnv1a(0xcbf29ce484222325ull, tag, sizeof tag - 1);
	h = fnv1a(h, idx, (size_t)n);
	h = fnv1a(h, identity, strlen(identity));
	uint64_t a = mix(h), b = mix(h ^ 0x9e3779b97f4a7c15ull);
	for (int i = 0; i < 8; i++) {
		uuid[i] = (unsigned char)(a >> (8 * i));
		uuid[8 + i] = (unsigned char)(b >> (8 * i));
	}
	uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x80); /* version 8 */
	uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80); /* variant 10 */
}

void vdev_uuid_format(const unsigned char u[16], char text[VDEV_UUID_TEXT_MAX])
{
	snprintf(text, VDEV_UUID_TEXT_MAX,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static void finish(struct vdev *d, unsigned v, const char *identity, const char *name,
		   const struct policy_memory *memory)
{
	vdev_make_uuid(v, identity, d->uuid);
	vdev_uuid_format(d->uuid, d->uuid_text);
	snprintf(d->name, sizeof d->name, "%s", name);
	d->memory = *memory;
}

int vdev_build(struct vdev_table *t, const struct policy *p, const char *gpus_dir,
	       char *why, size_t whylen)
{
	memset(t, 0, sizeof *t);
	if (p->ngpus > 0 && p->gpus[0].source == POLICY_SOURCE_EMULATED) {
		/* policy_validate allows no mixing: every GPU is emulated, and the emulator
		 * enumerates them in this order. */
		t->emulated = 1;
		t->n = p->ngpus;
		for (unsigned v = 0; v < p->ngpus; v++) {
			const struct policy_gpu *g = &p->gpus[v];
			struct vdev *d = &t->dev[v];
			char identity[POLICY_PROFILE_MAX + 16];
			snprintf(identity, sizeof identity, "emulated:%s", g->profile);
			d->lower_index = (int)v;
			snprintf(d->token, sizeof d->token, "%u", v);
			finish(d, v, identity, g->name,
			       g->memory.kind != POLICY_MEMORY_UNSET ? &g->memory : &p->memory);
		}
		return 0;
	}

	static struct physical_gpu phys[PHYSICAL_GPUS_MAX]; /* start-up runs under a lock */
	int nphys = physical_gpus_list(gpus_dir, phys);
	if (p->ngpus == 0) {
		if (nphys <= 0) {
			t->passthrough = 1;
			for (unsigned v = 0; v < VDEV_MAX; v++) {
				t->dev[v].lower_index = (int)v;
				t->dev[v].memory = p->memory;
			}
			return 0;
		}
		t->n = nphys < VDEV_MAX ? (unsigned)nphys : VDEV_MAX;
		for (unsigned v = 0; v < t->n; v++) {
			struct vdev *d = &t->dev[v];
			d->lower_index = (int)v;
			snprintf(d->lower_uuid, sizeof d->lower_uuid, "%s", phys[v].uuid);
			/* Without a UUID the index (CUDA_DEVICE_ORDER is set to PCI_BUS_ID with it). */
			snprintf(d->token, sizeof d->token, "%s", phys[v].uuid[0] ? phys[v].uuid : "");
			if (!d->token[0])
				snprintf(d->token, sizeof d->token, "%u", v);
			finish(d, v, d->token, "", &p->memory);
		}
		return 0;
	}

	if (nphys < 0) {
		snprintf(why, whylen, "cannot list the physical GPUs: %s: %s", gpus_dir,
			 strerror(errno));
		return -1;
	}
	t->n = p->ngpus;
	for (unsigned v = 0; v < p->ngpus; v++) {
		const struct policy_gpu *g = &p->gpus[v];
		struct vdev *d = &t->dev[v];
		int k;
		if (g->source == POLICY_SOURCE_INDEX) {
			k = (int)g->index < nphys ? (int)g->index : -1;
			if (k < 0) {
				snprintf(why, whylen, "GPU %u of the policy: this machine has %d GPUs",
					 g->index, nphys);
				return -1;
			}
		} else {
			k = physical_gpus_find_uuid(phys, nphys, g->uuid);
			if (k < 0) {
				snprintf(why, whylen, "GPU %s of the policy: no such GPU in %s", g->uuid,
					 gpus_dir);
				return -1;
			}
		}
		d->lower_index = k;
		snprintf(d->lower_uuid, sizeof d->lower_uuid, "%s", phys[k].uuid);
		if (phys[k].uuid[0])
			snprintf(d->token, sizeof d->token, "%s", phys[k].uuid);
		else
			snprintf(d->token, sizeof d->token, "%d", k);
		finish(d, v, d->token, g->name,
		       g->memory.kind != POLICY_MEMORY_UNSET ? &g->memory : &p->memory);
	}
	return 0;
}

/* One entry of CUDA_VISIBLE_DEVICES (s, n bytes) → a virtual index, or -1.  The real
 * driver's rules where NVIDIA's guide is silent, measured on driver 580
 * (docs/gpu-validation.md): blanks around an entry do not matter, "GPU-" alone names
 * nothing. */
static int entry_to_vdev(const struct vdev_table *t, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+' || (s[i] >= '0' && s[i] <= '9'))) {
		int neg = s[i] == '-';
		if (s[i] == '-' || s[i] == '+')
			i++;
		if (i == n)
			return -1;
		unsigned long long x = 0;
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || x > 1000000)
				return -1;
			x = x * 10 + (unsigned)(s[i] - '0');
		}
		return !neg && x < t->n ? (int)x : -1;
	}
	/* A UUID or a prefix of one, "GPU-" included, naming exactly one virtual GPU. */
	if (n <= 4 || strncasecmp(s, "GPU-", 4) != 0)
		return -1;
	int found = -1;
	for (unsigned v = 0; v < t->n; v++) {
		if (n <= strlen(t->dev[v].uuid_text) &&
		    strncasecmp(s, t->dev[v].uuid_text, n) == 0) {
			if (found >= 0)
				return -1; /* ambiguous */
			found = (int)v;
		}
	}
	return found;
}

int vdev_select(const struct vdev_table *t, const char *cvd, unsigned out[VDEV_MAX])
{
	unsigned n = 0;
	if (!cvd) {
		for (unsigned v = 0; v < t->n; v++)
			out[n++] = v;
		return (int)n;
	}
	const char *s = cvd;
	while (*s && n < VDEV_MAX) {
		size_t len = strcspn(s, ",");
		int v = entry_to_vdev(t, s, len);
		if (v < 0)
			break;
		for (unsigned k = 0; k < n; k++)
			if (out[k] == (unsigned)v)
				return VDEV_SELECT_REPEAT;
		out[n++] = (unsigned)v;
		if (!s[len])
			break;
		s += len + 1;
	}
	return (int)n;
}

int vdev_lower_list(const struct vdev_table *t, const unsigned *sel, unsigned nsel, char *buf,
		    size_t buflen)
{
	size_t used = 0;
	if (buflen == 0)
		return -1;
	buf[0] = '\0';
	for (unsigned k = 0; k < nsel; k++) {
		int m = snprintf(buf + used, buflen - used, "%s%s", k ? "," : "",
				 t->dev[sel[k]].token);
		if (m < 0 || (size_t)m >= buflen - used)
			return -1;
		used += (size_t)m;
	}
	return 0;
}

uint64_t vdev_cap(const struct vdev *d, uint64_t physical_total)
{
	switch (d->memory.kind) {
	case POLICY_MEMORY_BYTES:
		return d->memory.bytes;
	case POLICY_MEMORY_PERCENT:
		/* percent <= 100: no overflow for any real memory size */
		return physical_total / 100 * d->memory.percent +
		       physical_total % 100 * d->memory.percent / 100;
	default:
		return VDEV_NO_CAP;
	}
}

int vdev_find_uuid(const struct vdev_table *t, const char *text)
{
	for (unsigned v = 0; v < t->n; v++)
		if (strcasecmp(text, t->dev[v].uuid_text) == 0)
			return (int)v;
	return -1;
}
