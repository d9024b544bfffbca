#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro Swift cannot import: sqlite3 copies the bound value.
static inline sqlite3_destructor_type taggan_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}
