#ifndef CK_SHA256_H
#define CK_SHA256_H

#include <stddef.h>
#include <stdint.h>

/// Incremental SHA-256 (FIPS 180-4): a portable C reference, and the x86 SHA extensions when present.
typedef struct {
    uint32_t state[8];
    uint64_t length;       /* bytes hashed so far */
    uint8_t block[64];     /* pending partial block */
    size_t blockUsed;
    int portableOnly;      /* 1: use the portable reference even when a faster variant exists */
} ck_sha256_ctx;

void ck_sha256_init(ck_sha256_ctx *ctx);
void ck_sha256_update(ck_sha256_ctx *ctx, const void *data, size_t length);
/// Writes the 32-byte digest; the context must be re-initialised before reuse.
void ck_sha256_final(ck_sha256_ctx *ctx, uint8_t digest[32]);
/// One-shot convenience.
void ck_sha256(const void *data, size_t length, uint8_t digest[32]);
/// One-shot with the portable reference compression function (for tests).
void ck_sha256_portable(const void *data, size_t length, uint8_t digest[32]);
/// "x86-sha" when the SHA extensions are used, else "portable".
const char *ck_sha256_implementation(void);

#endif
