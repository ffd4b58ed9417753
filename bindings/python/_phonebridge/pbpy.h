/*
 * _phonebridge — shared declarations of the C extension's files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The extension stays thin: each file wraps one module of the C API and
 * turns its errors into the package's exceptions through pbpy_raise().
 */
#ifndef PBPY_H
#define PBPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <phonebridge/phonebridge.h>

/*
 * Raise the Python exception for a failed call: the class registered for
 * @code by phonebridge/errors.py, with .code, .name and, when @perr is not
 * NULL, .offset set; the message is pb_error_last()'s. Returns NULL, so
 * `return pbpy_raise(rc, NULL);` ends a wrapper.
 */
PyObject *pbpy_raise(int code, const pb_parse_error *perr);

/* A pb_buf as bytes / str (UTF-8); the buffer is disposed either way. */
PyObject *pbpy_buf_to_bytes(pb_buf *buf);
PyObject *pbpy_buf_to_str(pb_buf *buf);

/* d[key] = value, stealing value (NULL: fails, for chaining calls); 0 or -1. */
int pbpy_dict_put(PyObject *dict, const char *key, PyObject *value);
/* A UTF-8 C string as str (surrogateescape), or None for NULL. */
PyObject *pbpy_str_or_none(const char *s);

/*
 * An outgoing MMS from Python (mms.c): the tuple of fields that
 * phonebridge.mms makes, as a pb_mms_send_req whose strings and attachment
 * bytes borrow from the Python objects that @hold keeps. Release the hold
 * (also after a failed parse) with pbpy_send_req_release(). 0 or -1.
 */
typedef struct {
	PyObject *keep[4];
	const char **lists[3];
	pb_mms_attachment *atts;
	Py_buffer *views;
	Py_ssize_t n_views;
} pbpy_send_req_hold;
int pbpy_send_req_parse(PyObject *fields, pb_mms_send_req *req, pbpy_send_req_hold *hold);
void pbpy_send_req_release(pbpy_send_req_hold *hold);

/* Per-file method tables and set-up, gathered by module.c. */
extern PyMethodDef pbpy_errors_methods[];
extern PyMethodDef pbpy_core_methods[];
int pbpy_core_init(PyObject *module);
void pbpy_core_free(void);
extern PyMethodDef pbpy_sms_methods[];
int pbpy_sms_init(PyObject *module);
extern PyMethodDef pbpy_mms_methods[];
int pbpy_mms_init(PyObject *module);
extern PyMethodDef pbpy_store_methods[];
int pbpy_store_init(PyObject *module);
extern PyMethodDef pbpy_screen_methods[];
int pbpy_screen_init(PyObject *module);
extern PyMethodDef pbpy_matrix_methods[];
int pbpy_matrix_init(PyObject *module);
extern PyMethodDef pbpy_modem_methods[];
int pbpy_modem_init(PyObject *module);
extern PyMethodDef pbpy_mmsc_methods[];
int pbpy_mmsc_init(PyObject *module);

#endif
