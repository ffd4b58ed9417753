/*
 * libphonebridge — core: a library loaded on first use (dlopen(3)).
 * Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A dependency that only one optional feature needs is not linked: the
 * feature loads it when it is first used, so a process that never uses the
 * feature never maps it (docs/architecture.md, "Dependencies loaded on
 * demand"). Today libolm (Matrix encryption; it brings libstdc++) and
 * libxml2 (the HiLink backend; it brings ICU).
 *
 * The module keeps a typed pointer per function, declared from the
 * library's own header with __typeof__, so every call is still checked
 * against the real prototype at compile time:
 *
 *     #define XML_FUNCTIONS(X) X(xmlNewParserCtxt) X(xmlFreeDoc)
 *     XML_FUNCTIONS(PB_DLIB_DECLARE)            // static ... *sym_xmlFreeDoc;
 *     static const pb_dlib_sym xml_syms[] = { XML_FUNCTIONS(PB_DLIB_ENTRY) };
 *     static pb_dlib xml_lib = PB_DLIB_INIT("libxml2.so.2", "the HiLink backend",
 *                                           "libxml2", xml_syms);
 *     int rc = pb_dlib__load(&xml_lib);
 *     if (rc < 0)
 *             return rc;
 *     sym_xmlFreeDoc(doc);
 *
 * A data symbol (libxml2's xmlFree is a variable holding a function
 * pointer) works the same way: its pointer points at the variable.
 * The library is not linked, so a direct call by mistake fails the link of
 * the shared library (-Wl,--no-undefined) and of every test program.
 */
#ifndef PB_CORE_DLIB_H
#define PB_CORE_DLIB_H

#include "core/internal.h"

#include <stdatomic.h>

typedef struct pb_dlib_sym {
	const char *name;
	void **ptr; /* where its address goes */
} pb_dlib_sym;

typedef struct pb_dlib {
	const char *soname;   /* e.g. "libolm.so.3" */
	const char *feature;  /* what needs it, for the error: "Matrix encryption" */
	const char *package;  /* the Debian package that ships it */
	const pb_dlib_sym *syms;
	size_t nsyms;
	/* state, under one lock in dlib.c; 0 not tried, 1 loaded, < 0 failed */
	atomic_int state;
	char why[256];
} pb_dlib;

#define PB_DLIB_INIT(soname, feature, package, syms) \
	{ (soname), (feature), (package), (syms), PB_ARRAY_SIZE(syms), 0, "" }
#define PB_DLIB_DECLARE(s) static __typeof__(s) *sym_##s;
#define PB_DLIB_ENTRY(s) { #s, (void **)&sym_##s },

/*
 * Load @p lib and resolve its symbols, once per process; thread-safe.
 * The library stays loaded until the process ends.
 * @return 0 (loaded, every sym_ pointer set), or PB_EUNSUPPORTED with an
 *         error naming the feature, the library, why (dlerror) and the
 *         package to install; the same error on every later call.
 */
PB_PRIVATE_API int pb_dlib__load(pb_dlib *lib);

#endif
