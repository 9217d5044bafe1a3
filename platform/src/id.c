/* UUIDv7 (RFC 9562, section 5.7) with the "monotonic random" method of
 * section 6.2: within one millisecond the 74 random bits (rand_a, rand_b) are
 * used as a counter and incremented, so ids sort in creation order. */
#include "citerne/id.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
    /* sodium_init only fails when no entropy source exists: nothing can be
     * done safely then, and randombytes_buf would abort on its own. */
    if (sodium_init() < 0)
        return;
}

static void ensure_sodium(void)
{
    pthread_once(&sodium_once, sodium_start);
}

int64_t ct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint16_t last_a; /* 12 bits */
static uint64_t last_b; /* 62 bits */

#define RAND_B_MASK ((UINT64_C(1) << 62) - 1)

void ct_uuid_v7(char out[CT_UUID_STRLEN + 1])
{
    ensure_sodium();
    uint8_t rnd[10];
    randombytes_buf(rnd, sizeof rnd);
    int64_t now = ct_now_ms();
    uint64_t ms = now > 0 ? (uint64_t)now : 0;
    uint16_t a;
    uint64_t b;

    pthread_mutex_lock(&uuid_lock);
    if (ms > last_ms) {
        /* Fresh random; the top bit of rand_a starts at zero so the counter
         * has room to grow before it would overflow into the timestamp. */
        a = (uint16_t)(((rnd[0] << 8) | rnd[1]) & 0x7ff);
        b = 0;
        for (int i = 2; i < 10; i++)
            b = (b << 8) | rnd[i];
        b &= RAND_B_MASK;
    } else {
        /* Same millisecond, or the clock stepped back: keep the last
         * timestamp and count up. */
        ms = last_ms;
        a = last_a;
        b = (last_b + 1) & RAND_B_MASK;
        if (b == 0) {
            a = (uint16_t)((a + 1) & 0xfff);
            if (a == 0)
                ms++; /* 2^74 ids in one ms: borrow the next millisecond */
        }
    }
    last_ms = ms;
    last_a = a;
    last_b = b;
    pthread_mutex_unlock(&uuid_lock);

    uint8_t u[16];
    for (int i = 0; i < 6; i++)
        u[i] = (uint8_t)(ms >> (40 - 8 * i));
    u[6] = (uint8_t)(0x70 | ((a >> 8) & 0x0f));
    u[7] = (uint8_t)(a & 0xff);
    u[8] = (uint8_t)(0x80 | ((b >> 56) & 0x3f));
    for (int i = 9; i < 16; i++)
        u[i] = (uint8_t)(b >> (8 * (15 - i)));

    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 0x0f];
    }
    *p = '\0';
}

bool ct_uuid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < CT_UUID_STRLEN; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return false;
        } else if (!isxdigit(ch)) {
            return false; /* also stops at a short string's '\0' */
        }
    }
    return s[CT_UUID_STRLEN] == '\0';
}

void ct_random_hex(char *out, size_t n)
{
    ensure_sodium();
    uint8_t buf[64];
    char *p = out;
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        randombytes_buf(buf, k);
        sodium_bin2hex(p, 2 * k + 1, buf, k);
        p += 2 * k;
        n -= k;
    }
    *p = '\0';
    sodium_memzero(buf, sizeof buf);
}
