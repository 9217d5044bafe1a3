/* Asynchronous Redis client (hiredis with its libuv adapter). Reconnects
 * with backoff; while disconnected, commands fail at once with CT_EUNAVAIL
 * (callers needing a session then fail closed with 503). */
#ifndef CITERNE_CACHE_H
#define CITERNE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <hiredis/hiredis.h>

typedef struct ct_cache ct_cache_t;
/* status 0 with a reply (borrowed for the callback), or CT_EUNAVAIL /
 * CT_ECLOSED with reply NULL. A Redis error reply is status 0 with
 * reply->type == REDIS_REPLY_ERROR. */
typedef void (*ct_cache_reply_cb)(int status, redisReply *reply, void *udata);

/* url: redis://host:port[/db] */
int ct_cache_new(uv_loop_t *loop, const char *url, ct_cache_t **out);
bool ct_cache_ready(const ct_cache_t *c);
/* Fails now (CT_EUNAVAIL, CT_ECLOSED) or calls cb exactly once. */
int ct_cache_command(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, const char *fmt, ...);
int ct_cache_command_argv(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, int argc,
                          const char **argv, const size_t *argvlen);
/* Pending commands get CT_ECLOSED; then cb(udata) and c is freed. */
void ct_cache_close(ct_cache_t *c, void (*cb)(void *udata), void *udata);

#endif
