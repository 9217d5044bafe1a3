/* Internal hooks of the Redis client for its tests. Not part of the public
 * API: services never include this header. */
#ifndef CITERNE_CACHE_INTERNAL_H
#define CITERNE_CACHE_INTERNAL_H

#include "citerne/cache.h"

/* How long a command may wait for its reply before the connection is
 * dropped and every pending command fails with CT_EUNAVAIL (default 10 s).
 * Loop thread. */
void ct__cache_set_command_timeout(ct_cache_t *c, unsigned ms);

#endif
