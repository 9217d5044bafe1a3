/* accounts rules: customer numbers, SIRET, VAT rates, plans by segment,
 * e-mail normalisation, E.164 phones, password length in code points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "csv.h"
#include "password.h"
#include "rules.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void check_bool(const char *what, const char *input, bool got, bool want)
{
    if (got != want)
        fail_msg("%s(\"%s\") = %s, want %s", what, input ? input : "(null)", got ? "true" : "false",
                 want ? "true" : "false");
}

static void customer_number_is_C_and_6_to_10_digits(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"C123456", true},       {"C1234567890", true}, {"C000000", true}, {"C12345", false},
        {"C12345678901", false}, {"c123456", false},    {"123456", false}, {"C12345a", false},
        {"C 123456", false},     {"C123456 ", false},   {"", false},       {"C", false},
        {"CC123456", false},     {"C-123456", false},   {NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        check_bool("customer_number_valid", cases[i].in,
                   accounts_customer_number_valid(cases[i].in), cases[i].ok);
}

static void siret_is_exactly_14_digits(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"73282932000074", true},
        {"12345678901234", true},
        {"1234567890123", false},
        {"123456789012345", false},
        {"7328293200007A", false},
        {"732 829 320 00074", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        check_bool("siret_valid", cases[i].in, accounts_siret_valid(cases[i].in), cases[i].ok);
}

static void vat_rate_is_one_of_three_rates(void **state)
{
    (void)state;
    static const struct {
        long long bp;
        bool ok;
    } cases[] = {{550, true},    {1000, true}, {2000, true},  {0, false},
                 {-2000, false}, {20, false},  {1999, false}, {2100, false}};
    for (size_t i = 0; i < COUNT(cases); i++)
        if (accounts_vat_rate_valid(cases[i].bp) != cases[i].ok)
            fail_msg("vat_rate_valid(%lld) = %d, want %d", cases[i].bp, !cases[i].ok, cases[i].ok);
}

static void maintenance_plan_depends_on_segment(void **state)
{
    (void)state;
    static const struct {
        const char *segment, *plan;
        bool ok;
    } cases[] = {
        {"household", "none", true},
        {"business", "none", true},
        {"household", "preference", true},
        {"household", "privilege", true},
        {"household", "pacte_maintenance", false},
        {"business", "pacte_maintenance", true},
        {"business", "preference", false},
        {"business", "privilege", false},
        {"household", "gold", false},
        {"farm", "none", false},
        {NULL, "none", false},
        {"household", NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        bool got = accounts_plan_allowed(cases[i].segment, cases[i].plan);
        if (got != cases[i].ok)
            fail_msg("plan_allowed(%s, %s) = %d, want %d",
                     cases[i].segment ? cases[i].segment : "(null)",
                     cases[i].plan ? cases[i].plan : "(null)", got, cases[i].ok);
    }
}

static void email_is_trimmed_lowercased_and_checked(void **state)
{
    (void)state;
    char long_local[100], long_addr[300];
    memset(long_local, 'a', 65);
    strcpy(long_local + 65, "@example.com"); /* local part of 65: too long */
    memset(long_addr, 'b', 64);
    long_addr[64] = '@';
    /* domain of 190 characters in labels of 62 + '.': total 255 > 254 */
    char *d = long_addr + 65;
    for (int l = 0; l < 3; l++) {
        memset(d, 'c', 62);
        d[62] = '.';
        d += 63;
    }
    strcpy(d, "fr");
    static const struct {
        const char *in;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"Jean.Dupont@Example.COM", "jean.dupont@example.com"},
        {"  marie+gaz@exemple.fr\t", "marie+gaz@exemple.fr"},
        {"a@b", "a@b"},
        {"o'brien@mail.example.ie", "o'brien@mail.example.ie"},
        {"x@sub-domain.example.com", "x@sub-domain.example.com"},
        {"ab", NULL},
        {"@example.com", NULL},
        {"jean@", NULL},
        {"jean", NULL},
        {"jean@@example.com", NULL},
        {"jean@exa@mple.com", NULL},
        {"jean dupont@example.com", NULL},
        {"jean@exa mple.com", NULL},
        {"jean@example..com", NULL},
        {"jean@.example.com", NULL},
        {"jean@example.com.", NULL},
        {"jean@-example.com", NULL},
        {"jean@example-.com", NULL},
        {"jean@exam_ple.com", NULL},
        {"\"jean\"@example.com", NULL},
        {"jean<x>@example.com", NULL},
        {"j\xc3\xa9@example.com", NULL},
        {"", NULL},
        {"   ", NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char out[ACCOUNTS_EMAIL_MAX + 1];
        int rc = accounts_email_normalise(cases[i].in, out);
        if (cases[i].want) {
            if (rc != 0)
                fail_msg("email_normalise(\"%s\") refused, want \"%s\"", cases[i].in,
                         cases[i].want);
            assert_string_equal(out, cases[i].want);
        } else if (rc == 0) {
            fail_msg("email_normalise(\"%s\") accepted as \"%s\", want refused", cases[i].in, out);
        } else {
            assert_string_equal(out, "");
        }
    }
    char out[ACCOUNTS_EMAIL_MAX + 1];
    assert_int_equal(accounts_email_normalise(long_local, out), -1);
    assert_int_equal(accounts_email_normalise(long_addr, out), -1);
    assert_int_equal(accounts_email_normalise(NULL, out), -1);
    /* exactly 254 characters is accepted */
    long_addr[254] = '\0';
    long_addr[253] = 'r';
    long_addr[252] = 'f';
    long_addr[251] = '.';
    assert_int_equal(strlen(long_addr), 254);
    assert_int_equal(accounts_email_normalise(long_addr, out), 0);
}

static void phone_is_e164(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"+33612345678", true},
        {"+12025550123", true},
        {"+49301234", true},
        {"+123456789012345", true},
        {"+1234567", false},
        {"+1234567890123456", false},
        {"0612345678", false},
        {"33612345678", false},
        {"+33 6 12 34 56 78", false},
        {"+0612345678", false},
        {"+3361234567a", false},
        {"+", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        check_bool("phone_valid", cases[i].in, accounts_phone_valid(cases[i].in), cases[i].ok);
}

static void utf8_length_counts_code_points_and_refuses_bad_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        long want;
    } cases[] = {
        {"", 0},
        {"abc", 3},
        {"\xc3\xa9t\xc3\xa9", 3},                /* été */
        {"\xe2\x82\xac", 1},                     /* € */
        {"\xf0\x9f\x94\xa5\xf0\x9f\x94\xa5", 2}, /* two emoji */
        {"\xc3", -1},                            /* truncated */
        {"\x80", -1},                            /* lone continuation */
        {"\xc0\xaf", -1},                        /* overlong '/' */
        {"\xe0\x80\xaf", -1},                    /* overlong, 3 bytes */
        {"\xed\xa0\x80", -1},                    /* surrogate D800 */
        {"\xf4\x90\x80\x80", -1},                /* past U+10FFFF */
        {"\xff", -1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        long got = accounts_utf8_length(cases[i].in, strlen(cases[i].in));
        if (got != cases[i].want)
            fail_msg("utf8_length(case %zu) = %ld, want %ld", i, got, cases[i].want);
    }
}

static void password_length_is_12_to_128_code_points(void **state)
{
    (void)state;
    char buf[600];
    static const struct {
        const char *unit; /* repeated n times */
        int n;
        bool ok;
    } cases[] = {
        {"a", 11, false},
        {"a", 12, true},
        {"a", 128, true},
        {"a", 129, false},
        {"\xc3\xa9", 12, true},          /* 24 bytes, 12 code points */
        {"\xc3\xa9", 11, false},         /* 22 bytes but 11 code points */
        {"\xf0\x9f\x94\xa5", 128, true}, /* 512 bytes, 128 code points */
        {"\xf0\x9f\x94\xa5", 129, false},
        {"\xf0\x9f\x94\xa5", 3, false}, /* 12 bytes, 3 code points */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t ul = strlen(cases[i].unit), len = 0;
        for (int k = 0; k < cases[i].n; k++, len += ul)
            memcpy(buf + len, cases[i].unit, ul);
        buf[len] = '\0';
        bool got = accounts_password_length_ok(buf, len);
        if (got != cases[i].ok)
            fail_msg("password of %d x \"%s\" (%zu bytes): %d, want %d", cases[i].n, cases[i].unit,
                     len, got, cases[i].ok);
    }
    assert_false(
        accounts_password_length_ok("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12));
    assert_false(accounts_password_length_ok(NULL, 0));
}

static void text_must_hold_something_besides_spaces(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"Dupont", true}, {" Dupont ", true}, {"\xc3\x89lodie", true}, {"", false},
        {"   ", false},   {"\t\n", false},    {NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        check_bool("text_ok", cases[i].in, accounts_text_ok(cases[i].in, 1, 200), cases[i].ok);
    char name[202];
    memset(name, 'x', 201);
    name[201] = '\0';
    assert_false(accounts_text_ok(name, 1, 200));
    name[200] = '\0';
    assert_true(accounts_text_ok(name, 1, 200));
}

static void session_key_is_sha256_of_the_token(void **state)
{
    (void)state;
    char key[ACCOUNTS_SESSION_KEY_MAX];
    /* SHA-256("abc"), FIPS 180-2 test vector */
    accounts_session_key("abc", key);
    assert_string_equal(key, "ct:session:"
                             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void uuid_is_copied_lowercase(void **state)
{
    (void)state;
    char out[37];
    accounts_uuid_lower(out, "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B");
    assert_string_equal(out, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
}

/* A small deterministic generator, so a failure replays. */
static uint32_t rng = 2463534242u;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Random bytes biased towards the interesting ones (UTF-8 lead and
 * continuation bytes, '@', '.', '-', letters, spaces). */
static size_t random_text(char *buf, size_t max)
{
    static const char alphabet[] =
        "aZ09@.-_+ \t\"<>\xc3\xa9\xe2\x82\xac\xf0\x9f\x80\xbf\xed\xa0\xf4\x90\xc0\xff";
    size_t n = next_rand() % max;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = next_rand();
        buf[i] = (r & 1) ? alphabet[(r >> 1) % (sizeof alphabet - 1)] : (char)(1 + (r >> 8) % 255);
    }
    buf[n] = '\0';
    return n;
}

static void utf8_length_agrees_with_jansson_on_random_bytes(void **state)
{
    (void)state;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        size_t n = random_text(buf, sizeof buf - 1);
        json_t *j = json_stringn(buf, n); /* NULL for invalid UTF-8 */
        long got = accounts_utf8_length(buf, n);
        if ((got >= 0) != (j != NULL))
            fail_msg("iteration %d: utf8_length %ld but jansson %s", i, got,
                     j ? "accepts" : "refuses");
        json_decref(j);
    }
}

static void email_normalise_is_idempotent_on_random_input(void **state)
{
    (void)state;
    char buf[64], out[ACCOUNTS_EMAIL_MAX + 1], again[ACCOUNTS_EMAIL_MAX + 1];
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        random_text(buf, sizeof buf - 1);
        if (next_rand() % 4 == 0) /* make an address-like shape likelier */
            snprintf(buf, sizeof buf, "%c@%c.%c", 'a' + (int)(next_rand() % 26),
                     'A' + (int)(next_rand() % 26), '0' + (int)(next_rand() % 10));
        if (accounts_email_normalise(buf, out) != 0) {
            assert_string_equal(out, "");
            continue;
        }
        accepted++;
        assert_int_equal(accounts_email_normalise(out, again), 0);
        assert_string_equal(out, again);
        for (const char *p = out; *p; p++)
            if ((*p >= 'A' && *p <= 'Z') || (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                fail_msg("normalised \"%s\" holds a byte 0x%02x it should not", out,
                         (unsigned char)*p);
    }
    assert_true(accepted > 1000); /* the generator does reach valid addresses */
}

static void client_addr_is_the_peer_unless_a_trusted_proxy_forwards(void **state)
{
    (void)state;
    static const struct {
        const char *peer, *xff, *trusted, *want;
    } cases[] = {
        {"192.0.2.7:51000", NULL, "", "192.0.2.7"},
        {"[2001:db8::1]:443", NULL, NULL, "2001:db8::1"},
        {"local", NULL, "", "local"},
        {"192.0.2.7:51000", "203.0.113.9", "", "192.0.2.7"},         /* no proxy trusted */
        {"192.0.2.7:51000", "203.0.113.9", "10.0.0.1", "192.0.2.7"}, /* not that peer */
        {"10.0.0.1:40000", "203.0.113.9", "10.0.0.1", "203.0.113.9"},
        {"10.0.0.1:40000", "1.1.1.1, 203.0.113.9", "10.0.0.2, 10.0.0.1", "203.0.113.9"},
        {"10.0.0.1:40000", "1.1.1.1,  2001:db8::5 ", "10.0.0.1", "2001:db8::5"},
        {"10.0.0.1:40000", "not-an-ip", "10.0.0.1", "10.0.0.1"}, /* junk: the peer */
        {"10.0.0.1:40000", "", "10.0.0.1", "10.0.0.1"},
        {"10.0.0.1:40000", "1.1.1.1,", "10.0.0.1", "10.0.0.1"},
        {"10.0.0.1:40000", NULL, "10.0.0.1", "10.0.0.1"},
        {"10.0.0.10:40000", "203.0.113.9", "10.0.0.1", "10.0.0.10"}, /* exact match only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[ACCOUNTS_ADDR_MAX];
        accounts_client_addr(cases[i].peer, cases[i].xff, cases[i].trusted, out);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("peer %s xff %s trusted %s: got %s, want %s", cases[i].peer,
                     cases[i].xff ? cases[i].xff : "(none)",
                     cases[i].trusted ? cases[i].trusted : "(none)", out, cases[i].want);
    }
}

static void device_label_names_browser_and_system(void **state)
{
    (void)state;
    static const struct {
        const char *ua, *want;
    } cases[] = {
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
         " Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
         "Edge on Windows"},
        {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
         " Chrome/126.0.0.0 Mobile Safari/537.36",
         "Chrome on Android"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
         " Version/17.5 Safari/605.1.15",
         "Safari on macOS"},
        {"curl/8.5.0", "curl"},
        {"", "Unknown device"},
        {NULL, "Unknown device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        accounts_device_label(cases[i].ua, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void time_text_is_rfc3339_utc_with_ms(void **state)
{
    (void)state;
    char out[32];
    accounts_time_text(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    accounts_time_text(1795332329790LL, out);
    assert_string_equal(out, "2026-11-22T07:25:29.790Z");
}

static void common_passwords_are_refused_whatever_their_case(void **state)
{
    (void)state;
    assert_int_equal(accounts_common_passwords_load(), 0);
    assert_int_equal(accounts_common_passwords_count(), 30000);
    assert_true(accounts_password_is_common("123qweasdzxc", 12));
    assert_true(accounts_password_is_common("1QAZ2WSX3EDC", 12));
    assert_true(accounts_password_is_common("password", 8));
    assert_false(accounts_password_is_common("correct horse battery", 21));
    assert_false(accounts_password_is_common("123qweasdzxc!", 13));
    assert_false(accounts_password_is_common("", 0));
}

typedef struct {
    char out[2048];
    size_t n;
} csv_seen_t;

static int collect(const accounts_csv_record_t *rec, void *udata)
{
    csv_seen_t *seen = udata;
    seen->n += (size_t)snprintf(seen->out + seen->n, sizeof seen->out - seen->n, "%zu:", rec->line);
    for (size_t i = 0; i < rec->nfields; i++)
        seen->n += (size_t)snprintf(seen->out + seen->n, sizeof seen->out - seen->n, "[%s]",
                                    rec->fields[i]);
    seen->n += (size_t)snprintf(seen->out + seen->n, sizeof seen->out - seen->n, ";");
    return 0;
}

static void csv_reads_quotes_line_ends_and_reports_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
        int rc;
        size_t line;
    } cases[] = {
        {"a,b\nc,d\n", "1:[a][b];2:[c][d];", 0, 0},
        {"a,b\r\nc,d", "1:[a][b];2:[c][d];", 0, 0},
        {"\xEF\xBB\xBF"
         "a,,\n\n\nb\n",
         "1:[a][][];4:[b];", 0, 0},
        {"\"x, \"\"y\"\"\",z\n", "1:[x, \"y\"][z];", 0, 0},
        {"\"two\nlines\",b\nc\n", "1:[two\nlines][b];3:[c];", 0, 0},
        {"a\n\"open,b\n", "1:[a];", -1, 3},
        {"\"x\"y,b\n", "", -3, 1},
        {"", "", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csv_seen_t seen = {.n = 0};
        seen.out[0] = '\0';
        size_t line = 0;
        int rc = accounts_csv_parse(cases[i].in, strlen(cases[i].in), collect, &seen, &line);
        if (rc != cases[i].rc || strcmp(seen.out, cases[i].want) != 0 ||
            (rc < 0 && line != cases[i].line))
            fail_msg("case %zu: rc %d line %zu out %s; want rc %d line %zu out %s", i, rc, line,
                     seen.out, cases[i].rc, cases[i].line, cases[i].want);
    }
    /* too many fields */
    char wide[200] = "";
    for (int i = 0; i < ACCOUNTS_CSV_MAX_FIELDS + 1; i++)
        strcat(wide, "x,");
    csv_seen_t seen = {.n = 0};
    size_t line = 0;
    assert_int_equal(accounts_csv_parse(wide, strlen(wide), collect, &seen, &line), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(customer_number_is_C_and_6_to_10_digits),
        cmocka_unit_test(siret_is_exactly_14_digits),
        cmocka_unit_test(vat_rate_is_one_of_three_rates),
        cmocka_unit_test(maintenance_plan_depends_on_segment),
        cmocka_unit_test(email_is_trimmed_lowercased_and_checked),
        cmocka_unit_test(phone_is_e164),
        cmocka_unit_test(utf8_length_counts_code_points_and_refuses_bad_bytes),
        cmocka_unit_test(password_length_is_12_to_128_code_points),
        cmocka_unit_test(text_must_hold_something_besides_spaces),
        cmocka_unit_test(session_key_is_sha256_of_the_token),
        cmocka_unit_test(uuid_is_copied_lowercase),
        cmocka_unit_test(utf8_length_agrees_with_jansson_on_random_bytes),
        cmocka_unit_test(email_normalise_is_idempotent_on_random_input),
        cmocka_unit_test(client_addr_is_the_peer_unless_a_trusted_proxy_forwards),
        cmocka_unit_test(device_label_names_browser_and_system),
        cmocka_unit_test(time_text_is_rfc3339_utc_with_ms),
        cmocka_unit_test(common_passwords_are_refused_whatever_their_case),
        cmocka_unit_test(csv_reads_quotes_line_ends_and_reports_bad_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
