/*
 * _phonebridge — mmsc: the MMSC HTTP client (pb_mmsc): fetch, retrieve
 * (with the answer OMA-MMS-CTR asks for), send an encoded M-Send.req.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * PDUs cross as bytes (phonebridge.mms decodes and encodes them), or an
 * outgoing message as the tuple of fields mms.c parses. Every
 * call that talks to the MMSC runs with the GIL released and the client's
 * lock held; the progress callback takes the GIL to call Python.
 */
#include "pbpy-util.h"

typedef struct {
	PyObject_HEAD
	pb_mmsc *c;
	PyThread_type_lock lock;
	PyObject *progress; /* callable(now, total) -> stop?, or NULL */
	PyObject *progress_exc;
} MmscObject;

#define BLOCKING(self, rc, expr) PBPY_BLOCKING((self)->lock, rc, expr)

static int progress_cb(uint64_t now, uint64_t total, void *ud)
{
	MmscObject *self = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	int stop = 0;
	PyObject *r = PyObject_CallFunction(self->progress, "KK", (unsigned long long)now,
					    (unsigned long long)total);
	if (!r) {
		if (!self->progress_exc)
			self->progress_exc = pbpy_take_exception();
		else
			PyErr_Clear();
		stop = 1;
	} else {
		stop = PyObject_IsTrue(r) > 0;
		PyErr_Clear();
		Py_DECREF(r);
	}
	PyGILState_Release(g);
	return stop;
}

/* A sequence of str as a NULL-terminated array of borrowed UTF-8 (PyMem_Free it). */
static int str_array(PyObject *seq, const char ***out)
{
	*out = NULL;
	if (!seq || seq == Py_None)
		return 0;
	PyObject *fast = PySequence_Fast(seq, "expected a sequence of str");
	if (!fast)
		return -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
	const char **a = PyMem_Calloc((size_t)n + 1, sizeof(*a));
	if (!a) {
		Py_DECREF(fast);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		/* the str objects live in seq, which outlives the call */
		a[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(fast, i));
		if (!a[i]) {
			PyMem_Free(a);
			Py_DECREF(fast);
			return -1;
		}
	}
	Py_DECREF(fast);
	*out = a;
	return 0;
}

static PyObject *mmsc_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "mmsc_url", "proxy", "interface", "user_agent", "wap_profile",
				  "extra_headers", "max_download", "connect_timeout_ms", "timeout_ms",
				  "retry_attempts", "retry_initial_delay_ms", "retry_max_delay_ms", "retry_send",
				  "max_redirects", "ca_file", "tls_insecure", "rewrite_rules",
				  "progress", "report_allowed", "stall_timeout_ms", NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	PyObject *headers = NULL, *rules = NULL, *progress = Py_None;
	Py_ssize_t max_download = 0;
	int retry_send = 0, insecure = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzzzzOnIIIIIpIzpOOiI", kwlist, &o.mmsc_url,
					 &o.proxy, &o.interface, &o.user_agent, &o.wap_profile,
					 &headers, &max_download, &o.connect_timeout_ms,
					 &o.timeout_ms, &o.retry.attempts, &o.retry.initial_delay_ms,
					 &o.retry.max_delay_ms, &retry_send, &o.max_redirects,
					 &o.ca_file, &insecure, &rules, &progress, &o.report_allowed,
					 &o.stall_timeout_ms))
		return NULL;
	if (progress != Py_None && !PyCallable_Check(progress)) {
		PyErr_SetString(PyExc_TypeError, "progress must be callable(now, total) or None");
		return NULL;
	}
	o.max_download = max_download > 0 ? (size_t)max_download : 0;
	o.retry_send = retry_send;
	o.tls_insecure = insecure;
	const char **h = NULL, **r = NULL;
	if (str_array(headers, &h) < 0 || str_array(rules, &r) < 0) {
		PyMem_Free(h);
		return NULL;
	}
	o.extra_headers = h;
	o.rewrite_rules = r;
	MmscObject *self = (MmscObject *)type->tp_alloc(type, 0);
	if (!self)
		goto fail;
	self->lock = PyThread_allocate_lock();
	if (!self->lock) {
		PyErr_NoMemory();
		goto fail;
	}
	if (progress != Py_None) {
		self->progress = Py_NewRef(progress);
		o.progress = progress_cb;
		o.progress_userdata = self;
	}
	int rc = pb_mmsc_new(&self->c, &o); /* copies every option */
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		goto fail;
	}
	PyMem_Free(h);
	PyMem_Free(r);
	return (PyObject *)self;
fail:
	PyMem_Free(h);
	PyMem_Free(r);
	Py_XDECREF(self);
	return NULL;
}

static void mmsc_dealloc(MmscObject *self)
{
	pb_mmsc_free(self->c);
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_XDECREF(self->progress);
	Py_XDECREF(self->progress_exc);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *result_dict(const pb_mmsc_result *r)
{
	return Py_BuildValue("{s:l,s:I,s:n,s:s,s:s,s:s}", "http_status", r->http_status, "attempts",
			     r->attempts, "bytes", (Py_ssize_t)r->bytes, "content_type",
			     r->content_type, "location", r->location, "url", r->url);
}

/* After a call: a progress callback's exception wins over the code. */
static int failed(MmscObject *self, int rc)
{
	if (self->progress_exc) {
		PyObject *e = self->progress_exc;
		self->progress_exc = NULL;
		pbpy_reraise(e);
		return 1;
	}
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		return 1;
	}
	return 0;
}

/* Attach the HTTP result to the pending exception as .http (diagnostics). */
static void attach(const char *name, PyObject *value)
{
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (v && value && PyObject_SetAttrString(v, name, value) < 0)
		PyErr_Clear();
	Py_XDECREF(value);
	PyErr_Restore(t, v, tb);
}

static PyObject *m_fetch(MmscObject *self, PyObject *args)
{
	const char *location;
	if (!PyArg_ParseTuple(args, "s", &location))
		return NULL;
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result res;
	memset(&res, 0, sizeof(res));
	int rc;
	BLOCKING(self, rc, pb_mmsc_fetch(self->c, location, &body, &res));
	if (failed(self, rc)) {
		pb_buf_dispose(&body);
		attach("http", result_dict(&res));
		return NULL;
	}
	return Py_BuildValue("(NN)", pbpy_buf_to_bytes(&body), result_dict(&res));
}

static PyObject *m_rewrite(MmscObject *self, PyObject *args)
{
	const char *location;
	if (!PyArg_ParseTuple(args, "s", &location))
		return NULL;
	char *out = NULL;
	int rc = pb_mmsc_rewrite(self->c, location, &out);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = PyUnicode_FromString(out);
	pb_free(out);
	return r;
}

static PyObject *retrieval_dict(pb_mmsc_retrieval *r)
{
	return Py_BuildValue("{s:y#,s:O,s:i,s:i,s:O,s:N}", "pdu", (const char *)r->pdu.data,
			     (Py_ssize_t)r->pdu.len, "decoded", r->message ? Py_True : Py_False,
			     "retrieve_status", r->retrieve_status, "answer_status", r->answer_status,
			     "answered", r->answered ? Py_True : Py_False, "http",
			     result_dict(&r->http));
}

static PyObject *m_retrieve(MmscObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "notification", "received", "later", "no_answer", NULL };
	Py_buffer pdu;
	long long received = 0;
	int later = 0, no_answer = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|Lpp", kwlist, &pdu, &received, &later, &no_answer))
		return NULL;
	pb_mms_message *ni = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_mms_decode(&ni, pdu.buf, (size_t)pdu.len, 0, &perr);
	if (rc < 0) {
		PyBuffer_Release(&pdu);
		return pbpy_raise(rc, &perr);
	}
	pb_mmsc_retrieval r;
	memset(&r, 0, sizeof(r));
	unsigned flags = (later ? PB_MMSC_RETRIEVE_LATER : 0) | (no_answer ? PB_MMSC_RETRIEVE_NO_ANSWER : 0);
	BLOCKING(self, rc, pb_mmsc_retrieve(self->c, ni, received, flags, &r));
	pb_mms_message_free(ni);
	PyBuffer_Release(&pdu);
	PyObject *ret = NULL;
	if (failed(self, rc))
		attach("retrieval", retrieval_dict(&r));
	else
		ret = retrieval_dict(&r);
	pb_mmsc_retrieval_dispose(&r);
	return ret;
}

static PyObject *conf_dict(const pb_mmsc_send_conf *c)
{
	return Py_BuildValue("{s:i,s:z,s:z,s:z,s:N}", "response_status", c->response_status,
			     "response_text", c->response_text, "message_id", c->message_id,
			     "transaction_id", c->transaction_id, "http", result_dict(&c->http));
}

/* The outcome of a send: the conf as a dict, or the exception with it as .conf. */
static PyObject *send_result(MmscObject *self, int rc, pb_mmsc_send_conf *conf)
{
	PyObject *ret = NULL;
	if (failed(self, rc))
		attach("conf", conf_dict(conf));
	else
		ret = conf_dict(conf);
	pb_mmsc_send_conf_dispose(conf);
	return ret;
}

static PyObject *m_send(MmscObject *self, PyObject *args)
{
	Py_buffer pdu;
	if (!PyArg_ParseTuple(args, "y*", &pdu))
		return NULL;
	pb_mmsc_send_conf conf;
	memset(&conf, 0, sizeof(conf));
	int rc;
	BLOCKING(self, rc, pb_mmsc_send_pdu(self->c, pdu.buf, (size_t)pdu.len, &conf));
	PyBuffer_Release(&pdu);
	return send_result(self, rc, &conf);
}

/* send_message(fields): encoded by pb_mmsc_send() with the library's encoder */
static PyObject *m_send_message(MmscObject *self, PyObject *args)
{
	PyObject *fields;
	if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &fields))
		return NULL;
	pb_mms_send_req req;
	pbpy_send_req_hold hold;
	if (pbpy_send_req_parse(fields, &req, &hold) < 0) {
		pbpy_send_req_release(&hold);
		return NULL;
	}
	pb_mmsc_send_conf conf;
	memset(&conf, 0, sizeof(conf));
	int rc;
	/* the borrowed strings and buffers stay valid: hold keeps their objects */
	BLOCKING(self, rc, pb_mmsc_send(self->c, &req, &conf));
	pbpy_send_req_release(&hold);
	return send_result(self, rc, &conf);
}

/* The outcome of an answer: the HTTP result, or the exception with it as .http. */
static PyObject *http_result(MmscObject *self, int rc, const pb_mmsc_result *res)
{
	if (failed(self, rc)) {
		attach("http", result_dict(res));
		return NULL;
	}
	return result_dict(res);
}

/* notifyresp(transaction_id, status) / acknowledge(transaction_id) -> http dict */
static PyObject *m_notifyresp(MmscObject *self, PyObject *args)
{
	const char *tid;
	int status;
	if (!PyArg_ParseTuple(args, "si", &tid, &status))
		return NULL;
	pb_mmsc_result res;
	memset(&res, 0, sizeof(res));
	int rc;
	BLOCKING(self, rc, pb_mmsc_notifyresp(self->c, tid, status, &res));
	return http_result(self, rc, &res);
}

static PyObject *m_acknowledge(MmscObject *self, PyObject *args)
{
	const char *tid;
	if (!PyArg_ParseTuple(args, "s", &tid))
		return NULL;
	pb_mmsc_result res;
	memset(&res, 0, sizeof(res));
	int rc;
	BLOCKING(self, rc, pb_mmsc_acknowledge(self->c, tid, &res));
	return http_result(self, rc, &res);
}

/* post(kind, pdu) -> (answer bytes, http dict) */
static PyObject *m_post(MmscObject *self, PyObject *args)
{
	int kind;
	Py_buffer pdu;
	if (!PyArg_ParseTuple(args, "iy*", &kind, &pdu))
		return NULL;
	if (kind < PB_MMSC_POST_NOTIFYRESP || kind > PB_MMSC_POST_SEND) {
		PyBuffer_Release(&pdu);
		PyErr_SetString(PyExc_ValueError, "kind must be POST_NOTIFYRESP, POST_ACK or POST_SEND");
		return NULL;
	}
	pb_buf answer = PB_BUF_INIT;
	pb_mmsc_result res;
	memset(&res, 0, sizeof(res));
	int rc;
	BLOCKING(self, rc, pb_mmsc_post(self->c, (pb_mmsc_post_kind)kind, pdu.buf, (size_t)pdu.len,
					 &answer, &res));
	PyBuffer_Release(&pdu);
	if (failed(self, rc)) {
		pb_buf_dispose(&answer);
		attach("http", result_dict(&res));
		return NULL;
	}
	return Py_BuildValue("(NN)", pbpy_buf_to_bytes(&answer), result_dict(&res));
}

static PyMethodDef mmsc_methods[] = {
	{ "fetch", (PyCFunction)m_fetch, METH_VARARGS, "fetch(location) -> (pdu bytes, http dict)" },
	{ "rewrite", (PyCFunction)m_rewrite, METH_VARARGS, "rewrite(location) -> URL after the rules" },
	{ "retrieve", (PyCFunction)(void (*)(void))m_retrieve, METH_VARARGS | METH_KEYWORDS,
	  "retrieve(notification_pdu, received=0, later=False, no_answer=False) -> dict" },
	{ "send", (PyCFunction)m_send, METH_VARARGS, "send(m_send_req_pdu) -> conf dict" },
	{ "notifyresp", (PyCFunction)m_notifyresp, METH_VARARGS,
	  "notifyresp(transaction_id, status) -> http dict: an M-NotifyResp.ind" },
	{ "acknowledge", (PyCFunction)m_acknowledge, METH_VARARGS,
	  "acknowledge(transaction_id) -> http dict: an M-Acknowledge.ind" },
	{ "post", (PyCFunction)m_post, METH_VARARGS, "post(kind, pdu) -> (answer bytes, http dict)" },
	{ "send_message", (PyCFunction)m_send_message, METH_VARARGS,
	  "send_message(fields) -> conf dict: the message encoded by pb_mmsc_send()" },
	{ NULL, NULL, 0, NULL },
};

static PyTypeObject MmscType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Mmsc",
	.tp_basicsize = sizeof(MmscObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An MMSC client (pb_mmsc).",
	.tp_new = mmsc_new,
	.tp_dealloc = (destructor)mmsc_dealloc,
	.tp_methods = mmsc_methods,
};

static PyObject *rewrite_location(PyObject *self, PyObject *args)
{
	const char *rule, *mmsc_url, *location;
	if (!PyArg_ParseTuple(args, "szs", &rule, &mmsc_url, &location))
		return NULL;
	char *out = NULL;
	int rc = pb_mmsc_rewrite_location(rule, mmsc_url, location, &out);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = pbpy_str_or_none(out);
	pb_free(out);
	return r;
}

PyMethodDef pbpy_mmsc_methods[] = {
	{ "mmsc_rewrite_location", rewrite_location, METH_VARARGS,
	  "mmsc_rewrite_location(rule, mmsc_url, location) -> URL, or None when match= did not match" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_mmsc_init(PyObject *m)
{
	if (PyModule_AddIntConstant(m, "MMSC_POST_NOTIFYRESP", PB_MMSC_POST_NOTIFYRESP) < 0 ||
	    PyModule_AddIntConstant(m, "MMSC_POST_ACK", PB_MMSC_POST_ACK) < 0 ||
	    PyModule_AddIntConstant(m, "MMSC_POST_SEND", PB_MMSC_POST_SEND) < 0)
		return -1;
	return pbpy_add_type(m, "Mmsc", &MmscType);
}
