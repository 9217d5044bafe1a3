/* Password hashing (argon2id, libsodium) on the libuv thread pool: the loop
 * never runs argon2. */
#ifndef ACCOUNTS_PASSWORD_H
#define ACCOUNTS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sodium.h>
#include <uv.h>

/* status 0: done (hash holds the argon2id string, or the password matched);
 * CT_EUNAUTH: the password does not match (verify only);
 * CT_EINTERNAL: hashing failed (out of memory); UV_ECANCELED: cancelled. */
typedef void (*accounts_pw_cb)(int status, const char *hash, void *udata);

/* One hashing job. The caller embeds it (in its request context) and keeps
 * it, and the password and hash it points to, alive until the callback. */
typedef struct {
    uv_work_t work;
    const char *password; /* borrowed; read on a pool thread */
    size_t len;
    const char *verify_hash; /* verify: the stored hash (borrowed) */
    unsigned long long ops;
    size_t mem;
    char hash[crypto_pwhash_STRBYTES]; /* hash: the result */
    int result;
    accounts_pw_cb cb;
    void *udata;
} accounts_pw_job_t;

/* Hashes password (len bytes) with crypto_pwhash_str(ops, mem) on the pool;
 * cb(status, job->hash, udata) on the loop. Returns 0 (cb will be called
 * once) or a libuv error (cb never called). */
int accounts_pw_hash(uv_loop_t *loop, accounts_pw_job_t *job, const char *password, size_t len,
                     unsigned long long ops, size_t mem, accounts_pw_cb cb, void *udata);

/* Verifies password against hash (crypto_pwhash_str_verify) on the pool;
 * cb(0 or CT_EUNAUTH, NULL, udata) on the loop. Same return as above. */
int accounts_pw_verify(uv_loop_t *loop, accounts_pw_job_t *job, const char *hash,
                       const char *password, size_t len, accounts_pw_cb cb, void *udata);

/* The embedded list of common passwords (data/common-passwords.txt, one a
 * line, '#' comments), made searchable once at start. 0, or -ENOMEM. Not
 * thread-safe: call before the loop runs. */
int accounts_common_passwords_load(void);
/* Whether password (len bytes) is on the list, ignoring ASCII case. False
 * before the list is loaded. Any thread once loaded. */
bool accounts_password_is_common(const char *password, size_t len);
/* Entries loaded (tests). */
size_t accounts_common_passwords_count(void);

#endif
