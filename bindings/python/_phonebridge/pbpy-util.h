/*
 * _phonebridge — helpers shared by the files of the screen, matrix, modem
 * and mmsc bindings.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PBPY_UTIL_H
#define PBPY_UTIL_H

#include "pbpy.h"

#include <pythread.h>

/*
 * Evaluate @expr into @rc with the GIL released and @lock (a handle's
 * PyThread lock: one call at a time per handle) held.
 */
#define PBPY_BLOCKING(lock, rc, expr)                       \
	do {                                                \
		Py_BEGIN_ALLOW_THREADS                      \
		PyThread_acquire_lock((lock), WAIT_LOCK);   \
		(rc) = (expr);                              \
		PyThread_release_lock((lock));              \
		Py_END_ALLOW_THREADS                        \
	} while (0)

/* The pending exception as one normalised object with its traceback
 * (new reference; NULL if none); the error indicator is cleared. */
static inline PyObject *pbpy_take_exception(void)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (value && tb)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
}

/* "ExcType: message" of an exception object into @buf (never fails). */
static inline void pbpy_exception_text(char *buf, size_t cap, PyObject *exc)
{
	PyObject *s = exc ? PyObject_Str(exc) : NULL;
	const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
	if (!msg)
		PyErr_Clear();
	snprintf(buf, cap, "%s: %s", exc ? Py_TYPE(exc)->tp_name : "error", msg ? msg : "?");
	Py_XDECREF(s);
}

/* Raise @exc again (the reference is stolen). Returns NULL. */
static inline PyObject *pbpy_reraise(PyObject *exc)
{
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

/* Ready @type and add it to @module as @name. */
static inline int pbpy_add_type(PyObject *module, const char *name, PyTypeObject *type)
{
	if (PyType_Ready(type) < 0)
		return -1;
	Py_INCREF(type);
	if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	return 0;
}

#endif
