/* Password hashing on the libuv thread pool (see password.h). */
#include "password.h"

#include <string.h>

#include "citerne/error.h"

static void hash_work(uv_work_t *w)
{
    accounts_pw_job_t *job = w->data;
    job->result = crypto_pwhash_str(job->hash, job->password, job->len, job->ops, job->mem) == 0
                      ? 0
                      : CT_EINTERNAL;
}

static void verify_work(uv_work_t *w)
{
    accounts_pw_job_t *job = w->data;
    job->result =
        crypto_pwhash_str_verify(job->verify_hash, job->password, job->len) == 0 ? 0 : CT_EUNAUTH;
}

static void after_work(uv_work_t *w, int status)
{
    accounts_pw_job_t *job = w->data;
    int rc = status != 0 ? status : job->result;
    job->cb(rc, rc == 0 && !job->verify_hash ? job->hash : NULL, job->udata);
}

int accounts_pw_hash(uv_loop_t *loop, accounts_pw_job_t *job, const char *password, size_t len,
                     unsigned long long ops, size_t mem, accounts_pw_cb cb, void *udata)
{
    memset(job, 0, sizeof *job);
    job->password = password;
    job->len = len;
    job->ops = ops;
    job->mem = mem;
    job->cb = cb;
    job->udata = udata;
    job->work.data = job;
    return uv_queue_work(loop, &job->work, hash_work, after_work);
}

int accounts_pw_verify(uv_loop_t *loop, accounts_pw_job_t *job, const char *hash,
                       const char *password, size_t len, accounts_pw_cb cb, void *udata)
{
    memset(job, 0, sizeof *job);
    job->password = password;
    job->len = len;
    job->verify_hash = hash;
    job->cb = cb;
    job->udata = udata;
    job->work.data = job;
    return uv_queue_work(loop, &job->work, verify_work, after_work);
}
