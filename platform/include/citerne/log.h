/* Logging: one JSON line per event on stdout with time (RFC 3339 UTC, ms),
 * level, service, msg and, when known, the correlation id ("cid").
 * The macros check the level before evaluating their arguments.
 * Thread-safe: each line is written with one write(2). Never log secrets. */
#ifndef CITERNE_LOG_H
#define CITERNE_LOG_H

typedef enum { CT_LOG_DEBUG = 0, CT_LOG_INFO, CT_LOG_WARN, CT_LOG_ERROR, CT_LOG_OFF } ct_log_level_t;

/* Sets the service name and minimum level. Call once at start, before threads. */
void ct_log_init(const char *service, ct_log_level_t level);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int ct_log_level_parse(const char *s, ct_log_level_t *out);

extern ct_log_level_t ct__log_level;
void ct__log_write(ct_log_level_t level, const char *cid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CT_LOG(lvl, cid, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) >= ct__log_level)                                                                \
            ct__log_write((lvl), (cid), __VA_ARGS__);                                              \
    } while (0)
#define ct_log_debug(...) CT_LOG(CT_LOG_DEBUG, NULL, __VA_ARGS__)
#define ct_log_info(...) CT_LOG(CT_LOG_INFO, NULL, __VA_ARGS__)
#define ct_log_warn(...) CT_LOG(CT_LOG_WARN, NULL, __VA_ARGS__)
#define ct_log_error(...) CT_LOG(CT_LOG_ERROR, NULL, __VA_ARGS__)
/* With a correlation id (event chain or request id). */
#define ct_logc_debug(cid, ...) CT_LOG(CT_LOG_DEBUG, cid, __VA_ARGS__)
#define ct_logc_info(cid, ...) CT_LOG(CT_LOG_INFO, cid, __VA_ARGS__)
#define ct_logc_warn(cid, ...) CT_LOG(CT_LOG_WARN, cid, __VA_ARGS__)
#define ct_logc_error(cid, ...) CT_LOG(CT_LOG_ERROR, cid, __VA_ARGS__)

#endif
