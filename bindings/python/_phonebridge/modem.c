/*
 * _phonebridge — modem: one handle on a HiLink router, AT modem or SMSEagle
 * (pb_modem).
 *
 * Every call that talks to the box runs with the GIL released and the
 * handle's lock held (one call at a time). watch() blocks in the C library
 * and calls a Python callable (with the GIL) per event; stop() is
 * pb_modem_stop(), which takes no lock, so another thread can end a watch.
 * While the callable runs, the C watch is paused between two operations,
 * so the watch lends the handle out: it lets go of the lock, and calls
 * from the callable (delete the message just stored) or from another
 * thread (the one iterating a Watch) run, as pb-bridged does in C. A
 * second lock, held for the whole watch, keeps close() and another watch
 * out until it has ended.
 *
 * Backends written in Python: modem_backend_register() gives a Python class
 * its own pb_modem_backend_ops table, so pb_modem_open() and the C front end
 * (watch included) drive it like a built-in backend. The table's functions
 * take the GIL and call the instance; an exception becomes a PB_E* code and
 * never crosses into C.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <limits.h>

#include <phonebridge/sys/modem-backend.h>

#include "pbpy-util.h"

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
	PyObject_HEAD
	pb_modem *m;
	PyThread_type_lock lock;       /* one call on the handle at a time */
	PyThread_type_lock watch_lock; /* held by a watch from start to end */
	unsigned long watch_thread;    /* the thread running the watch, or 0 (GIL) */
	int closing;
	int close_pending;             /* close() came from the watch's callback (GIL) */
} ModemObject;

/*
 * The exception a Python backend raised during the current call on this
 * thread (the C library calls the backend on the caller's thread): it
 * becomes the __cause__ of the exception the call raises. Touched with the
 * GIL held only.
 */
static _Thread_local PyObject *backend_exc;
/* The modem whose watch runs on this thread, or NULL (stopped on Ctrl-C). */
static _Thread_local pb_modem *watching;

static void backend_exc_drop(void)
{
	Py_CLEAR(backend_exc);
}

/* An exception that must end the call as itself: KeyboardInterrupt, SystemExit. */
static int is_fatal(PyObject *exc)
{
	return exc && !PyErr_GivenExceptionMatches(exc, PyExc_Exception);
}

/* A call on the box; after close() it finds no handle: PB_ESTATE. */
#define BLOCKING(self, rc, expr)                                                          \
	do {                                                                              \
		backend_exc_drop();                                                       \
		PBPY_BLOCKING((self)->lock, rc, (self)->m ? (expr) : PB_ESTATE);          \
		if ((rc) >= 0)                                                            \
			backend_exc_drop(); /* one the call recovered from */            \
	} while (0)

/*
 * Raise the exception for a failed call, chained to the backend's own; a
 * KeyboardInterrupt or SystemExit the backend raised comes out as itself.
 */
static PyObject *modem_raise(int rc)
{
	PyObject *cause = backend_exc;
	backend_exc = NULL;
	if (is_fatal(cause))
		return pbpy_reraise(cause);
	pbpy_raise(rc, NULL);
	if (cause) {
		PyObject *exc = pbpy_take_exception();
		if (!exc) {
			Py_DECREF(cause);
			return NULL;
		}
		PyException_SetCause(exc, cause); /* steals cause */
		return pbpy_reraise(exc);
	}
	return NULL;
}

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
				  "token_file", "timeout_ms", "poll_interval_ms", "tls_insecure",
				  "ca_file", "login", "storage", "baud", "webhook", "modem_no", NULL };
	const char *backend;
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	int insecure = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzzzzIIpzzzizi", kwlist, &backend, &o.url,
					 &o.device, &o.username, &o.password_file, &o.token_file,
					 &o.timeout_ms, &o.poll_interval_ms, &insecure, &o.ca_file,
					 &o.login, &o.storage, &o.baud, &o.webhook, &o.modem_no))
		return NULL;
	o.tls_insecure = insecure;
	ModemObject *self = (ModemObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->lock = PyThread_allocate_lock();
	self->watch_lock = PyThread_allocate_lock();
	if (!self->lock || !self->watch_lock) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	int rc;
	backend_exc_drop();
	Py_BEGIN_ALLOW_THREADS
	rc = pb_modem_open(&self->m, backend, &o);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		Py_DECREF(self);
		return modem_raise(rc);
	}
	backend_exc_drop();
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
	if (self->watch_lock)
		PyThread_free_lock(self->watch_lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

#define OPEN_OR_FAIL(self)                                                   \
	do {                                                                 \
		if (!(self)->m || (self)->closing)                           \
			return pbpy_raise(pb_error_set(PB_ESTATE, "modem closed"), NULL); \
	} while (0)

static PyObject *modem_close(ModemObject *self, PyObject *unused)
{
	if (self->m && !self->closing) {
		/*
		 * Stop a running watch (or the one about to start: the C library
		 * keeps a stop until a watch consumes it) and wait for it to end
		 * and for the call in progress; calls queued behind find no handle.
		 * From the watch's own callback the watch closes the handle when
		 * it has returned.
		 */
		pb_modem *m = self->m;
		self->closing = 1;
		if (self->watch_thread == PyThread_get_thread_ident()) {
			self->close_pending = 1;
			pb_modem_stop(m);
			Py_RETURN_NONE;
		}
		Py_BEGIN_ALLOW_THREADS
		pb_modem_stop(m);
		PyThread_acquire_lock(self->watch_lock, WAIT_LOCK);
		PyThread_acquire_lock(self->lock, WAIT_LOCK);
		self->m = NULL;
		pb_modem_close(m);
		PyThread_release_lock(self->lock);
		PyThread_release_lock(self->watch_lock);
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
		return modem_raise(rc);
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
		modem_raise(rc);
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
	PyObject *r = rc < 0 ? modem_raise(rc) : msg_dict(&g);
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
		return modem_raise(rc);
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
		return modem_raise(rc);
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
		return modem_raise(rc);
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
		return modem_raise(rc);
	if (ref < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(ref);
}

/* --- watch ------------------------------------------------------------------ */

typedef struct {
	PyObject *cb;
	PyObject *exc;
	PyThread_type_lock lock; /* the handle's: lent out while cb runs */
} watch_ctx;

static int watch_event(const pb_modem_event *ev, void *ud)
{
	watch_ctx *w = ud;
	PyThread_release_lock(w->lock);
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *d;
	if (is_fatal(backend_exc)) { /* the watch is stopping: no more events */
		PyGILState_Release(g);
		PyThread_acquire_lock(w->lock, WAIT_LOCK);
		return 1;
	}
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
	/* back to the watch once a call the callable started elsewhere is done */
	PyThread_acquire_lock(w->lock, WAIT_LOCK);
	return stop;
}

static PyObject *modem_watch(ModemObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "callback", "new_only", "duration_ms", NULL };
	PyObject *cb;
	int new_only = 0, rc;
	unsigned duration = PB_WAIT_FOREVER; /* "I": Python's -1 is PB_WAIT_FOREVER too */
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pI", kwlist, &cb, &new_only, &duration))
		return NULL;
	if (!PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "watch: callback must be callable");
		return NULL;
	}
	OPEN_OR_FAIL(self);
	if (self->watch_thread == PyThread_get_thread_ident())
		return pbpy_raise(pb_error_set(PB_ESTATE, "watch: called from the watch's own callback"), NULL);
	watch_ctx w = { cb, NULL, self->lock };
	backend_exc_drop();
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(self->watch_lock, WAIT_LOCK);
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	Py_END_ALLOW_THREADS
	if (!self->m || self->closing) {
		rc = pb_error_set(PB_ESTATE, "modem closed");
	} else {
		self->watch_thread = PyThread_get_thread_ident();
		pb_modem *m = self->m;
		watching = m;
		Py_BEGIN_ALLOW_THREADS
		rc = pb_modem_watch(m, new_only ? PB_MODEM_WATCH_NEW_ONLY : 0, duration, watch_event, &w);
		Py_END_ALLOW_THREADS
		watching = NULL;
		self->watch_thread = 0;
	}
	if (is_fatal(backend_exc) && !w.exc) {
		w.exc = backend_exc;
		backend_exc = NULL;
	}
	if (rc >= 0)
		backend_exc_drop(); /* e.g. an error event's */
	if (self->close_pending) {
		pb_modem *m = self->m;
		self->m = NULL;
		self->close_pending = 0;
		Py_BEGIN_ALLOW_THREADS
		pb_modem_close(m);
		Py_END_ALLOW_THREADS
	}
	PyThread_release_lock(self->lock);
	PyThread_release_lock(self->watch_lock);
	if (w.exc)
		return pbpy_reraise(w.exc);
	if (rc < 0)
		return modem_raise(rc);
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

/* --- call forwarding, USSD --------------------------------------------------- */

static PyObject *modem_forward_query(ModemObject *self, PyObject *args)
{
	int reason, rc;
	if (!PyArg_ParseTuple(args, "i", &reason))
		return NULL;
	OPEN_OR_FAIL(self);
	pb_modem_forward f;
	memset(&f, 0, sizeof(f));
	BLOCKING(self, rc, pb_modem_forward_query(self->m, reason, &f));
	if (rc < 0)
		return modem_raise(rc);
	PyObject *no_reply = f.no_reply_s < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(f.no_reply_s);
	return Py_BuildValue("{s:i,s:O,s:N,s:N}", "reason", f.reason, "active", f.active ? Py_True : Py_False,
			     "number", f.number[0] ? opt_str(f.number) : Py_NewRef(Py_None), "no_reply_s",
			     no_reply);
}

static PyObject *modem_forward_set(ModemObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "reason", "number", "no_reply_s", NULL };
	int reason, no_reply = -1, rc;
	const char *number;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "iz|i", kwlist, &reason, &number, &no_reply))
		return NULL;
	OPEN_OR_FAIL(self);
	BLOCKING(self, rc, pb_modem_forward_set(self->m, reason, number, no_reply));
	if (rc < 0)
		return modem_raise(rc);
	Py_RETURN_NONE;
}

static PyObject *modem_ussd(ModemObject *self, PyObject *args)
{
	const char *code;
	if (!PyArg_ParseTuple(args, "s", &code))
		return NULL;
	OPEN_OR_FAIL(self);
	char *reply = NULL;
	int rc;
	BLOCKING(self, rc, pb_modem_ussd(self->m, code, &reply));
	PyObject *r = rc < 0 ? modem_raise(rc) : opt_str(reply ? reply : "");
	pb_free(reply);
	return r;
}

/* --- backends written in Python ---------------------------------------------- */

/*
 * One slot per registered class, for the life of the process (the C
 * registry keeps the ops table and has no way to remove it). pb_modem_open()
 * gives open() no user data, so each slot has its own open() trampoline.
 */
#define PY_BACKENDS 16

typedef struct py_backend {
	pb_modem_backend_ops ops;
	char name[64];
	PyObject *factory; /* factory(options dict) -> backend instance; strong */
} py_backend;

static py_backend py_backends[PY_BACKENDS];
static int py_backend_count; /* guarded by the GIL */

/*
 * Turn the pending exception into a PB_E* code with the message set: a
 * PhoneBridgeError keeps its code; NotImplementedError, TimeoutError,
 * OSError and MemoryError map to PB_EUNSUPPORTED, PB_ETIMEOUT, PB_EIO and
 * PB_ENOMEM; anything else is PB_ERROR. The exception is kept for the
 * caller's __cause__.
 */
static int backend_fail(const py_backend *pb, const char *op)
{
	PyObject *exc = pbpy_take_exception();
	int code = PB_ERROR;
	char text[256];
	pbpy_exception_text(text, sizeof(text), exc);
	PyObject *c = exc ? PyObject_GetAttrString(exc, "code") : NULL;
	long v = c && PyLong_Check(c) ? PyLong_AsLong(c) : 0;
	Py_XDECREF(c);
	PyErr_Clear();
	if (v <= PB_ERROR && v >= PB_ERANGE) {
		code = (int)v;
		PyObject *s = PyObject_Str(exc);
		const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
		if (msg)
			snprintf(text, sizeof(text), "%s", msg);
		PyErr_Clear();
		Py_XDECREF(s);
	} else if (exc && PyErr_GivenExceptionMatches(exc, PyExc_NotImplementedError)) {
		code = PB_EUNSUPPORTED;
	} else if (exc && PyErr_GivenExceptionMatches(exc, PyExc_TimeoutError)) {
		code = PB_ETIMEOUT;
	} else if (exc && PyErr_GivenExceptionMatches(exc, PyExc_OSError)) {
		code = PB_EIO;
	} else if (exc && PyErr_GivenExceptionMatches(exc, PyExc_MemoryError)) {
		code = PB_ENOMEM;
	} else if (is_fatal(exc)) {
		/* Ctrl-C in a backend method: end a watch too, and raise it as itself */
		code = PB_ECANCELLED;
		if (watching)
			pb_modem_stop(watching);
	}
	if (is_fatal(backend_exc))
		Py_XDECREF(exc); /* the first Ctrl-C wins */
	else
		Py_XSETREF(backend_exc, exc);
	return pb_error_set(code, "%s backend: %s: %s", pb->name, op, text);
}

/* A value of the wrong kind from a backend method (no exception pending). */
static int backend_bad(const py_backend *pb, const char *op, const char *what)
{
	PyErr_Clear();
	return pb_error_set(PB_EINVAL, "%s backend: %s: %s", pb->name, op, what);
}

typedef struct {
	PyObject *self; /* the backend instance (strong) */
	const py_backend *pb;
} pyb_state;

static int pyb_open(const py_backend *pb, void **state, const pb_modem_options *o, const pb_modem_secrets *sec)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int rc = 0;
	pyb_state *st = NULL;
	PyObject *d = Py_BuildValue(
		"{s:N,s:N,s:N,s:N,s:N,s:I,s:I,s:O,s:N,s:N,s:N,s:i,s:N,s:i}", "url", opt_str(o->url),
		"device", opt_str(o->device), "username", opt_str(o->username), "password",
		opt_str(sec->password), "token", opt_str(sec->token), "timeout_ms", o->timeout_ms,
		"poll_interval_ms", o->poll_interval_ms, "tls_insecure", o->tls_insecure ? Py_True : Py_False,
		"ca_file", opt_str(o->ca_file), "login", opt_str(o->login), "storage", opt_str(o->storage),
		"baud", o->baud, "webhook", opt_str(o->webhook), "modem_no", o->modem_no);
	PyObject *inst = d ? PyObject_CallOneArg(pb->factory, d) : NULL;
	Py_XDECREF(d);
	if (!inst) {
		rc = backend_fail(pb, "open");
		goto out;
	}
	st = PyMem_RawMalloc(sizeof(*st));
	if (!st) {
		Py_DECREF(inst);
		rc = pb_error_set(PB_ENOMEM, "out of memory");
		goto out;
	}
	st->self = inst;
	st->pb = pb;
	*state = st;
out:
	PyGILState_Release(g);
	return rc;
}

#define PYB_OPEN(i)                                                                                  \
	static int pyb_open_##i(void **state, const pb_modem_options *o, const pb_modem_secrets *sec) \
	{                                                                                            \
		return pyb_open(&py_backends[i], state, o, sec);                                     \
	}
PYB_OPEN(0) PYB_OPEN(1) PYB_OPEN(2) PYB_OPEN(3) PYB_OPEN(4) PYB_OPEN(5) PYB_OPEN(6) PYB_OPEN(7)
PYB_OPEN(8) PYB_OPEN(9) PYB_OPEN(10) PYB_OPEN(11) PYB_OPEN(12) PYB_OPEN(13) PYB_OPEN(14) PYB_OPEN(15)

static int (*const pyb_opens[PY_BACKENDS])(void **, const pb_modem_options *, const pb_modem_secrets *) = {
	pyb_open_0, pyb_open_1, pyb_open_2, pyb_open_3, pyb_open_4, pyb_open_5, pyb_open_6, pyb_open_7,
	pyb_open_8, pyb_open_9, pyb_open_10, pyb_open_11, pyb_open_12, pyb_open_13, pyb_open_14, pyb_open_15,
};

static void pyb_close(void *state)
{
	pyb_state *st = state;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *r = PyObject_CallMethod(st->self, "close", NULL);
	if (r)
		Py_DECREF(r);
	else
		PyErr_WriteUnraisable(st->self); /* nobody to raise it to */
	Py_DECREF(st->self);
	PyMem_RawFree(st);
	PyGILState_Release(g);
}

/* A str attribute (None: NULL) as UTF-8 borrowed from *hold (new ref). 0 or -1. */
static int attr_str(PyObject *o, const char *name, PyObject **hold, const char **out)
{
	*out = NULL;
	PyObject *v = PyObject_GetAttrString(o, name);
	if (!v)
		return -1;
	*hold = v;
	if (v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be str or None", name);
		return -1;
	}
	*out = PyUnicode_AsUTF8(v);
	return *out ? 0 : -1;
}

/* An int attribute (None: @dflt). 0 or -1. */
static int attr_int(PyObject *o, const char *name, int dflt, int *out)
{
	PyObject *v = PyObject_GetAttrString(o, name);
	if (!v)
		return -1;
	long n = dflt;
	if (v != Py_None) {
		n = PyLong_AsLong(v);
		if (n == -1 && PyErr_Occurred()) {
			Py_DECREF(v);
			return -1;
		}
	}
	Py_DECREF(v);
	if (n < INT_MIN || n > INT_MAX) {
		PyErr_Format(PyExc_OverflowError, "%s out of range", name);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* An attribute that is a name of name_of(0..count-1) or such an int. 0 or -1. */
static int attr_enum(PyObject *o, const char *name, const char *(*name_of)(int), int count, int *out)
{
	PyObject *v = PyObject_GetAttrString(o, name);
	if (!v)
		return -1;
	int rc = -1;
	if (PyUnicode_Check(v)) {
		const char *s = PyUnicode_AsUTF8(v);
		for (int i = 0; s && i < count && rc < 0; i++)
			if (strcmp(name_of(i), s) == 0) {
				*out = i;
				rc = 0;
			}
		if (s && rc < 0)
			PyErr_Format(PyExc_ValueError, "%s: unknown value \"%s\"", name, s);
	} else {
		long n = PyLong_AsLong(v);
		if (n >= 0 && n < count) {
			*out = (int)n;
			rc = 0;
		} else if (!PyErr_Occurred()) {
			PyErr_Format(PyExc_ValueError, "%s: %ld is out of range", name, n);
		}
	}
	Py_DECREF(v);
	return rc;
}

/* A message-like object (phonebridge.modem.Message) borrowed into @g. */
typedef struct {
	PyObject *hold[7];
	Py_buffer raw;
	int has_raw;
} msg_refs;

static void msg_refs_release(msg_refs *r)
{
	for (size_t i = 0; i < N_ITEMS(r->hold); i++)
		Py_CLEAR(r->hold[i]);
	if (r->has_raw)
		PyBuffer_Release(&r->raw);
	r->has_raw = 0;
}

static int msg_from_py(PyObject *o, pb_modem_msg *g, msg_refs *r)
{
	memset(g, 0, sizeof(*g));
	memset(r, 0, sizeof(*r));
	const char **strs[] = { (const char **)&g->id, (const char **)&g->number, (const char **)&g->text,
				(const char **)&g->time, (const char **)&g->content_location,
				(const char **)&g->error };
	static const char *const names[] = { "id", "number", "text", "time", "content_location", "error" };
	for (size_t i = 0; i < N_ITEMS(names); i++)
		if (attr_str(o, names[i], &r->hold[i], strs[i]) < 0)
			goto fail;
	/* the fields are typed enums: read into ints first */
	int type, state, raw_format;
	if (attr_enum(o, "type", pb_modem_msg_type_name, PB_MODEM_MSG_PDU + 1, &type) < 0 ||
	    attr_enum(o, "state", pb_modem_msg_state_name, PB_MODEM_STATE_UNKNOWN + 1, &state) < 0 ||
	    attr_int(o, "box_type", -1, &g->box_type) < 0 || attr_int(o, "raw_format", 0, &raw_format) < 0)
		goto fail;
	g->type = (pb_modem_msg_type)type;
	g->state = (pb_modem_msg_state)state;
	g->raw_format = (pb_modem_raw_format)raw_format;
	PyObject *raw = PyObject_GetAttrString(o, "raw");
	if (!raw)
		goto fail;
	r->hold[6] = raw;
	if (raw != Py_None) {
		if (PyObject_GetBuffer(raw, &r->raw, PyBUF_SIMPLE) < 0)
			goto fail;
		r->has_raw = 1;
		g->raw = r->raw.buf;
		g->raw_len = (size_t)r->raw.len;
		if (g->raw_format == PB_MODEM_RAW_NONE && g->raw_len)
			g->raw_format = PB_MODEM_RAW_ENTRY;
	}
	return 0;
fail:
	msg_refs_release(r);
	return -1;
}

/* Append every message of the iterable @seq to @out. 0 or a PB_E* code. */
static int msgs_to_list(const py_backend *pb, const char *op, PyObject *seq, pb_modem_msg_list *out)
{
	PyObject *it = PyObject_GetIter(seq);
	if (!it)
		return backend_bad(pb, op, "must return an iterable of Message");
	int rc = 0;
	PyObject *item;
	while (rc == 0 && (item = PyIter_Next(it)) != NULL) {
		pb_modem_msg g;
		msg_refs refs;
		if (msg_from_py(item, &g, &refs) < 0)
			rc = backend_fail(pb, op);
		else {
			rc = pb_modem_msg_list_add(out, &g);
			msg_refs_release(&refs);
		}
		Py_DECREF(item);
	}
	if (rc == 0 && PyErr_Occurred())
		rc = backend_fail(pb, op);
	Py_DECREF(it);
	return rc;
}

/* Call st->self.<method>(args...) with the GIL; NULL: rc is set. */
#define PYB_ENTER(state) \
	pyb_state *st = (state); \
	PyGILState_STATE g_ = PyGILState_Ensure(); \
	int rc = 0
#define PYB_LEAVE()              \
	PyGILState_Release(g_); \
	return rc

static int pyb_status(void *state, pb_modem_status *out)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "status", NULL);
	if (!r) {
		rc = backend_fail(st->pb, "status");
		PYB_LEAVE();
	}
	PyObject *op = NULL, *nt = NULL;
	const char *ops, *nts;
	int reg = 0, sim = 0;
	if (attr_str(r, "operator", &op, &ops) < 0 || attr_str(r, "network_type", &nt, &nts) < 0 ||
	    attr_enum(r, "registration", pb_modem_reg_name, PB_MODEM_REG_ROAMING + 1, &reg) < 0 ||
	    attr_enum(r, "sim", pb_modem_sim_name, PB_MODEM_SIM_ERROR + 1, &sim) < 0 ||
	    attr_int(r, "signal_dbm", PB_MODEM_SIGNAL_UNKNOWN, &out->signal_dbm) < 0 ||
	    attr_int(r, "signal_percent", -1, &out->signal_percent) < 0) {
		rc = backend_fail(st->pb, "status");
	} else {
		out->registration = (pb_modem_reg)reg;
		out->sim = (pb_modem_sim)sim;
		snprintf(out->operator_name, sizeof(out->operator_name), "%s", ops ? ops : "");
		snprintf(out->network_type, sizeof(out->network_type), "%s", nts ? nts : "");
	}
	Py_XDECREF(op);
	Py_XDECREF(nt);
	Py_DECREF(r);
	PYB_LEAVE();
}

static int pyb_list(void *state, int box, pb_modem_msg_list *out)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "list", "i", box);
	rc = r ? msgs_to_list(st->pb, "list", r, out) : backend_fail(st->pb, "list");
	Py_XDECREF(r);
	PYB_LEAVE();
}

static int pyb_read(void *state, const char *id, pb_modem_msg *out)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "read", "s", id);
	pb_modem_msg g;
	msg_refs refs;
	if (!r || msg_from_py(r, &g, &refs) < 0) {
		rc = backend_fail(st->pb, "read");
	} else {
		rc = pb_modem_msg_copy(out, &g);
		msg_refs_release(&refs);
	}
	Py_XDECREF(r);
	PYB_LEAVE();
}

/* A method taking one id and returning nothing. */
static int pyb_id_call(void *state, const char *method, const char *id)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, method, "s", id);
	if (!r)
		rc = backend_fail(st->pb, method);
	Py_XDECREF(r);
	PYB_LEAVE();
}

static int pyb_remove(void *state, const char *id)
{
	return pyb_id_call(state, "delete", id);
}

static int pyb_mark_read(void *state, const char *id)
{
	return pyb_id_call(state, "mark_read", id);
}

/* A send method's answer: an int reference or None (-1). */
static int ref_from(const py_backend *pb, const char *op, PyObject *r, int *ref)
{
	if (!r)
		return backend_fail(pb, op);
	int rc = 0;
	if (r == Py_None) {
		*ref = -1;
	} else {
		long v = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
		if (!PyLong_Check(r) || v < -1 || v > INT_MAX)
			rc = backend_bad(pb, op, "must return an int reference or None");
		else
			*ref = (int)v;
	}
	Py_DECREF(r);
	return rc;
}

static int pyb_send_text(void *state, const char *number, const char *text, unsigned flags, int *ref)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "send", "ssO", number, text,
					  (flags & PB_MODEM_SEND_REPORT) ? Py_True : Py_False);
	rc = ref_from(st->pb, "send", r, ref);
	PYB_LEAVE();
}

static int pyb_send_pdu(void *state, const uint8_t *tpdu, size_t len, int *ref)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "send_pdu", "y#", (const char *)tpdu, (Py_ssize_t)len);
	rc = ref_from(st->pb, "send_pdu", r, ref);
	PYB_LEAVE();
}

/* A truth value from a method, or a code. */
static int truth_from(const py_backend *pb, const char *op, PyObject *r)
{
	if (!r)
		return backend_fail(pb, op);
	int t = PyObject_IsTrue(r);
	Py_DECREF(r);
	return t < 0 ? backend_fail(pb, op) : t;
}

static int pyb_wait(void *state, unsigned timeout_ms, pb_modem_msg_list *pushed)
{
	PYB_ENTER(state);
	PyObject *l = PyList_New(0);
	if (!l) {
		rc = backend_fail(st->pb, "wait");
		PYB_LEAVE();
	}
	rc = truth_from(st->pb, "wait", PyObject_CallMethod(st->self, "wait", "IO", timeout_ms, l));
	if (PyList_GET_SIZE(l) > 0) {
		int r2 = msgs_to_list(st->pb, "wait", l, pushed);
		if (r2 < 0)
			rc = r2;
	}
	Py_DECREF(l);
	PYB_LEAVE();
}

static int pyb_changed(void *state)
{
	PYB_ENTER(state);
	rc = truth_from(st->pb, "changed", PyObject_CallMethod(st->self, "changed", NULL));
	if (rc < 0)
		rc = 1; /* cannot tell: list */
	PYB_LEAVE();
}

static int pyb_forward_query(void *state, pb_modem_fwd_reason reason, pb_modem_forward *out)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "forward_query", "i", (int)reason);
	PyObject *num = NULL;
	const char *n = NULL;
	if (!r || attr_str(r, "number", &num, &n) < 0 || attr_int(r, "no_reply_s", -1, &out->no_reply_s) < 0) {
		rc = backend_fail(st->pb, "forward_query");
	} else {
		PyObject *a = PyObject_GetAttrString(r, "active");
		int t = a ? PyObject_IsTrue(a) : -1;
		Py_XDECREF(a);
		if (t < 0)
			rc = backend_fail(st->pb, "forward_query");
		out->active = t > 0;
		snprintf(out->number, sizeof(out->number), "%s", n ? n : "");
	}
	Py_XDECREF(num);
	Py_XDECREF(r);
	PYB_LEAVE();
}

static int pyb_forward_set(void *state, pb_modem_fwd_reason reason, const char *number, int no_reply_s)
{
	PYB_ENTER(state);
	PyObject *nr = no_reply_s < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(no_reply_s);
	PyObject *r = nr ? PyObject_CallMethod(st->self, "forward_set", "izO", (int)reason, number, nr) : NULL;
	Py_XDECREF(nr);
	if (!r)
		rc = backend_fail(st->pb, "forward_set");
	Py_XDECREF(r);
	PYB_LEAVE();
}

static int pyb_ussd(void *state, const char *code, char **reply)
{
	PYB_ENTER(state);
	PyObject *r = PyObject_CallMethod(st->self, "ussd", "s", code);
	const char *s = NULL;
	if (!r) {
		rc = backend_fail(st->pb, "ussd");
	} else if (!PyUnicode_Check(r)) {
		rc = backend_bad(st->pb, "ussd", "must return str");
	} else if (!(s = PyUnicode_AsUTF8(r))) {
		rc = backend_fail(st->pb, "ussd");
	} else if (!(*reply = pb_strdup(s))) {
		rc = pb_error_set(PB_ENOMEM, "out of memory");
	}
	Py_XDECREF(r);
	PYB_LEAVE();
}

/* Fill the optional operation the Python layer names. 0, or -1 for an unknown name. */
static int enable_op(pb_modem_backend_ops *o, const char *n)
{
	if (strcmp(n, "status") == 0)
		o->status = pyb_status;
	else if (strcmp(n, "read") == 0)
		o->read = pyb_read;
	else if (strcmp(n, "delete") == 0)
		o->remove = pyb_remove;
	else if (strcmp(n, "mark_read") == 0)
		o->mark_read = pyb_mark_read;
	else if (strcmp(n, "send") == 0)
		o->send_text = pyb_send_text;
	else if (strcmp(n, "send_pdu") == 0)
		o->send_pdu = pyb_send_pdu;
	else if (strcmp(n, "wait") == 0)
		o->wait = pyb_wait;
	else if (strcmp(n, "changed") == 0)
		o->changed = pyb_changed;
	else if (strcmp(n, "forward_query") == 0)
		o->forward_query = pyb_forward_query;
	else if (strcmp(n, "forward_set") == 0)
		o->forward_set = pyb_forward_set;
	else if (strcmp(n, "ussd") == 0)
		o->ussd = pyb_ussd;
	else
		return -1;
	return 0;
}

static PyObject *backend_register(PyObject *mod, PyObject *args)
{
	const char *name;
	PyObject *factory, *ops;
	if (!PyArg_ParseTuple(args, "sOO", &name, &factory, &ops))
		return NULL;
	if (!PyCallable_Check(factory)) {
		PyErr_SetString(PyExc_TypeError, "modem_backend_register: factory must be callable");
		return NULL;
	}
	if (strlen(name) >= sizeof(py_backends[0].name))
		return pbpy_raise(pb_error_set(PB_EINVAL, "modem backend name too long: %s", name), NULL);
	if (py_backend_count >= PY_BACKENDS)
		return pbpy_raise(pb_error_set(PB_ETOOBIG, "at most %d Python modem backends", PY_BACKENDS),
				  NULL);
	py_backend *pb = &py_backends[py_backend_count];
	memset(pb, 0, sizeof(*pb));
	snprintf(pb->name, sizeof(pb->name), "%s", name);
	pb->ops.version = PB_MODEM_BACKEND_OPS_VERSION;
	pb->ops.name = pb->name;
	pb->ops.open = pyb_opens[py_backend_count];
	pb->ops.close = pyb_close;
	pb->ops.list = pyb_list;
	PyObject *it = PyObject_GetIter(ops), *item;
	if (!it)
		return NULL;
	while ((item = PyIter_Next(it)) != NULL) {
		const char *op = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
		if (!op || enable_op(&pb->ops, op) < 0) {
			if (!PyErr_Occurred())
				PyErr_Format(PyExc_ValueError, "modem_backend_register: unknown operation %R", item);
			Py_DECREF(item);
			Py_DECREF(it);
			memset(pb, 0, sizeof(*pb));
			return NULL;
		}
		Py_DECREF(item);
	}
	Py_DECREF(it);
	if (PyErr_Occurred())
		return NULL;
	int rc = pb_modem_backend_register(&pb->ops);
	if (rc < 0) {
		memset(pb, 0, sizeof(*pb));
		return pbpy_raise(rc, NULL);
	}
	pb->factory = Py_NewRef(factory);
	py_backend_count++;
	Py_RETURN_NONE;
}

static PyObject *name_fn(PyObject *arg, const char *(*name_of)(int))
{
	long v = PyLong_AsLong(arg);
	if (v == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(name_of(v < INT_MIN || v > INT_MAX ? -1 : (int)v));
}

static PyObject *reg_name(PyObject *mod, PyObject *arg) { return name_fn(arg, pb_modem_reg_name); }
static PyObject *sim_name(PyObject *mod, PyObject *arg) { return name_fn(arg, pb_modem_sim_name); }
static PyObject *msg_type_name(PyObject *mod, PyObject *arg) { return name_fn(arg, pb_modem_msg_type_name); }
static PyObject *msg_state_name(PyObject *mod, PyObject *arg) { return name_fn(arg, pb_modem_msg_state_name); }

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
	{ "forward_query", (PyCFunction)modem_forward_query, METH_VARARGS,
	  "forward_query(reason) -> {reason, active, number, no_reply_s}" },
	{ "forward_set", KWF(modem_forward_set), METH_VARARGS | METH_KEYWORDS,
	  "forward_set(reason, number or None, no_reply_s=-1)" },
	{ "ussd", (PyCFunction)modem_ussd, METH_VARARGS, "ussd(code) -> the network's answer" },
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
	{ "modem_backend_register", backend_register, METH_VARARGS,
	  "modem_backend_register(name, factory(options dict) -> backend, [optional operation names])" },
	{ "modem_reg_name", reg_name, METH_O, "modem_reg_name(value) -> 'home', 'roaming', ..." },
	{ "modem_sim_name", sim_name, METH_O, "modem_sim_name(value) -> 'ready', 'pin', ..." },
	{ "modem_msg_type_name", msg_type_name, METH_O, "modem_msg_type_name(value) -> 'text', 'mms', ..." },
	{ "modem_msg_state_name", msg_state_name, METH_O, "modem_msg_state_name(value) -> 'unread', ..." },
	{ NULL, NULL, 0, NULL },
};

int pbpy_modem_init(PyObject *m)
{
	return pbpy_add_type(m, "Modem", &ModemType);
}
