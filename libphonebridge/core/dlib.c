/*
 * libphonebridge — core: a library loaded on first use (dlopen(3)).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "core/dlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int failed(pb_dlib *lib)
{
	return pb_error_set(PB_EUNSUPPORTED, "%s needs %s, which could not be loaded: %s "
	                    "(install the Debian package %s)",
	                    lib->feature, lib->soname, lib->why, lib->package);
}

/* dlerror() of the last call, made safe to keep */
static void keep_why(pb_dlib *lib, const char *fallback)
{
	const char *e = dlerror();
	pb_strlcpy(lib->why, e ? e : fallback, sizeof(lib->why));
}

static int load_locked(pb_dlib *lib)
{
	/* RTLD_LOCAL: its names stay out of the global scope, where they could
	 * satisfy (or clash with) another library's; RTLD_NOW: a missing
	 * symbol fails here, not at the first call */
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		keep_why(lib, "dlopen failed");
		return -1;
	}
	for (size_t i = 0; i < lib->nsyms; i++) {
		(void)dlerror();
		void *p = dlsym(h, lib->syms[i].name);
		if (!p) {
			keep_why(lib, "");
			if (!lib->why[0])
				snprintf(lib->why, sizeof(lib->why), "%s is NULL", lib->syms[i].name);
			/* the pointers already set stay unused: state says failed */
			dlclose(h);
			return -1;
		}
		*lib->syms[i].ptr = p;
	}
	return 0;
}

PB_PRIVATE_API int pb_dlib__load(pb_dlib *lib)
{
	int st = atomic_load_explicit(&lib->state, memory_order_acquire);
	if (st > 0)
		return 0;
	if (st == 0) {
		pthread_mutex_lock(&lock);
		st = atomic_load_explicit(&lib->state, memory_order_relaxed);
		if (st == 0) {
			st = load_locked(lib) == 0 ? 1 : -1;
			atomic_store_explicit(&lib->state, st, memory_order_release);
			pthread_mutex_unlock(&lock);
			/* outside the lock: a log handler may do anything */
			if (st > 0)
				pb_log_debug("core", "loaded %s for %s", lib->soname, lib->feature);
		} else {
			pthread_mutex_unlock(&lock);
		}
		if (st > 0)
			return 0;
	}
	return failed(lib);
}
