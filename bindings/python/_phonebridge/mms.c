/*
 * _phonebridge — WAP push and MMS: decode and encode.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Decoding returns dicts that phonebridge/mms.py turns into objects. The C
 * message is freed before returning: every string is copied, and bodies
 * that lie in the input are returned as read-only memoryview slices of it
 * (zero copy; the memoryview keeps the input alive), or as bytes when the
 * library had to decode them (base64, quoted-printable) or copy=True.
 */
#include "pbpy.h"

/* The input as seen by decoders: the buffer, and a read-only memoryview of
 * it to slice bodies from (NULL when copies are asked for). */
typedef struct {
	Py_buffer view;
	PyObject *mv;
} input;

static int input_get(input *in, PyObject *obj, int copy)
{
	in->mv = NULL;
	if (PyObject_GetBuffer(obj, &in->view, PyBUF_SIMPLE) < 0)
		return -1;
	if (!copy) {
		PyObject *mv = PyMemoryView_FromObject(obj);
		if (!mv)
			goto fail;
		in->mv = PyObject_CallMethod(mv, "toreadonly", NULL);
		Py_DECREF(mv);
		if (!in->mv)
			goto fail;
	}
	return 0;
fail:
	PyBuffer_Release(&in->view);
	return -1;
}

static void input_release(input *in)
{
	Py_CLEAR(in->mv);
	PyBuffer_Release(&in->view);
}

/* bytes at p: a slice of the input's memoryview when they lie in it */
static PyObject *body_obj(const input *in, const uint8_t *p, size_t len)
{
	uintptr_t base = (uintptr_t)in->view.buf, at = (uintptr_t)p;
	if (!p)
		return PyBytes_FromStringAndSize("", 0);
	if (in->mv && at >= base && len <= (size_t)in->view.len && at - base <= (size_t)in->view.len - len) {
		Py_ssize_t start = (Py_ssize_t)(at - base);
		return PySequence_GetSlice(in->mv, start, start + (Py_ssize_t)len);
	}
	return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
}

static PyObject *content_type_obj(const pb_wsp_content_type *ct)
{
	PyObject *params = PyList_New((Py_ssize_t)ct->n_params);
	if (!params)
		return NULL;
	for (size_t i = 0; i < ct->n_params; i++) {
		PyObject *t = Py_BuildValue("(NN)", pbpy_str_or_none(ct->params[i].name), pbpy_str_or_none(ct->params[i].value));
		if (!t) {
			Py_DECREF(params);
			return NULL;
		}
		PyList_SET_ITEM(params, (Py_ssize_t)i, t);
	}
	return Py_BuildValue("{s:N,s:N,s:I,s:N,s:N,s:N,s:N}", "media_type", pbpy_str_or_none(ct->media_type),
			     "charset", pbpy_str_or_none(ct->charset), "charset_mib", ct->charset_mib, "start",
			     pbpy_str_or_none(ct->start), "type", pbpy_str_or_none(ct->type), "name",
			     pbpy_str_or_none(ct->name ? ct->name : ct->filename), "params", params);
}

static PyObject *wsp_headers_obj(const pb_wsp_header *h, size_t n)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		PyObject *v = h[i].text ? pbpy_str_or_none(h[i].text)
					: PyBytes_FromStringAndSize((const char *)h[i].value, (Py_ssize_t)h[i].value_len);
		PyObject *t = v ? Py_BuildValue("(NN)", pbpy_str_or_none(h[i].name), v) : NULL;
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	return list;
}

static PyObject *strings_obj(const char *const *s, size_t n)
{
	PyObject *t = PyTuple_New((Py_ssize_t)n);
	for (size_t i = 0; t && i < n; i++) {
		PyObject *v = pbpy_str_or_none(s[i]);
		if (!v) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
	}
	return t;
}

static PyObject *time_obj(const pb_mms_time *t)
{
	if (!t->present)
		Py_RETURN_NONE;
	return Py_BuildValue("(OL)", t->relative ? Py_True : Py_False, (long long)t->value);
}

static PyObject *part_obj(const input *in, const pb_mms_part *p)
{
	PyObject *d = PyDict_New();
	if (!d)
		return NULL;
	if (pbpy_dict_put(d, "content_type", content_type_obj(&p->content_type)) < 0 ||
	    pbpy_dict_put(d, "content_id", pbpy_str_or_none(p->content_id)) < 0 ||
	    pbpy_dict_put(d, "content_location", pbpy_str_or_none(p->content_location)) < 0 ||
	    pbpy_dict_put(d, "name", pbpy_str_or_none(p->name)) < 0 || pbpy_dict_put(d, "filename", pbpy_str_or_none(p->filename)) < 0 ||
	    pbpy_dict_put(d, "transfer_encoding", pbpy_str_or_none(p->transfer_encoding)) < 0 ||
	    pbpy_dict_put(d, "body", body_obj(in, p->data, p->len)) < 0 ||
	    pbpy_dict_put(d, "offset", PyLong_FromSize_t(p->offset)) < 0 || pbpy_dict_put(d, "parent", PyLong_FromLong(p->parent)) < 0 ||
	    pbpy_dict_put(d, "depth", PyLong_FromLong(p->depth)) < 0 ||
	    pbpy_dict_put(d, "is_multipart", PyBool_FromLong(p->is_multipart)) < 0 ||
	    pbpy_dict_put(d, "is_root", PyBool_FromLong(p->is_root)) < 0 ||
	    pbpy_dict_put(d, "is_text", PyBool_FromLong(pb_mms_part_is_text(p))) < 0 ||
	    pbpy_dict_put(d, "is_media", PyBool_FromLong(pb_mms_part_is_media(p))) < 0 ||
	    pbpy_dict_put(d, "is_smil", PyBool_FromLong(pb_mms_part_is_smil(p))) < 0 ||
	    pbpy_dict_put(d, "headers", wsp_headers_obj(p->headers, p->n_headers)) < 0) {
		Py_DECREF(d);
		return NULL;
	}
	if (pb_mms_part_is_text(p)) {
		pb_buf t = PB_BUF_INIT;
		int rc = pb_mms_part_text(p, &t);
		if (rc < 0) {
			pb_buf_dispose(&t);
			Py_DECREF(d);
			return pbpy_raise(rc, NULL);
		}
		if (pbpy_dict_put(d, "text", pbpy_buf_to_str(&t)) < 0) {
			Py_DECREF(d);
			return NULL;
		}
	}
	return d;
}

static PyObject *mms_header_obj(const pb_mms_header *h)
{
	PyObject *v;
	switch (h->kind) {
	case PB_MMS_VALUE_TOKEN:
	case PB_MMS_VALUE_INTEGER:
	case PB_MMS_VALUE_DATE:
	case PB_MMS_VALUE_RELATIVE:
	case PB_MMS_VALUE_COUNTED:
		v = PyLong_FromUnsignedLongLong(h->number);
		break;
	case PB_MMS_VALUE_TEXT:
	case PB_MMS_VALUE_ADDRESS:
		v = pbpy_str_or_none(h->text);
		break;
	default:
		v = PyBytes_FromStringAndSize((const char *)h->raw, (Py_ssize_t)h->raw_len);
	}
	if (!v)
		return NULL;
	return Py_BuildValue("(iNiNNO)", h->field, pbpy_str_or_none(h->name), (int)h->kind, v, pbpy_str_or_none(h->text),
			     h->known ? Py_True : Py_False);
}

static PyObject *message_obj(const input *in, const pb_mms_message *m)
{
	PyObject *d = PyDict_New();
	if (!d)
		return NULL;
	const char *type_name = pb_mms_message_type_name(m->message_type);
	if (pbpy_dict_put(d, "incomplete", PyBool_FromLong(m->incomplete)) < 0 ||
	    pbpy_dict_put(d, "warning", pbpy_str_or_none(m->warning)) < 0 ||
	    pbpy_dict_put(d, "warning_offset", PyLong_FromSize_t(m->warning_offset)) < 0 ||
	    pbpy_dict_put(d, "message_type", PyLong_FromLong(m->message_type)) < 0 ||
	    pbpy_dict_put(d, "type_name", pbpy_str_or_none(type_name)) < 0 ||
	    pbpy_dict_put(d, "version", PyLong_FromUnsignedLong(m->version)) < 0 ||
	    pbpy_dict_put(d, "transaction_id", pbpy_str_or_none(m->transaction_id)) < 0 ||
	    pbpy_dict_put(d, "message_id", pbpy_str_or_none(m->message_id)) < 0 || pbpy_dict_put(d, "from", pbpy_str_or_none(m->from)) < 0 ||
	    pbpy_dict_put(d, "from_insert_address", PyBool_FromLong(m->from_insert_address)) < 0 ||
	    pbpy_dict_put(d, "to", strings_obj(m->to, m->n_to)) < 0 || pbpy_dict_put(d, "cc", strings_obj(m->cc, m->n_cc)) < 0 ||
	    pbpy_dict_put(d, "bcc", strings_obj(m->bcc, m->n_bcc)) < 0 || pbpy_dict_put(d, "subject", pbpy_str_or_none(m->subject)) < 0 ||
	    pbpy_dict_put(d, "date", m->has_date ? PyLong_FromLongLong(m->date) : Py_NewRef(Py_None)) < 0 ||
	    pbpy_dict_put(d, "content_location", pbpy_str_or_none(m->content_location)) < 0 ||
	    pbpy_dict_put(d, "message_size",
		m->has_message_size ? PyLong_FromUnsignedLongLong(m->message_size) : Py_NewRef(Py_None)) < 0 ||
	    pbpy_dict_put(d, "expiry", time_obj(&m->expiry)) < 0 || pbpy_dict_put(d, "delivery_time", time_obj(&m->delivery_time)) < 0 ||
	    pbpy_dict_put(d, "message_class", pbpy_str_or_none(m->message_class)) < 0 ||
	    pbpy_dict_put(d, "priority", PyLong_FromLong(m->priority)) < 0 ||
	    pbpy_dict_put(d, "delivery_report", PyLong_FromLong(m->delivery_report)) < 0 ||
	    pbpy_dict_put(d, "read_report", PyLong_FromLong(m->read_report)) < 0 ||
	    pbpy_dict_put(d, "report_allowed", PyLong_FromLong(m->report_allowed)) < 0 ||
	    pbpy_dict_put(d, "status", PyLong_FromLong(m->status)) < 0 || pbpy_dict_put(d, "status_text", pbpy_str_or_none(m->status_text)) < 0 ||
	    pbpy_dict_put(d, "response_status", PyLong_FromLong(m->response_status)) < 0 ||
	    pbpy_dict_put(d, "response_text", pbpy_str_or_none(m->response_text)) < 0 ||
	    pbpy_dict_put(d, "retrieve_status", PyLong_FromLong(m->retrieve_status)) < 0 ||
	    pbpy_dict_put(d, "retrieve_text", pbpy_str_or_none(m->retrieve_text)) < 0 ||
	    pbpy_dict_put(d, "retrieve_ok", PyBool_FromLong(pb_mms_retrieve_ok(m))) < 0 ||
	    pbpy_dict_put(d, "read_status", PyLong_FromLong(m->read_status)) < 0 ||
	    pbpy_dict_put(d, "content_class", pbpy_str_or_none(m->content_class)) < 0 ||
	    pbpy_dict_put(d, "content_type", m->has_content_type ? content_type_obj(&m->content_type) : Py_NewRef(Py_None)) < 0 ||
	    pbpy_dict_put(d, "root_part", PyLong_FromLong(m->root_part)) < 0 ||
	    pbpy_dict_put(d, "body", m->body ? body_obj(in, m->body, m->body_len) : Py_NewRef(Py_None)) < 0)
		goto fail;
	PyObject *headers = PyList_New((Py_ssize_t)m->n_headers);
	if (pbpy_dict_put(d, "headers", headers) < 0)
		goto fail;
	for (size_t i = 0; i < m->n_headers; i++) {
		PyObject *h = mms_header_obj(&m->headers[i]);
		if (!h)
			goto fail;
		PyList_SET_ITEM(headers, (Py_ssize_t)i, h);
	}
	PyObject *parts = PyList_New((Py_ssize_t)m->n_parts);
	if (pbpy_dict_put(d, "parts", parts) < 0)
		goto fail;
	for (size_t i = 0; i < m->n_parts; i++) {
		PyObject *p = part_obj(in, &m->parts[i]);
		if (!p)
			goto fail;
		PyList_SET_ITEM(parts, (Py_ssize_t)i, p);
	}
	pb_buf text = PB_BUF_INIT;
	int rc = pb_mms_message_text(m, &text);
	if (rc < 0) {
		pb_buf_dispose(&text);
		pbpy_raise(rc, NULL);
		goto fail;
	}
	if (pbpy_dict_put(d, "text", pbpy_buf_to_str(&text)) < 0)
		goto fail;
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

static PyObject *push_obj(const input *in, const pb_wsp_push *p)
{
	return Py_BuildValue("{s:i,s:i,s:s,s:N,s:i,s:N,s:N,s:N,s:n}", "tid", p->tid, "pdu_type", p->pdu_type, "kind",
			     pb_wsp_push_kind_name(p->kind), "content_type", content_type_obj(&p->content_type),
			     "app_id", p->app_id, "app_id_name", pbpy_str_or_none(p->app_id_name), "headers",
			     wsp_headers_obj(p->headers, p->n_headers), "body", body_obj(in, p->body, p->body_len),
			     "body_offset", (Py_ssize_t)p->body_offset);
}

static PyObject *mms_decode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pdu", "headers_only", "copy", "salvage", NULL };
	PyObject *obj;
	int headers_only = 0, copy = 0, salvage = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ppp", kwlist, &obj, &headers_only, &copy, &salvage))
		return NULL;
	input in;
	if (input_get(&in, obj, copy) < 0)
		return NULL;
	pb_mms_message *m = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	unsigned int flags = (headers_only ? PB_MMS_DECODE_HEADERS_ONLY : 0) | (salvage ? PB_MMS_DECODE_SALVAGE : 0);
	int rc = pb_mms_decode(&m, in.view.buf, (size_t)in.view.len, flags, &perr);
	PyObject *r = rc < 0 ? pbpy_raise(rc, &perr) : message_obj(&in, m);
	pb_mms_message_free(m);
	input_release(&in);
	return r;
}

/* mms_decode_push(pdu, copy=False, salvage=False) -> (message dict, push dict) */
static PyObject *mms_decode_push(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pdu", "copy", "salvage", NULL };
	PyObject *obj;
	int copy = 0, salvage = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pp", kwlist, &obj, &copy, &salvage))
		return NULL;
	input in;
	if (input_get(&in, obj, copy) < 0)
		return NULL;
	pb_mms_message *m = NULL;
	pb_wsp_push *push = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_mms_decode_push_flags(&m, &push, in.view.buf, (size_t)in.view.len,
					  salvage ? PB_MMS_DECODE_SALVAGE : 0, &perr);
	PyObject *r = rc < 0 ? pbpy_raise(rc, &perr) : Py_BuildValue("(NN)", message_obj(&in, m), push_obj(&in, push));
	pb_mms_message_free(m);
	pb_wsp_push_free(push);
	input_release(&in);
	return r;
}

static PyObject *wsp_push_decode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pdu", "copy", NULL };
	PyObject *obj;
	int copy = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", kwlist, &obj, &copy))
		return NULL;
	input in;
	if (input_get(&in, obj, copy) < 0)
		return NULL;
	pb_wsp_push *push = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_wsp_push_decode(&push, in.view.buf, (size_t)in.view.len, &perr);
	PyObject *r = rc < 0 ? pbpy_raise(rc, &perr) : push_obj(&in, push);
	pb_wsp_push_free(push);
	input_release(&in);
	return r;
}

static PyObject *wsp_push_encode(PyObject *self, PyObject *args)
{
	int tid, app_id;
	const char *ct;
	Py_buffer body;
	if (!PyArg_ParseTuple(args, "isiy*", &tid, &ct, &app_id, &body))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_wsp_push_encode(&out, (uint8_t)tid, ct, app_id, body.buf, (size_t)body.len);
	PyBuffer_Release(&body);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_bytes(&out);
}

static PyObject *buf_result(int rc, pb_buf *out)
{
	if (rc < 0) {
		pb_buf_dispose(out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_bytes(out);
}

static PyObject *mms_encode_notifyresp(PyObject *self, PyObject *args)
{
	const char *tid;
	int status, report_allowed;
	if (!PyArg_ParseTuple(args, "sii", &tid, &status, &report_allowed))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	return buf_result(pb_mms_encode_notifyresp(&out, tid, status, report_allowed), &out);
}

static PyObject *mms_encode_ack(PyObject *self, PyObject *args)
{
	const char *tid;
	int report_allowed;
	if (!PyArg_ParseTuple(args, "si", &tid, &report_allowed))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	return buf_result(pb_mms_encode_ack(&out, tid, report_allowed), &out);
}

static PyObject *mms_encode_read_rec(PyObject *self, PyObject *args)
{
	const char *mid, *to, *from;
	long long date;
	int status;
	if (!PyArg_ParseTuple(args, "sszLi", &mid, &to, &from, &date, &status))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	return buf_result(pb_mms_encode_read_rec(&out, mid, to, from, date, status), &out);
}

static PyObject *mms_encode_notification(PyObject *self, PyObject *args)
{
	pb_mms_notification n = { 0 };
	unsigned long long size;
	long long expiry;
	if (!PyArg_ParseTuple(args, "szzzKLs", &n.transaction_id, &n.from, &n.subject, &n.message_class, &size,
			      &expiry, &n.content_location))
		return NULL;
	n.message_size = size;
	n.expiry = expiry;
	pb_buf out = PB_BUF_INIT;
	return buf_result(pb_mms_encode_notification(&out, &n), &out);
}

/* A sequence of str as a C array (pointers into the str objects, which
 * the sequence keeps alive); *keep holds the sequence as a list. */
static int strings_from(PyObject *seq, const char ***out, size_t *n, PyObject **keep)
{
	*out = NULL;
	*n = 0;
	*keep = PySequence_Fast(seq, "addresses must be a sequence of str");
	if (!*keep)
		return -1;
	Py_ssize_t len = PySequence_Fast_GET_SIZE(*keep);
	if (len == 0)
		return 0;
	*out = PyMem_Calloc((size_t)len, sizeof(char *));
	if (!*out) {
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < len; i++)
		if (!((*out)[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(*keep, i))))
			return -1;
	*n = (size_t)len;
	return 0;
}

/*
 * The fields of an outgoing message, as phonebridge.mms._send_req_args()
 * makes them: (transaction_id, from, to, cc, bcc, subject, date, expiry,
 * delivery_report, read_report, priority, message_class, text,
 * attachments=[(content_type, name, data, charset)]).
 */
int pbpy_send_req_parse(PyObject *fields, pb_mms_send_req *req, pbpy_send_req_hold *h)
{
	PyObject *to, *cc, *bcc, *atts;
	long long date, expiry;
	memset(h, 0, sizeof(*h));
	*req = (pb_mms_send_req)PB_MMS_SEND_REQ_INIT;
	if (!PyTuple_Check(fields)) {
		PyErr_SetString(PyExc_TypeError, "message fields must be a tuple");
		return -1;
	}
	if (!PyArg_ParseTuple(fields, "szOOOzLLiiizzO", &req->transaction_id, &req->from, &to, &cc, &bcc,
			      &req->subject, &date, &expiry, &req->delivery_report, &req->read_report,
			      &req->priority, &req->message_class, &req->text, &atts))
		return -1;
	req->date = date;
	req->expiry = expiry;
	if (strings_from(to, &h->lists[0], &req->n_to, &h->keep[0]) < 0 ||
	    strings_from(cc, &h->lists[1], &req->n_cc, &h->keep[1]) < 0 ||
	    strings_from(bcc, &h->lists[2], &req->n_bcc, &h->keep[2]) < 0)
		return -1;
	req->to = h->lists[0];
	req->cc = h->lists[1];
	req->bcc = h->lists[2];
	h->keep[3] = PySequence_Fast(atts, "attachments must be a sequence");
	if (!h->keep[3])
		return -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(h->keep[3]);
	if (n > 0) {
		h->atts = PyMem_Calloc((size_t)n, sizeof(*h->atts));
		h->views = PyMem_Calloc((size_t)n, sizeof(*h->views));
		if (!h->atts || !h->views) {
			PyErr_NoMemory();
			return -1;
		}
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		pb_mms_attachment *a = &h->atts[i];
		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(h->keep[3], i), "szy*z", &a->content_type,
				      &a->name, &h->views[i], &a->charset))
			return -1;
		h->n_views++;
		a->data = h->views[i].buf;
		a->len = (size_t)h->views[i].len;
	}
	req->attachments = h->atts;
	req->n_attachments = (size_t)n;
	return 0;
}

void pbpy_send_req_release(pbpy_send_req_hold *h)
{
	for (Py_ssize_t i = 0; i < h->n_views; i++)
		PyBuffer_Release(&h->views[i]);
	PyMem_Free(h->views);
	PyMem_Free(h->atts);
	for (int i = 0; i < 3; i++)
		PyMem_Free(h->lists[i]);
	for (int i = 0; i < 4; i++)
		Py_XDECREF(h->keep[i]);
	memset(h, 0, sizeof(*h));
}

/*
 * mms_encode_send_req(transaction_id, from, to, cc, bcc, subject, date, expiry,
 *                     delivery_report, read_report, priority, message_class, text,
 *                     attachments=[(content_type, name, data, charset)], message_id=None,
 *                     retrieve_conf=False) -> bytes
 */
static PyObject *mms_encode_send_req(PyObject *self, PyObject *args)
{
	const char *message_id;
	int retrieve_conf;
	if (PyTuple_GET_SIZE(args) != 16) {
		PyErr_SetString(PyExc_TypeError, "mms_encode_send_req() takes 16 arguments");
		return NULL;
	}
	PyObject *tail = PyTuple_GetSlice(args, 14, 16);
	if (!tail)
		return NULL;
	int ok = PyArg_ParseTuple(tail, "zp", &message_id, &retrieve_conf);
	Py_DECREF(tail); /* message_id points into args[14], which args keeps */
	if (!ok)
		return NULL;
	PyObject *fields = PyTuple_GetSlice(args, 0, 14);
	if (!fields)
		return NULL;
	pb_mms_send_req req;
	pbpy_send_req_hold h;
	PyObject *r = NULL;
	if (pbpy_send_req_parse(fields, &req, &h) == 0) {
		pb_buf out = PB_BUF_INIT;
		int rc = retrieve_conf ? pb_mms_encode_retrieve_conf(&out, &req, message_id)
				       : pb_mms_encode_send_req(&out, &req);
		r = buf_result(rc, &out);
	}
	pbpy_send_req_release(&h);
	Py_DECREF(fields); /* after the release: the hold borrows from its items */
	return r;
}

static PyObject *mms_safe_filename(PyObject *self, PyObject *args)
{
	const char *name, *fallback = "attachment";
	if (!PyArg_ParseTuple(args, "s|s", &name, &fallback))
		return NULL;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_mms_safe_filename(&out, name, fallback);
	if (rc < 0) {
		pb_buf_dispose(&out);
		return pbpy_raise(rc, NULL);
	}
	return pbpy_buf_to_str(&out);
}

static PyObject *mms_guess_content_type(PyObject *self, PyObject *arg)
{
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name)
		return NULL;
	return PyUnicode_FromString(pb_mms_guess_content_type(name));
}

static PyObject *mms_token_name(PyObject *self, PyObject *args)
{
	int field, value;
	if (!PyArg_ParseTuple(args, "ii", &field, &value))
		return NULL;
	return pbpy_str_or_none(pb_mms_token_name(field, value));
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define KWF(f) ((PyCFunction)(void (*)(void))(f))

PyMethodDef pbpy_mms_methods[] = {
	{ "mms_decode", KWF(mms_decode), KW, "mms_decode(pdu, headers_only=False, copy=False, salvage=False) -> dict" },
	{ "mms_decode_push", KWF(mms_decode_push), KW, "mms_decode_push(pdu, copy=False, salvage=False) -> (message, push)" },
	{ "wsp_push_decode", KWF(wsp_push_decode), KW, "wsp_push_decode(pdu, copy=False) -> dict" },
	{ "wsp_push_encode", wsp_push_encode, METH_VARARGS, "wsp_push_encode(tid, content_type, app_id, body) -> bytes" },
	{ "mms_encode_notifyresp", mms_encode_notifyresp, METH_VARARGS,
	  "mms_encode_notifyresp(transaction_id, status, report_allowed) -> bytes" },
	{ "mms_encode_ack", mms_encode_ack, METH_VARARGS, "mms_encode_ack(transaction_id, report_allowed) -> bytes" },
	{ "mms_encode_read_rec", mms_encode_read_rec, METH_VARARGS,
	  "mms_encode_read_rec(message_id, to, from, date, read_status) -> bytes" },
	{ "mms_encode_notification", mms_encode_notification, METH_VARARGS,
	  "mms_encode_notification(transaction_id, from, subject, message_class, size, expiry, location) -> bytes" },
	{ "mms_encode_send_req", mms_encode_send_req, METH_VARARGS, "see phonebridge.mms.encode_send_req" },
	{ "mms_safe_filename", mms_safe_filename, METH_VARARGS, "mms_safe_filename(name, fallback='attachment') -> str" },
	{ "mms_guess_content_type", mms_guess_content_type, METH_O, "mms_guess_content_type(filename) -> str" },
	{ "mms_token_name", mms_token_name, METH_VARARGS, "mms_token_name(field, value) -> str or None" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_mms_init(PyObject *m)
{
	return 0;
}
