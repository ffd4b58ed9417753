/*
 * _phonebridge — the extension module: gathers each file's methods.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pbpy.h"

static PyMethodDef *const method_tables[] = {
	pbpy_errors_methods,
	pbpy_core_methods,
	pbpy_sms_methods,
	pbpy_mms_methods,
	pbpy_store_methods,
	pbpy_screen_methods,
	pbpy_matrix_methods,
	pbpy_modem_methods,
	pbpy_mmsc_methods,
};

static void module_free(void *m)
{
	pbpy_core_free();
}

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "phonebridge._phonebridge",
	.m_doc = "Thin C layer of the phonebridge package; use the phonebridge package instead.",
	.m_size = -1,
	.m_free = module_free,
};

PyMODINIT_FUNC PyInit__phonebridge(void);

PyMODINIT_FUNC PyInit__phonebridge(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof(method_tables) / sizeof(method_tables[0]); i++)
		if (PyModule_AddFunctions(m, method_tables[i]) < 0)
			goto fail;
	if (pbpy_core_init(m) < 0)
		goto fail;
	if (pbpy_sms_init(m) < 0)
		goto fail;
	if (pbpy_mms_init(m) < 0)
		goto fail;
	if (pbpy_store_init(m) < 0)
		goto fail;
	if (pbpy_screen_init(m) < 0)
		goto fail;
	if (pbpy_matrix_init(m) < 0)
		goto fail;
	if (pbpy_modem_init(m) < 0)
		goto fail;
	if (pbpy_mmsc_init(m) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
