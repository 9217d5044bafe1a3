/* A CSV reader (see csv.h). */
#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int accounts_csv_parse(const char *text, size_t len, accounts_csv_cb cb, void *udata,
                       size_t *err_line)
{
    size_t i = 0, line = 1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    char *buf = malloc(len + ACCOUNTS_CSV_MAX_FIELDS + 1);
    if (!buf) {
        *err_line = 0;
        return -5;
    }
    int rc = 0;
    while (i < len && rc == 0) {
        accounts_csv_record_t rec = {.line = line};
        size_t out = 0;
        bool end_of_record = false;
        while (!end_of_record) {
            if (rec.nfields == ACCOUNTS_CSV_MAX_FIELDS) {
                rc = -2;
                break;
            }
            rec.fields[rec.nfields++] = buf + out;
            if (i < len && text[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) {
                        rc = -1;
                        break;
                    }
                    if (text[i] == '"') {
                        if (i + 1 < len && text[i + 1] == '"') {
                            buf[out++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (text[i] == '\0') {
                        rc = -4;
                        break;
                    }
                    if (text[i] == '\n')
                        line++;
                    buf[out++] = text[i++];
                }
                if (rc != 0)
                    break;
                if (i < len && text[i] != ',' && text[i] != '\n' &&
                    !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') &&
                    !(text[i] == '\r' && i + 1 == len)) {
                    rc = -3;
                    break;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n' &&
                       !(text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n'))) {
                    if (text[i] == '\0') {
                        rc = -4;
                        break;
                    }
                    buf[out++] = text[i++];
                }
                if (rc != 0)
                    break;
            }
            buf[out++] = '\0';
            if (i < len && text[i] == ',') {
                i++;
                continue;
            }
            if (i < len && text[i] == '\r')
                i++;
            if (i < len && text[i] == '\n')
                i++;
            line++;
            end_of_record = true;
        }
        if (rc != 0)
            break;
        bool blank = rec.nfields == 1 && rec.fields[0][0] == '\0';
        if (!blank)
            rc = cb(&rec, udata);
    }
    if (rc < 0)
        *err_line = line;
    free(buf);
    return rc;
}
