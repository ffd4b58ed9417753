/*
 * _phonebridge — modem: one handle on a HiLink router, AT modem or SMSEagle
 * (pb_modem).
 *
 * Every call that talks to the box runs with the GIL released and the
 * handle's lock held (one call at a time). watch() blocks in the C library
 * and calls a Python callable (with the GIL) per event; stop() is
 * pb_modem_stop(), which takes no lock, so another thread can end a watch.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pbpy-util.h"

typedef struct {
	PyObject_HEAD
	pb_modem *m;
	PyThread_type_lock lock;
	int closing;
} ModemObject;

/* A call on the box; after close() it finds no handle: PB_ESTATE. */
#define BLOCKING(self, rc, expr) PBPY_BLOCKING((self)->lock, rc, (self)->m ? (expr) : PB_ESTATE)

static PyObject *opt_str(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

static PyObject *msg_dict(const pb_modem_msg *g)
{
	PyObject *raw = g->raw ? PyBytes_FromStringAndSize((const char *)g->raw, (Py_ssize_t)g->raw_len)
			       : Py_NewRef(Py_None);
	if (!raw)
		return NULL;
	return Py_BuildValue("{s:N,s:s,s:s,s:i,s:N,s:N,s:N,s:N,s:i,s:N,s:N}", "id", opt_str(g->id),
			     "type", pb_modem_msg_type_name(g->type), "state",
			     pb_modem_msg_state_name(g->state), "box_type", g->box_type, "number",
			     opt_str(g->number), "text", opt_str(g->text), "time", opt_str(g->time),
			     "raw", raw, "raw_format", g->raw_format, "content_location",
			     opt_str(g->content_location), "error", opt_str(g->error));
}

static PyObject *modem_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "backend", "url", "device", "username", "password_file",
				  "token_file", "timeout_ms", "poll_interval_ms", "insecure_tls",
				  "ca_file", "login", "storage", "baud", "webhook", "modem_no", NULL };
	const char *backend;
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	int insecure = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzzzziipzzzizi", kwlist, &backend, &o.url,
					 &o.device, &o.username, &o.password_file, &o.token_file,
					 &o.timeout_ms, &o.poll_interval_ms, &insecure, &o.ca_file,
					 &o.login, &o.storage, &o.baud, &o.webhook, &o.modem_no))
		return NULL;
	o.insecure_tls = insecure;
	ModemObject *self = (ModemObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->lock = PyThread_allocate_lock();
	if (!self->lock) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = pb_modem_open(&self->m, backend, &o);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		Py_DECREF(self);
		return pbpy_raise(rc, NULL);
	}
	return (PyObject *)self;
}

static void modem_dealloc(ModemObject *self)
{
	if (self->m) {
		pb_modem *m = self->m;
		self->m = NULL;
		Py_BEGIN_ALLOW_THREADS /* closing may talk to the box (log out) */
		pb_modem_close(m);
		Py_END_ALLOW_THREADS
	}
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

#define OPEN_OR_FAIL(self)                                                   \
	do {                                                                 \
		if (!(self)->m)                                              \
			return pbpy_raise(pb_error_set(PB_ESTATE, "modem closed"), NULL); \
	} while (0)

static PyObject *modem_close(ModemObject *self, PyObject *unused)
{
	if (self->m && !self->closing) {
		/*
		 * Stop a running watch (or the one about to start: the C library
		 * keeps a stop until a watch consumes it) and wait for the call in
		 * progress; calls queued behind it find no handle.
		 */
		pb_modem *m = self->m;
		self->closing = 1;
		Py_BEGIN_ALLOW_THREADS
		pb_modem_stop(m);
		PyThread_acquire_lock(self->lock, WAIT_LOCK);
		self->m = NULL;
		pb_modem_close(m);
		PyThread_release_lock(self->lock);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static PyObject *modem_status(ModemObject *self, PyObject *unused)
{
	OPEN_OR_FAIL(self);
	pb_modem_status st;
	int rc;
	BLOCKING(self, rc, pb_modem_status_get(self->m, &st));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *dbm = st.signal_dbm == PB_MODEM_SIGNAL_UNKNOWN ? Py_NewRef(Py_None)
								  : PyLong_FromLong(st.signal_dbm);
	PyObject *pct = st.signal_percent < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(st.signal_percent);
	return Py_BuildValue("{s:s,s:s,s:s,s:N,s:N,s:s}", "operator", st.operator_name,
			     "registration", pb_modem_reg_name(st.registration), "network_type",
			     st.network_type, "signal_dbm", dbm, "signal_percent", pct, "sim",
			     pb_modem_sim_name(st.sim));
}

static PyObject *modem_list(ModemObject *self, PyObject *args)
{
	int box = PB_MODEM_BOX_INBOX;
	if (!PyArg_ParseTuple(args, "|i", &box))
		return NULL;
	OPEN_OR_FAIL(self);
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc;
	BLOCKING(self, rc, pb_modem_list(self->m, box, &l));
	PyObject *ret = NULL;
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		goto out;
	}
	ret = PyList_New((Py_ssize_t)l.count);
	for (size_t i = 0; ret && i < l.count; i++) {
		PyObject *d = msg_dict(&l.items[i]);
		if (!d)
			Py_CLEAR(ret);
		else
			PyList_SET_ITEM(ret, (Py_ssize_t)i, d);
	}
out:
	pb_modem_msg_list_dispose(&l);
	return ret;
}

static PyObject *modem_read(ModemObject *self, PyObject *args)
{
	const char *id;
	if (!PyArg_ParseTuple(args, "s", &id))
		return NULL;
	OPEN_OR_FAIL(self);
	pb_modem_msg g;
	memset(&g, 0, sizeof(g));
	int rc;
	BLOCKING(self, rc, pb_modem_read(self->m, id, &g));
	PyObject *r = rc < 0 ? pbpy_raise(rc, NULL) : msg_dict(&g);
	pb_modem_msg_dispose(&g);
	return r;
}

static PyObject *modem_delete(ModemObject *self, PyObject *args)
{
	const char *id;
	if (!PyArg_ParseTuple(args, "s", &id))
		return NULL;
	OPEN_OR_FAIL(self);
	int rc;
	BLOCKING(self, rc, pb_modem_delete(self->m, id));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	Py_RETURN_NONE;
}

static PyObject *modem_mark_read(ModemObject *self, PyObject *args)
{
	const char *id;
	if (!PyArg_ParseTuple(args, "s", &id))
		return NULL;
	OPEN_OR_FAIL(self);
	int rc;
	BLOCKING(self, rc, pb_modem_mark_read(self->m, id));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	Py_RETURN_NONE;
}

static PyObject *modem_send(ModemObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "number", "text", "report", NULL };
	const char *number, *text;
	int report = 0, ref = -1, rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|p", kwlist, &number, &text, &report))
		return NULL;
	OPEN_OR_FAIL(self);
	BLOCKING(self, rc, pb_modem_send_text(self->m, number, text, report ? PB_MODEM_SEND_REPORT : 0, &ref));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	if (ref < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(ref);
}

static PyObject *modem_send_pdu(ModemObject *self, PyObject *args)
{
	Py_buffer tpdu;
	int ref = -1, rc;
	if (!PyArg_ParseTuple(args, "y*", &tpdu))
		return NULL;
	if (!self->m) {
		PyBuffer_Release(&tpdu);
		return pbpy_raise(pb_error_set(PB_ESTATE, "modem closed"), NULL);
	}
	BLOCKING(self, rc, pb_modem_send_pdu(self->m, tpdu.buf, (size_t)tpdu.len, &ref));
	PyBuffer_Release(&tpdu);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	if (ref < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(ref);
}

/* --- watch ------------------------------------------------------------------ */

typedef struct {
	PyObject *cb;
	PyObject *exc;
} watch_ctx;

static int watch_event(const pb_modem_event *ev, void *ud)
{
	watch_ctx *w = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *d;
	if (ev->type == PB_MODEM_EVENT_MESSAGE)
		d = Py_BuildValue("{s:s,s:N}", "event", "message", "message", msg_dict(ev->msg));
	else if (ev->type == PB_MODEM_EVENT_ERROR)
		d = Py_BuildValue("{s:s,s:i,s:s,s:s}", "event", "error", "code", ev->error, "name",
				  pb_error_name(ev->error), "text", ev->text ? ev->text : "");
	else
		d = Py_BuildValue("{s:s}", "event", "recovered");
	int stop = 0;
	PyObject *r = d ? PyObject_CallFunctionObjArgs(w->cb, d, NULL) : NULL;
	Py_XDECREF(d);
	if (!r) {
		w->exc = pbpy_take_exception();
		stop = 1;
	} else {
		stop = PyObject_IsTrue(r) > 0;
		PyErr_Clear();
		Py_DECREF(r);
	}
	PyGILState_Release(g);
	return stop;
}

static PyObject *modem_watch(ModemObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "callback", "new_only", "duration_ms", NULL };
	PyObject *cb;
	int new_only = 0, duration = -1, rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pi", kwlist, &cb, &new_only, &duration))
		return NULL;
	if (!PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "watch: callback must be callable");
		return NULL;
	}
	OPEN_OR_FAIL(self);
	watch_ctx w = { cb, NULL };
	BLOCKING(self, rc, pb_modem_watch(self->m, new_only ? PB_MODEM_WATCH_NEW_ONLY : 0, duration,
					  watch_event, &w));
	if (w.exc)
		return pbpy_reraise(w.exc);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return PyBool_FromLong(rc != 0); /* True: the callback stopped it */
}

static PyObject *modem_stop(ModemObject *self, PyObject *unused)
{
	if (self->m && !self->closing)
		pb_modem_stop(self->m); /* no lock: it must reach a running watch */
	Py_RETURN_NONE;
}

static PyObject *modem_backend(ModemObject *self, void *unused)
{
	if (!self->m)
		Py_RETURN_NONE;
	return PyUnicode_FromString(pb_modem_backend_name(self->m));
}

#define KWF(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef modem_methods[] = {
	{ "close", (PyCFunction)modem_close, METH_NOARGS, "close()" },
	{ "status", (PyCFunction)modem_status, METH_NOARGS, "status() -> dict" },
	{ "list", (PyCFunction)modem_list, METH_VARARGS, "list(box=1) -> [message dict]" },
	{ "read", (PyCFunction)modem_read, METH_VARARGS, "read(id) -> message dict" },
	{ "delete", (PyCFunction)modem_delete, METH_VARARGS, "delete(id)" },
	{ "mark_read", (PyCFunction)modem_mark_read, METH_VARARGS, "mark_read(id)" },
	{ "send", KWF(modem_send), METH_VARARGS | METH_KEYWORDS,
	  "send(number, text, report=False) -> reference or None" },
	{ "send_pdu", (PyCFunction)modem_send_pdu, METH_VARARGS, "send_pdu(tpdu) -> reference or None" },
	{ "watch", KWF(modem_watch), METH_VARARGS | METH_KEYWORDS,
	  "watch(callback(event dict) -> stop?, new_only=False, duration_ms=-1) -> stopped by callback" },
	{ "stop", (PyCFunction)modem_stop, METH_NOARGS, "stop(): end a running watch (any thread)" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef modem_getset[] = {
	{ "backend", (getter)modem_backend, NULL, "the backend's name", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject ModemType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Modem",
	.tp_basicsize = sizeof(ModemObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A modem handle (pb_modem).",
	.tp_new = modem_new,
	.tp_dealloc = (destructor)modem_dealloc,
	.tp_methods = modem_methods,
	.tp_getset = modem_getset,
};

PyMethodDef pbpy_modem_methods[] = {
	{ NULL, NULL, 0, NULL },
};

int pbpy_modem_init(PyObject *m)
{
	return pbpy_add_type(m, "Modem", &ModemType);
}
