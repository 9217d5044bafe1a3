/* Identifiers and time. */
#ifndef CITERNE_ID_H
#define CITERNE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_UUID_STRLEN 36
/* UUIDv7 (RFC 9562): 48-bit Unix ms, then random bits from libsodium;
 * monotonic within a process. out holds CT_UUID_STRLEN + 1 bytes. Thread-safe. */
void ct_uuid_v7(char out[CT_UUID_STRLEN + 1]);
/* Canonical 8-4-4-4-12 hex form (any case). */
bool ct_uuid_valid(const char *s);
/* Wall clock, Unix ms. */
int64_t ct_now_ms(void);
/* Hex of n random bytes (libsodium) into out (2n + 1 bytes). */
void ct_random_hex(char *out, size_t n);

#endif
