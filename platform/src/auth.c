/* Bearer API keys: digests compared in constant time. */
#include "citerne/auth.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "citerne/error.h"
#include "citerne/log.h"

_Static_assert(sizeof(((ct_auth_key_t *)0)->hash) == crypto_generichash_BYTES,
               "ct_auth_key_t holds a BLAKE2b-256 digest");

static void digest(unsigned char out[crypto_generichash_BYTES], const char *s)
{
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)s, strlen(s), NULL, 0);
}

int ct_auth_key_init(ct_auth_key_t *k, const char *key)
{
    ct_auth_key_dispose(k);
    if (!key || !*key)
        return 0;
    if (strlen(key) < CT_AUTH_KEY_MIN)
        return CT_ECONFIG;
    digest(k->hash, key);
    k->set = true;
    return 0;
}

void ct_auth_key_dispose(ct_auth_key_t *k)
{
    sodium_memzero(k->hash, sizeof k->hash);
    k->set = false;
}

void ct_auth_key_config(ct_auth_key_t *k, ct_config_t *cfg, const char *name, bool required)
{
    const char *key = ct_config_str(cfg, name, required ? NULL : "");
    if (ct_auth_key_init(k, key) != 0)
        ct_config_fail(cfg, "%s: expected at least %d characters", name, CT_AUTH_KEY_MIN);
    else if (!k->set && !required)
        ct_log_warn("%s is not set: requests that need it are refused (401)", name);
}

bool ct_auth_bearer_ok(const ct_http_req_t *req, const ct_auth_key_t *k)
{
    if (!k || !k->set)
        return false;
    const char *h = ct_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *given = h + 7;
    while (*given == ' ')
        given++;
    unsigned char d[crypto_generichash_BYTES];
    digest(d, given);
    bool ok = sodium_memcmp(d, k->hash, sizeof d) == 0;
    sodium_memzero(d, sizeof d);
    return ok;
}

void ct_auth_reply_unauthorized(ct_http_req_t *req, const char *detail)
{
    ct_http_add_header(req, "WWW-Authenticate", "Bearer");
    ct_http_reply_error(req, CT_EUNAUTH, detail);
}

bool ct_auth_require(ct_http_req_t *req, const ct_auth_key_t *k, const char *detail)
{
    if (ct_auth_bearer_ok(req, k))
        return true;
    ct_auth_reply_unauthorized(req, detail);
    return false;
}
