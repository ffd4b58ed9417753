/*
 * _phonebridge — C error codes to the package's exception classes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pbpy.h"

/* code (int) -> exception class, registered by phonebridge/errors.py */
static PyObject *error_classes;
static PyObject *base_class;

static PyObject *register_errors(PyObject *self, PyObject *args)
{
	PyObject *mapping, *base;
	if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &mapping, &base))
		return NULL;
	if (!PyType_Check(base) || !PyObject_IsSubclass(base, PyExc_Exception)) {
		PyErr_SetString(PyExc_TypeError, "base must be an Exception subclass");
		return NULL;
	}
	Py_XSETREF(error_classes, Py_NewRef(mapping));
	Py_XSETREF(base_class, Py_NewRef(base));
	Py_RETURN_NONE;
}

static PyObject *error_name(PyObject *self, PyObject *arg)
{
	long code = PyLong_AsLong(arg);
	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(pb_error_name((int)code));
}

PyMethodDef pbpy_errors_methods[] = {
	{ "_register_errors", register_errors, METH_VARARGS,
	  "_register_errors(mapping, base): code -> exception class (used by phonebridge.errors)" },
	{ "error_name", error_name, METH_O, "error_name(code) -> 'PB_E...'" },
	{ NULL, NULL, 0, NULL },
};

PyObject *pbpy_raise(int code, const pb_parse_error *perr)
{
	if (code == PB_ENOMEM)
		return PyErr_NoMemory();
	const char *msg = pb_error_last()->message;
	if (msg[0] == '\0')
		msg = pb_strerror(code);
	PyObject *cls = NULL;
	if (error_classes) {
		PyObject *key = PyLong_FromLong(code);
		if (!key)
			return NULL;
		cls = PyDict_GetItemWithError(error_classes, key);
		Py_DECREF(key);
		if (!cls && PyErr_Occurred())
			return NULL;
	}
	if (!cls)
		cls = base_class ? base_class : PyExc_RuntimeError;
	PyObject *exc = PyObject_CallFunction(cls, "s", msg);
	if (!exc)
		return NULL;
	PyObject *v;
	if ((v = PyLong_FromLong(code)) == NULL || PyObject_SetAttrString(exc, "code", v) < 0)
		goto fail;
	Py_DECREF(v);
	if ((v = PyUnicode_FromString(pb_error_name(code))) == NULL || PyObject_SetAttrString(exc, "name", v) < 0)
		goto fail;
	Py_DECREF(v);
	if (perr) {
		if ((v = PyLong_FromSize_t(perr->offset)) == NULL || PyObject_SetAttrString(exc, "offset", v) < 0)
			goto fail;
		Py_DECREF(v);
	}
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
fail:
	Py_XDECREF(v);
	Py_DECREF(exc);
	return NULL;
}

PyObject *pbpy_buf_to_bytes(pb_buf *buf)
{
	PyObject *r = PyBytes_FromStringAndSize((const char *)buf->data, (Py_ssize_t)buf->len);
	pb_buf_dispose(buf);
	return r;
}

PyObject *pbpy_buf_to_str(pb_buf *buf)
{
	PyObject *r = PyUnicode_DecodeUTF8((const char *)buf->data, (Py_ssize_t)buf->len, "surrogateescape");
	pb_buf_dispose(buf);
	return r;
}
