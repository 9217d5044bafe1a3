/* TOTP, sealed secrets, QR codes and recovery codes (see totp.h). */
#define _GNU_SOURCE
#include "totp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <liboath/oath.h>
#include <qrencode.h>

#include "citerne/error.h"
#include "citerne/id.h"

#define BOUND_ID_LEN 36

int accounts_totp_init(void)
{
    return oath_init() == OATH_OK ? 0 : CT_EINTERNAL;
}

int accounts_secret_key_parse(const char *hex, unsigned char key[ACCOUNTS_SECRET_KEY_BYTES])
{
    size_t len = 0;
    if (!hex || strlen(hex) != 2 * ACCOUNTS_SECRET_KEY_BYTES ||
        sodium_hex2bin(key, ACCOUNTS_SECRET_KEY_BYTES, hex, strlen(hex), NULL, &len, NULL) != 0 ||
        len != ACCOUNTS_SECRET_KEY_BYTES)
        return CT_ECONFIG;
    return 0;
}

void accounts_totp_seal(const unsigned char key[ACCOUNTS_SECRET_KEY_BYTES], const char *user_id,
                        const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES],
                        unsigned char box[ACCOUNTS_TOTP_BOX_BYTES])
{
    /* the user id inside the box: a box copied onto another user's row does
     * not open for them */
    unsigned char plain[BOUND_ID_LEN + ACCOUNTS_TOTP_SECRET_BYTES];
    memcpy(plain, user_id, BOUND_ID_LEN);
    memcpy(plain + BOUND_ID_LEN, secret, ACCOUNTS_TOTP_SECRET_BYTES);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, sizeof plain, box, key);
    sodium_memzero(plain, sizeof plain);
}

int accounts_totp_open(const unsigned char key[ACCOUNTS_SECRET_KEY_BYTES], const char *user_id,
                       const unsigned char *box, size_t len,
                       unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES])
{
    unsigned char plain[BOUND_ID_LEN + ACCOUNTS_TOTP_SECRET_BYTES];
    if (len != ACCOUNTS_TOTP_BOX_BYTES || !user_id || strlen(user_id) != BOUND_ID_LEN ||
        crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, box, key) != 0)
        return CT_EINTERNAL;
    int rc = 0;
    if (strncasecmp((const char *)plain, user_id, BOUND_ID_LEN) != 0)
        rc = CT_EINTERNAL;
    else
        memcpy(secret, plain + BOUND_ID_LEN, ACCOUNTS_TOTP_SECRET_BYTES);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

int accounts_totp_check(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], int64_t now,
                        const char *code, int64_t *step)
{
    if (!code || strlen(code) != ACCOUNTS_TOTP_DIGITS)
        return CT_EUNAUTH;
    for (size_t i = 0; i < ACCOUNTS_TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return CT_EUNAUTH;
    int pos = 0;
    uint64_t counter = 0;
    int rc = oath_totp_validate3((const char *)secret, ACCOUNTS_TOTP_SECRET_BYTES, (time_t)now,
                                 ACCOUNTS_TOTP_STEP_S, 0, 1, &pos, &counter, code);
    if (rc < 0)
        return CT_EUNAUTH;
    *step = (int64_t)counter;
    return 0;
}

void accounts_totp_code(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], int64_t now,
                        char out[ACCOUNTS_TOTP_DIGITS + 1])
{
    if (oath_totp_generate((const char *)secret, ACCOUNTS_TOTP_SECRET_BYTES, (time_t)now,
                           ACCOUNTS_TOTP_STEP_S, 0, ACCOUNTS_TOTP_DIGITS, out) != OATH_OK)
        out[0] = '\0';
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void url_encode(char *out, size_t outlen, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *in && n + 4 < outlen; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

char *accounts_totp_uri(const unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES], const char *email,
                        char **base32)
{
    char *b32 = NULL;
    size_t b32len = 0;
    if (oath_base32_encode((const char *)secret, ACCOUNTS_TOTP_SECRET_BYTES, &b32, &b32len) !=
        OATH_OK)
        return NULL;
    char label[3 * 256];
    url_encode(label, sizeof label, email ? email : "");
    char *uri = NULL;
    if (asprintf(&uri,
                 "otpauth://totp/Citerne:%s?secret=%s&issuer=Citerne&algorithm=SHA1&digits=%d"
                 "&period=%d",
                 label, b32, ACCOUNTS_TOTP_DIGITS, ACCOUNTS_TOTP_STEP_S) < 0)
        uri = NULL;
    if (base32 && uri)
        *base32 = b32;
    else {
        sodium_memzero(b32, b32len);
        free(b32);
    }
    return uri;
}

char *accounts_qr_svg(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return NULL;
    int w = qr->width, quiet = 4, size = w + 2 * quiet;
    /* at most one run per module, each "M123 123h123v1h-123z" */
    size_t cap = 256 + (size_t)w * (size_t)w * 24;
    char *svg = malloc(cap);
    if (!svg) {
        QRcode_free(qr);
        return NULL;
    }
    size_t n = (size_t)snprintf(svg, cap,
                                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
                                " shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\""
                                " fill=\"#fff\"/><path fill=\"#000\" d=\"",
                                size, size, size, size);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(qr->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (qr->data[y * w + x + run] & 1))
                run++;
            n += (size_t)snprintf(svg + n, cap - n, "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run,
                                  run);
            x += run;
        }
    }
    snprintf(svg + n, cap - n, "\"/></svg>");
    QRcode_free(qr);
    return svg;
}

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford's */

void accounts_recovery_code_new(char out[ACCOUNTS_RECOVERY_CODE_LEN + 1])
{
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i > 0 && i % 4 == 0)
            out[n++] = '-';
        out[n++] = alphabet[randombytes_uniform(32)];
    }
    out[n] = '\0';
}

bool accounts_recovery_code_hash(const char *typed, unsigned char out[crypto_hash_sha256_BYTES])
{
    char norm[17];
    size_t n = 0;
    for (; typed && *typed; typed++) {
        char c = *typed;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (n == 16 || !strchr(alphabet, c) || c == '\0')
            return false;
        norm[n++] = c;
    }
    if (n != 16)
        return false;
    crypto_hash_sha256(out, (const unsigned char *)norm, n);
    sodium_memzero(norm, sizeof norm);
    return true;
}
