/* French notification texts. E-mail text uses French typography (no-break
 * spaces before ":" and units, narrow no-break spaces between thousands);
 * SMS text uses plain spaces to stay in the GSM 7-bit alphabet. */
#include "templates.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NBSP "\xc2\xa0"      /* U+00A0 NO-BREAK SPACE */
#define NNBSP "\xe2\x80\xaf" /* U+202F NARROW NO-BREAK SPACE */

/* ---- a bounded string builder ---- */

typedef struct {
    char *buf;
    size_t size, len;
    bool overflow;
} sb_t;

static void sb_init(sb_t *b, char *buf, size_t size)
{
    b->buf = buf;
    b->size = size;
    b->len = 0;
    b->overflow = size == 0;
    if (size)
        buf[0] = '\0';
}

static void sb_add(sb_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->overflow || b->len + n >= b->size) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

static void sb_addf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sb_t *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->size - b->len) {
        b->overflow = true;
        b->buf[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

/* ---- numbers ---- */

/* Digits of v grouped by three with sep. */
static void add_grouped(sb_t *b, uint64_t v, const char *sep)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    for (int i = 0; i < n; i++) {
        char d[2] = {digits[i], '\0'};
        sb_add(b, d);
        int left = n - i - 1;
        if (left > 0 && left % 3 == 0)
            sb_add(b, sep);
    }
}

static int finish(sb_t *b)
{
    return b->overflow ? -1 : (int)b->len;
}

int notify_format_amount(int64_t cents, notify_style_t style, char *out, size_t size)
{
    sb_t b;
    sb_init(&b, out, size);
    uint64_t abs = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0)
        sb_add(&b, "-");
    add_grouped(&b, abs / 100, style == NOTIFY_STYLE_PLAIN ? " " : NNBSP);
    sb_addf(&b, ",%02u", (unsigned)(abs % 100));
    sb_add(&b, style == NOTIFY_STYLE_PLAIN ? " €" : NBSP "€");
    return finish(&b);
}

int notify_format_kg(int64_t kg, notify_style_t style, char *out, size_t size)
{
    sb_t b;
    sb_init(&b, out, size);
    uint64_t abs = kg < 0 ? (uint64_t)0 - (uint64_t)kg : (uint64_t)kg;
    if (kg < 0)
        sb_add(&b, "-");
    add_grouped(&b, abs, style == NOTIFY_STYLE_PLAIN ? " " : NNBSP);
    sb_add(&b, style == NOTIFY_STYLE_PLAIN ? " kg" : NBSP "kg");
    return finish(&b);
}

/* ---- dates ---- */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int parse_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool parse_date(const char *s, int *y, int *m, int *d)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    *y = parse_digits(s, 4);
    *m = parse_digits(s + 5, 2);
    *d = parse_digits(s + 8, 2);
    return *y >= 2000 && *y <= 9999 && *m >= 1 && *m <= 12 && *d >= 1 &&
           *d <= days_in_month(*y, *m);
}

bool notify_date_valid(const char *ymd)
{
    int y, m, d;
    return parse_date(ymd, &y, &m, &d);
}

/* Days since 1970-01-01 (H. Hinnant's days_from_civil). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = y / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int notify_format_date(const char *ymd, bool with_weekday, char *out, size_t size)
{
    static const char *const weekdays[] = {"dimanche", "lundi",    "mardi", "mercredi",
                                           "jeudi",    "vendredi", "samedi"};
    static const char *const months[] = {"janvier",   "février", "mars",     "avril",
                                         "mai",       "juin",    "juillet",  "août",
                                         "septembre", "octobre", "novembre", "décembre"};
    int y, m, d;
    if (!parse_date(ymd, &y, &m, &d))
        return -1;
    sb_t b;
    sb_init(&b, out, size);
    if (with_weekday) {
        long days = days_from_civil(y, m, d); /* 1970-01-01 was a Thursday */
        sb_add(&b, weekdays[((days % 7) + 11) % 7]);
        sb_add(&b, " ");
    }
    if (d == 1)
        sb_add(&b, "1er");
    else
        sb_addf(&b, "%d", d);
    sb_addf(&b, " %s %d", months[m - 1], y);
    return finish(&b);
}

/* ---- names ---- */

static const char *const kind_names[] = {
    [NOTIFY_KIND_ORDER_PROPOSED] = "order_proposed",
    [NOTIFY_KIND_DELIVERY_SCHEDULED] = "delivery_scheduled",
    [NOTIFY_KIND_DELIVERY_CONFIRMED] = "delivery_confirmed",
    [NOTIFY_KIND_INVOICE_ISSUED] = "invoice_issued",
};

int notify_kind_parse(const char *s, notify_kind_t *out)
{
    for (size_t i = 0; s && i < sizeof kind_names / sizeof kind_names[0]; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (notify_kind_t)i;
            return 0;
        }
    }
    return -1;
}

const char *notify_kind_name(notify_kind_t kind)
{
    if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "unknown";
}

const char *notify_channel_name(notify_channel_t channel)
{
    return channel == NOTIFY_CHANNEL_SMS ? "sms" : "email";
}

static const char *speed_text(const char *speed)
{
    if (!speed)
        return NULL;
    if (strcmp(speed, "standard") == 0)
        return "sous 15 jours";
    if (strcmp(speed, "express_8d") == 0)
        return "express sous 8 jours";
    if (strcmp(speed, "express_48h") == 0)
        return "express sous 48 h";
    if (strcmp(speed, "express_24h") == 0)
        return "express sous 24 h";
    return NULL;
}

/* ---- the texts ---- */

typedef struct {
    char kg[48];
    char date[64];
    char amount[48];
    const char *colon; /* " :" with the space French typography wants */
} parts_t;

static int prepare(const notify_facts_t *f, notify_style_t style, parts_t *p)
{
    memset(p, 0, sizeof *p);
    p->colon = style == NOTIFY_STYLE_PLAIN ? " :" : NBSP ":";
    switch (f->kind) {
    case NOTIFY_KIND_ORDER_PROPOSED:
        return notify_format_kg(f->quantity_kg, style, p->kg, sizeof p->kg) < 0 ? -1 : 0;
    case NOTIFY_KIND_DELIVERY_SCHEDULED:
        if (notify_format_kg(f->quantity_kg, style, p->kg, sizeof p->kg) < 0)
            return -1;
        return notify_format_date(f->delivery_date, true, p->date, sizeof p->date) < 0 ? -1 : 0;
    case NOTIFY_KIND_DELIVERY_CONFIRMED:
        if (notify_format_kg(f->delivered_kg, style, p->kg, sizeof p->kg) < 0)
            return -1;
        return notify_format_date(f->delivery_date, true, p->date, sizeof p->date) < 0 ? -1 : 0;
    case NOTIFY_KIND_INVOICE_ISSUED:
        if (!f->invoice_number || !*f->invoice_number ||
            notify_format_amount(f->total_incl_cents, style, p->amount, sizeof p->amount) < 0)
            return -1;
        return notify_format_date(f->issue_date, false, p->date, sizeof p->date) < 0 ? -1 : 0;
    }
    return -1;
}

static void email_text(const notify_facts_t *f, const parts_t *p, sb_t *subject, sb_t *body)
{
    const char *c = p->colon;
    if (f->user_name && *f->user_name)
        sb_addf(body, "Bonjour %s,\n\n", f->user_name);
    else
        sb_add(body, "Bonjour,\n\n");
    switch (f->kind) {
    case NOTIFY_KIND_ORDER_PROPOSED:
        if (f->automatic) {
            sb_addf(subject, "Livraison automatique planifiée%s %s", c, p->kg);
            sb_addf(body,
                    "Livraison automatique planifiée%s nous livrerons %s de propane dans votre "
                    "citerne.\nVous n'avez rien à faire, nous vous indiquerons la date de "
                    "passage.\n",
                    c, p->kg);
        } else {
            const char *speed = speed_text(f->speed);
            sb_addf(subject, "Commande de propane à confirmer%s %s", c, p->kg);
            sb_addf(body, "Nous vous proposons une livraison de %s de propane", p->kg);
            if (speed)
                sb_addf(body, " (livraison %s)", speed);
            sb_add(body, ".\nPour la recevoir, confirmez dans votre espace client.\n");
        }
        break;
    case NOTIFY_KIND_DELIVERY_SCHEDULED:
        sb_addf(subject, "Livraison prévue le %s", p->date);
        sb_addf(body,
                "Votre livraison de %s de propane est prévue le %s.\nMerci de laisser l'accès "
                "à votre citerne dégagé.\n",
                p->kg, p->date);
        break;
    case NOTIFY_KIND_DELIVERY_CONFIRMED:
        sb_addf(subject, "Livraison effectuée%s %s de propane", c, p->kg);
        sb_addf(body, "Nous avons livré %s de propane le %s.\nVotre facture suivra.\n", p->kg,
                p->date);
        break;
    case NOTIFY_KIND_INVOICE_ISSUED:
        sb_addf(subject, "Facture %s%s %s", f->invoice_number, c, p->amount);
        sb_addf(body,
                "Votre facture %s du %s est disponible dans votre espace client.\nMontant "
                "TTC%s %s\n",
                f->invoice_number, p->date, c, p->amount);
        break;
    }
    sb_add(body, "\n-- \nCiterne, votre fournisseur de propane\n");
    if (f->customer_number && *f->customer_number)
        sb_addf(body, "Numéro client%s %s\n", c, f->customer_number);
}

static void sms_text(const notify_facts_t *f, const parts_t *p, sb_t *body)
{
    const char *c = p->colon;
    sb_addf(body, "Citerne%s ", c);
    switch (f->kind) {
    case NOTIFY_KIND_ORDER_PROPOSED:
        if (f->automatic) {
            sb_addf(body,
                    "livraison automatique planifiée de %s de propane. Vous n'avez rien "
                    "à faire.",
                    p->kg);
        } else {
            const char *speed = speed_text(f->speed);
            sb_addf(body, "nous vous proposons une livraison de %s de propane", p->kg);
            if (speed)
                sb_addf(body, " (%s)", speed);
            sb_add(body, ". Pour la recevoir, confirmez dans votre espace client.");
        }
        break;
    case NOTIFY_KIND_DELIVERY_SCHEDULED:
        sb_addf(body, "livraison de %s de propane prévue le %s.", p->kg, p->date);
        break;
    case NOTIFY_KIND_DELIVERY_CONFIRMED:
        sb_addf(body, "%s de propane livrés le %s. Votre facture suivra.", p->kg, p->date);
        break;
    case NOTIFY_KIND_INVOICE_ISSUED:
        sb_addf(body, "facture %s du %s disponible dans votre espace client. Montant TTC%s %s.",
                f->invoice_number, p->date, c, p->amount);
        break;
    }
}

int notify_render(const notify_facts_t *f, notify_channel_t channel, notify_message_t *out)
{
    notify_style_t style =
        channel == NOTIFY_CHANNEL_SMS ? NOTIFY_STYLE_PLAIN : NOTIFY_STYLE_TYPOGRAPHIC;
    parts_t p;
    if ((unsigned)f->kind > NOTIFY_KIND_INVOICE_ISSUED || prepare(f, style, &p) != 0)
        return -1;
    sb_t subject, body;
    sb_init(&subject, out->subject, sizeof out->subject);
    sb_init(&body, out->body, sizeof out->body);
    if (channel == NOTIFY_CHANNEL_SMS)
        sms_text(f, &p, &body);
    else
        email_text(f, &p, &subject, &body);
    return subject.overflow || body.overflow ? -1 : 0;
}
