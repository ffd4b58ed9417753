/*
 * _phonebridge — small conversions shared by the module files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pbpy.h"

int pbpy_dict_put(PyObject *dict, const char *key, PyObject *value)
{
	if (!value)
		return -1;
	int rc = PyDict_SetItemString(dict, key, value);
	Py_DECREF(value);
	return rc;
}

PyObject *pbpy_str_or_none(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}
