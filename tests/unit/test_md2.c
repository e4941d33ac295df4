/* MD2, HMAC-MD2 and the integrity answer against the vectors of
 * shared/reference/cudart-on-a-software-driver.md section 4 (RFC 1319's, a real
 * driver's, and a two-device case cudart accepted). */
#include <stdio.h>
#include <string.h>

#include "emulator/cuda/md2.h"
#include "tests/unit/check.h"

static const char *hex(const uint8_t d[16])
{
	static char s[33];
	for (int i = 0; i < 16; i++)
		snprintf(s + 2 * i, 3, "%02x", d[i]);
	return s;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

int main(void)
{
	uint8_t d[16];
	static const struct {
		const char *in, *want;
	} rfc[] = {
		{"", "8350e5a3e24c153df2275c9f80692773"},
		{"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"},
		{"abc", "da853b0d3f88d99b30283a69e6ded6bb"},
		{"message digest", "ab4f496bfb2a530b219ff33031fe06b0"},
		{"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "d5976f79d83d3a0dc9806c3c66f3efd8"},
	};
	for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
		md2(rfc[i].in, strlen(rfc[i].in), d);
		CHECK(strcmp(hex(d), rfc[i].want) == 0, "MD2(\"%.20s\") = %s", rfc[i].in, rfc[i].want);
	}

	/* Incremental updates in odd pieces give the one-shot digest. */
	const char *msg = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
	struct md2 c;
	md2_init(&c);
	md2_update(&c, msg, 7);
	md2_update(&c, msg + 7, 16);
	md2_update(&c, msg + 23, strlen(msg) - 23);
	md2_final(&c, d);
	CHECK(strcmp(hex(d), "d5976f79d83d3a0dc9806c3c66f3efd8") == 0, "MD2 in pieces");

	/* The real driver's answer (one device). */
	struct integrity_device one = {.pci_domain = 0, .pci_bus = 0, .pci_device = 6};
	unhex("1cab3a746d4a8fa497e44c7539868c50", one.uuid, 16);
	uint64_t out[2];
	integrity_digest(13000, 13002, 415, 0xafe3e140u, 0x7f73af156680ULL, 0x7f73af156660ULL,
			 0x7f73a9ab5350ULL, 1234567, &one, 1, out);
	CHECK(out[0] == 0xca5f5b3ea8383e7dULL && out[1] == 0x0b65e41329909f3cULL,
	      "integrity 13002, real driver vector (got %016llx %016llx)",
	      (unsigned long long)out[0], (unsigned long long)out[1]);
	integrity_digest(13000, 13012, 415, 0xafe3e140u, 0x7f73af156680ULL, 0x7f73af156660ULL,
			 0x7f73a9ab5350ULL, 1234567, &one, 1, out);
	CHECK(out[0] == 0x206c186fb704c5a2ULL && out[1] == 0x3883868ee7c4db65ULL,
	      "integrity 13012, real driver vector");

	/* The HMAC's inner digest of that message. */
	uint8_t m[76], ipad[16];
	static const uint8_t key[16] = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
					0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};
	unhex("c8320000ca3200009f01000040e1e3af", m, 16);
	uint64_t words[4] = {0x7f73af156680ULL, 0x7f73af156660ULL, 0x7f73a9ab5350ULL, 1234567};
	for (int w = 0; w < 4; w++)
		for (int i = 0; i < 8; i++)
			m[16 + 8 * w + i] = (uint8_t)(words[w] >> (8 * i));
	memcpy(m + 48, one.uuid, 16);
	memset(m + 64, 0, 12);
	m[72] = 6;
	for (int i = 0; i < 16; i++)
		ipad[i] = key[i] ^ 0x36;
	md2_init(&c);
	md2_update(&c, ipad, 16);
	md2_update(&c, m, sizeof m);
	md2_final(&c, d);
	CHECK(strcmp(hex(d), "b30d10ea2f3df7c1e758f788a33dbd29") == 0, "HMAC inner digest of the real driver's message");

	/* Two devices. */
	struct integrity_device two[2] = {
		{.pci_domain = 0, .pci_bus = 1, .pci_device = 0},
		{.pci_domain = 0, .pci_bus = 2, .pci_device = 0},
	};
	unhex("00112233445566778899aabbccddeeff", two[0].uuid, 16);
	unhex("ffeeddccbbaa99887766554433221100", two[1].uuid, 16);
	integrity_digest(13000, 13002, 4242, 0x11223344u, 0x7f0000001000ULL, 0x7f0000002000ULL,
			 0x7f0000003000ULL, 1700000000, two, 2, out);
	CHECK(out[0] == 0x814ca698ec0ad27cULL && out[1] == 0x5cff0ee363f40d53ULL,
	      "integrity 13002, two devices");

	/* Versions ending in 0 and 1: fixed answers. */
	integrity_digest(13000, 13000, 1, 2, 3, 4, 5, 6, &one, 1, out);
	CHECK(out[0] == 0x3341181c03cb675cULL && out[1] == 0x8ed383aa1f4cd1e8ULL, "integrity 13000: fixed words");
	integrity_digest(13000, 13001, 1, 2, 3, 4, 5, 6, &one, 1, out);
	CHECK(out[0] == 0x1841181c03cb675cULL && out[1] == 0x8ed383aa1f4cd1e8ULL, "integrity 13001: fixed words");
	return check_done();
}
