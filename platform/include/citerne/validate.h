/* Validation of JSON request bodies: each getter appends
 * {"field", "message"} to v->errors when the field is missing or wrong, so a
 * handler checks every field and answers once with every error. */
#ifndef CITERNE_VALIDATE_H
#define CITERNE_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

typedef struct {
    json_t *errors; /* array, owned */
} ct_valid_t;

/* Starts with no errors; ct_valid_dispose releases them. Aborts on OOM. */
void ct_valid_init(ct_valid_t *v);
void ct_valid_dispose(ct_valid_t *v);
/* True while no failure was recorded. */
bool ct_valid_ok(const ct_valid_t *v);
/* Hands the errors array to the caller (for ct_http_reply_invalid) and resets v. */
json_t *ct_valid_take_errors(ct_valid_t *v);
/* Records a failure of the caller's own rule; both strings are copied. */
void ct_valid_fail(ct_valid_t *v, const char *field, const char *message);

/* Every getter: an absent field and a JSON null count as not given; a
 * required one not given records "is required", an optional one yields the
 * default (or NULL). Strings returned are borrowed from obj.
 *
 * String of minlen..maxlen bytes of valid UTF-8 without control characters
 * (C0, DEL, C1; so no tab or newline either).
 * Returns a pointer borrowed from obj, or NULL (absent optional or error). */
const char *ct_valid_str(ct_valid_t *v, json_t *obj, const char *field, size_t minlen,
                         size_t maxlen, bool required);
/* One of the NULL-terminated choices. */
const char *ct_valid_enum(ct_valid_t *v, json_t *obj, const char *field,
                          const char *const *choices, bool required, const char *def);
/* Integer (JSON integer, not real nor string) within [min, max]. */
int64_t ct_valid_int(ct_valid_t *v, json_t *obj, const char *field, int64_t min, int64_t max,
                     bool required, int64_t def);
bool ct_valid_bool(ct_valid_t *v, json_t *obj, const char *field, bool required, bool def);
/* A UUID in canonical text form. */
const char *ct_valid_uuid(ct_valid_t *v, json_t *obj, const char *field, bool required);
/* A date YYYY-MM-DD that exists in the calendar. */
const char *ct_valid_date(ct_valid_t *v, json_t *obj, const char *field, bool required);

#endif
