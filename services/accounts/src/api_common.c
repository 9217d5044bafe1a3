/* What every accounts handler shares: operator authentication, database
 * error replies. */
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "rules.h"

bool accounts_require_operator(accounts_t *a, ct_http_req_t *req)
{
    const char *auth = ct_http_header(req, "Authorization");
    static const char bearer[] = "Bearer ";
    if (auth && strncasecmp(auth, bearer, sizeof bearer - 1) == 0) {
        const char *key = auth + sizeof bearer - 1;
        unsigned char digest[crypto_generichash_BYTES];
        crypto_generichash(digest, sizeof digest, (const unsigned char *)key, strlen(key), NULL, 0);
        if (sodium_memcmp(digest, a->operator_digest, sizeof digest) == 0)
            return true;
    }
    ct_http_add_header(req, "WWW-Authenticate", "Bearer");
    ct_http_reply_problem(req, 401, "unauthenticated", "Operator key required",
                          "send Authorization: Bearer <operator key>");
    return false;
}

void accounts_reply_db_error(ct_http_req_t *req, const ct_db_error_t *err)
{
    if (err->status == CT_EUNAVAIL || err->status == CT_ECLOSED || err->status == CT_ETIMEOUT) {
        ct_http_add_header(req, "Retry-After", "1");
        ct_http_reply_error(req, err->status, NULL);
        return;
    }
    /* Only the first line: a DETAIL line may quote the row (an e-mail, a
     * password hash), which has no place in a log. */
    const char *msg = err->message ? err->message : "";
    ct_logc_error(ct_http_request_id(req), "database error %s: %.*s",
                  err->sqlstate ? err->sqlstate : "", (int)strcspn(msg, "\n"), msg);
    ct_http_reply_error(req, err->status == CT_EDB ? CT_EDB : CT_EINTERNAL, NULL);
}

void accounts_reply_failure(ct_http_req_t *req, int rc)
{
    ct_db_error_t err = {.status = rc, .sqlstate = "", .message = ct_strerror(rc)};
    accounts_reply_db_error(req, &err);
}

void accounts_client_addr_of(const accounts_t *a, ct_http_req_t *req, char out[ACCOUNTS_ADDR_MAX])
{
    const char *xff = a->trusted_proxies[0] ? ct_http_header(req, "X-Forwarded-For") : NULL;
    accounts_client_addr(ct_http_peer(req), xff, a->trusted_proxies, out);
}
