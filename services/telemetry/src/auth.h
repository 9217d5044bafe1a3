/* API keys sent as "Authorization: Bearer <key>". */
#ifndef TELEMETRY_AUTH_H
#define TELEMETRY_AUTH_H

#include <stdbool.h>

#include "citerne/http.h"

/* True when req carries "Authorization: Bearer <key>" with exactly key
 * (compared in constant time over SHA-256 digests, so neither the content nor
 * the length of the key leaks through timing). False for no key configured. */
bool telemetry_auth_bearer(const ct_http_req_t *req, const char *key);

/* Replies 401 problem with "WWW-Authenticate: Bearer". */
void telemetry_auth_reply_unauthorized(ct_http_req_t *req);

#endif
