/*
 * verify.h - (declared in store.h as store_verify) walk every record of every
 * database, decode it, and check references between records.
 */
#ifndef WD_VERIFY_H
#define WD_VERIFY_H

#include "store.h"

#endif
