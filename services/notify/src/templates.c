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

/* Year, month, day of a count of days since 1970-01-01 (H. Hinnant's
 * civil_from_days). */
static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Days since 1970-01-01 of the last Sunday of month m (31 days: March,
 * October) of year y. */
static long last_sunday(int y, int m)
{
    long last = days_from_civil(y, m, 31);
    return last - ((last % 7) + 11) % 7;
}

int notify_format_time(int64_t unix_ms, notify_style_t style, char *out, size_t size)
{
    /* 2000-01-01 .. 9999-12-30 keep every step in range */
    if (unix_ms < 946684800000LL || unix_ms > 253402128000000LL)
        return -1;
    int64_t secs = unix_ms / 1000;
    long day = (long)(secs / 86400);
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    /* Europe/Paris: UTC+2 from the last Sunday of March 01:00 UTC to the
     * last Sunday of October 01:00 UTC, UTC+1 otherwise */
    int64_t summer_from = (int64_t)last_sunday(y, 3) * 86400 + 3600;
    int64_t summer_to = (int64_t)last_sunday(y, 10) * 86400 + 3600;
    int64_t local = secs + (secs >= summer_from && secs < summer_to ? 7200 : 3600);
    day = (long)(local / 86400);
    civil_from_days(day, &y, &m, &d);
    int minute = (int)(local % 86400 / 60);
    char ymd[16];
    snprintf(ymd, sizeof ymd, "%04d-%02d-%02d", y, m, d);
    char date[64];
    if (notify_format_date(ymd, true, date, sizeof date) < 0)
        return -1;
    sb_t b;
    sb_init(&b, out, size);
    const char *sp = style == NOTIFY_STYLE_PLAIN ? " " : NBSP;
    sb_addf(&b, "%s à %d%sh%s%02d", date, minute / 60, sp, sp, minute % 60);
    return finish(&b);
}

/* ---- names ---- */

static const char *const kind_names[] = {
    [NOTIFY_KIND_ORDER_PROPOSED] = "order_proposed",
    [NOTIFY_KIND_DELIVERY_SCHEDULED] = "delivery_scheduled",
    [NOTIFY_KIND_DELIVERY_CONFIRMED] = "delivery_confirmed",
    [NOTIFY_KIND_INVOICE_ISSUED] = "invoice_issued",
    [NOTIFY_KIND_ORDER_HELD] = "order_held",
    [NOTIFY_KIND_PASSWORD_RESET] = "password_reset_requested",
    [NOTIFY_KIND_ACTIVATION] = "activation_requested",
    [NOTIFY_KIND_PASSWORD_CHANGED] = "password_changed",
    [NOTIFY_KIND_TOTP_DISABLED] = "totp_disabled",
    [NOTIFY_KIND_NEW_DEVICE] = "new_device_signed_in",
    [NOTIFY_KIND_CUSTOMER_LINKED] = "customer_linked",
    [NOTIFY_KIND_COLLABORATOR_ADDED] = "collaborator_added",
    [NOTIFY_KIND_COLLABORATOR_INVITED] = "collaborator_invited",
    [NOTIFY_KIND_COLLABORATOR_REMOVED] = "collaborator_removed",
    [NOTIFY_KIND_EMAIL_CONFIRM] = "email_change_confirm",
    [NOTIFY_KIND_EMAIL_CHANGE_REQUESTED] = "email_change_requested",
    [NOTIFY_KIND_EMAIL_CHANGED] = "email_changed",
    [NOTIFY_KIND_INVITATION] = "invitation_received",
    [NOTIFY_KIND_CUSTOMER_LINKED_ADMIN] = "customer_linked_admin",
    [NOTIFY_KIND_URGENT_DELIVERY] = "urgent_delivery_ordered",
    [NOTIFY_KIND_PHONE_VERIFICATION] = "phone_verification",
};

bool notify_kind_is_chain(notify_kind_t kind)
{
    return kind <= NOTIFY_KIND_ORDER_HELD;
}

bool notify_kind_has_preference(notify_kind_t kind)
{
    return kind <= NOTIFY_KIND_INVOICE_ISSUED;
}

bool notify_kind_has_link(notify_kind_t kind)
{
    return kind == NOTIFY_KIND_PASSWORD_RESET || kind == NOTIFY_KIND_ACTIVATION ||
           kind == NOTIFY_KIND_COLLABORATOR_INVITED || kind == NOTIFY_KIND_EMAIL_CONFIRM ||
           kind == NOTIFY_KIND_PHONE_VERIFICATION;
}

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

static const char *role_text(const char *role)
{
    if (role && strcmp(role, "admin") == 0)
        return "administrateur";
    if (role && strcmp(role, "orderer") == 0)
        return "commandes";
    if (role && strcmp(role, "viewer") == 0)
        return "consultation";
    return NULL;
}

/* ---- the texts ---- */

typedef struct {
    char kg[48];
    char date[64];
    char amount[48];
    char at[96];       /* when it happened */
    char expires[96];  /* end of a link */
    const char *colon; /* " :" with the space French typography wants */
} parts_t;

static bool has(const char *s)
{
    return s && *s;
}

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
    case NOTIFY_KIND_ORDER_HELD:
        return 0;
    case NOTIFY_KIND_PASSWORD_RESET:
    case NOTIFY_KIND_ACTIVATION:
    case NOTIFY_KIND_COLLABORATOR_INVITED:
    case NOTIFY_KIND_EMAIL_CONFIRM:
        if (!f->link || !*f->link)
            return -1;
        if (f->kind == NOTIFY_KIND_COLLABORATOR_INVITED && !role_text(f->role))
            return -1;
        if (f->kind == NOTIFY_KIND_EMAIL_CONFIRM && !(f->new_email && *f->new_email))
            return -1;
        return notify_format_time(f->expires_at, style, p->expires, sizeof p->expires) < 0 ? -1 : 0;
    case NOTIFY_KIND_PASSWORD_CHANGED:
    case NOTIFY_KIND_TOTP_DISABLED:
    case NOTIFY_KIND_NEW_DEVICE:
        return notify_format_time(f->at, style, p->at, sizeof p->at) < 0 ? -1 : 0;
    case NOTIFY_KIND_CUSTOMER_LINKED:
        if (!role_text(f->role))
            return -1;
        return notify_format_time(f->at, style, p->at, sizeof p->at) < 0 ? -1 : 0;
    case NOTIFY_KIND_CUSTOMER_LINKED_ADMIN:
        if (!role_text(f->role) || !has(f->linked_email))
            return -1;
        return notify_format_time(f->at, style, p->at, sizeof p->at) < 0 ? -1 : 0;
    case NOTIFY_KIND_URGENT_DELIVERY:
        /* only an express speed is urgent (and bears a fee) */
        if (!speed_text(f->speed) || strcmp(f->speed, "standard") == 0 ||
            notify_format_kg(f->quantity_kg, style, p->kg, sizeof p->kg) < 0)
            return -1;
        return notify_format_date(f->delivery_date, true, p->date, sizeof p->date) < 0 ? -1 : 0;
    case NOTIFY_KIND_COLLABORATOR_ADDED:
        return role_text(f->role) ? 0 : -1;
    case NOTIFY_KIND_INVITATION:
        if (!role_text(f->role) || !f->link || !*f->link)
            return -1;
        return notify_format_time(f->expires_at, style, p->expires, sizeof p->expires) < 0 ? -1 : 0;
    case NOTIFY_KIND_COLLABORATOR_REMOVED:
        return 0;
    case NOTIFY_KIND_PHONE_VERIFICATION:
        if (!f->link || strlen(f->link) != 6 || strspn(f->link, "0123456789") != 6)
            return -1;
        return notify_format_time(f->expires_at, style, p->expires, sizeof p->expires) < 0 ? -1 : 0;
    case NOTIFY_KIND_EMAIL_CHANGE_REQUESTED:
    case NOTIFY_KIND_EMAIL_CHANGED:
        if (!f->new_email || !*f->new_email)
            return -1;
        return notify_format_time(f->at, style, p->at, sizeof p->at) < 0 ? -1 : 0;
    }
    return -1;
}

/* "de Famille Dupont (client C-0042)", "du client C-0042", "de Famille
 * Dupont" or "d'un de nos clients", as much as is known of the customer. */
static void add_customer(sb_t *b, const notify_facts_t *f)
{
    if (has(f->customer_name) && has(f->customer_number))
        sb_addf(b, "de %s (client %s)", f->customer_name, f->customer_number);
    else if (has(f->customer_name))
        sb_addf(b, "de %s", f->customer_name);
    else if (has(f->customer_number))
        sb_addf(b, "du client %s", f->customer_number);
    else
        sb_add(b, "d'un de nos clients");
}

/* The link on a line of its own, then its rules. */
static void add_link(sb_t *b, const notify_facts_t *f, const parts_t *p)
{
    sb_addf(b, "%s\n\nCe lien ne sert qu'une fois et expire le %s.\n", f->link, p->expires);
}

#define NOT_YOU                                                                                    \
    "Si ce n'est pas vous, changez votre mot de passe tout de suite («" NBSP                       \
    "Mot de passe oublié" NBSP "» sur la page de connexion) et contactez notre service client.\n"

static void account_email_text(const notify_facts_t *f, const parts_t *p, sb_t *subject, sb_t *body)
{
    const char *c = p->colon;
    switch (f->kind) {
    case NOTIFY_KIND_PASSWORD_RESET:
        sb_add(subject, "Réinitialisation de votre mot de passe Citerne");
        sb_addf(body,
                "Vous avez demandé à réinitialiser le mot de passe de votre compte Citerne.\n"
                "Pour choisir un nouveau mot de passe, ouvrez ce lien%s\n",
                c);
        add_link(body, f, p);
        sb_addf(body,
                "Une nouvelle demande le remplace.\nSi vous n'avez rien demandé, ignorez ce "
                "message%s votre mot de passe ne change pas.\n",
                c);
        break;
    case NOTIFY_KIND_ACTIVATION:
        sb_add(subject, "Activez votre compte Citerne");
        sb_addf(body,
                "Pour activer votre compte Citerne et choisir votre mot de passe, ouvrez ce "
                "lien%s\n",
                c);
        add_link(body, f, p);
        sb_add(body, "Vous pourrez en demander un nouveau depuis la page d'inscription.\nSi vous "
                     "n'êtes pas à l'origine de cette inscription, ignorez ce message.\n");
        break;
    case NOTIFY_KIND_COLLABORATOR_INVITED:
        sb_add(subject, "Invitation à l'espace client ");
        add_customer(subject, f);
        sb_add(body, "Vous avez reçu une invitation à l'espace client Citerne ");
        add_customer(body, f);
        sb_addf(body,
                ", avec le rôle «" NBSP "%s" NBSP "».\nPour créer votre compte et choisir votre "
                "mot de passe, ouvrez ce lien%s\n",
                role_text(f->role), c);
        add_link(body, f, p);
        sb_add(body, "Si vous ne connaissez pas ce client, ignorez ce message.\n");
        break;
    case NOTIFY_KIND_PASSWORD_CHANGED:
        sb_add(subject, "Votre mot de passe Citerne a été changé");
        sb_addf(body, "Le mot de passe de votre compte Citerne a été changé le %s%s.\n%s\n", p->at,
                f->via_reset ? " à l'aide d'un lien de réinitialisation" : "",
                f->via_reset ? "Toutes vos sessions ont été fermées."
                             : "Vos autres sessions ont été fermées.");
        sb_add(body, NOT_YOU);
        break;
    case NOTIFY_KIND_TOTP_DISABLED:
        sb_add(subject, "Double authentification désactivée sur votre compte Citerne");
        sb_addf(body,
                "La double authentification de votre compte Citerne a été désactivée le %s%s.\n"
                "Votre compte n'est plus protégé que par votre mot de passe%s nous vous "
                "conseillons de la réactiver dans votre espace client.\n",
                p->at, f->with_recovery_code ? ", avec un code de secours" : "", c);
        sb_add(body, NOT_YOU);
        break;
    case NOTIFY_KIND_NEW_DEVICE:
        sb_add(subject, "Nouvelle connexion à votre compte Citerne");
        sb_addf(body,
                "Quelqu'un s'est connecté à votre compte Citerne depuis un appareil inconnu%s\n"
                "- appareil%s %s\n- adresse%s %s\n- le %s\n"
                "Si c'est vous, vous n'avez rien à faire.\n"
                "Sinon, fermez cette session dans votre espace client (Sessions), changez votre "
                "mot de passe tout de suite et contactez notre service client.\n",
                c, c, has(f->device) ? f->device : "inconnu", c,
                has(f->address) ? f->address : "inconnue", p->at);
        break;
    case NOTIFY_KIND_CUSTOMER_LINKED:
        sb_add(subject, "Nouveau contrat rattaché à votre compte Citerne");
        sb_add(body, "L'espace client ");
        add_customer(body, f);
        sb_addf(body,
                " a été rattaché à votre compte Citerne le %s, avec le rôle «" NBSP "%s" NBSP
                "».\n",
                p->at, role_text(f->role));
        sb_add(body, NOT_YOU);
        break;
    case NOTIFY_KIND_CUSTOMER_LINKED_ADMIN:
        /* to each admin: the newcomer proved the customer with its number
         * and an invoice, which an admin did not choose */
        sb_add(subject, "Nouvel utilisateur de l'espace client ");
        add_customer(subject, f);
        if (has(f->linked_name))
            sb_addf(body, "Un nouvel utilisateur, %s (%s),", f->linked_name, f->linked_email);
        else
            sb_addf(body, "Un nouvel utilisateur (%s)", f->linked_email);
        sb_add(body, " a désormais accès à l'espace client ");
        add_customer(body, f);
        sb_addf(body,
                ", avec le rôle «" NBSP "%s" NBSP "», depuis le %s. Il l'a rattaché à son compte "
                "avec le numéro de client et un numéro de facture.\n"
                "Si vous ne le connaissez pas, retirez-le dans la page Collaborateurs de votre "
                "espace client et contactez notre service client.\n",
                role_text(f->role), p->at);
        break;
    case NOTIFY_KIND_URGENT_DELIVERY:
        /* notify knows no site address (it keeps nothing of sites) and no
         * fee table (billing's): "votre site", and the fee by reference */
        sb_add(subject, "Livraison express commandée pour l'espace client ");
        add_customer(subject, f);
        if (f->by_self)
            sb_add(body, "Vous avez commandé");
        else if (has(f->orderer_name) && has(f->orderer_email))
            sb_addf(body, "%s (%s) a commandé", f->orderer_name, f->orderer_email);
        else if (has(f->orderer_name) || has(f->orderer_email))
            sb_addf(body, "%s a commandé",
                    has(f->orderer_name) ? f->orderer_name : f->orderer_email);
        else
            sb_add(body, "Un utilisateur a commandé");
        sb_add(body, ", dans l'espace client ");
        add_customer(body, f);
        sb_addf(body, ", une livraison %s de %s de propane pour votre site, prévue le %s.\n",
                speed_text(f->speed), p->kg, p->date);
        sb_add(body, "Les frais de livraison express s'appliquent selon notre barème en vigueur, "
                     "en plus du gaz, et figureront sur la facture de cette livraison.\n");
        if (f->by_self)
            sb_add(body, NOT_YOU);
        else
            sb_add(body, "Si vous ne reconnaissez pas cette commande, contactez tout de suite "
                         "notre service client, et retirez l'accès de cette personne dans la "
                         "page Collaborateurs de votre espace client.\n");
        break;
    case NOTIFY_KIND_COLLABORATOR_ADDED:
        sb_add(subject, "Accès à l'espace client ");
        add_customer(subject, f);
        sb_add(body, "Vous avez désormais accès à l'espace client ");
        add_customer(body, f);
        sb_addf(body,
                ", avec le rôle «" NBSP "%s" NBSP "». Il apparaîtra à votre prochaine "
                "connexion.\nSi vous ne connaissez pas ce client, contactez notre service "
                "client.\n",
                role_text(f->role));
        break;
    case NOTIFY_KIND_INVITATION:
        sb_add(subject, "Invitation à l'espace client ");
        add_customer(subject, f);
        if (has(f->inviter_name))
            sb_addf(body, "%s vous invite", f->inviter_name);
        else
            sb_add(body, "Un administrateur vous invite");
        sb_add(body, " à agir pour l'espace client ");
        add_customer(body, f);
        sb_addf(body,
                ", avec le rôle «" NBSP "%s" NBSP "».\nRien ne change tant que vous n'avez pas "
                "accepté%s connectez-vous à votre compte Citerne et acceptez ou refusez "
                "l'invitation ici%s\n%s\n\nElle expire le %s.\n"
                "Si vous ne connaissez pas ce client, refusez-la ou ignorez ce message.\n",
                role_text(f->role), c, c, f->link, p->expires);
        break;
    case NOTIFY_KIND_COLLABORATOR_REMOVED:
        sb_add(subject, "Fin de votre accès à l'espace client ");
        add_customer(subject, f);
        if (f->by_self) {
            sb_add(body, "Vous avez quitté l'espace client ");
            add_customer(body, f);
            sb_add(body, ".\n");
        } else {
            sb_add(body, "Votre accès à l'espace client ");
            add_customer(body, f);
            sb_add(body, " a été retiré par un de ses administrateurs.\nSi c'est une erreur, "
                         "demandez à l'un d'eux de vous inviter à nouveau.\n");
        }
        sb_add(body, "Votre compte et vos autres accès ne changent pas.\n");
        break;
    case NOTIFY_KIND_EMAIL_CONFIRM:
        sb_add(subject, "Confirmez votre nouvelle adresse e-mail Citerne");
        sb_addf(body,
                "Vous avez demandé à vous connecter à votre compte Citerne avec l'adresse %s.\n"
                "Pour confirmer ce changement, ouvrez ce lien%s\n",
                f->new_email, c);
        add_link(body, f, p);
        sb_addf(body,
                "Une nouvelle demande le remplace. Une fois l'adresse confirmée, toutes vos "
                "sessions sont fermées%s reconnectez-vous avec cette adresse.\nSi vous n'avez "
                "rien demandé, ignorez ce message%s rien ne change.\n",
                c, c);
        break;
    case NOTIFY_KIND_EMAIL_CHANGE_REQUESTED:
        /* the same words whether or not the new address was free: the
         * requester learns nothing of who has an account */
        sb_add(subject, "Changement d'adresse e-mail demandé sur votre compte Citerne");
        sb_addf(body,
                "Le %s, quelqu'un connaissant votre mot de passe a demandé que votre compte "
                "Citerne utilise désormais l'adresse %s.\nRien ne change tant que le lien envoyé "
                "à cette adresse n'a pas été ouvert%s vous vous connectez toujours avec "
                "l'adresse actuelle.\n",
                p->at, f->new_email, c);
        sb_add(body, "Si c'est vous, vous n'avez rien à faire.\n" NOT_YOU);
        break;
    case NOTIFY_KIND_EMAIL_CHANGED:
        sb_add(subject, "L'adresse e-mail de votre compte Citerne a été changée");
        sb_addf(body,
                "Le %s, l'adresse e-mail de votre compte Citerne est devenue %s. Toutes vos "
                "sessions ont été fermées.\nNos messages ne seront plus envoyés à cette "
                "adresse-ci.\nSi ce n'est pas vous, contactez tout de suite notre service "
                "client.\n",
                p->at, f->new_email);
        break;
    default:
        break;
    }
}

static void email_text(const notify_facts_t *f, const parts_t *p, sb_t *subject, sb_t *body)
{
    const char *c = p->colon;
    if (f->user_name && *f->user_name)
        sb_addf(body, "Bonjour %s,\n\n", f->user_name);
    else
        sb_add(body, "Bonjour,\n\n");
    if (!notify_kind_is_chain(f->kind))
        account_email_text(f, p, subject, body);
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
    case NOTIFY_KIND_ORDER_HELD:
        /* what to send and how it must be filled in: the distributor's
         * booklet (certificate of conformity, arrêté du 2 août 1977) */
        sb_add(subject, "Livraison en attente de votre certificat de conformité");
        sb_addf(body,
                "Votre livraison de propane est en attente%s la réglementation interdit une "
                "première livraison de gaz sans le certificat de conformité de votre "
                "installation, et nous ne l'avons pas encore reçu.\n"
                "Envoyez-le à notre service client, rempli, signé et daté, avec le cachet de "
                "l'installateur et le visa de Qualigaz. Si vous avez acheté une maison équipée "
                "d'une citerne, envoyez celui que le notaire vous a remis lors de la vente.\n"
                "Dès sa réception, nous planifierons la livraison sans autre démarche de votre "
                "part, et vous en indiquerons la date.\n",
                c);
        break;
    default: /* account kinds, above */
        break;
    }
    sb_add(body, "\n-- \nCiterne, votre fournisseur de propane\n");
    if (notify_kind_is_chain(f->kind) && has(f->customer_number))
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
    case NOTIFY_KIND_ORDER_HELD:
        /* no "ç" nor "ê": outside the GSM 7-bit alphabet */
        sb_addf(body,
                "votre livraison de propane attend le certificat de conformité de votre "
                "installation, obligatoire pour une première livraison. Envoyez-le à notre "
                "service client%s nous planifierons la livraison dès sa réception.",
                c);
        break;
    case NOTIFY_KIND_PHONE_VERIFICATION:
        /* the code first, so that a phone shows it in the notification */
        sb_addf(body,
                "%s est votre code pour confirmer ce numéro dans votre espace client. Il expire "
                "le %s et ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce message.",
                f->link, p->expires);
        break;
    default: /* the other account kinds go by e-mail only */
        break;
    }
}

int notify_render(const notify_facts_t *f, notify_channel_t channel, notify_message_t *out)
{
    notify_style_t style =
        channel == NOTIFY_CHANNEL_SMS ? NOTIFY_STYLE_PLAIN : NOTIFY_STYLE_TYPOGRAPHIC;
    parts_t p;
    if ((unsigned)f->kind >= NOTIFY_KIND_COUNT || prepare(f, style, &p) != 0)
        return -1;
    /* account messages are e-mails: a link must not sit at an SMS provider,
     * and the preferences do not cover them; a phone's code proves the phone,
     * so it goes by SMS only */
    bool sms_kind = notify_kind_is_chain(f->kind) || f->kind == NOTIFY_KIND_PHONE_VERIFICATION;
    if (channel == NOTIFY_CHANNEL_SMS && !sms_kind)
        return -1;
    if (channel == NOTIFY_CHANNEL_EMAIL && f->kind == NOTIFY_KIND_PHONE_VERIFICATION)
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
