/* Password hashing on the libuv thread pool (see password.h). */
#include "password.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "citerne/error.h"
#include "citerne/log.h"

/* A hash takes a core for ~100 ms and the pool has more threads than the
 * machine has cores: the loop thread would queue behind them for the CPU.
 * A pool thread that hashes lowers its own priority once (Linux: the nice
 * value is per thread) so the loop, and the rest of the machine, win every
 * contest for a core; on an idle machine hashing runs as fast as before.
 * Lowering cannot be undone without privilege, so the thread keeps it for
 * other pool work too (DNS, files), which is not latency bound here. */
#define HASH_NICE 10

static void lower_priority_once(void)
{
    static _Thread_local bool done;
    if (done)
        return;
    done = true;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && now < HASH_NICE && setpriority(PRIO_PROCESS, (id_t)tid, HASH_NICE) != 0)
        ct_log_warn("password hashing: cannot lower the pool thread's priority: %s",
                    strerror(errno));
}

static void hash_work(uv_work_t *w)
{
    accounts_pw_job_t *job = w->data;
    lower_priority_once();
    job->result = crypto_pwhash_str(job->hash, job->password, job->len, job->ops, job->mem) == 0
                      ? 0
                      : CT_EINTERNAL;
}

static void verify_work(uv_work_t *w)
{
    accounts_pw_job_t *job = w->data;
    lower_priority_once();
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

/* Generated from data/common-passwords.txt (embed_data.cmake). */
extern const unsigned char accounts_common_passwords[];
extern const size_t accounts_common_passwords_len;

static char *common_text; /* a copy, lower-cased, lines NUL-terminated */
static const char **common;
static size_t ncommon;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int accounts_common_passwords_load(void)
{
    if (common)
        return 0;
    size_t len = accounts_common_passwords_len;
    common_text = malloc(len + 1);
    if (!common_text)
        return -ENOMEM;
    memcpy(common_text, accounts_common_passwords, len);
    common_text[len] = '\0';
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += common_text[i] == '\n';
    common = malloc(lines * sizeof *common);
    if (!common) {
        free(common_text);
        common_text = NULL;
        return -ENOMEM;
    }
    for (char *line = common_text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (line[0] && line[0] != '#') {
            for (char *c = line; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            common[ncommon++] = line;
        }
        line = end ? end + 1 : NULL;
    }
    qsort(common, ncommon, sizeof *common, cmp_str);
    return 0;
}

bool accounts_password_is_common(const char *password, size_t len)
{
    if (!common || len == 0 || len > 128 || memchr(password, '\0', len))
        return false;
    char lower[129];
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)(password[i] >= 'A' && password[i] <= 'Z' ? password[i] - 'A' + 'a'
                                                                   : password[i]);
    lower[len] = '\0';
    const char *key = lower;
    bool found = bsearch(&key, common, ncommon, sizeof *common, cmp_str) != NULL;
    sodium_memzero(lower, sizeof lower);
    return found;
}

size_t accounts_common_passwords_count(void)
{
    return ncommon;
}
