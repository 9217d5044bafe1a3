/* API keys sent as "Authorization: Bearer <key>". */
#ifndef ORDERS_AUTH_H
#define ORDERS_AUTH_H

#include <stdbool.h>

#include "citerne/http.h"

/* True when req carries "Authorization: Bearer <key>" with exactly key
 * (compared in constant time over SHA-256 digests, so neither the content nor
 * the length of the key leaks through timing). False for no key configured. */
bool orders_auth_bearer(const ct_http_req_t *req, const char *key);

/* Replies 401 problem with "WWW-Authenticate: Bearer". */
void orders_auth_reply_unauthorized(ct_http_req_t *req);

#endif
