/* Project error codes: one table yields the code, its name, message and HTTP
 * status (libuv's UV_ERRNO_MAP is the model). Functions return 0 or a
 * negative code: system errors as -errno, project errors as CT_E*. */
#ifndef CITERNE_ERROR_H
#define CITERNE_ERROR_H

/* XX(name, code, http_status, problem_type, message) */
#define CT_ERRNO_MAP(XX)                                                                          \
    XX(EINPUT, -10001, 400, "invalid-input", "the request is not valid")                           \
    XX(EUNAUTH, -10002, 401, "unauthenticated", "authentication is required")                      \
    XX(EFORBIDDEN, -10003, 403, "forbidden", "this action is not allowed")                         \
    XX(ENOTFOUND, -10004, 404, "not-found", "no such resource")                                    \
    XX(ECONFLICT, -10005, 409, "conflict", "the resource is not in a state that allows this")      \
    XX(ETOOBIG, -10006, 413, "body-too-large", "the request body is too large")                    \
    XX(EUNAVAIL, -10007, 503, "unavailable", "a dependency is unavailable, retry later")           \
    XX(EDB, -10008, 500, "database-error", "the database failed")                                  \
    XX(EBUS, -10009, 503, "bus-error", "the event bus failed")                                     \
    XX(EDECODE, -10010, 400, "undecodable", "the message could not be decoded")                    \
    XX(EINTERNAL, -10011, 500, "internal", "internal error")                                       \
    XX(ECONFIG, -10012, 500, "config", "invalid configuration")                                    \
    XX(ECLOSED, -10013, 503, "closed", "the service is shutting down")                             \
    XX(ETIMEOUT, -10014, 504, "timeout", "the operation timed out")                                \
    XX(EMEDIA, -10015, 415, "unsupported-media-type", "the body must be application/json")         \
    XX(EMETHOD, -10016, 405, "method-not-allowed", "method not allowed")

enum {
#define XX(name, code, status, type, msg) CT_##name = (code),
    CT_ERRNO_MAP(XX)
#undef XX
};

/* Message for a CT_E* code or a -errno value. Never NULL. */
const char *ct_strerror(int err);
/* Short stable name ("ENOTFOUND", or the errno name). Never NULL. */
const char *ct_err_name(int err);
/* HTTP status for a code: the table's for CT_E*, 500 for anything else. */
int ct_err_http_status(int err);
/* Stable problem type suffix ("not-found"), "internal" for unknown codes. */
const char *ct_err_problem_type(int err);

#endif
