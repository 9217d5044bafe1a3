/* Internal hooks of the HTTP server for its tests and fuzz targets. Not part
 * of the public API: services never include this header. */
#ifndef CITERNE_HTTP_INTERNAL_H
#define CITERNE_HTTP_INTERNAL_H

#include <stddef.h>
#include <uv.h>

#include "citerne/http.h"

/* Serves an already connected stream socket (a socketpair end, say) as if it
 * had been accepted by the listener. On success the server owns fd and closes
 * it with the connection; on failure (negative code) the caller still owns it.
 * Loop thread only. */
int ct__http_adopt(ct_http_server_t *srv, uv_os_sock_t fd);
/* Connections open or closing (not yet freed). */
size_t ct__http_conn_count(const ct_http_server_t *srv);
/* A request with no connection and no server, as one whose client has gone:
 * every accessor works, the reply is counted, logged and dropped, and the
 * request is freed by it. content_type and body may be NULL. Aborts on OOM. */
ct_http_req_t *ct__http_req_fake(const char *method, const char *path, const char *content_type,
                                 const void *body, size_t len);
/* Adds a request header to a fake request (strings copied). */
void ct__http_req_fake_header(ct_http_req_t *req, const char *name, const char *value);
/* Status of the last reply made on this thread (0 before the first): lets a
 * test or fuzz target check what a dropped reply would have said. */
int ct__http_last_status(void);

#endif
