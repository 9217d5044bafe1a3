/* A CSV reader (RFC 4180: fields separated by commas, optionally quoted,
 * "" for a quote inside quotes, quoted fields may span lines; CRLF or LF
 * line ends; a UTF-8 byte order mark at the start is skipped). Pure. */
#ifndef ACCOUNTS_CSV_H
#define ACCOUNTS_CSV_H

#include <stddef.h>

#define ACCOUNTS_CSV_MAX_FIELDS 32

/* One record: fields are NUL-terminated copies in the record's buffer
 * (valid during the callback); line is where the record starts (1-based). */
typedef struct {
    size_t line;
    size_t nfields;
    const char *fields[ACCOUNTS_CSV_MAX_FIELDS];
} accounts_csv_record_t;

/* Returns 0 to go on, non-zero to stop (returned by accounts_csv_parse). */
typedef int (*accounts_csv_cb)(const accounts_csv_record_t *rec, void *udata);

/* Calls cb for every record of text (len bytes; blank lines are skipped).
 * Returns 0, cb's non-zero value, or a negative code with *err_line set:
 * -1 an unterminated quote, -2 more than ACCOUNTS_CSV_MAX_FIELDS fields,
 * -3 a character after a closing quote, -4 a NUL byte, -5 out of memory. */
int accounts_csv_parse(const char *text, size_t len, accounts_csv_cb cb, void *udata,
                       size_t *err_line);

#endif
