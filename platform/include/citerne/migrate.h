/* Schema migrations: SQL files embedded in the binary at build time (see
 * cmake/embed.cmake), applied in order, each once, each in its own
 * transaction, under a Postgres advisory lock so replicas starting together
 * do not race. Applied names are recorded in ct_schema_migrations. */
#ifndef CITERNE_MIGRATE_H
#define CITERNE_MIGRATE_H

#include <stddef.h>

typedef struct {
    const char *name; /* "0001_init.sql" */
    const char *sql;
} ct_migration_t;

/* The platform's own tables (outbox, inbox), applied before a service's. */
extern const ct_migration_t platform_migrations[];
extern const size_t platform_migrations_count;

struct ct_db;
typedef void (*ct_migrate_cb)(int status, const char *message, void *udata);
/* Applies platform migrations then m[0..n). cb gets 0 or an error with a
 * message naming the failing file. */
int ct_migrate_run(struct ct_db *db, const ct_migration_t *m, size_t n, ct_migrate_cb cb,
                   void *udata);

#endif
