/* MD2 (RFC 1319) and HMAC-MD2 (RFC 2104, block size 16): the hash of the integrity
 * check cudart runs against the driver (export_tables.c).  Short inputs only; no
 * allocation. */
#ifndef VGPU_EMU_MD2_H
#define VGPU_EMU_MD2_H

#include <stddef.h>
#include <stdint.h>

struct md2 {
	uint8_t state[48];
	uint8_t checksum[16];
	uint8_t buf[16];
	size_t n;       /* bytes in buf */
};

void md2_init(struct md2 *c);
void md2_update(struct md2 *c, const void *data, size_t len);
void md2_final(struct md2 *c, uint8_t digest[16]);
void md2(const void *data, size_t len, uint8_t digest[16]);
void hmac_md2(const uint8_t key[16], const void *msg, size_t len, uint8_t out[16]);

/* The answer of INTEGRITY_CHECK slot 1 (cudart-on-a-software-driver.md section 4):
 * for version % 10 == 0 or 1 fixed words, else HMAC-MD2 under cudart's key of the
 * message built from these inputs.  out[0], out[1] as cudart reads them. */
struct integrity_device {
	uint8_t uuid[16];
	int32_t pci_domain, pci_bus, pci_device;
};
void integrity_digest(int32_t driver_version, uint32_t version, uint32_t pid, uint32_t tid,
		      uint64_t cudart_table, uint64_t integrity_table, uint64_t function,
		      uint64_t unix_seconds, const struct integrity_device *devices,
		      unsigned ndevices, uint64_t out[2]);

#endif
