/* TOTP (RFC 6238, liboath), its secret sealed at rest (crypto_secretbox),
 * the QR code of its otpauth URI (libqrencode, drawn as SVG) and recovery
 * codes. Pure functions (no I/O); any thread once accounts_totp_init ran. */
#ifndef ACCOUNTS_TOTP_H
#define ACCOUNTS_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define ACCOUNTS_TOTP_SECRET_BYTES 20 /* 160 bits, RFC 4226's recommendation */
#define ACCOUNTS_TOTP_STEP_S 30
#define ACCOUNTS_TOTP_DIGITS 6
#define ACCOUNTS_SECRET_KEY_BYTES crypto_secretbox_KEYBYTES
/* Sealed secret: nonce || MAC || user id (36) || secret. */
#define ACCOUNTS_TOTP_BOX_BYTES                                                                    \
    (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 36 + ACCOUNTS_TOTP_SECRET_BYTES)
#define ACCOUNTS_RECOVERY_CODES 10
/* "abcd-efgh-jkmn-pqrs": 16 characters of a 32-letter alphabet (80 bits). */
#define ACCOUNTS_RECOVERY_CODE_LEN 19

/* oath_init once, at start. 0 or CT_EINTERNAL. */
int accounts_totp_init(void);

/* Parses 64 hex digits into key. 0, or CT_ECONFIG for anything else. */
int accounts_secret_key_parse(const char *hex, unsigned char key[ACCOUNTS_SECRET_KEY_BYTES]);

/* Seals secret for user_id into box (ACCOUNTS_TOTP_BOX_BYTES). */
void accounts_totp_seal(const unsigned char key[ACCOUNTS_SECRET_KEY_BYTES], const char *user_id,
                        const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES],
                        unsigned char box[ACCOUNTS_TOTP_BOX_BYTES]);
/* Opens box; 0 when it is genuine and sealed for user_id, CT_EINTERNAL
 * otherwise (tampered, another key, another user's). */
int accounts_totp_open(const unsigned char key[ACCOUNTS_SECRET_KEY_BYTES], const char *user_id,
                       const unsigned char *box, size_t len,
                       unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES]);

/* Checks a 6-digit code at time now (Unix s) with one step of drift either
 * way. 0 and *step = the matching time step, or CT_EUNAUTH (wrong, or not
 * 6 ASCII digits). Replay is the caller's (accept only steps > the last). */
int accounts_totp_check(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], int64_t now,
                        const char *code, int64_t *step);
/* The code for time now (tests, and nothing else). */
void accounts_totp_code(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], int64_t now,
                        char out[ACCOUNTS_TOTP_DIGITS + 1]);

/* otpauth://totp/Citerne:<email>?secret=<base32>&issuer=Citerne&... (malloc'ed;
 * NULL on OOM). base32 (if not NULL) gets the secret alone (malloc'ed). */
char *accounts_totp_uri(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], const char *email,
                        char **base32);
/* The QR code of text as an SVG document (malloc'ed; NULL on failure). */
char *accounts_qr_svg(const char *text);

/* A fresh recovery code, "abcd-efgh-jkmn-pqrs". */
void accounts_recovery_code_new(char out[ACCOUNTS_RECOVERY_CODE_LEN + 1]);
/* SHA-256 of a code as typed (dashes and spaces dropped, lower-cased);
 * false when what is left is not 16 characters of the code alphabet. */
bool accounts_recovery_code_hash(const char *typed, unsigned char out[crypto_hash_sha256_BYTES]);

#endif
