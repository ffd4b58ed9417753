/*
 * _phonebridge — core: version, hex, base64, UTF-8, charsets, logging.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pbpy.h"

static PyObject *version(PyObject *self, PyObject *unused)
{
	int maj, min, pat;
	pb_version(&maj, &min, &pat);
	return Py_BuildValue("(iii)", maj, min, pat);
}

static PyObject *version_string(PyObject *self, PyObject *unused)
{
	return PyUnicode_FromString(pb_version_string());
}

static PyObject *hex_encode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", "upper", NULL };
	Py_buffer data;
	int upper = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|p", kwlist, &data, &upper))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_hex_encode(&out, data.buf, (size_t)data.len, upper ? PB_HEX_UPPER : 0);
	PyBuffer_Release(&data);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return pbpy_buf_to_str(&out);
}

static PyObject *hex_decode(PyObject *self, PyObject *arg)
{
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(arg, &len);
	if (!s)
		return NULL;
	pb_buf out = PB_BUF_INIT;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_hex_decode(&out, s, (size_t)len, &perr);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, &perr);
	}
	return pbpy_buf_to_bytes(&out);
}

static PyObject *base64_encode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", "url", "pad", NULL };
	Py_buffer data;
	int url = 0, pad = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|pp", kwlist, &data, &url, &pad))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_base64_encode(&out, data.buf, (size_t)data.len,
				  (url ? PB_BASE64_URL : 0) | (pad ? 0 : PB_BASE64_NOPAD));
	PyBuffer_Release(&data);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return pbpy_buf_to_str(&out);
}

static PyObject *base64_decode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "text", "url", NULL };
	const char *s;
	Py_ssize_t len;
	int url = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s#|p", kwlist, &s, &len, &url))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_base64_decode(&out, s, (size_t)len, url ? PB_BASE64_URL : 0, &perr);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, &perr);
	}
	return pbpy_buf_to_bytes(&out);
}

static PyObject *utf8_validate(PyObject *self, PyObject *arg)
{
	Py_buffer data;
	if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
		return NULL;
	size_t bad = 0;
	int rc = pb_utf8_validate(data.buf, (size_t)data.len, &bad);
	PyBuffer_Release(&data);
	if (rc < 0) {
		pb_parse_error perr = { bad, "ill-formed UTF-8" };
		return pbpy_raise(rc, &perr);
	}
	Py_RETURN_NONE;
}

static PyObject *charset_to_utf8(PyObject *self, PyObject *args)
{
	Py_buffer data;
	const char *charset;
	if (!PyArg_ParseTuple(args, "y*s", &data, &charset))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_charset_to_utf8(&out, charset, data.buf, (size_t)data.len);
	PyBuffer_Release(&data);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_str(&out);
}

static PyObject *charset_from_utf8(PyObject *self, PyObject *args)
{
	const char *text, *charset;
	Py_ssize_t len;
	if (!PyArg_ParseTuple(args, "s#s", &text, &len, &charset))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_charset_from_utf8(&out, charset, text, (size_t)len);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_bytes(&out);
}

static PyObject *charset_from_mib(PyObject *self, PyObject *arg)
{
	unsigned long mib = PyLong_AsUnsignedLong(arg);
	if (PyErr_Occurred())
		return NULL;
	const char *name = mib <= 0xFFFFFFFFul ? pb_charset_from_mib((unsigned)mib) : NULL;
	if (!name)
		Py_RETURN_NONE;
	return PyUnicode_FromString(name);
}

static PyObject *charset_to_mib(PyObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name)
		return NULL;
	int rc = pb_charset_to_mib(name);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return PyLong_FromLong(rc);
}

/* --- logging: the library's sink calls a Python callable ------------------ */

static PyObject *log_handler; /* callable(level, domain, message) or NULL */

static void log_to_python(int level, const char *domain, const char *message, void *userdata)
{
	PyGILState_STATE g = PyGILState_Ensure();
	if (log_handler) {
		PyObject *r = PyObject_CallFunction(log_handler, "iss", level, domain, message);
		if (r)
			Py_DECREF(r);
		else
			PyErr_WriteUnraisable(log_handler);
	}
	PyGILState_Release(g);
}

static PyObject *set_log_handler(PyObject *self, PyObject *args)
{
	PyObject *cb;
	int level = PB_LOG_INFO;
	if (!PyArg_ParseTuple(args, "O|i", &cb, &level))
		return NULL;
	if (cb == Py_None) {
		pb_log_set_callback(NULL, NULL);
		Py_CLEAR(log_handler);
		Py_RETURN_NONE;
	}
	if (!PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "handler must be callable or None");
		return NULL;
	}
	Py_XSETREF(log_handler, Py_NewRef(cb));
	pb_log_set_level(level);
	pb_log_set_callback(log_to_python, NULL);
	Py_RETURN_NONE;
}

static PyObject *log_message(PyObject *self, PyObject *args)
{
	int level;
	const char *domain, *message;
	if (!PyArg_ParseTuple(args, "iss", &level, &domain, &message))
		return NULL;
	pb_log(level, domain, "%s", message);
	Py_RETURN_NONE;
}

PyMethodDef pbpy_core_methods[] = {
	{ "version", version, METH_NOARGS, "version() -> (major, minor, patch) of the loaded library" },
	{ "version_string", version_string, METH_NOARGS, "version_string() -> '0.1.0'" },
	{ "hex_encode", (PyCFunction)(void (*)(void))hex_encode, METH_VARARGS | METH_KEYWORDS,
	  "hex_encode(data, upper=False) -> str" },
	{ "hex_decode", hex_decode, METH_O, "hex_decode(text) -> bytes; MalformedPDU with .offset" },
	{ "base64_encode", (PyCFunction)(void (*)(void))base64_encode, METH_VARARGS | METH_KEYWORDS,
	  "base64_encode(data, url=False, pad=True) -> str" },
	{ "base64_decode", (PyCFunction)(void (*)(void))base64_decode, METH_VARARGS | METH_KEYWORDS,
	  "base64_decode(text, url=False) -> bytes" },
	{ "utf8_validate", utf8_validate, METH_O, "utf8_validate(data): MalformedPDU with .offset if ill-formed" },
	{ "charset_to_utf8", charset_to_utf8, METH_VARARGS, "charset_to_utf8(data, charset) -> str" },
	{ "charset_from_utf8", charset_from_utf8, METH_VARARGS, "charset_from_utf8(text, charset) -> bytes" },
	{ "charset_from_mib", charset_from_mib, METH_O, "charset_from_mib(mib) -> str or None" },
	{ "charset_to_mib", charset_to_mib, METH_O, "charset_to_mib(name) -> int" },
	{ "set_log_handler", set_log_handler, METH_VARARGS,
	  "set_log_handler(callable(level, domain, message) or None, level=6)" },
	{ "log", log_message, METH_VARARGS, "log(level, domain, message) through the library's sink" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_core_init(PyObject *m)
{
	return PyModule_AddIntConstant(m, "LOG_ERROR", PB_LOG_ERROR) < 0 ||
			       PyModule_AddIntConstant(m, "LOG_WARNING", PB_LOG_WARNING) < 0 ||
			       PyModule_AddIntConstant(m, "LOG_NOTICE", PB_LOG_NOTICE) < 0 ||
			       PyModule_AddIntConstant(m, "LOG_INFO", PB_LOG_INFO) < 0 ||
			       PyModule_AddIntConstant(m, "LOG_DEBUG", PB_LOG_DEBUG) < 0
		       ? -1
		       : 0;
}

void pbpy_core_free(void)
{
	pb_log_set_callback(NULL, NULL);
	Py_CLEAR(log_handler);
}
