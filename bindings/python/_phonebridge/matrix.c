/*
 * _phonebridge — matrix: the Matrix client-server handle (pb_matrix).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every call that talks to the homeserver runs with the GIL released, so
 * other Python threads run during a long-poll sync; the handle's own lock
 * keeps one call at a time on it. cancel() needs neither: it is the C
 * library's thread-safe pb_matrix_cancel(), for stopping a sync from another
 * thread.
 */
#include "pbpy-util.h"

#include <jansson.h>

typedef struct {
	PyObject_HEAD
	pb_matrix *m;
	PyThread_type_lock lock;
	pb_matrix_crypto *crypto; /* enable_encryption(); its keys in cst */
	pb_store *cst;
} MatrixObject;

/*
 * What the handle said about a failed call, read while the call still holds
 * the handle's lock (another thread's call may change it right after).
 */
typedef struct {
	int status;
	char errcode[64];
} mx_diag;

/*
 * Evaluate @expr into @rc with the GIL released and the handle locked; on
 * failure copy the errcode and HTTP status into the mx_diag @d.
 */
#define BLOCKING(self, d, rc, expr)                                                     \
	do {                                                                            \
		Py_BEGIN_ALLOW_THREADS                                                  \
		PyThread_acquire_lock((self)->lock, WAIT_LOCK);                         \
		(rc) = (expr);                                                          \
		if ((rc) < 0)                                                           \
			diag_note((self)->m, &(d));                                     \
		PyThread_release_lock((self)->lock);                                    \
		Py_END_ALLOW_THREADS                                                    \
	} while (0)

static void diag_note(const pb_matrix *m, mx_diag *d)
{
	d->status = pb_matrix_last_status(m);
	const char *ec = pb_matrix_last_errcode(m);
	size_t n = ec ? strlen(ec) : 0;
	if (n >= sizeof(d->errcode))
		n = sizeof(d->errcode) - 1;
	memcpy(d->errcode, ec ? ec : "", n);
	d->errcode[n] = '\0';
}

/*
 * Raise the exception for @rc with the homeserver's answer attached:
 * .errcode ("M_FORBIDDEN", or None) and .http_status (0: no answer).
 * phonebridge.matrix turns M_FORBIDDEN into ForbiddenError. Returns NULL.
 */
static PyObject *mx_raise(int rc, const mx_diag *d)
{
	pbpy_raise(rc, NULL);
	if (rc == PB_ENOMEM)
		return NULL;
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (v) {
		PyObject *ec = d->errcode[0] ? PyUnicode_FromString(d->errcode) : Py_NewRef(Py_None);
		PyObject *st = PyLong_FromLong(d->status);
		if (!ec || !st || PyObject_SetAttrString(v, "errcode", ec) < 0 ||
		    PyObject_SetAttrString(v, "http_status", st) < 0)
			PyErr_Clear();
		Py_XDECREF(ec);
		Py_XDECREF(st);
	}
	PyErr_Restore(t, v, tb);
	return NULL;
}

static PyObject *done_none(int rc, const mx_diag *d)
{
	if (rc < 0)
		return mx_raise(rc, d);
	Py_RETURN_NONE;
}

/* A new C string from the library as str (or None), pb_free()d. */
static PyObject *take_str(char *s)
{
	if (!s)
		Py_RETURN_NONE;
	PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
	pb_free(s);
	return r;
}

static PyObject *str_or_none(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

static PyObject *matrix_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "homeserver", "access_token", "access_token_file", "user_agent",
				  "ca_file", "tls_insecure", "connect_timeout_ms",
				  "request_timeout_ms", "retry_attempts", "retry_initial_delay_ms",
				  "retry_max_delay_ms", "discovery_insecure_http", NULL };
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	int insecure = 0, insecure_http = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "z|zzzzpIIIIIp", kwlist, &o.homeserver,
					 &o.access_token, &o.access_token_file, &o.user_agent,
					 &o.ca_file, &insecure, &o.connect_timeout_ms,
					 &o.request_timeout_ms, &o.retry.attempts, &o.retry.initial_delay_ms,
					 &o.retry.max_delay_ms, &insecure_http))
		return NULL;
	o.tls_insecure = insecure;
	o.discovery_insecure_http = insecure_http;
	MatrixObject *self = (MatrixObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->lock = PyThread_allocate_lock();
	if (!self->lock) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	int rc = pb_matrix_new(&self->m, &o);
	if (rc < 0) {
		Py_DECREF(self);
		return pbpy_raise(rc, NULL);
	}
	return (PyObject *)self;
}

static void matrix_dealloc(MatrixObject *self)
{
	if (self->m)
		pb_matrix_set_crypto(self->m, NULL);
	pb_matrix_crypto_free(self->crypto);
	pb_store_close(self->cst);
	pb_matrix_free(self->m);
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *done_str(int rc, const mx_diag *d, char *s)
{
	if (rc < 0) {
		pb_free(s);
		return mx_raise(rc, d);
	}
	return take_str(s);
}

static PyObject *m_discover(MatrixObject *self, PyObject *args)
{
	const char *who;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &who))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_discover(self->m, who));
	if (rc < 0)
		return mx_raise(rc, &d);
	return str_or_none(pb_matrix_homeserver(self->m));
}

static PyObject *m_login(MatrixObject *self, PyObject *args)
{
	const char *user, *password, *device = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "ss|z", &user, &password, &device))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_login_password(self->m, user, password, device));
	return done_none(rc, &d);
}

static PyObject *m_set_token(MatrixObject *self, PyObject *args)
{
	const char *token;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "z", &token))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_set_access_token(self->m, token));
	return done_none(rc, &d);
}

static PyObject *m_whoami(MatrixObject *self, PyObject *unused)
{
	char *uid = NULL;
	mx_diag d = { 0 };
	int rc;
	BLOCKING(self, d, rc, pb_matrix_whoami(self->m, &uid));
	return done_str(rc, &d, uid);
}

static PyObject *m_logout(MatrixObject *self, PyObject *unused)
{
	mx_diag d = { 0 };
	int rc;
	BLOCKING(self, d, rc, pb_matrix_logout(self->m));
	return done_none(rc, &d);
}

static PyObject *m_cancel(MatrixObject *self, PyObject *unused)
{
	pb_matrix_cancel(self->m); /* thread-safe, no lock: it must reach a running call */
	Py_RETURN_NONE;
}

static PyObject *m_cancel_reset(MatrixObject *self, PyObject *unused)
{
	pb_matrix_cancel_reset(self->m);
	Py_RETURN_NONE;
}

/* A transaction id: the caller's, or a fresh random one. */
static int txn(const char *given, char buf[PB_MATRIX_TXN_ID_SIZE], const char **out)
{
	if (given) {
		*out = given;
		return 0;
	}
	int rc = pb_matrix_txn_id(buf, PB_MATRIX_TXN_ID_SIZE);
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		return -1;
	}
	*out = buf;
	return 0;
}

static PyObject *m_send_message(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "body", "msgtype", "html", "txn_id", NULL };
	const char *room, *body, *msgtype = "m.text", *html = NULL, *given = NULL, *t;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|szz", kwlist, &room, &body, &msgtype, &html, &given))
		return NULL;
	if (txn(given, buf, &t) < 0)
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_send_message(self->m, room, t, msgtype, body, html, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_send_reaction(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "event_id", "key", "txn_id", NULL };
	const char *room, *target, *key, *given = NULL, *t;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|z", kwlist, &room, &target, &key, &given))
		return NULL;
	if (txn(given, buf, &t) < 0)
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_send_reaction(self->m, room, t, target, key, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_send_event(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "type", "content_json", "txn_id", NULL };
	const char *room, *type, *content, *given = NULL, *t;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|z", kwlist, &room, &type, &content, &given))
		return NULL;
	if (txn(given, buf, &t) < 0)
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_send_event(self->m, room, type, t, content, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_send_file(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "path", "mimetype", "txn_id", NULL };
	const char *room, *mimetype = NULL, *given = NULL, *t;
	PyObject *path;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sO&|zz", kwlist, &room, PyUnicode_FSConverter,
					 &path, &mimetype, &given))
		return NULL;
	if (txn(given, buf, &t) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	const char *p = PyBytes_AS_STRING(path);
	BLOCKING(self, d, rc, pb_matrix_send_file(self->m, room, t, p, mimetype, &event_id));
	Py_DECREF(path);
	return done_str(rc, &d, event_id);
}

static PyObject *m_create_dm(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "user_id", "name", NULL };
	const char *user, *name = NULL;
	char *room = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z", kwlist, &user, &name))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_create_dm(self->m, user, name, &room));
	return done_str(rc, &d, room);
}

static PyObject *m_direct_room(MatrixObject *self, PyObject *args)
{
	const char *user;
	char *room = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &user))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_direct_room(self->m, user, &room));
	return done_str(rc, &d, room);
}

static PyObject *m_join(MatrixObject *self, PyObject *args)
{
	const char *which;
	char *room = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &which))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_join(self->m, which, &room));
	return done_str(rc, &d, room);
}

static PyObject *m_leave(MatrixObject *self, PyObject *args)
{
	const char *room;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &room))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_leave(self->m, room));
	return done_none(rc, &d);
}

static PyObject *m_invite(MatrixObject *self, PyObject *args)
{
	const char *room, *user;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "ss", &room, &user))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_invite(self->m, room, user));
	return done_none(rc, &d);
}

/* set_name / set_topic / set_avatar: (room_id, value) */
static PyObject *room_setter(MatrixObject *self, PyObject *args,
			     int (*fn)(pb_matrix *, const char *, const char *))
{
	const char *room, *value;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "ss", &room, &value))
		return NULL;
	BLOCKING(self, d, rc, fn(self->m, room, value));
	return done_none(rc, &d);
}

static PyObject *m_set_name(MatrixObject *self, PyObject *args)
{
	return room_setter(self, args, pb_matrix_set_name);
}

static PyObject *m_set_topic(MatrixObject *self, PyObject *args)
{
	return room_setter(self, args, pb_matrix_set_topic);
}

static PyObject *m_set_avatar(MatrixObject *self, PyObject *args)
{
	return room_setter(self, args, pb_matrix_set_avatar);
}

static PyObject *m_send_state(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "type", "state_key", "content_json", NULL };
	const char *room, *type, *key, *content;
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ssss", kwlist, &room, &type, &key, &content))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_send_state(self->m, room, type, key, content, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_redact(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "event_id", "reason", "txn_id", NULL };
	const char *room, *target, *reason = NULL, *given = NULL, *t;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|zz", kwlist, &room, &target, &reason, &given))
		return NULL;
	if (txn(given, buf, &t) < 0)
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_redact(self->m, room, target, t, reason, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_typing(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "typing", "timeout_ms", NULL };
	const char *room;
	int typing = 1;
	unsigned timeout_ms = 30000;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|pI", kwlist, &room, &typing, &timeout_ms))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_typing(self->m, room, typing != 0, timeout_ms));
	return done_none(rc, &d);
}

static PyObject *m_read_receipt(MatrixObject *self, PyObject *args)
{
	const char *room, *event_id;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "ss", &room, &event_id))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_read_receipt(self->m, room, event_id));
	return done_none(rc, &d);
}

static PyObject *m_filter_upload(MatrixObject *self, PyObject *args)
{
	const char *filter;
	char *id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &filter))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_filter_upload(self->m, filter, &id));
	return done_str(rc, &d, id);
}

static PyObject *m_send_media(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "room_id", "url", "body", "msgtype", "filename", "mimetype",
				  "size", "width", "height", "duration_ms", "txn_id", "file_json", NULL };
	pb_matrix_media media = { 0 };
	const char *room, *given = NULL, *t;
	unsigned long long size = 0, duration = 0;
	char buf[PB_MATRIX_TXN_ID_SIZE];
	char *event_id = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "szs|zzzKIIKzz", kwlist, &room, &media.url,
					 &media.body, &media.msgtype, &media.filename,
					 &media.mimetype, &size, &media.width, &media.height,
					 &duration, &given, &media.file_json))
		return NULL;
	media.size = size;
	media.duration_ms = duration;
	if (txn(given, buf, &t) < 0)
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_send_media(self->m, room, t, &media, &event_id));
	return done_str(rc, &d, event_id);
}

static PyObject *m_upload(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", "content_type", "filename", NULL };
	Py_buffer data;
	const char *ctype = NULL, *fname = NULL;
	char *mxc = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|zz", kwlist, &data, &ctype, &fname))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_upload(self->m, data.buf, (size_t)data.len, ctype, fname, &mxc));
	PyBuffer_Release(&data);
	return done_str(rc, &d, mxc);
}

static PyObject *m_upload_encrypted(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", NULL };
	Py_buffer data;
	char *fj = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*", kwlist, &data))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_upload_encrypted(self->m, data.buf, (size_t)data.len, &fj));
	PyBuffer_Release(&data);
	return done_str(rc, &d, fj);
}

static PyObject *m_download(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "mxc_url", "max_bytes", NULL };
	const char *url;
	Py_ssize_t max = 0;
	pb_buf out = PB_BUF_INIT;
	char *ctype = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|n", kwlist, &url, &max))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_download(self->m, url, &out, &ctype, max > 0 ? (size_t)max : 0));
	if (rc < 0) {
		pb_buf_dispose(&out);
		pb_free(ctype);
		return mx_raise(rc, &d);
	}
	PyObject *b = pbpy_buf_to_bytes(&out);
	PyObject *c = take_str(ctype);
	if (!b || !c) {
		Py_XDECREF(b);
		Py_XDECREF(c);
		return NULL;
	}
	return Py_BuildValue("(NN)", b, c);
}

/* --- sync: the callbacks run without the GIL; they take it to build objects -- */

typedef struct {
	PyObject *events, *invites, *leaves;
} sync_out;

static const char *const section_names[] = { "timeline", "state", "invite", "leave" };

static int append(PyObject *list, PyObject *item)
{
	if (!item)
		return -1;
	int r = PyList_Append(list, item);
	Py_DECREF(item);
	return r;
}

static int cb_event(const pb_matrix_event *ev, void *ud)
{
	sync_out *o = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	char *json = json_dumps((const json_t *)ev->json, JSON_COMPACT);
	PyObject *d = Py_BuildValue(
		"{s:s,s:N,s:N,s:N,s:N,s:N,s:L,s:N,s:N,s:N,s:N,s:O}", "section",
		section_names[(unsigned)ev->section & 3], "room_id", str_or_none(ev->room_id), "type",
		str_or_none(ev->type), "sender", str_or_none(ev->sender), "event_id",
		str_or_none(ev->event_id), "state_key", str_or_none(ev->state_key),
		"origin_server_ts", (long long)ev->origin_server_ts, "msgtype", str_or_none(ev->msgtype),
		"body", str_or_none(ev->body), "membership", str_or_none(ev->membership), "json",
		str_or_none(json), "decrypted", ev->decrypted ? Py_True : Py_False);
	free(json);
	int r = append(o->events, d);
	PyGILState_Release(g);
	return r < 0 ? PB_ENOMEM : 0;
}

static int cb_invite(const char *room, const char *inviter, void *ud)
{
	sync_out *o = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	int r = append(o->invites, Py_BuildValue("(NN)", str_or_none(room), str_or_none(inviter)));
	PyGILState_Release(g);
	return r < 0 ? PB_ENOMEM : 0;
}

static int cb_leave(const char *room, void *ud)
{
	sync_out *o = ud;
	PyGILState_STATE g = PyGILState_Ensure();
	int r = append(o->leaves, str_or_none(room));
	PyGILState_Release(g);
	return r < 0 ? PB_ENOMEM : 0;
}

static PyObject *m_sync(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "since", "filter", "timeout_ms", "full_state", NULL };
	pb_matrix_sync_options so = PB_MATRIX_SYNC_OPTIONS_INIT;
	int full = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzIp", kwlist, &so.since, &so.filter,
					 &so.timeout_ms, &full))
		return NULL;
	so.full_state = full;
	sync_out o = { PyList_New(0), PyList_New(0), PyList_New(0) };
	PyObject *ret = NULL;
	if (!o.events || !o.invites || !o.leaves)
		goto out;
	pb_matrix_sync_callbacks cb = { cb_event, cb_invite, cb_leave, NULL, &o };
	char *next = NULL;
	mx_diag d = { 0 };
	int rc;
	BLOCKING(self, d, rc, pb_matrix_sync(self->m, &so, &cb, &next));
	if (rc != 0) {
		pb_free(next);
		if (!PyErr_Occurred())
			mx_raise(rc < 0 ? rc : PB_ERROR, &d);
		goto out;
	}
	ret = Py_BuildValue("(OOON)", o.events, o.invites, o.leaves, take_str(next));
out:
	Py_XDECREF(o.events);
	Py_XDECREF(o.invites);
	Py_XDECREF(o.leaves);
	return ret;
}

/* --- application services ---------------------------------------------------- */

static PyObject *m_act_as(MatrixObject *self, PyObject *args)
{
	const char *user = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "z", &user))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_act_as(self->m, user));
	return done_none(rc, &d);
}

static PyObject *m_acting_as(MatrixObject *self, void *unused)
{
	(void)unused;
	return str_or_none(pb_matrix_acting_as(self->m));
}

/* True: registered now; False: it was registered before (M_USER_IN_USE) */
static PyObject *m_register_as_user(MatrixObject *self, PyObject *args)
{
	const char *local;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &local))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_register_appservice_user(self->m, local));
	if (rc == PB_EEXISTS)
		Py_RETURN_FALSE;
	if (rc != 0)
		return mx_raise(rc, &d);
	Py_RETURN_TRUE;
}

/* set_displayname / set_avatar_url: (value, user_id=None) */
static PyObject *profile_setter(MatrixObject *self, PyObject *args, PyObject *kw, const char *what,
				int (*fn)(pb_matrix *, const char *, const char *))
{
	static char *kwlist[] = { "value", "user_id", NULL };
	const char *value, *user = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, what, kwlist, &value, &user))
		return NULL;
	BLOCKING(self, d, rc, fn(self->m, user, value));
	return done_none(rc, &d);
}

static PyObject *m_set_displayname(MatrixObject *self, PyObject *args, PyObject *kw)
{
	return profile_setter(self, args, kw, "s|z:set_displayname", pb_matrix_set_displayname);
}

static PyObject *m_set_avatar_url(MatrixObject *self, PyObject *args, PyObject *kw)
{
	return profile_setter(self, args, kw, "s|z:set_avatar_url", pb_matrix_set_avatar_url);
}

static PyObject *m_create_room(MatrixObject *self, PyObject *args)
{
	const char *body;
	char *room = NULL;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &body))
		return NULL;
	BLOCKING(self, d, rc, pb_matrix_create_room(self->m, body, &room));
	return done_str(rc, &d, room);
}

/* rooms_state(types=None) -> [event dict]: the joined rooms' current state */
static PyObject *m_rooms_state(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "types", NULL };
	PyObject *types = Py_None, *ret = NULL, *seq = NULL;
	const char **tv = NULL;
	sync_out o = { NULL, NULL, NULL };
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &types))
		return NULL;
	if (types != Py_None) {
		if (PyUnicode_Check(types)) {
			PyErr_SetString(PyExc_TypeError, "rooms_state: types is a list of event types, not a string");
			return NULL;
		}
		if (!(seq = PySequence_Fast(types, "rooms_state: types must be a list of strings")))
			return NULL;
		Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
		if (!(tv = PyMem_Calloc((size_t)n + 1, sizeof(*tv)))) {
			Py_DECREF(seq);
			return PyErr_NoMemory();
		}
		for (Py_ssize_t i = 0; i < n; i++)
			if (!(tv[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i))))
				goto out;
	}
	o.events = PyList_New(0);
	o.invites = PyList_New(0);
	o.leaves = PyList_New(0);
	if (o.events && o.invites && o.leaves) {
		pb_matrix_sync_callbacks cb = { cb_event, NULL, NULL, NULL, &o };
		mx_diag d = { 0 };
		int rc;
		BLOCKING(self, d, rc, pb_matrix_rooms_state(self->m, tv, &cb));
		if (rc != 0 && !PyErr_Occurred())
			mx_raise(rc < 0 ? rc : PB_ERROR, &d);
		else if (rc == 0)
			ret = Py_NewRef(o.events);
	}
out:
	Py_XDECREF(o.events);
	Py_XDECREF(o.invites);
	Py_XDECREF(o.leaves);
	PyMem_Free(tv);
	Py_XDECREF(seq);
	return ret;
}

/* --- end-to-end encryption --------------------------------------------------- */

static int kv_load(const char *key, char **value, void *ud)
{
	return pb_store_kv_get(ud, key, value);
}

static int kv_save(const char *key, const char *value, void *ud)
{
	return pb_store_kv_set(ud, key, value);
}

static int enable_crypto(MatrixObject *self, const char *store_path, const char *key, const char *key_file)
{
	pb_store_options so = PB_STORE_OPTIONS_INIT;
	int rc = pb_store_open(&self->cst, store_path, &so);
	if (rc < 0)
		return rc;
	pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	o.pickle_key = key;
	o.pickle_key_file = key_file;
	o.storage = (pb_matrix_crypto_storage){ kv_load, kv_save, self->cst };
	if ((rc = pb_matrix_crypto_new(&self->crypto, self->m, &o)) < 0) {
		pb_store_close(self->cst);
		self->cst = NULL;
		return rc;
	}
	pb_matrix_set_crypto(self->m, self->crypto);
	return 0;
}

static PyObject *m_enable_encryption(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "store_path", "pickle_key", "pickle_key_file", NULL };
	const char *path, *key = NULL, *key_file = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zz", kwlist, &path, &key, &key_file))
		return NULL;
	if (self->crypto) {
		PyErr_SetString(PyExc_RuntimeError, "encryption is already enabled on this client");
		return NULL;
	}
	mx_diag d = { 0 };
	int rc;
	BLOCKING(self, d, rc, enable_crypto(self, path, key, key_file));
	return done_none(rc, &d);
}

static PyObject *m_room_encrypted(MatrixObject *self, PyObject *args)
{
	const char *room;
	mx_diag d = { 0 };
	int rc;
	if (!PyArg_ParseTuple(args, "s", &room))
		return NULL;
	if (!self->crypto)
		Py_RETURN_FALSE;
	BLOCKING(self, d, rc, pb_matrix_crypto_room_check(self->crypto, self->m, room));
	if (rc < 0)
		return mx_raise(rc, &d);
	return PyBool_FromLong(rc);
}

static PyObject *m_download_encrypted(MatrixObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "file_json", "max_bytes", NULL };
	const char *fj;
	Py_ssize_t max = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|n", kwlist, &fj, &max))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	mx_diag d = { 0 };
	int rc;
	BLOCKING(self, d, rc, pb_matrix_download_encrypted(self->m, fj, &out, max > 0 ? (size_t)max : 0));
	PyObject *r = rc < 0 ? mx_raise(rc, &d)
			     : PyBytes_FromStringAndSize((const char *)out.data, (Py_ssize_t)out.len);
	pb_buf_dispose(&out);
	return r;
}

static PyObject *m_identity_keys(MatrixObject *self, void *unused)
{
	if (!self->crypto)
		Py_RETURN_NONE;
	return Py_BuildValue("{s:s,s:s}", "curve25519", pb_matrix_crypto_identity_key(self->crypto, "curve25519"),
			     "ed25519", pb_matrix_crypto_identity_key(self->crypto, "ed25519"));
}

static PyObject *m_user_id(MatrixObject *self, void *unused)
{
	return str_or_none(pb_matrix_user_id(self->m));
}

static PyObject *m_device_id(MatrixObject *self, void *unused)
{
	return str_or_none(pb_matrix_device_id(self->m));
}

static PyObject *m_homeserver(MatrixObject *self, void *unused)
{
	return str_or_none(pb_matrix_homeserver(self->m));
}

static PyObject *m_access_token(MatrixObject *self, void *unused)
{
	return str_or_none(pb_matrix_access_token(self->m));
}

static PyObject *m_last_errcode(MatrixObject *self, void *unused)
{
	return str_or_none(pb_matrix_last_errcode(self->m));
}

static PyObject *m_last_status(MatrixObject *self, void *unused)
{
	return PyLong_FromLong(pb_matrix_last_status(self->m));
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define KWF(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef matrix_methods[] = {
	{ "discover", (PyCFunction)m_discover, METH_VARARGS, "discover(user_id_or_server) -> homeserver URL" },
	{ "login_password", (PyCFunction)m_login, METH_VARARGS, "login_password(user, password, device_id=None)" },
	{ "set_access_token", (PyCFunction)m_set_token, METH_VARARGS, "set_access_token(token or None)" },
	{ "whoami", (PyCFunction)m_whoami, METH_NOARGS, "whoami() -> user id" },
	{ "logout", (PyCFunction)m_logout, METH_NOARGS, "logout()" },
	{ "cancel", (PyCFunction)m_cancel, METH_NOARGS, "cancel(): stop a running call (any thread)" },
	{ "cancel_reset", (PyCFunction)m_cancel_reset, METH_NOARGS, "cancel_reset(): allow calls again" },
	{ "send_message", KWF(m_send_message), KW,
	  "send_message(room_id, body, msgtype='m.text', html=None, txn_id=None) -> event id" },
	{ "send_reaction", KWF(m_send_reaction), KW, "send_reaction(room_id, event_id, key, txn_id=None) -> event id" },
	{ "send_event", KWF(m_send_event), KW, "send_event(room_id, type, content_json, txn_id=None) -> event id" },
	{ "send_file", KWF(m_send_file), KW, "send_file(room_id, path, mimetype=None, txn_id=None) -> event id" },
	{ "create_dm", KWF(m_create_dm), KW, "create_dm(user_id, name=None) -> room id" },
	{ "direct_room", (PyCFunction)m_direct_room, METH_VARARGS, "direct_room(user_id) -> room id" },
	{ "join", (PyCFunction)m_join, METH_VARARGS, "join(room_id_or_alias) -> room id" },
	{ "leave", (PyCFunction)m_leave, METH_VARARGS, "leave(room_id)" },
	{ "invite", (PyCFunction)m_invite, METH_VARARGS, "invite(room_id, user_id)" },
	{ "set_name", (PyCFunction)m_set_name, METH_VARARGS, "set_name(room_id, name): m.room.name" },
	{ "set_topic", (PyCFunction)m_set_topic, METH_VARARGS, "set_topic(room_id, topic): m.room.topic" },
	{ "set_avatar", (PyCFunction)m_set_avatar, METH_VARARGS, "set_avatar(room_id, mxc_url): m.room.avatar" },
	{ "send_state", KWF(m_send_state), KW, "send_state(room_id, type, state_key, content_json) -> event id" },
	{ "redact", KWF(m_redact), KW, "redact(room_id, event_id, reason=None, txn_id=None) -> event id" },
	{ "typing", KWF(m_typing), KW, "typing(room_id, typing=True, timeout_ms=30000)" },
	{ "read_receipt", (PyCFunction)m_read_receipt, METH_VARARGS, "read_receipt(room_id, event_id): m.read" },
	{ "filter_upload", (PyCFunction)m_filter_upload, METH_VARARGS, "filter_upload(filter_json) -> filter id" },
	{ "send_media", KWF(m_send_media), KW,
	  "send_media(room_id, url, body, msgtype=None, filename=None, mimetype=None, size=0, "
	  "width=0, height=0, duration_ms=0, txn_id=None, file_json=None) -> event id" },
	{ "upload", KWF(m_upload), KW, "upload(data, content_type=None, filename=None) -> mxc url" },
	{ "download", KWF(m_download), KW, "download(mxc_url, max_bytes=0) -> (bytes, content_type)" },
	{ "enable_encryption", KWF(m_enable_encryption), KW,
	  "enable_encryption(store_path, pickle_key=None, pickle_key_file=None): Olm/Megolm on this handle" },
	{ "room_encrypted", (PyCFunction)m_room_encrypted, METH_VARARGS,
	  "room_encrypted(room_id) -> bool (asks the server for m.room.encryption)" },
	{ "upload_encrypted", KWF(m_upload_encrypted), KW,
	  "upload_encrypted(data) -> file_json (encrypted attachment, key inside)" },
	{ "download_encrypted", KWF(m_download_encrypted), KW,
	  "download_encrypted(file_json, max_bytes=0) -> bytes (encrypted attachment)" },
	{ "act_as", (PyCFunction)m_act_as, METH_VARARGS,
	  "act_as(user_id or None): application service identity assertion (user_id=)" },
	{ "register_appservice_user", (PyCFunction)m_register_as_user, METH_VARARGS,
	  "register_appservice_user(localpart) -> True (new) or False (registered before)" },
	{ "set_displayname", KWF(m_set_displayname), KW, "set_displayname(name, user_id=None)" },
	{ "set_avatar_url", KWF(m_set_avatar_url), KW, "set_avatar_url(mxc_url, user_id=None)" },
	{ "create_room", (PyCFunction)m_create_room, METH_VARARGS, "create_room(body_json) -> room id" },
	{ "rooms_state", KWF(m_rooms_state), KW,
	  "rooms_state(types=None) -> [event]: the joined rooms' current state" },
	{ "sync", KWF(m_sync), KW,
	  "sync(since=None, filter=None, timeout_ms=30000, full_state=False) -> "
	  "(events, invites, leaves, next_batch)" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef matrix_getset[] = {
	{ "user_id", (getter)m_user_id, NULL, "user id after login/whoami, or None", NULL },
	{ "acting_as", (getter)m_acting_as, NULL, "the user act_as() acts as, or None", NULL },
	{ "device_id", (getter)m_device_id, NULL, "device id after login, or None", NULL },
	{ "homeserver", (getter)m_homeserver, NULL, "the homeserver base URL", NULL },
	{ "access_token", (getter)m_access_token, NULL, "the access token in use, or None", NULL },
	{ "last_errcode", (getter)m_last_errcode, NULL, "errcode of the last error answer", NULL },
	{ "last_status", (getter)m_last_status, NULL, "HTTP status of the last answer", NULL },
	{ "identity_keys", (getter)m_identity_keys, NULL, "{curve25519, ed25519} once encryption is on, else None", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject MatrixType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Matrix",
	.tp_basicsize = sizeof(MatrixObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A Matrix client-server handle (pb_matrix).",
	.tp_new = matrix_new,
	.tp_dealloc = (destructor)matrix_dealloc,
	.tp_methods = matrix_methods,
	.tp_getset = matrix_getset,
};

static PyObject *read_secret_file(PyObject *self, PyObject *arg)
{
	PyObject *path;
	if (!PyUnicode_FSConverter(arg, &path))
		return NULL;
	char *secret = NULL;
	int rc = pb_matrix_read_secret_file(PyBytes_AS_STRING(path), &secret);
	Py_DECREF(path);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = PyUnicode_DecodeUTF8(secret, (Py_ssize_t)strlen(secret), "surrogateescape");
	memset(secret, 0, strlen(secret));
	pb_free(secret);
	return r;
}

/* matrix_sync_parse(body) -> (events, invites, leaves, next_batch): the
 * parser pb_matrix_sync() uses, on bytes the caller has (GIL held). */
static PyObject *sync_parse(PyObject *self, PyObject *arg)
{
	Py_buffer b;
	if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
		return NULL;
	sync_out o = { PyList_New(0), PyList_New(0), PyList_New(0) };
	PyObject *ret = NULL;
	if (!o.events || !o.invites || !o.leaves)
		goto out;
	pb_matrix_sync_callbacks cb = { cb_event, cb_invite, cb_leave, NULL, &o };
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	char *next = NULL;
	int rc = pb_matrix_sync_parse(b.buf, (size_t)b.len, &cb, &next, &perr);
	if (rc != 0) {
		pb_free(next);
		if (!PyErr_Occurred())
			pbpy_raise(rc < 0 ? rc : PB_ERROR, rc == PB_EMALFORMED ? &perr : NULL);
		goto out;
	}
	ret = Py_BuildValue("(OOON)", o.events, o.invites, o.leaves, take_str(next));
out:
	PyBuffer_Release(&b);
	Py_XDECREF(o.events);
	Py_XDECREF(o.invites);
	Py_XDECREF(o.leaves);
	return ret;
}

static PyObject *image_info(PyObject *self, PyObject *arg)
{
	Py_buffer b;
	if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
		return NULL;
	unsigned w = 0, h = 0;
	const char *mime = NULL;
	int rc = pb_matrix_image_info(b.buf, (size_t)b.len, &w, &h, &mime);
	PyBuffer_Release(&b);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("(IIs)", w, h, mime);
}

PyMethodDef pbpy_matrix_methods[] = {
	{ "matrix_read_secret_file", read_secret_file, METH_O,
	  "matrix_read_secret_file(path) -> str; AuthError when group/others may read it" },
	{ "matrix_sync_parse", sync_parse, METH_O,
	  "matrix_sync_parse(body) -> (events, invites, leaves, next_batch) of a /sync answer" },
	{ "matrix_image_info", image_info, METH_O,
	  "matrix_image_info(data) -> (width, height, mimetype) of a PNG, GIF or JPEG" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_matrix_init(PyObject *m)
{
	return pbpy_add_type(m, "Matrix", &MatrixType);
}
