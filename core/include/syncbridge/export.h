/* syncbridge/export.h: SYNCBRIDGE_API marks what the shared libraries export.
 *
 * The libraries are built with hidden visibility: only declarations marked SYNCBRIDGE_API (the
 * public C++ classes and functions, and the C API) are in the dynamic symbol table, and a
 * version script keeps template instantiations of the standard library out of it. The same
 * attribute is right on both sides of an ELF shared library, and harmless in a static one.
 * Valid C and C++. */
#ifndef SYNCBRIDGE_EXPORT_H
#define SYNCBRIDGE_EXPORT_H

#if defined(__cplusplus) && defined(__GNUC__)
/* The standard attribute form: it may follow [[nodiscard]] in a class head. */
#define SYNCBRIDGE_API [[gnu::visibility("default")]]
#elif defined(__GNUC__)
#define SYNCBRIDGE_API __attribute__((visibility("default")))
#else
#define SYNCBRIDGE_API
#endif

#endif
