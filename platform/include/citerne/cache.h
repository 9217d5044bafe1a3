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

/* url: redis://[[user]:password@]host[:port][/db] (port 6379 by default).
 * Connects in the background (host names resolved off the loop) and
 * reconnects with backoff from 100 ms to 5 s; 0 even if Redis is down now.
 * CT_ECONFIG (logged, password never shown) for a bad URL. Loop thread. */
int ct_cache_new(uv_loop_t *loop, const char *url, ct_cache_t **out);
/* Connected (AUTH and SELECT done): commands can be sent. */
bool ct_cache_ready(const ct_cache_t *c);
/* Fails now (CT_EUNAVAIL while not connected, CT_ECLOSED after close,
 * CT_EINPUT) and never calls cb, or calls cb exactly once later (never from
 * inside this call). fmt is hiredis's (%s, %b); argvlen NULL means strlen.
 * A reply overdue by 10 s drops the connection: that command and all those
 * behind it get CT_EUNAVAIL and the client reconnects (so blocking commands
 * must block for less). */
int ct_cache_command(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, const char *fmt, ...);
int ct_cache_command_argv(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, int argc,
                          const char **argv, const size_t *argvlen);
/* Pending commands get CT_ECLOSED (during this call); then, once the loop
 * has closed the handles, cb(udata) and c is freed. Safe inside a reply
 * callback. A second call is ignored. */
void ct_cache_close(ct_cache_t *c, void (*cb)(void *udata), void *udata);

#endif
