#include "auth.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "citerne/error.h"

bool telemetry_auth_bearer(const ct_http_req_t *req, const char *key)
{
    const char *h = ct_http_header(req, "Authorization");
    if (!key || !*key || !h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *given = h + 7;
    while (*given == ' ')
        given++;
    unsigned char a[crypto_hash_sha256_BYTES], b[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(a, (const unsigned char *)given, strlen(given));
    crypto_hash_sha256(b, (const unsigned char *)key, strlen(key));
    return sodium_memcmp(a, b, sizeof a) == 0;
}

void telemetry_auth_reply_unauthorized(ct_http_req_t *req)
{
    ct_http_add_header(req, "WWW-Authenticate", "Bearer");
    ct_http_reply_error(req, CT_EUNAUTH, "a valid API key is required");
}
