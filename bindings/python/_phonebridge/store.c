/*
 * _phonebridge — the store (SQLite journal, contacts, lists, ...) and phone numbers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every store call may block on the disk or on another writer (busy
 * timeout), so it runs with the GIL released; a per-handle lock keeps two
 * Python threads from using one pb_store at once (the C handle is not
 * thread-safe). Rows come back as dicts; phonebridge/store.py gives them
 * their Python shapes.
 */
#include "pbpy.h"

#include <pythread.h>

typedef struct {
	PyObject_HEAD
	pb_store *st;
	PyThread_type_lock lock;
} Store;

/* Run @expr on the handle without the GIL, holding the handle's lock. */
#define STORE_CALL(self, rc, expr)                                 \
	do {                                                       \
		Py_BEGIN_ALLOW_THREADS                             \
		PyThread_acquire_lock((self)->lock, WAIT_LOCK);    \
		(rc) = (expr);                                     \
		PyThread_release_lock((self)->lock);               \
		Py_END_ALLOW_THREADS                               \
	} while (0)

static int open_check(Store *self)
{
	if (!self->st) {
		PyErr_SetString(PyExc_ValueError, "the store is closed");
		return -1;
	}
	return 0;
}

static int store_init(Store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "synchronous", "busy_timeout_ms", "attachments_dir", "password_file", NULL };
	PyObject *path_obj;
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|iIzz", kwlist, PyUnicode_FSConverter, &path_obj,
					 &o.synchronous, &o.busy_timeout_ms, &o.attachments_dir, &o.password_file)) {
		return -1;
	}
	if (self->st) {
		Py_DECREF(path_obj);
		PyErr_SetString(PyExc_RuntimeError, "already open");
		return -1;
	}
	if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
		Py_DECREF(path_obj);
		PyErr_NoMemory();
		return -1;
	}
	const char *path = PyBytes_AS_STRING(path_obj);
	pb_store *st = NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = pb_store_open(&st, path, &o);
	Py_END_ALLOW_THREADS
	Py_DECREF(path_obj);
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		return -1;
	}
	self->st = st;
	return 0;
}

static void store_close_handle(Store *self)
{
	pb_store *st = self->st;
	self->st = NULL;
	if (!st)
		return;
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	pb_store_close(st);
	PyThread_release_lock(self->lock);
	Py_END_ALLOW_THREADS
}

static void store_dealloc(Store *self)
{
	store_close_handle(self);
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *store_close(Store *self, PyObject *unused)
{
	store_close_handle(self);
	Py_RETURN_NONE;
}

static PyObject *store_closed(Store *self, void *closure)
{
	return PyBool_FromLong(self->st == NULL);
}

#define RC_NONE(rc) ((rc) < 0 ? pbpy_raise((rc), NULL) : Py_NewRef(Py_None))

static PyObject *store_schema_version(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_schema_version(self->st));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLong(rc);
}

static PyObject *store_check(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_check(self->st));
	return RC_NONE(rc);
}

static PyObject *store_backup(Store *self, PyObject *args)
{
	PyObject *path_obj = NULL;
	if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path_obj))
		return NULL;
	if (open_check(self) < 0) {
		Py_DECREF(path_obj);
		return NULL;
	}
	int rc;
	size_t n = 0;
	STORE_CALL(self, rc, pb_store_backup(self->st, PyBytes_AS_STRING(path_obj), &n));
	Py_DECREF(path_obj);
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromSize_t(n);
}

static PyObject *store_begin(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_begin(self->st));
	return RC_NONE(rc);
}

static PyObject *store_commit(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_commit(self->st));
	return RC_NONE(rc);
}

static PyObject *store_rollback(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int rc;
	STORE_CALL(self, rc, (pb_store_rollback(self->st), 0));
	return RC_NONE(rc);
}

/* --- journal ---------------------------------------------------------------- */

static PyObject *msg_obj(pb_store_msg *m)
{
	PyObject *r = Py_BuildValue(
		"{s:L,s:i,s:i,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:i,s:L,s:L,s:L}", "id", (long long)m->id, "dir",
		m->dir, "state", m->state, "dedup_key", pbpy_str_or_none(m->dedup_key), "backend", pbpy_str_or_none(m->backend),
		"backend_id", pbpy_str_or_none(m->backend_id), "peer", pbpy_str_or_none(m->peer), "room", pbpy_str_or_none(m->room),
		"event_id", pbpy_str_or_none(m->event_id), "body", pbpy_str_or_none(m->body), "ref", pbpy_str_or_none(m->ref),
		"last_error", pbpy_str_or_none(m->last_error), "attempts", m->attempts, "sent_at", (long long)m->sent_at,
		"created_at", (long long)m->created_at, "updated_at", (long long)m->updated_at);
	return r;
}

static PyObject *store_msg_insert(Store *self, PyObject *args)
{
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	long long sent_at;
	if (open_check(self) < 0 ||
	    !PyArg_ParseTuple(args, "iizzzzzzzL", &in.dir, &in.state, &in.dedup_key, &in.backend, &in.backend_id,
			      &in.peer, &in.room, &in.event_id, &in.body, &sent_at))
		return NULL;
	in.sent_at = sent_at;
	int64_t id = 0;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_insert(self->st, &in, &id));
	/* PB_EEXISTS still gives the existing row's id: return it with the code */
	if (rc < 0 && rc != PB_EEXISTS)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("(LO)", (long long)id, rc == PB_EEXISTS ? Py_False : Py_True);
}

static PyObject *store_msg_transition(Store *self, PyObject *args)
{
	long long id;
	int to;
	const char *ref, *error;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "Lizz", &id, &to, &ref, &error))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_transition(self->st, id, to, ref, error));
	return RC_NONE(rc);
}

static PyObject *one_msg(int rc, pb_store_msg *m)
{
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = msg_obj(m);
	pb_store_msg_free(m);
	return r;
}

static PyObject *store_msg_release_key(Store *self, PyObject *arg)
{
	long long id = PyLong_AsLongLong(arg);
	if (open_check(self) < 0 || (id == -1 && PyErr_Occurred()))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_release_key(self->st, id));
	return RC_NONE(rc);
}

static PyObject *store_msg_get(Store *self, PyObject *arg)
{
	long long id = PyLong_AsLongLong(arg);
	if (open_check(self) < 0 || (id == -1 && PyErr_Occurred()))
		return NULL;
	pb_store_msg *m = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_get(self->st, id, &m));
	return one_msg(rc, m);
}

static PyObject *store_msg_find(Store *self, PyObject *args)
{
	int dir;
	const char *key;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "is", &dir, &key))
		return NULL;
	pb_store_msg *m = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_find(self->st, dir, key, &m));
	return one_msg(rc, m);
}

static PyObject *store_msg_list_state(Store *self, PyObject *args)
{
	int dir, state;
	long long after;
	Py_ssize_t limit;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "iiLn", &dir, &state, &after, &limit))
		return NULL;
	if (limit < 0) {
		PyErr_SetString(PyExc_ValueError, "limit must be >= 0");
		return NULL;
	}
	pb_store_msg_list *l = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_list_state(self->st, dir, state, after, (size_t)limit, &l));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *list = PyList_New((Py_ssize_t)l->count);
	for (size_t i = 0; list && i < l->count; i++) {
		PyObject *m = msg_obj(l->items[i]);
		if (!m) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, m);
	}
	pb_store_msg_list_free(l);
	return list;
}

static PyObject *store_msg_count(Store *self, PyObject *args)
{
	int dir, state;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "ii", &dir, &state))
		return NULL;
	int64_t n = 0;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_count(self->st, dir, state, &n));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLongLong(n);
}

static PyObject *store_msg_recover(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	int64_t n = 0;
	int rc;
	STORE_CALL(self, rc, pb_store_msg_recover(self->st, &n));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLongLong(n);
}

/* the shape of the prune/expire/gc calls: (st, int64 arg, int64 *out) */
static PyObject *store_int_call(Store *self, PyObject *arg, int (*fn)(pb_store *, int64_t, int64_t *))
{
	long long v = PyLong_AsLongLong(arg);
	if (open_check(self) < 0 || (v == -1 && PyErr_Occurred()))
		return NULL;
	int64_t n = 0;
	int rc;
	STORE_CALL(self, rc, fn(self->st, v, &n));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLongLong(n);
}

static PyObject *store_msg_prune(Store *self, PyObject *arg)
{
	return store_int_call(self, arg, pb_store_msg_prune);
}

/* --- attachments -------------------------------------------------------------- */

static PyObject *store_attachment_add(Store *self, PyObject *args)
{
	long long id;
	Py_buffer data;
	const char *ct, *name;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "Ly*zz", &id, &data, &ct, &name))
		return NULL;
	char sha[PB_STORE_SHA256_HEX + 1] = "";
	int rc;
	STORE_CALL(self, rc, pb_store_attachment_add(self->st, id, data.buf, (size_t)data.len, ct, name, sha));
	PyBuffer_Release(&data);
	return rc < 0 ? pbpy_raise(rc, NULL) : PyUnicode_FromString(sha);
}

static PyObject *store_attachment_list(Store *self, PyObject *arg)
{
	long long id = PyLong_AsLongLong(arg);
	if (open_check(self) < 0 || (id == -1 && PyErr_Occurred()))
		return NULL;
	pb_store_attachment_list *l = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_attachment_list_get(self->st, id, &l));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *list = PyList_New((Py_ssize_t)l->count);
	for (size_t i = 0; list && i < l->count; i++) {
		const pb_store_attachment *a = &l->items[i];
		PyObject *t = Py_BuildValue("{s:L,s:i,s:s,s:L,s:N,s:N}", "msg_id", (long long)a->msg_id, "seq", a->seq,
					    "sha256", a->sha256, "size", (long long)a->size, "content_type",
					    pbpy_str_or_none(a->content_type), "name", pbpy_str_or_none(a->name));
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	pb_store_attachment_list_free(l);
	return list;
}

static PyObject *store_attachment_read(Store *self, PyObject *arg)
{
	const char *sha = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !sha)
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc;
	STORE_CALL(self, rc, pb_store_attachment_read(self->st, sha, &out));
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_bytes(&out);
}

static PyObject *store_attachment_path(Store *self, PyObject *arg)
{
	const char *sha = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !sha)
		return NULL;
	char *path = NULL;
	int rc;
	STORE_CALL(self, rc, ((path = pb_store_attachment_path(self->st, sha)) ? 0 : pb_error_last()->code));
	if (!path)
		return pbpy_raise(rc < 0 ? rc : PB_EINVAL, NULL);
	PyObject *r = PyUnicode_DecodeFSDefault(path);
	pb_free(path);
	return r;
}

static int attachment_gc(pb_store *st, int64_t unused, int64_t *removed)
{
	return pb_store_attachment_gc(st, removed);
}

static PyObject *store_attachment_gc(Store *self, PyObject *unused)
{
	PyObject *zero = PyLong_FromLong(0);
	PyObject *r = zero ? store_int_call(self, zero, attachment_gc) : NULL;
	Py_XDECREF(zero);
	return r;
}

/* --- SMS parts ------------------------------------------------------------------ */

static PyObject *store_sms_part_put(Store *self, PyObject *args)
{
	pb_store_sms_part p = { 0 };
	Py_buffer pdu;
	long long at;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "ssiiiy*L", &p.group_key, &p.originator, &p.reference,
						      &p.total, &p.seq, &pdu, &at))
		return NULL;
	p.pdu = pdu.buf;
	p.pdu_len = (size_t)pdu.len;
	p.received_at = at;
	int rc;
	STORE_CALL(self, rc, pb_store_sms_part_put(self->st, &p));
	PyBuffer_Release(&pdu);
	return RC_NONE(rc);
}

typedef struct {
	PyThreadState *ts; /* the thread's state while the GIL is released */
	PyObject *list;
} foreach_ctx;

/* runs without the GIL (inside STORE_CALL): take it to build the row */
static int sms_part_cb(const pb_store_sms_part *p, void *userdata)
{
	foreach_ctx *c = userdata;
	PyEval_RestoreThread(c->ts);
	int rc = 0;
	PyObject *t = Py_BuildValue("(ssiiiy#L)", p->group_key, p->originator, p->reference, p->total, p->seq,
				    (const char *)p->pdu, (Py_ssize_t)p->pdu_len, (long long)p->received_at);
	if (!t || PyList_Append(c->list, t) < 0)
		rc = PB_ENOMEM;
	Py_XDECREF(t);
	c->ts = PyEval_SaveThread();
	return rc;
}

static PyObject *store_sms_parts(Store *self, PyObject *unused)
{
	if (open_check(self) < 0)
		return NULL;
	foreach_ctx c = { NULL, PyList_New(0) };
	if (!c.list)
		return NULL;
	int rc;
	c.ts = PyEval_SaveThread();
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	rc = pb_store_sms_part_foreach(self->st, sms_part_cb, &c);
	PyThread_release_lock(self->lock);
	PyEval_RestoreThread(c.ts);
	if (rc < 0) {
		Py_DECREF(c.list);
		return PyErr_Occurred() ? NULL : pbpy_raise(rc, NULL);
	}
	return c.list;
}

static PyObject *store_sms_part_delete_group(Store *self, PyObject *arg)
{
	const char *key = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !key)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_sms_part_delete_group(self->st, key));
	return RC_NONE(rc);
}

static PyObject *store_sms_part_expire(Store *self, PyObject *arg)
{
	return store_int_call(self, arg, pb_store_sms_part_expire);
}

/* --- key-value -------------------------------------------------------------------- */

static PyObject *store_kv_set(Store *self, PyObject *args)
{
	const char *k, *v;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "ss", &k, &v))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_kv_set(self->st, k, v));
	return RC_NONE(rc);
}

static PyObject *store_kv_get(Store *self, PyObject *arg)
{
	const char *k = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !k)
		return NULL;
	char *v = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_kv_get(self->st, k, &v));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = pbpy_str_or_none(v);
	pb_free(v);
	return r;
}

static PyObject *store_kv_delete(Store *self, PyObject *arg)
{
	const char *k = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !k)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_kv_delete(self->st, k));
	return RC_NONE(rc);
}

/* --- contacts and groups ------------------------------------------------------------ */

static PyObject *store_contact_set(Store *self, PyObject *args)
{
	const char *n, *name, *room;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "szz", &n, &name, &room))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_contact_set(self->st, n, name, room));
	return RC_NONE(rc);
}

static PyObject *contact_result(int rc, pb_store_contact *c)
{
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *r = Py_BuildValue("{s:N,s:N,s:N,s:L}", "number", pbpy_str_or_none(c->number), "display_name",
				    pbpy_str_or_none(c->display_name), "room", pbpy_str_or_none(c->room), "updated_at",
				    (long long)c->updated_at);
	pb_store_contact_free(c);
	return r;
}

static PyObject *store_contact_get(Store *self, PyObject *arg)
{
	const char *n = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !n)
		return NULL;
	pb_store_contact *c = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_contact_get(self->st, n, &c));
	return contact_result(rc, c);
}

static PyObject *store_contact_by_room(Store *self, PyObject *arg)
{
	const char *room = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !room)
		return NULL;
	pb_store_contact *c = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_contact_by_room(self->st, room, &c));
	return contact_result(rc, c);
}

static PyObject *store_contact_delete(Store *self, PyObject *arg)
{
	const char *n = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !n)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_contact_delete(self->st, n));
	return RC_NONE(rc);
}

static int numbers_from(PyObject *seq, const char ***out, Py_ssize_t *n, PyObject **keep)
{
	*out = NULL;
	*keep = PySequence_Fast(seq, "numbers must be a sequence of str");
	if (!*keep)
		return -1;
	*n = PySequence_Fast_GET_SIZE(*keep);
	*out = PyMem_Calloc((size_t)*n + 1, sizeof(char *));
	if (!*out) {
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < *n; i++)
		if (!((*out)[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(*keep, i))))
			return -1;
	return 0;
}

static PyObject *group_result(int rc, pb_store_group *g)
{
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *nums = PyTuple_New((Py_ssize_t)g->count);
	for (size_t i = 0; nums && i < g->count; i++) {
		PyObject *s = pbpy_str_or_none(g->numbers[i]);
		if (!s) {
			Py_CLEAR(nums);
			break;
		}
		PyTuple_SET_ITEM(nums, (Py_ssize_t)i, s);
	}
	PyObject *r = nums ? Py_BuildValue("(NN)", pbpy_str_or_none(g->room), nums) : NULL;
	pb_store_group_free(g);
	return r;
}

static PyObject *store_group_set(Store *self, PyObject *args)
{
	PyObject *seq, *keep = NULL, *r = NULL;
	const char *room;
	const char **nums = NULL;
	Py_ssize_t n = 0;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "Os", &seq, &room))
		return NULL;
	if (numbers_from(seq, &nums, &n, &keep) == 0) {
		int rc;
		STORE_CALL(self, rc, pb_store_group_set(self->st, nums, (size_t)n, room));
		r = RC_NONE(rc);
	}
	PyMem_Free(nums);
	Py_XDECREF(keep);
	return r;
}

static PyObject *store_group_by_numbers(Store *self, PyObject *seq)
{
	PyObject *keep = NULL, *r = NULL;
	const char **nums = NULL;
	Py_ssize_t n = 0;
	if (open_check(self) < 0)
		return NULL;
	if (numbers_from(seq, &nums, &n, &keep) == 0) {
		pb_store_group *g = NULL;
		int rc;
		STORE_CALL(self, rc, pb_store_group_by_numbers(self->st, nums, (size_t)n, &g));
		r = group_result(rc, g);
	}
	PyMem_Free(nums);
	Py_XDECREF(keep);
	return r;
}

static PyObject *store_group_by_room(Store *self, PyObject *arg)
{
	const char *room = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || !room)
		return NULL;
	pb_store_group *g = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_group_by_room(self->st, room, &g));
	return group_result(rc, g);
}

/* --- screening lists, attempts, call log ----------------------------------------------- */

static PyObject *store_list_add(Store *self, PyObject *args)
{
	int list, source;
	const char *n;
	long long exp;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "isiL", &list, &n, &source, &exp))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_list_add(self->st, list, n, source, exp));
	return RC_NONE(rc);
}

static PyObject *store_list_remove(Store *self, PyObject *args)
{
	int list;
	const char *n;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "is", &list, &n))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_list_remove(self->st, list, n));
	return RC_NONE(rc);
}

/* --- per-number settings ------------------------------------------------------------------ */

static PyObject *store_number_set(Store *self, PyObject *args)
{
	pb_store_number n = { NULL, NULL, NULL, NULL, 0 };
	if (open_check(self) < 0 ||
	    !PyArg_ParseTuple(args, "szzz", &n.number, &n.policy, &n.forward_target, &n.voicemail))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_number_set(self->st, &n));
	return RC_NONE(rc);
}

static PyObject *number_dict(const pb_store_number *n)
{
	return Py_BuildValue("{s:s,s:z,s:z,s:z,s:L}", "number", n->number, "policy", n->policy, "forward_target",
			     n->forward_target, "voicemail", n->voicemail, "updated_at", (long long)n->updated_at);
}

static PyObject *store_number_get(Store *self, PyObject *arg)
{
	const char *num = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || num == NULL)
		return NULL;
	pb_store_number *n = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_number_get(self->st, num, &n));
	if (rc == PB_ENOTFOUND)
		Py_RETURN_NONE;
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *d = number_dict(n);
	pb_store_number_free(n);
	return d;
}

static PyObject *store_number_remove(Store *self, PyObject *arg)
{
	const char *num = PyUnicode_AsUTF8(arg);
	if (open_check(self) < 0 || num == NULL)
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_number_remove(self->st, num));
	return RC_NONE(rc);
}

/* The walk keeps the GIL (its callback builds the dicts) and takes the
 * handle's lock: a thread holding that lock never waits for the GIL. */
static int append_number(const pb_store_number *n, void *ud)
{
	PyObject *d = number_dict(n);
	int rc = d && PyList_Append(ud, d) == 0 ? 0 : PB_ENOMEM;
	Py_XDECREF(d);
	return rc;
}

static PyObject *store_number_list(Store *self, PyObject *unused)
{
	(void)unused;
	PyObject *list;
	if (open_check(self) < 0 || (list = PyList_New(0)) == NULL)
		return NULL;
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	int rc = pb_store_number_foreach(self->st, NULL, 0, append_number, list);
	PyThread_release_lock(self->lock);
	if (rc < 0) {
		Py_DECREF(list);
		return PyErr_Occurred() ? NULL : pbpy_raise(rc, NULL);
	}
	return list;
}

/* list_lookup(list, number, now) -> dict or None */
static PyObject *store_list_lookup(Store *self, PyObject *args)
{
	int list;
	const char *n;
	long long now;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "isL", &list, &n, &now))
		return NULL;
	pb_store_list_entry e = { 0 };
	int rc;
	STORE_CALL(self, rc, pb_store_list_lookup(self->st, list, n, now, &e));
	if (rc == PB_ENOTFOUND)
		Py_RETURN_NONE;
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("{s:i,s:i,s:s,s:L,s:L}", "list", e.list, "source", e.source, "source_name",
			     pb_store_source_name(e.source), "created_at", (long long)e.created_at, "expires_at",
			     (long long)e.expires_at);
}

static PyObject *store_list_expire(Store *self, PyObject *arg)
{
	return store_int_call(self, arg, pb_store_list_expire);
}

static PyObject *store_attempt_record(Store *self, PyObject *args)
{
	const char *n;
	long long at;
	int failed;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "sLp", &n, &at, &failed))
		return NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_attempt_record(self->st, n, at, failed));
	return RC_NONE(rc);
}

static PyObject *store_attempt_count(Store *self, PyObject *args)
{
	const char *n;
	long long since;
	int failed;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "sLp", &n, &since, &failed))
		return NULL;
	int64_t count = 0;
	int rc;
	STORE_CALL(self, rc, pb_store_attempt_count(self->st, n, since, failed, &count));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLongLong(count);
}

static PyObject *store_attempt_prune(Store *self, PyObject *arg)
{
	return store_int_call(self, arg, pb_store_attempt_prune);
}

static PyObject *store_call_log(Store *self, PyObject *args)
{
	pb_store_call c = { 0 };
	long long at, dur;
	if (open_check(self) < 0 || !PyArg_ParseTuple(args, "LzzzzLz", &at, &c.caller, &c.attestation, &c.verdict,
						      &c.challenge, &dur, &c.forward_target))
		return NULL;
	c.at = at;
	c.duration_ms = dur;
	int64_t id = 0;
	int rc;
	STORE_CALL(self, rc, pb_store_call_log(self->st, &c, &id));
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLongLong(id);
}

static PyObject *store_call_recent(Store *self, PyObject *arg)
{
	Py_ssize_t limit = PyLong_AsSsize_t(arg);
	if (open_check(self) < 0 || (limit == -1 && PyErr_Occurred()))
		return NULL;
	if (limit < 0) {
		PyErr_SetString(PyExc_ValueError, "limit must be >= 0");
		return NULL;
	}
	pb_store_call_list *l = NULL;
	int rc;
	STORE_CALL(self, rc, pb_store_call_recent(self->st, (size_t)limit, &l));
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	PyObject *list = PyList_New((Py_ssize_t)l->count);
	for (size_t i = 0; list && i < l->count; i++) {
		const pb_store_call *c = &l->items[i];
		PyObject *t = Py_BuildValue("{s:L,s:L,s:N,s:N,s:N,s:N,s:L,s:N}", "id", (long long)c->id, "at",
					    (long long)c->at, "caller", pbpy_str_or_none(c->caller), "attestation",
					    pbpy_str_or_none(c->attestation), "verdict", pbpy_str_or_none(c->verdict), "challenge",
					    pbpy_str_or_none(c->challenge), "duration_ms", (long long)c->duration_ms,
					    "forward_target", pbpy_str_or_none(c->forward_target));
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	pb_store_call_list_free(l);
	return list;
}

#define M(name, flags, doc) { #name, (PyCFunction)(void (*)(void))store_##name, flags, doc }

static PyMethodDef store_methods[] = {
	M(close, METH_NOARGS, "close(): close the handle (idempotent)"),
	M(schema_version, METH_NOARGS, "schema_version() -> int"),
	M(check, METH_NOARGS, "check(): integrity check"),
	M(backup, METH_VARARGS, "backup(path) -> int: copy the store in use and its attachments"),
	M(begin, METH_NOARGS, "begin(): open a transaction"),
	M(commit, METH_NOARGS, "commit()"),
	M(rollback, METH_NOARGS, "rollback()"),
	M(msg_insert, METH_VARARGS, "msg_insert(dir, state, dedup_key, backend, backend_id, peer, room, event_id, body, sent_at) -> (id, new)"),
	M(msg_transition, METH_VARARGS, "msg_transition(id, to, ref, error)"),
	M(msg_release_key, METH_O, "msg_release_key(id): the message left the box; its key no longer dedups"),
	M(msg_get, METH_O, "msg_get(id) -> dict"),
	M(msg_find, METH_VARARGS, "msg_find(dir, dedup_key) -> dict"),
	M(msg_list_state, METH_VARARGS, "msg_list_state(dir, state, after_id, limit) -> [dict]"),
	M(msg_count, METH_VARARGS, "msg_count(dir, state) -> int"),
	M(msg_recover, METH_NOARGS, "msg_recover() -> rows changed"),
	M(msg_prune, METH_O, "msg_prune(before) -> rows removed"),
	M(attachment_add, METH_VARARGS, "attachment_add(msg_id, data, content_type, name) -> sha256"),
	M(attachment_list, METH_O, "attachment_list(msg_id) -> [dict]"),
	M(attachment_read, METH_O, "attachment_read(sha256) -> bytes"),
	M(attachment_path, METH_O, "attachment_path(sha256) -> str"),
	M(attachment_gc, METH_NOARGS, "attachment_gc() -> files removed"),
	M(sms_part_put, METH_VARARGS, "sms_part_put(group_key, originator, ref, total, seq, pdu, received_at)"),
	M(sms_parts, METH_NOARGS, "sms_parts() -> [(group_key, originator, ref, total, seq, pdu, received_at)]"),
	M(sms_part_delete_group, METH_O, "sms_part_delete_group(group_key)"),
	M(sms_part_expire, METH_O, "sms_part_expire(before) -> groups removed"),
	M(kv_set, METH_VARARGS, "kv_set(key, value)"),
	M(kv_get, METH_O, "kv_get(key) -> str"),
	M(kv_delete, METH_O, "kv_delete(key)"),
	M(contact_set, METH_VARARGS, "contact_set(number, display_name, room)"),
	M(contact_get, METH_O, "contact_get(number) -> dict"),
	M(contact_by_room, METH_O, "contact_by_room(room) -> dict"),
	M(contact_delete, METH_O, "contact_delete(number)"),
	M(group_set, METH_VARARGS, "group_set(numbers, room)"),
	M(group_by_numbers, METH_O, "group_by_numbers(numbers) -> (room, numbers)"),
	M(group_by_room, METH_O, "group_by_room(room) -> (room, numbers)"),
	M(list_add, METH_VARARGS, "list_add(list, number, source, expires_at)"),
	M(list_remove, METH_VARARGS, "list_remove(list, number)"),
	M(list_lookup, METH_VARARGS, "list_lookup(list, number, now) -> dict or None"),
	M(list_expire, METH_O, "list_expire(now) -> removed"),
	M(attempt_record, METH_VARARGS, "attempt_record(number, at, failed)"),
	M(attempt_count, METH_VARARGS, "attempt_count(number, since, failed_only) -> int"),
	M(attempt_prune, METH_O, "attempt_prune(before) -> removed"),
	M(call_log, METH_VARARGS, "call_log(at, caller, attestation, verdict, challenge, duration_ms, forward_target) -> id"),
	M(call_recent, METH_O, "call_recent(limit) -> [dict]"),
	M(number_set, METH_VARARGS, "number_set(number, policy, forward_target, voicemail)"),
	M(number_get, METH_O, "number_get(number) -> dict or None"),
	M(number_remove, METH_O, "number_remove(number)"),
	M(number_list, METH_NOARGS, "number_list() -> [dict]"),
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef store_getset[] = {
	{ "closed", (getter)store_closed, NULL, "True once closed", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject StoreType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.Store",
	.tp_basicsize = sizeof(Store),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Store(path, synchronous=0, busy_timeout_ms=30000, attachments_dir=None): C handle "
		  "(use phonebridge.store.Store)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)store_init,
	.tp_dealloc = (destructor)store_dealloc,
	.tp_methods = store_methods,
	.tp_getset = store_getset,
};

/* --- phone numbers ---------------------------------------------------------------------- */

static PyObject *phone_normalize(PyObject *self, PyObject *args)
{
	const char *number, *region = NULL;
	if (!PyArg_ParseTuple(args, "s|z", &number, &region))
		return NULL;
	size_t size = strlen(number) + PB_PHONE_MAX;
	char *out = PyMem_Malloc(size);
	if (!out)
		return PyErr_NoMemory();
	pb_phone_kind kind = PB_PHONE_E164;
	int rc = pb_phone_normalize(out, size, number, region, &kind);
	PyObject *r = rc < 0 ? pbpy_raise(rc, NULL) : Py_BuildValue("(si)", out, (int)kind);
	PyMem_Free(out);
	return r;
}

static PyObject *phone_country_code(PyObject *self, PyObject *arg)
{
	const char *region = PyUnicode_AsUTF8(arg);
	if (!region)
		return NULL;
	int rc = pb_phone_country_code(region);
	return rc < 0 ? pbpy_raise(rc, NULL) : PyLong_FromLong(rc);
}

static PyObject *store_state_name(PyObject *self, PyObject *arg)
{
	long v = PyLong_AsLong(arg);
	if (v == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(pb_store_state_name((int)v));
}

PyMethodDef pbpy_store_methods[] = {
	{ "phone_normalize", phone_normalize, METH_VARARGS, "phone_normalize(number, region=None) -> (text, kind)" },
	{ "phone_country_code", phone_country_code, METH_O, "phone_country_code(region) -> int" },
	{ "store_state_name", store_state_name, METH_O, "store_state_name(state) -> str" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_store_init(PyObject *m)
{
	if (PyType_Ready(&StoreType) < 0)
		return -1;
	Py_INCREF(&StoreType);
	if (PyModule_AddObject(m, "Store", (PyObject *)&StoreType) < 0) {
		Py_DECREF(&StoreType);
		return -1;
	}
	return PyModule_AddIntConstant(m, "STORE_SCHEMA_VERSION", PB_STORE_SCHEMA_VERSION);
}
