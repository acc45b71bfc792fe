/* corio/common.h - macros shared by the public headers. */
#ifndef CORIO_COMMON_H
#define CORIO_COMMON_H

/* Symbols of the public API are exported from the shared library; every
 * other symbol is hidden (the library builds with -fvisibility=hidden). */
#if defined(__GNUC__)
#define CORIO_API __attribute__((visibility("default")))
#else
#define CORIO_API
#endif

#endif
