/* libFuzzer target: the back office's CSV import reader (accounts/src/csv.c).
 * Beyond the sanitizers it checks the reader's contract: every record has
 * 1..ACCOUNTS_CSV_MAX_FIELDS NUL-terminated fields, lines never go
 * backwards and stay within the input's line count, and an error names a
 * line inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

typedef struct {
    size_t last_line;
    size_t max_line;
    size_t len;
} state_t;

static int on_record(const accounts_csv_record_t *rec, void *udata)
{
    state_t *st = udata;
    if (rec->nfields == 0 || rec->nfields > ACCOUNTS_CSV_MAX_FIELDS)
        abort();
    if (rec->line < st->last_line || rec->line == 0 || rec->line > st->max_line)
        abort();
    st->last_line = rec->line;
    for (size_t i = 0; i < rec->nfields; i++)
        if (!rec->fields[i] || strlen(rec->fields[i]) > st->len)
            abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    state_t st = {0, 1, size};
    for (size_t i = 0; i < size; i++)
        st.max_line += data[i] == '\n';
    size_t err_line = 0;
    int rc = accounts_csv_parse((const char *)data, size, on_record, &st, &err_line);
    if (rc < 0 && (err_line == 0 || err_line > st.max_line))
        abort();
    if (rc > 0)
        abort(); /* on_record never stops the parse */
    return 0;
}
