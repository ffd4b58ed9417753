/*
 * _phonebridge — screen: policy, challenge registry (with challenges written
 * in Python), sessions driven by a Python host.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Screening is pure logic (no I/O, no blocking), so the GIL is held
 * throughout: every callback into Python (lookups, host ops, challenge
 * methods) runs on the thread that fed the event in. The Screener (a whole
 * pb_screener on real calls) is the exception: it releases the GIL while
 * sofia-sip waits, and every callback into Python takes it again.
 *
 * A Python challenge class is registered with one pb_challenge_ops table of
 * its own (py_challenge below) whose userdata points back at the entry, so
 * the C engine drives it exactly like a built-in one. An exception raised
 * in a Python method becomes a negative return (the session ends as
 * PB_SCREEN_ERROR with "ExcType: message" as its reason) and is kept on the
 * Session object (.exception) for the program to inspect.
 */
#include "pbpy-util.h"

#include <phonebridge/sys/challenge.h>

/* --- policy ---------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	pb_screen_policy *p;
} PolicyObject;

static PyObject *policy_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	PolicyObject *self = (PolicyObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	int rc = pb_screen_policy_new(&self->p);
	if (rc < 0) {
		Py_DECREF(self);
		return pbpy_raise(rc, NULL);
	}
	return (PyObject *)self;
}

static void policy_dealloc(PolicyObject *self)
{
	pb_screen_policy_free(self->p);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *policy_set(PolicyObject *self, PyObject *args)
{
	const char *key, *value;
	if (!PyArg_ParseTuple(args, "ss", &key, &value))
		return NULL;
	int rc = pb_screen_policy_set(self->p, key, value);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	Py_RETURN_NONE;
}

/* Lookups call Python; the first exception stops the decision and is re-raised. */
typedef struct {
	PyObject *is_allowed, *is_denied, *recent_failures;
	PyObject *exc;
} lookup_ctx;

static int lookup_result(lookup_ctx *lc, PyObject *r)
{
	if (!r) {
		lc->exc = pbpy_take_exception();
		return pb_error_set(PB_ERROR, "lookup raised an exception");
	}
	long v = PyLong_Check(r) ? PyLong_AsLong(r) : PyObject_IsTrue(r);
	Py_DECREF(r);
	if (v == -1 && PyErr_Occurred()) {
		lc->exc = pbpy_take_exception();
		return pb_error_set(PB_ERROR, "lookup returned a bad value");
	}
	if (v < 0)
		return pb_error_set(PB_EINVAL, "lookup returned a negative number");
	return v > INT32_MAX ? INT32_MAX : (int)v;
}

static int lk_allowed(const char *e164, void *ud)
{
	lookup_ctx *lc = ud;
	return lookup_result(lc, PyObject_CallFunction(lc->is_allowed, "s", e164));
}

static int lk_denied(const char *e164, void *ud)
{
	lookup_ctx *lc = ud;
	return lookup_result(lc, PyObject_CallFunction(lc->is_denied, "s", e164));
}

static int lk_failures(const char *e164, int64_t since, void *ud)
{
	lookup_ctx *lc = ud;
	return lookup_result(lc, PyObject_CallFunction(lc->recent_failures, "sL", e164, (long long)since));
}

static const char *const kind_names[] = { "e164", "short", "anonymous", "unknown" };

static PyObject *policy_decide(PolicyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "from_", "display_name", "pai", "verstat", "identity_header",
				  "called", "now", "minute_of_day", "is_allowed", "is_denied",
				  "recent_failures", NULL };
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	int identity = 0, minute = -1;
	long long now = 0;
	lookup_ctx lc = { NULL, NULL, NULL, NULL };
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzzzpzLiOOO", kwlist, &call.from,
					 &call.display_name, &call.pai, &call.verstat, &identity,
					 &call.called, &now, &minute, &lc.is_allowed,
					 &lc.is_denied, &lc.recent_failures))
		return NULL;
	call.identity_header = identity;
	call.now = now;
	call.minute_of_day = minute;
	pb_screen_lookups lk = { NULL, NULL, NULL, &lc };
	if (lc.is_allowed && lc.is_allowed != Py_None)
		lk.is_allowed = lk_allowed;
	if (lc.is_denied && lc.is_denied != Py_None)
		lk.is_denied = lk_denied;
	if (lc.recent_failures && lc.recent_failures != Py_None)
		lk.recent_failures = lk_failures;
	pb_screen_decision d;
	int rc = pb_screen_policy_decide(self->p, &call, &lk, &d);
	if (lc.exc)
		return pbpy_reraise(lc.exc);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "verdict",
			     pb_screen_verdict_name(d.verdict), "sip_status", d.sip_status, "caller",
			     d.caller, "kind", kind_names[d.kind & 3], "verstat",
			     pb_screen_verstat_name(d.verstat), "challenge", d.challenge, "params",
			     d.params, "rule", d.rule ? d.rule : "");
}

static PyObject *policy_normalize(PolicyObject *self, PyObject *arg)
{
	const char *in = arg == Py_None ? NULL : PyUnicode_AsUTF8(arg);
	if (!in && arg != Py_None)
		return NULL;
	char out[64];
	int rc = pb_screen_normalize_number(out, sizeof(out), in, pb_screen_policy_numbering(self->p));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("(ss)", kind_names[rc & 3], out);
}

static PyMethodDef policy_methods[] = {
	{ "set", (PyCFunction)policy_set, METH_VARARGS, "set(key, value): one rule (docs/screen.md)" },
	{ "decide", (PyCFunction)(void (*)(void))policy_decide, METH_VARARGS | METH_KEYWORDS,
	  "decide(from_=, display_name=, pai=, verstat=, identity_header=, called=, now=, "
	  "minute_of_day=, is_allowed=, is_denied=, recent_failures=) -> dict" },
	{ "normalize", (PyCFunction)policy_normalize, METH_O,
	  "normalize(identity) -> (kind, number) with the policy's region" },
	{ NULL, NULL, 0, NULL },
};

static PyTypeObject PolicyType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Policy",
	.tp_basicsize = sizeof(PolicyObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A screening policy (pb_screen_policy).",
	.tp_new = policy_new,
	.tp_dealloc = (destructor)policy_dealloc,
	.tp_methods = policy_methods,
};

/* --- challenge context: the actions, valid during one callback ------------- */

typedef struct {
	PyObject_HEAD
	pb_challenge_ctx *ctx; /* NULL outside the callback */
} ContextObject;

static PyTypeObject ContextType;

#define CTX_OR_FAIL(self)                                                                  \
	do {                                                                               \
		if (!(self)->ctx) {                                                        \
			pb_error_set(PB_ESTATE, "challenge action outside a challenge callback"); \
			return pbpy_raise(PB_ESTATE, NULL);                                \
		}                                                                          \
	} while (0)

static PyObject *ctx_done(int rc)
{
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	Py_RETURN_NONE;
}

static PyObject *ctx_ring_ms(ContextObject *self, PyObject *args)
{
	unsigned ms;
	if (!PyArg_ParseTuple(args, "I", &ms))
		return NULL;
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_ring_ms(self->ctx, ms));
}

static PyObject *ctx_answer(ContextObject *self, PyObject *unused)
{
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_answer(self->ctx));
}

static PyObject *ctx_play(ContextObject *self, PyObject *args)
{
	CTX_OR_FAIL(self);
	Py_ssize_t n = PyTuple_GET_SIZE(args);
	if (n == 0)
		Py_RETURN_NONE;
	const char **names = PyMem_Calloc((size_t)n, sizeof(*names));
	if (!names)
		return PyErr_NoMemory();
	for (Py_ssize_t i = 0; i < n; i++) {
		names[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(args, i));
		if (!names[i]) {
			PyMem_Free(names);
			return NULL;
		}
	}
	int rc = pb_challenge_play(self->ctx, names, (size_t)n);
	PyMem_Free(names);
	return ctx_done(rc);
}

static PyObject *ctx_say_digits(ContextObject *self, PyObject *args)
{
	const char *digits;
	if (!PyArg_ParseTuple(args, "s", &digits))
		return NULL;
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_say_digits(self->ctx, digits));
}

static PyObject *ctx_collect(ContextObject *self, PyObject *args)
{
	unsigned count, timeout;
	if (!PyArg_ParseTuple(args, "II", &count, &timeout))
		return NULL;
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_collect(self->ctx, count, timeout));
}

static PyObject *ctx_set_timer(ContextObject *self, PyObject *args)
{
	unsigned ms;
	if (!PyArg_ParseTuple(args, "I", &ms))
		return NULL;
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_set_timer(self->ctx, ms));
}

static PyObject *ctx_pass(ContextObject *self, PyObject *unused)
{
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_pass(self->ctx));
}

static PyObject *ctx_fail(ContextObject *self, PyObject *args)
{
	const char *reason = "failed";
	if (!PyArg_ParseTuple(args, "|s", &reason))
		return NULL;
	CTX_OR_FAIL(self);
	return ctx_done(pb_challenge_fail(self->ctx, reason));
}

static PyObject *ctx_random(ContextObject *self, PyObject *args)
{
	Py_ssize_t n;
	if (!PyArg_ParseTuple(args, "n", &n))
		return NULL;
	CTX_OR_FAIL(self);
	if (n < 0 || n > 4096) {
		PyErr_SetString(PyExc_ValueError, "random: 0..4096 bytes");
		return NULL;
	}
	PyObject *b = PyBytes_FromStringAndSize(NULL, n);
	if (!b)
		return NULL;
	int rc = pb_challenge_random(self->ctx, PyBytes_AS_STRING(b), (size_t)n);
	if (rc < 0) {
		Py_DECREF(b);
		return pbpy_raise(rc, NULL);
	}
	return b;
}

static PyObject *ctx_random_below(ContextObject *self, PyObject *args)
{
	unsigned bound, v = 0;
	if (!PyArg_ParseTuple(args, "I", &bound))
		return NULL;
	CTX_OR_FAIL(self);
	int rc = pb_challenge_random_below(self->ctx, bound, &v);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return PyLong_FromUnsignedLong(v);
}

static PyObject *ctx_now(ContextObject *self, PyObject *unused)
{
	CTX_OR_FAIL(self);
	return PyLong_FromLongLong(pb_challenge_now(self->ctx));
}

static PyMethodDef ctx_methods[] = {
	{ "ring_ms", (PyCFunction)ctx_ring_ms, METH_VARARGS, "ring_ms(ms): ring unanswered; on_timer follows" },
	{ "answer", (PyCFunction)ctx_answer, METH_NOARGS, "answer()" },
	{ "play", (PyCFunction)ctx_play, METH_VARARGS, "play(*names): queue prompts" },
	{ "say_digits", (PyCFunction)ctx_say_digits, METH_VARARGS, "say_digits(digits)" },
	{ "collect", (PyCFunction)ctx_collect, METH_VARARGS, "collect(count, timeout_ms): on_input follows" },
	{ "set_timer", (PyCFunction)ctx_set_timer, METH_VARARGS, "set_timer(ms); 0 disarms" },
	{ "pass_", (PyCFunction)ctx_pass, METH_NOARGS, "pass_(): the caller passed" },
	{ "fail", (PyCFunction)ctx_fail, METH_VARARGS, "fail(reason='failed')" },
	{ "random", (PyCFunction)ctx_random, METH_VARARGS, "random(n) -> bytes (CSPRNG or injected)" },
	{ "random_below", (PyCFunction)ctx_random_below, METH_VARARGS, "random_below(bound) -> int" },
	{ "now", (PyCFunction)ctx_now, METH_NOARGS, "now() -> ms on the host's clock" },
	{ NULL, NULL, 0, NULL },
};

static void ctx_dealloc(ContextObject *self)
{
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ContextType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.ChallengeContext",
	.tp_basicsize = sizeof(ContextObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The actions a running challenge may take; valid only during one callback.",
	.tp_dealloc = (destructor)ctx_dealloc,
	.tp_methods = ctx_methods,
};

/* --- sessions (declared early: Python challenges report into them) --------- */

typedef struct {
	PyObject_HEAD
	pb_screen_session *s;
	PyObject *registry; /* RegistryObject, kept alive as long as the session */
	PyObject *host;
	PyObject *random;   /* callable(n) -> bytes, or NULL */
	PyObject *exception;      /* first exception of a challenge method, or NULL */
	PyObject *host_exception; /* pending exception of a host method, re-raised by the event */
} SessionObject;

/*
 * The session whose event this thread is handling (saved and restored, so
 * nested sessions work). Per thread: the GIL may pass to another thread
 * during a Python challenge method, and that thread may feed its own session.
 */
static _Thread_local SessionObject *current_session;

static void note_exception(PyObject *exc)
{
	if (current_session && !current_session->exception)
		current_session->exception = Py_NewRef(exc);
}

/* --- Python challenges: one ops table per registered class ------------------ */

typedef struct py_challenge {
	pb_challenge_ops ops;
	char name[32];
	char summary[128];
	PyObject *cls;
	struct py_challenge *next;
} py_challenge;

/* state: the Python instance (a strong reference). */
static int pyc_create(void **state, const pb_challenge_config *cfg, void *ud)
{
	py_challenge *pc = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	int rc = 0;
	PyObject *params = PyDict_New();
	if (!params) {
		PyErr_Clear();
		rc = PB_ENOMEM;
		goto out;
	}
	size_t n = pb_challenge_config_count(cfg);
	for (size_t i = 0; i < n; i++) {
		PyObject *v = PyUnicode_FromString(pb_challenge_config_value(cfg, i));
		if (!v || PyDict_SetItemString(params, pb_challenge_config_key(cfg, i), v) < 0) {
			Py_XDECREF(v);
			PyErr_Clear();
			rc = PB_ENOMEM;
			goto out;
		}
		Py_DECREF(v);
	}
	PyObject *inst = PyObject_CallFunctionObjArgs(pc->cls, params, NULL);
	if (!inst) {
		PyObject *exc = pbpy_take_exception();
		char text[200];
		pbpy_exception_text(text, sizeof(text), exc);
		/* a ValueError/TypeError from __init__ is a bad parameter */
		rc = pb_error_set(PB_EINVAL, "%s: %s", pc->name, text);
		note_exception(exc);
		Py_XDECREF(exc);
		goto out;
	}
	*state = inst;
out:
	Py_XDECREF(params);
	PyGILState_Release(g);
	return rc;
}

static void pyc_destroy(void *state, void *ud)
{
	PyGILState_STATE g = PyGILState_Ensure();
	Py_XDECREF((PyObject *)state);
	PyGILState_Release(g);
}

/*
 * Call instance._pb_event(ctx, event, *args). The context object is
 * invalidated afterwards, so a kept reference cannot act later.
 */
static int pyc_call(void *state, pb_challenge_ctx *ctx, const char *event, const char *fmt, ...)
{
	/* the arguments too are built with the GIL held: a Screener calls
	 * challenges from a loop that runs without it */
	PyGILState_STATE g = PyGILState_Ensure();
	int rc = 0;
	va_list ap;
	va_start(ap, fmt);
	PyObject *args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	ContextObject *co = PyObject_New(ContextObject, &ContextType);
	if (!co || !args) {
		Py_XDECREF(co);
		Py_XDECREF(args);
		PyErr_Clear();
		rc = pb_error_set(PB_ENOMEM, "out of memory");
		goto out;
	}
	co->ctx = ctx;
	PyObject *r = PyObject_CallMethod((PyObject *)state, "_pb_event", "OsO", co, event, args);
	co->ctx = NULL;
	Py_DECREF(co);
	Py_DECREF(args);
	if (r) {
		Py_DECREF(r);
	} else {
		PyObject *exc = pbpy_take_exception();
		char text[200];
		pbpy_exception_text(text, sizeof(text), exc);
		rc = pb_error_set(PB_ERROR, "%s", text);
		note_exception(exc);
		Py_XDECREF(exc);
	}
out:
	PyGILState_Release(g);
	return rc;
}

static int pyc_start(void *st, pb_challenge_ctx *ctx)
{
	return pyc_call(st, ctx, "start", "()");
}

static int pyc_on_dtmf(void *st, pb_challenge_ctx *ctx, char dg)
{
	return pyc_call(st, ctx, "on_dtmf", "(s#)", &dg, (Py_ssize_t)1);
}

static int pyc_on_input(void *st, pb_challenge_ctx *ctx, const char *digits, bool timed_out)
{
	return pyc_call(st, ctx, "on_input", "(sO)", digits, timed_out ? Py_True : Py_False);
}

static int pyc_on_timer(void *st, pb_challenge_ctx *ctx)
{
	return pyc_call(st, ctx, "on_timer", "()");
}

static int pyc_on_prompt_done(void *st, pb_challenge_ctx *ctx)
{
	return pyc_call(st, ctx, "on_prompt_done", "()");
}

static void pyc_on_hangup(void *st, pb_challenge_ctx *ctx)
{
	(void)pyc_call(st, ctx, "on_hangup", "()");
}

static void pyc_free_list(py_challenge *pc)
{
	while (pc) {
		py_challenge *next = pc->next;
		Py_DECREF(pc->cls);
		PyMem_Free(pc);
		pc = next;
	}
}

typedef struct {
	PyObject_HEAD
	pb_screen_registry *reg;
	py_challenge *python; /* the Python challenges' ops tables, freed after reg */
} RegistryObject;

static PyObject *registry_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	RegistryObject *self = (RegistryObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	int rc = pb_screen_registry_new(&self->reg);
	if (rc < 0) {
		Py_DECREF(self);
		return pbpy_raise(rc, NULL);
	}
	return (PyObject *)self;
}

static int registry_traverse(RegistryObject *self, visitproc visit, void *arg)
{
	for (py_challenge *pc = self->python; pc; pc = pc->next)
		Py_VISIT(pc->cls);
	return 0;
}

static void registry_dealloc(RegistryObject *self)
{
	PyObject_GC_UnTrack(self);
	pb_screen_registry_free(self->reg);
	pyc_free_list(self->python);
	self->python = NULL;
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A new ops table for Python class @p cls (a new reference is taken), or NULL with an exception. */
static py_challenge *pyc_new(const char *name, const char *summary, PyObject *cls)
{
	if (!PyCallable_Check(cls)) {
		PyErr_SetString(PyExc_TypeError, "add: the challenge class must be callable");
		return NULL;
	}
	if (strlen(name) >= sizeof(((py_challenge *)0)->name)) {
		pb_error_set(PB_EINVAL, "add: challenge name too long: %s", name);
		pbpy_raise(PB_EINVAL, NULL);
		return NULL;
	}
	py_challenge *pc = PyMem_Calloc(1, sizeof(*pc));
	if (!pc) {
		PyErr_NoMemory();
		return NULL;
	}
	snprintf(pc->name, sizeof(pc->name), "%s", name);
	snprintf(pc->summary, sizeof(pc->summary), "%s", summary);
	pc->ops = (pb_challenge_ops){
		.version = PB_CHALLENGE_OPS_VERSION,
		.name = pc->name,
		.summary = pc->summary,
		.create = pyc_create,
		.start = pyc_start,
		.on_dtmf = pyc_on_dtmf,
		.on_input = pyc_on_input,
		.on_timer = pyc_on_timer,
		.on_prompt_done = pyc_on_prompt_done,
		.on_hangup = pyc_on_hangup,
		.destroy = pyc_destroy,
		.userdata = pc,
	};
	pc->cls = Py_NewRef(cls);
	return pc;
}

/* add(name, summary, cls) for a registry or a screener: an ops table for
 * the class, handed to @p add(@p target, ops), kept on @p list on success. */
static PyObject *add_python_challenge(PyObject *args, int (*add)(void *, const pb_challenge_ops *),
				      void *target, py_challenge **list)
{
	const char *name, *summary;
	PyObject *cls;
	if (!PyArg_ParseTuple(args, "ssO", &name, &summary, &cls))
		return NULL;
	py_challenge *pc = pyc_new(name, summary, cls);
	if (!pc)
		return NULL;
	int rc = add(target, &pc->ops);
	if (rc < 0) {
		pyc_free_list(pc);
		return pbpy_raise(rc, NULL);
	}
	pc->next = *list;
	*list = pc;
	Py_RETURN_NONE;
}

static int add_to_registry(void *reg, const pb_challenge_ops *ops)
{
	return pb_screen_registry_add(reg, ops);
}

static PyObject *registry_add(RegistryObject *self, PyObject *args)
{
	return add_python_challenge(args, add_to_registry, self->reg, &self->python);
}

static PyObject *registry_check(RegistryObject *self, PyObject *args)
{
	const char *name, *params = NULL;
	if (!PyArg_ParseTuple(args, "s|z", &name, &params))
		return NULL;
	SessionObject *saved = current_session;
	current_session = NULL;
	int rc = pb_screen_registry_check(self->reg, name, params);
	current_session = saved;
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	Py_RETURN_NONE;
}

static PyObject *registry_summary(RegistryObject *self, PyObject *args)
{
	const char *name;
	if (!PyArg_ParseTuple(args, "s", &name))
		return NULL;
	const pb_challenge_ops *ops = pb_screen_registry_find(self->reg, name);
	if (!ops)
		return pbpy_raise(PB_ENOTFOUND, NULL);
	return PyUnicode_FromString(ops->summary ? ops->summary : "");
}

static PyMethodDef registry_methods[] = {
	{ "add", (PyCFunction)registry_add, METH_VARARGS,
	  "add(name, summary, cls): register a Python challenge class" },
	{ "check", (PyCFunction)registry_check, METH_VARARGS, "check(name, params=None)" },
	{ "summary", (PyCFunction)registry_summary, METH_VARARGS,
	  "summary(name) -> str; NotFoundError if unknown" },
	{ NULL, NULL, 0, NULL },
};

static PyTypeObject RegistryType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Registry",
	.tp_basicsize = sizeof(RegistryObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A challenge registry (pb_screen_registry): built-ins plus Python classes.",
	.tp_new = registry_new,
	.tp_dealloc = (destructor)registry_dealloc,
	.tp_traverse = (traverseproc)registry_traverse,
	.tp_methods = registry_methods,
};

/* --- sessions --------------------------------------------------------------- */

static void host_call(SessionObject *so, const char *method, PyObject *args)
{
	if (!args) {
		if (!so->host_exception)
			so->host_exception = pbpy_take_exception();
		else
			PyErr_Clear();
		return;
	}
	PyObject *r = PyObject_CallMethod(so->host, method, "O", args);
	Py_DECREF(args);
	if (r) {
		Py_DECREF(r);
	} else if (!so->host_exception) {
		so->host_exception = pbpy_take_exception();
	} else {
		PyErr_Clear();
	}
}

/* Host methods get their arguments as one tuple, unpacked here. */
static void host_call0(SessionObject *so, const char *method)
{
	PyObject *r = PyObject_CallMethod(so->host, method, NULL);
	if (r)
		Py_DECREF(r);
	else if (!so->host_exception)
		so->host_exception = pbpy_take_exception();
	else
		PyErr_Clear();
}

static void h_ring(void *ud) { host_call0(ud, "ring"); }
static void h_answer(void *ud) { host_call0(ud, "answer"); }
static void h_stop(void *ud) { host_call0(ud, "stop_playing"); }

static void h_play(const char *const *names, size_t n, void *ud)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		PyObject *s = PyUnicode_FromString(names[i]);
		if (!s) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, s);
	}
	host_call(ud, "play", list);
}

static void h_timer(int64_t at, void *ud)
{
	host_call(ud, "set_timer", PyLong_FromLongLong(at));
}

static PyObject *result_dict(const pb_screen_result *r)
{
	return Py_BuildValue("{s:s,s:O,s:s,s:s,s:L}", "outcome", pb_screen_outcome_name(r->outcome),
			     "answered", r->answered ? Py_True : Py_False, "challenge",
			     r->challenge ? r->challenge : "", "reason", r->reason ? r->reason : "",
			     "duration", (long long)r->duration_ms);
}

static void h_finish(const pb_screen_result *r, void *ud)
{
	host_call(ud, "finish", result_dict(r));
}

static const pb_screen_host_ops py_host_ops = {
	PB_SCREEN_HOST_OPS_VERSION, h_ring, h_answer, h_play, h_stop, h_timer, h_finish,
};

static int py_random(void *buf, size_t len, void *ud)
{
	SessionObject *so = ud;
	PyObject *r = PyObject_CallFunction(so->random, "n", (Py_ssize_t)len);
	if (!r) {
		PyObject *exc = pbpy_take_exception();
		note_exception(exc);
		Py_XDECREF(exc);
		return pb_error_set(PB_ERROR, "random() raised an exception");
	}
	char *p;
	Py_ssize_t n;
	if (PyBytes_AsStringAndSize(r, &p, &n) < 0 || (size_t)n != len) {
		PyErr_Clear();
		Py_DECREF(r);
		return pb_error_set(PB_EINVAL, "random() must return exactly %zu bytes", len);
	}
	memcpy(buf, p, len);
	Py_DECREF(r);
	return 0;
}

static int session_traverse(SessionObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->registry);
	Py_VISIT(self->host);
	Py_VISIT(self->random);
	Py_VISIT(self->exception);
	Py_VISIT(self->host_exception);
	return 0;
}

static int session_clear(SessionObject *self)
{
	/* the C session first: its challenge instance may need the registry */
	if (self->s) {
		pb_screen_session *s = self->s;
		self->s = NULL;
		pb_screen_session_free(s);
	}
	Py_CLEAR(self->host);
	Py_CLEAR(self->random);
	Py_CLEAR(self->exception);
	Py_CLEAR(self->host_exception);
	Py_CLEAR(self->registry);
	return 0;
}

static void session_dealloc(SessionObject *self)
{
	PyObject_GC_UnTrack(self);
	session_clear(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *session_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "registry", "challenge", "params", "host", "max_duration",
				  "goodbye", "random", NULL };
	PyObject *reg, *host, *random = Py_None;
	const char *name, *params = NULL;
	long long max_duration = 90000;
	int goodbye = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!szO|LpO", kwlist, &RegistryType, &reg, &name,
					 &params, &host, &max_duration, &goodbye, &random))
		return NULL;
	if (random != Py_None && !PyCallable_Check(random)) {
		PyErr_SetString(PyExc_TypeError, "random must be callable(n) -> bytes, or None");
		return NULL;
	}
	if (max_duration > INT_MAX) {
		PyErr_Format(PyExc_ValueError, "max_duration %lld ms: at most %d (0: no limit)", max_duration, INT_MAX);
		return NULL;
	}
	SessionObject *self = (SessionObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->registry = Py_NewRef(reg);
	self->host = Py_NewRef(host);
	pb_screen_session_options o = PB_SCREEN_SESSION_OPTIONS_INIT;
	o.max_duration_ms = max_duration > 0 ? (unsigned)max_duration : PB_WAIT_FOREVER;
	o.goodbye = goodbye;
	if (random != Py_None) {
		self->random = Py_NewRef(random);
		o.random = py_random;
		o.random_userdata = self;
	}
	SessionObject *saved = current_session;
	current_session = self;
	int rc = pb_screen_session_new(&self->s, ((RegistryObject *)reg)->reg, name, params,
				       &py_host_ops, self, &o);
	current_session = saved;
	if (rc < 0) {
		PyObject *cause = self->exception ? Py_NewRef(self->exception) : NULL;
		Py_DECREF(self);
		pbpy_raise(rc, NULL);
		if (cause) {
			PyObject *type_, *value, *tb;
			PyErr_Fetch(&type_, &value, &tb);
			PyErr_NormalizeException(&type_, &value, &tb);
			PyException_SetCause(value, cause); /* steals */
			PyErr_Restore(type_, value, tb);
		}
		return NULL;
	}
	return (PyObject *)self;
}

typedef int (*event_fn)(pb_screen_session *, int64_t, char);

static int ev_start(pb_screen_session *s, int64_t now, char d) { return pb_screen_session_start(s, now); }
static int ev_dtmf(pb_screen_session *s, int64_t now, char d) { return pb_screen_session_dtmf(s, d, now); }
static int ev_timer(pb_screen_session *s, int64_t now, char d) { return pb_screen_session_timer(s, now); }
static int ev_prompt(pb_screen_session *s, int64_t now, char d) { return pb_screen_session_prompt_done(s, now); }
static int ev_hangup(pb_screen_session *s, int64_t now, char d) { return pb_screen_session_hangup(s, now); }

static PyObject *session_event(SessionObject *self, event_fn fn, long long now, char dg)
{
	if (!self->s)
		return pbpy_raise(pb_error_set(PB_ESTATE, "session closed"), NULL);
	Py_INCREF(self); /* the host may drop its last reference from a callback */
	SessionObject *saved = current_session;
	current_session = self;
	int rc = fn(self->s, now, dg);
	current_session = saved;
	PyObject *ret = NULL;
	if (self->host_exception) {
		PyObject *e = self->host_exception;
		self->host_exception = NULL;
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(e);
	} else if (rc < 0) {
		pbpy_raise(rc, NULL);
	} else {
		ret = Py_NewRef(Py_None);
	}
	Py_DECREF(self);
	return ret;
}

static PyObject *session_start(SessionObject *self, PyObject *args)
{
	long long now;
	if (!PyArg_ParseTuple(args, "L", &now))
		return NULL;
	return session_event(self, ev_start, now, 0);
}

static PyObject *session_dtmf(SessionObject *self, PyObject *args)
{
	int ch;
	long long now;
	if (!PyArg_ParseTuple(args, "CL", &ch, &now))
		return NULL;
	if (ch <= 0 || ch > 127) {
		PyErr_SetString(PyExc_ValueError, "dtmf: one ASCII character (0-9, *, #, A-D)");
		return NULL;
	}
	return session_event(self, ev_dtmf, now, (char)ch);
}

static PyObject *session_timer(SessionObject *self, PyObject *args)
{
	long long now;
	if (!PyArg_ParseTuple(args, "L", &now))
		return NULL;
	return session_event(self, ev_timer, now, 0);
}

static PyObject *session_prompt_done(SessionObject *self, PyObject *args)
{
	long long now;
	if (!PyArg_ParseTuple(args, "L", &now))
		return NULL;
	return session_event(self, ev_prompt, now, 0);
}

static PyObject *session_hangup(SessionObject *self, PyObject *args)
{
	long long now;
	if (!PyArg_ParseTuple(args, "L", &now))
		return NULL;
	return session_event(self, ev_hangup, now, 0);
}

static PyObject *session_finished(SessionObject *self, void *unused)
{
	return PyBool_FromLong(self->s && pb_screen_session_finished(self->s));
}

static PyObject *session_result(SessionObject *self, void *unused)
{
	const pb_screen_result *r = self->s ? pb_screen_session_result(self->s) : NULL;
	if (!r)
		Py_RETURN_NONE;
	return result_dict(r);
}

static PyObject *session_challenge(SessionObject *self, void *unused)
{
	if (!self->s)
		Py_RETURN_NONE;
	return PyUnicode_FromString(pb_screen_session_challenge(self->s));
}

static PyObject *session_exception(SessionObject *self, void *unused)
{
	return Py_NewRef(self->exception ? self->exception : Py_None);
}

static PyObject *session_close(SessionObject *self, PyObject *unused)
{
	if (self->s) {
		pb_screen_session *s = self->s;
		self->s = NULL;
		pb_screen_session_free(s);
	}
	Py_RETURN_NONE;
}

static PyMethodDef session_methods[] = {
	{ "start", (PyCFunction)session_start, METH_VARARGS, "start(now)" },
	{ "dtmf", (PyCFunction)session_dtmf, METH_VARARGS, "dtmf(digit, now)" },
	{ "timer", (PyCFunction)session_timer, METH_VARARGS, "timer(now): the host's timer fired" },
	{ "prompt_done", (PyCFunction)session_prompt_done, METH_VARARGS, "prompt_done(now)" },
	{ "hangup", (PyCFunction)session_hangup, METH_VARARGS, "hangup(now)" },
	{ "close", (PyCFunction)session_close, METH_NOARGS, "close(): free the C session now" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef session_getset[] = {
	{ "finished", (getter)session_finished, NULL, "True once finish() was called", NULL },
	{ "result", (getter)session_result, NULL, "the result dict once finished, else None", NULL },
	{ "challenge", (getter)session_challenge, NULL, "the challenge name", NULL },
	{ "exception", (getter)session_exception, NULL,
	  "the first exception a Python challenge raised, or None", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject SessionType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Session",
	.tp_basicsize = sizeof(SessionObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A screening session (pb_screen_session) driven by a Python host.",
	.tp_new = session_new,
	.tp_dealloc = (destructor)session_dealloc,
	.tp_traverse = (traverseproc)session_traverse,
	.tp_clear = (inquiry)session_clear,
	.tp_methods = session_methods,
	.tp_getset = session_getset,
};

/* --- a whole screener on real SIP calls (pb_screener) ------------------------ */

/*
 * The GIL is released while the screener waits in sofia-sip (step/run) and
 * taken again for every call into Python: challenge methods (pyc_*, which
 * ensure it), the event callback, the log bridge. An exception in a
 * challenge ends that call's session as an error (the call is hung up);
 * one in the event callback is reported as unraisable. Neither stops the loop.
 */
typedef struct {
	PyObject_HEAD
	pb_screener *s;
	py_challenge *python; /* freed after s */
	PyObject *on_event;
	bool started;
	unsigned long owner;  /* the thread that started it: sofia-sip's loop is bound to it */
} ScreenerObject;

static PyObject *event_dict(const pb_screener_event *ev)
{
	static const char *const types[] = { "started", "verdict", "challenge", "forwarded", "ended", "refused" };
	const pb_screen_decision *d = ev->decision;
	const pb_screen_result *r = ev->result;
	if ((size_t)ev->type >= sizeof(types) / sizeof(types[0]))
		return PyErr_Format(PyExc_ValueError, "screener event of unknown type %d", (int)ev->type);
	return Py_BuildValue("{s:s,s:k,s:z,s:z,s:z,s:z,s:z,s:z,s:z,s:z,s:z,s:L,s:i,s:k}",
			     "type", types[ev->type], "call", ev->call,
			     "from", ev->caller ? ev->caller->from_uri : NULL,
			     "source", ev->caller ? ev->caller->source : NULL,
			     "caller", d ? d->caller : NULL,
			     "verdict", d ? pb_screen_verdict_name(d->verdict) : NULL,
			     "rule", d ? d->rule : NULL,
			     "result", r ? pb_screen_outcome_name(r->outcome) : NULL,
			     "reason", r ? r->reason : NULL,
			     "target", ev->target, "outcome", ev->outcome,
			     "duration_ms", (long long)ev->duration_ms,
			     "sip_status", d ? d->sip_status : 0, "count", ev->count);
}

static void screener_event(const pb_screener_event *ev, void *ud)
{
	ScreenerObject *self = ud;
	if (!self->on_event)
		return;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *d = event_dict(ev);
	PyObject *r = d ? PyObject_CallOneArg(self->on_event, d) : NULL;
	if (!r)
		PyErr_WriteUnraisable(self->on_event);
	Py_XDECREF(r);
	Py_XDECREF(d);
	PyGILState_Release(g);
}

/* options[key] as a str (NULL when absent or None); -1 with TypeError otherwise */
static int opt_str(PyObject *opts, const char *key, const char **out)
{
	PyObject *v = PyDict_GetItemString(opts, key);
	*out = NULL;
	if (!v || v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "Screener option %s: expected str", key);
		return -1;
	}
	*out = PyUnicode_AsUTF8(v);
	return *out ? 0 : -1;
}

static int opt_uint(PyObject *opts, const char *key, unsigned max, unsigned *out)
{
	PyObject *v = PyDict_GetItemString(opts, key);
	if (!v || v == Py_None)
		return 0;
	unsigned long n = PyLong_Check(v) ? PyLong_AsUnsignedLong(v) : (unsigned long)-1;
	if (PyErr_Occurred())
		PyErr_Clear();
	if (!PyLong_Check(v) || n > max) {
		PyErr_Format(PyExc_ValueError, "Screener option %s: expected an integer 0..%u", key, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static const char *const screener_keys[] = {
	"listen", "port", "allow", "rtp_address", "user_agent", "store", "prompts", "mode",
	"target", "fallback", "early_media", "max_duration", "forward_timeout", "policy",
	"refer_fallback", "ring", "voicemail", "voicemail_max_seconds", "voicemail_silence_seconds",
	"voicemail_format", "voicemail_greeting", NULL,
};

static int screener_options(PyObject *opts, pb_screener_options *o, const char **policy, size_t cap)
{
	PyObject *k;
	Py_ssize_t pos = 0;
	while (PyDict_Next(opts, &pos, &k, NULL)) {
		const char *ks = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
		size_t i = 0;
		while (ks && screener_keys[i] && strcmp(screener_keys[i], ks))
			i++;
		if (!ks || !screener_keys[i]) {
			PyErr_Format(PyExc_ValueError, "Screener: unknown option %R", k);
			return -1;
		}
	}
	/* the keyword arguments count seconds, as pb-screend's configuration does */
	unsigned port = 0, forward_timeout = 0, max_duration = 0, vm_max = 0, vm_silence = 5;
	if (opt_str(opts, "listen", &o->sip.bind_address) < 0 || opt_uint(opts, "port", 65535, &port) < 0 ||
	    opt_str(opts, "allow", &o->sip.allow_sources) < 0 ||
	    opt_str(opts, "rtp_address", &o->sip.rtp_address) < 0 ||
	    opt_str(opts, "user_agent", &o->sip.user_agent) < 0 || opt_str(opts, "store", &o->store) < 0 ||
	    opt_str(opts, "prompts", &o->prompts) < 0 || opt_str(opts, "mode", &o->mode) < 0 ||
	    opt_str(opts, "target", &o->target) < 0 || opt_str(opts, "fallback", &o->fallback) < 0 ||
	    opt_str(opts, "refer_fallback", &o->refer_fallback) < 0 || opt_str(opts, "ring", &o->ring) < 0 ||
	    opt_uint(opts, "max_duration", 3600, &max_duration) < 0 ||
	    opt_uint(opts, "forward_timeout", 600, &forward_timeout) < 0 ||
	    opt_uint(opts, "voicemail_max_seconds", 600, &vm_max) < 0 ||
	    opt_uint(opts, "voicemail_silence_seconds", 600, &vm_silence) < 0 ||
	    opt_str(opts, "voicemail_format", &o->voicemail_format) < 0 ||
	    opt_str(opts, "voicemail_greeting", &o->voicemail_greeting) < 0)
		return -1;
	PyObject *vm = PyDict_GetItemString(opts, "voicemail");
	o->voicemail = vm && PyObject_IsTrue(vm) == 1;
	o->sip.port = port ? port : PB_SIP_PORT_ANY;
	o->sip.bridge_timeout_ms = forward_timeout * 1000;
	o->max_duration_ms = max_duration * 1000u;
	o->voicemail_max_ms = vm_max * 1000u;
	o->voicemail_silence_ms = vm_silence ? vm_silence * 1000u : PB_WAIT_FOREVER;
	if (!o->mode)
		o->mode = "bridge";
	PyObject *em = PyDict_GetItemString(opts, "early_media");
	o->early_media = em && PyObject_IsTrue(em) == 1;
	PyObject *pol = PyDict_GetItemString(opts, "policy");
	size_t n = 0;
	if (pol && pol != Py_None) {
		if (!PyDict_Check(pol)) {
			PyErr_SetString(PyExc_TypeError, "Screener option policy: expected a dict of str");
			return -1;
		}
		PyObject *pk, *pv;
		pos = 0;
		while (PyDict_Next(pol, &pos, &pk, &pv)) {
			if (!PyUnicode_Check(pk) || !PyUnicode_Check(pv)) {
				PyErr_SetString(PyExc_TypeError, "Screener option policy: keys and values must be str");
				return -1;
			}
			if (n + 2 >= cap) {
				PyErr_SetString(PyExc_ValueError, "Screener option policy: too many keys");
				return -1;
			}
			if (!(policy[n++] = PyUnicode_AsUTF8(pk)) || !(policy[n++] = PyUnicode_AsUTF8(pv)))
				return -1;
		}
	}
	policy[n] = NULL;
	o->policy = policy;
	return 0;
}

static PyObject *screener_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	PyObject *opts, *on_event = Py_None;
	static char *kwlist[] = { "options", "on_event", NULL };
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O:Screener", kwlist, &PyDict_Type, &opts, &on_event))
		return NULL;
	if (on_event != Py_None && !PyCallable_Check(on_event)) {
		PyErr_SetString(PyExc_TypeError, "Screener: on_event must be callable");
		return NULL;
	}
	pb_screener_options o = PB_SCREENER_OPTIONS_INIT;
	const char *policy[129];
	if (screener_options(opts, &o, policy, 129) < 0)
		return NULL;
	ScreenerObject *self = (ScreenerObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->on_event = on_event == Py_None ? NULL : Py_NewRef(on_event);
	o.on_event = screener_event;
	o.userdata = self;
	int rc = pb_screener_new(&self->s, &o);
	if (rc < 0) {
		Py_DECREF(self);
		return pbpy_raise(rc, NULL);
	}
	return (PyObject *)self;
}

static int screener_traverse(ScreenerObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->on_event);
	for (py_challenge *pc = self->python; pc; pc = pc->next)
		Py_VISIT(pc->cls);
	return 0;
}

/* Not on the thread that started the screener: sofia-sip would abort. */
static bool screener_foreign_thread(const ScreenerObject *self)
{
	return self->started && PyThread_get_thread_ident() != self->owner;
}

static void screener_free_c(ScreenerObject *self)
{
	if (self->s && screener_foreign_thread(self)) {
		/* freed by the garbage collector on another thread: leaking it is
		 * better than aborting the process */
		PyErr_WarnEx(PyExc_ResourceWarning, "Screener freed on another thread than the one "
				"that started it: its C screener is leaked (close() it on that thread)", 1);
		PyErr_Clear();
		self->s = NULL;
		return;
	}
	if (self->s) {
		pb_screener *s = self->s;
		self->s = NULL;
		pb_screener_free(s); /* ends calls: challenges and events still run */
	}
}

static int screener_clear(ScreenerObject *self)
{
	screener_free_c(self);
	Py_CLEAR(self->on_event);
	return 0;
}

static void screener_dealloc(ScreenerObject *self)
{
	PyObject_GC_UnTrack(self);
	screener_free_c(self);
	pyc_free_list(self->python);
	Py_XDECREF(self->on_event);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static bool screener_open(ScreenerObject *self)
{
	if (!self->s) {
		pbpy_raise(pb_error_set(PB_ESTATE, "the screener is closed"), NULL);
		return false;
	}
	if (screener_foreign_thread(self)) {
		pbpy_raise(pb_error_set(PB_ESTATE, "a Screener runs on the thread that started it"), NULL);
		return false;
	}
	return true;
}

static int add_to_screener(void *s, const pb_challenge_ops *ops)
{
	return pb_screener_add_challenge(s, ops);
}

static PyObject *screener_add(ScreenerObject *self, PyObject *args)
{
	if (!screener_open(self))
		return NULL;
	return add_python_challenge(args, add_to_screener, self->s, &self->python);
}

static PyObject *screener_start(ScreenerObject *self, PyObject *unused)
{
	if (!screener_open(self))
		return NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = pb_screener_start(self->s);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	self->started = true;
	self->owner = PyThread_get_thread_ident();
	Py_RETURN_NONE;
}

static PyObject *screener_step(ScreenerObject *self, PyObject *args)
{
	unsigned timeout = 0; /* "I": -1 is PB_WAIT_FOREVER, as in C */
	int r;
	if (!PyArg_ParseTuple(args, "|I", &timeout) || !screener_open(self))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = pb_screener_step(self->s, timeout);
	Py_END_ALLOW_THREADS
	if (r < -1)
		return pbpy_raise(r, NULL);
	return PyLong_FromLong(r);
}

/* Until stop() and the last call ended; Ctrl-C (any signal handler that
 * raises) stops taking calls and raises after the loop ended. */
static PyObject *screener_run(ScreenerObject *self, PyObject *unused)
{
	if (!screener_open(self))
		return NULL;
	PyObject *ptype = NULL, *pvalue = NULL, *ptb = NULL;
	while (!pb_screener_stopped(self->s)) {
		int r;
		Py_BEGIN_ALLOW_THREADS
		r = pb_screener_step(self->s, 100);
		Py_END_ALLOW_THREADS
		if (r < -1) {
			Py_XDECREF(ptype);
			Py_XDECREF(pvalue);
			Py_XDECREF(ptb);
			return pbpy_raise(r, NULL);
		}
		if (!ptype && PyErr_CheckSignals() < 0) {
			PyErr_Fetch(&ptype, &pvalue, &ptb);
			pb_screener_stop(self->s);
		}
	}
	if (ptype) {
		PyErr_Restore(ptype, pvalue, ptb);
		return NULL;
	}
	Py_RETURN_NONE;
}

/* A foreign loop (asyncio's add_reader): the descriptor, when to come back, and one pass. */
static PyObject *screener_fileno(ScreenerObject *self, PyObject *unused)
{
	if (!screener_open(self))
		return NULL;
	int fd = pb_screener_fd(self->s);
	if (fd < 0)
		return pbpy_raise(fd, NULL);
	return PyLong_FromLong(fd);
}

static PyObject *screener_timeout_ms(ScreenerObject *self, PyObject *unused)
{
	if (!screener_open(self))
		return NULL;
	return PyLong_FromLong(pb_screener_timeout_ms(self->s));
}

/* Without waiting: the GIL stays held (challenges and events take it anyway). */
static PyObject *screener_dispatch(ScreenerObject *self, PyObject *unused)
{
	if (!screener_open(self))
		return NULL;
	int rc = pb_screener_dispatch(self->s);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return PyBool_FromLong(pb_screener_stopped(self->s));
}

static PyObject *screener_stop(ScreenerObject *self, PyObject *unused)
{
	if (self->s)
		pb_screener_stop(self->s);
	Py_RETURN_NONE;
}

static PyObject *screener_close(ScreenerObject *self, PyObject *unused)
{
	if (self->s && !screener_open(self))
		return NULL;
	screener_free_c(self);
	Py_RETURN_NONE;
}

static PyObject *screener_port(ScreenerObject *self, void *unused)
{
	return PyLong_FromUnsignedLong(self->s ? pb_screener_port(self->s) : 0);
}

static PyObject *screener_calls(ScreenerObject *self, void *unused)
{
	return PyLong_FromSize_t(self->s ? pb_screener_call_count(self->s) : 0);
}

static PyMethodDef screener_methods[] = {
	{ "add", (PyCFunction)screener_add, METH_VARARGS, "add(name, summary, cls): before start()" },
	{ "start", (PyCFunction)screener_start, METH_NOARGS, "start(): check the policy, listen" },
	{ "step", (PyCFunction)screener_step, METH_VARARGS, "step(timeout_ms=0) -> ms to the next timer" },
	{ "run", (PyCFunction)screener_run, METH_NOARGS, "run(): until stop() and the last call ended" },
	{ "stop", (PyCFunction)screener_stop, METH_NOARGS, "stop(): no new calls; run() returns when idle" },
	{ "fileno", (PyCFunction)screener_fileno, METH_NOARGS, "fileno() -> the descriptor to watch for reading" },
	{ "timeout_ms", (PyCFunction)screener_timeout_ms, METH_NOARGS, "timeout_ms() -> ms until dispatch() is due (-1 none)" },
	{ "dispatch", (PyCFunction)screener_dispatch, METH_NOARGS, "dispatch() -> stopped: do what is ready, without waiting" },
	{ "close", (PyCFunction)screener_close, METH_NOARGS, "close(): end every call, free the C screener" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef screener_getset[] = {
	{ "port", (getter)screener_port, NULL, "the SIP port (0 before start)", NULL },
	{ "calls", (getter)screener_calls, NULL, "calls in progress", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject ScreenerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Screener",
	.tp_basicsize = sizeof(ScreenerObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A call screener (pb_screener) answering real SIP calls.",
	.tp_new = screener_new,
	.tp_dealloc = (destructor)screener_dealloc,
	.tp_traverse = (traverseproc)screener_traverse,
	.tp_clear = (inquiry)screener_clear,
	.tp_methods = screener_methods,
	.tp_getset = screener_getset,
};

/* --- module-level ----------------------------------------------------------- */

static PyObject *normalize_number(PyObject *self, PyObject *args)
{
	const char *in = NULL, *region = NULL;
	if (!PyArg_ParseTuple(args, "z|z:screen_normalize_number", &in, &region))
		return NULL;
	pb_screen_numbering nb = PB_SCREEN_NUMBERING_INIT;
	if (region) {
		if (strlen(region) != 2 || pb_phone_country_code(region) < 0)
			return pbpy_raise(pb_error_set(PB_EINVAL, "region %s is not in the numbering table",
						       region), NULL);
		strcpy(nb.region, region);
	}
	char out[64];
	int rc = pb_screen_normalize_number(out, sizeof(out), in, &nb);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("(ss)", kind_names[rc & 3], out);
}

static PyObject *parse_verstat(PyObject *self, PyObject *arg)
{
	const char *uri = arg == Py_None ? NULL : PyUnicode_AsUTF8(arg);
	if (!uri && arg != Py_None)
		return NULL;
	char att = 0;
	pb_screen_verstat v = pb_screen_parse_verstat(uri, &att);
	return Py_BuildValue("(sN)", pb_screen_verstat_name(v),
			     att ? PyUnicode_FromStringAndSize(&att, 1) : Py_NewRef(Py_None));
}

PyMethodDef pbpy_screen_methods[] = {
	{ "screen_normalize_number", normalize_number, METH_VARARGS,
	  "screen_normalize_number(identity, region=None) -> (kind, number)" },
	{ "screen_parse_verstat", parse_verstat, METH_O,
	  "screen_parse_verstat(uri) -> (name, attestation or None)" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_screen_init(PyObject *m)
{
	PyTypeObject *types[] = { &PolicyType, &ContextType, &RegistryType, &SessionType, &ScreenerType };
	const char *names[] = { "Policy", "ChallengeContext", "Registry", "Session", "Screener" };
	for (size_t i = 0; i < 5; i++)
		if (pbpy_add_type(m, names[i], types[i]) < 0)
			return -1;
	return 0;
}
