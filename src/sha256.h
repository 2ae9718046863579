/*
 * SHA-256, used for step checksums and the event log's hash chain.
 */
#ifndef EXCON_SHA256_H
#define EXCON_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	blk[64];
	size_t		nblk;
};

/* Starts a new digest. */
void sha256_init(struct sha256 *c);
/* Feeds n bytes. */
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* Finishes and writes 64 lowercase hex digits and a NUL into out. */
void sha256_final_hex(struct sha256 *c, char out[65]);
/* One-shot: hex digest of data. */
void sha256_hex(const void *data, size_t n, char out[65]);

#endif
