/*
 * _phonebridge — SMS: decode, encode, and the reassembler with a Python store.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Decoded messages come back as plain dicts (every borrowed pointer copied
 * into bytes/str); phonebridge/sms.py turns them into frozen dataclasses.
 */
#include "pbpy.h"

static PyObject *address_obj(const pb_sms_address *a)
{
	if (!a->present)
		Py_RETURN_NONE;
	return Py_BuildValue("{s:s,s:i,s:i,s:i}", "number", a->number, "toa", a->toa, "ton", a->ton,
			     "npi", a->npi);
}

static PyObject *time_obj(const pb_sms_time *t)
{
	if (!t->present)
		Py_RETURN_NONE;
	return Py_BuildValue("(iiiiiii)", t->year, t->month, t->day, t->hour, t->minute, t->second,
			     t->tz_quarters);
}

static PyObject *udh_obj(const pb_sms_udh *u, bool with_ies)
{
	if (!u->present)
		Py_RETURN_NONE;
	PyObject *d = PyDict_New();
	if (!d)
		return NULL;
	if (pbpy_dict_put(d, "length", PyLong_FromLong(u->len)) < 0)
		goto fail;
	if (u->has_concat) {
		if (pbpy_dict_put(d, "concat", Py_BuildValue("(iiiO)", u->concat_ref, u->concat_total, u->concat_seq,
						   u->concat_ref16 ? Py_True : Py_False)) < 0)
			goto fail;
	} else if (PyDict_SetItemString(d, "concat", Py_None) < 0) {
		goto fail;
	}
	if (u->has_ports) {
		if (pbpy_dict_put(d, "ports", Py_BuildValue("(iiO)", u->dst_port, u->src_port,
						  u->ports16 ? Py_True : Py_False)) < 0)
			goto fail;
	} else if (PyDict_SetItemString(d, "ports", Py_None) < 0) {
		goto fail;
	}
	if (pbpy_dict_put(d, "lang_locking", PyLong_FromLong(u->lang_locking)) < 0 ||
	    pbpy_dict_put(d, "lang_single", PyLong_FromLong(u->lang_single)) < 0 ||
	    pbpy_dict_put(d, "ies_truncated", PyBool_FromLong(u->ies_truncated)) < 0)
		goto fail;
	PyObject *ies = PyList_New(0);
	if (!ies || pbpy_dict_put(d, "ies", ies) < 0)
		goto fail;
	for (size_t i = 0; with_ies && i < u->n_ies; i++) {
		PyObject *ie = Py_BuildValue("(iy#)", u->ies[i].iei, (const char *)u->ies[i].data,
					     (Py_ssize_t)u->ies[i].len);
		if (!ie || PyList_Append(ies, ie) < 0) {
			Py_XDECREF(ie);
			goto fail;
		}
		Py_DECREF(ie);
	}
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

/* The message as a dict; @borrowed_ok: tpdu/ud/ies pointers are valid */
static PyObject *message_obj(const pb_sms_message *m, bool borrowed_ok)
{
	PyObject *d = PyDict_New();
	if (!d)
		return NULL;
	if (pbpy_dict_put(d, "type", PyUnicode_FromString(pb_sms_type_name(m->type))) < 0 ||
	    pbpy_dict_put(d, "smsc", address_obj(&m->smsc)) < 0 || pbpy_dict_put(d, "address", address_obj(&m->address)) < 0 ||
	    pbpy_dict_put(d, "first_octet", PyLong_FromLong(m->first_octet)) < 0 ||
	    pbpy_dict_put(d, "more_messages", PyBool_FromLong(m->more_messages)) < 0 ||
	    pbpy_dict_put(d, "reply_path", PyBool_FromLong(m->reply_path)) < 0 ||
	    pbpy_dict_put(d, "status_report", PyBool_FromLong(m->status_report)) < 0 ||
	    pbpy_dict_put(d, "reject_duplicates", PyBool_FromLong(m->reject_duplicates)) < 0 ||
	    pbpy_dict_put(d, "mr", PyLong_FromLong(m->mr)) < 0 || pbpy_dict_put(d, "udl", PyLong_FromLong(m->udl)) < 0 ||
	    pbpy_dict_put(d, "scts", time_obj(&m->scts)) < 0 || pbpy_dict_put(d, "discharge", time_obj(&m->discharge)) < 0 ||
	    pbpy_dict_put(d, "udh", udh_obj(&m->udh, borrowed_ok)) < 0 ||
	    pbpy_dict_put(d, "wap_push", PyBool_FromLong(borrowed_ok && pb_sms_is_wap_push(m))) < 0)
		goto fail;
	if (m->has_pid ? pbpy_dict_put(d, "pid", PyLong_FromLong(m->pid)) < 0 : PyDict_SetItemString(d, "pid", Py_None) < 0)
		goto fail;
	if (m->has_dcs) {
		if (pbpy_dict_put(d, "dcs", PyLong_FromLong(m->dcs.raw)) < 0 ||
		    pbpy_dict_put(d, "encoding", PyUnicode_FromString(pb_sms_encoding_name(m->dcs.encoding))) < 0 ||
		    pbpy_dict_put(d, "message_class", m->dcs.msg_class < 0 ? Py_NewRef(Py_None)
								  : PyLong_FromLong(m->dcs.msg_class)) < 0 ||
		    pbpy_dict_put(d, "compressed", PyBool_FromLong(m->dcs.compressed)) < 0)
			goto fail;
		if (m->dcs.mwi && pbpy_dict_put(d, "mwi", Py_BuildValue("(OOi)", m->dcs.mwi_active ? Py_True : Py_False,
							      m->dcs.mwi_store ? Py_True : Py_False,
							      m->dcs.mwi_kind)) < 0)
			goto fail;
	}
	if (m->validity.format == PB_SMS_VP_RELATIVE || m->validity.format == PB_SMS_VP_ENHANCED) {
		if (pbpy_dict_put(d, "validity", PyLong_FromUnsignedLong(m->validity.seconds)) < 0)
			goto fail;
	} else if (m->validity.format == PB_SMS_VP_ABSOLUTE) {
		if (pbpy_dict_put(d, "validity", time_obj(&m->validity.absolute)) < 0)
			goto fail;
	}
	if (m->has_status && (pbpy_dict_put(d, "status", PyLong_FromLong(m->status)) < 0 ||
			      pbpy_dict_put(d, "status_text", PyUnicode_FromString(pb_sms_status_text(m->status))) < 0 ||
			      pbpy_dict_put(d, "delivered", PyBool_FromLong(pb_sms_status_delivered(m->status))) < 0))
		goto fail;
	if (m->has_fcs && pbpy_dict_put(d, "fcs", PyLong_FromLong(m->fcs)) < 0)
		goto fail;
	if (m->type == PB_SMS_COMMAND && (pbpy_dict_put(d, "command_type", PyLong_FromLong(m->command_type)) < 0 ||
					  pbpy_dict_put(d, "message_number", PyLong_FromLong(m->message_number)) < 0))
		goto fail;
	if (pbpy_dict_put(d, "text", PyUnicode_DecodeUTF8(m->text, (Py_ssize_t)m->text_len, "surrogateescape")) < 0)
		goto fail;
	if (borrowed_ok) {
		if (pbpy_dict_put(d, "tpdu", PyBytes_FromStringAndSize((const char *)m->tpdu, (Py_ssize_t)m->tpdu_len)) < 0)
			goto fail;
		if (m->has_dcs && m->dcs.encoding == PB_SMS_ENC_8BIT &&
		    pbpy_dict_put(d, "data", PyBytes_FromStringAndSize((const char *)m->ud, (Py_ssize_t)m->ud_len)) < 0)
			goto fail;
	}
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

static PyObject *sms_decode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pdu", "smsc", "reverse", NULL };
	Py_buffer pdu;
	int smsc = 1, reverse = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|pp", kwlist, &pdu, &smsc, &reverse))
		return NULL;
	pb_sms_message *m = PyMem_Malloc(sizeof(*m));
	if (!m) {
		PyBuffer_Release(&pdu);
		return PyErr_NoMemory();
	}
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_sms_decode(m, pdu.buf, (size_t)pdu.len,
			       (smsc ? PB_SMS_DECODE_SMSC : 0) | (reverse ? PB_SMS_DECODE_REVERSE : 0), &perr);
	PyObject *r = rc < 0 ? pbpy_raise(rc, &perr) : message_obj(m, true);
	PyMem_Free(m);
	PyBuffer_Release(&pdu);
	return r;
}

static int fill_options(pb_sms_submit_options *o, PyObject *kw)
{
	/* keys are checked by phonebridge/sms.py; missing ones keep defaults */
	static const struct {
		const char *key;
		char kind; /* b bool, i int */
		size_t off;
	} map[] = {
		{ "include_smsc", 'b', offsetof(pb_sms_submit_options, include_smsc) },
		{ "status_report", 'b', offsetof(pb_sms_submit_options, status_report) },
		{ "reject_duplicates", 'b', offsetof(pb_sms_submit_options, reject_duplicates) },
		{ "reply_path", 'b', offsetof(pb_sms_submit_options, reply_path) },
		{ "ref16", 'b', offsetof(pb_sms_submit_options, ref16) },
		{ "force_ucs2", 'b', offsetof(pb_sms_submit_options, force_ucs2) },
		{ "msg_class", 'i', offsetof(pb_sms_submit_options, msg_class) },
		{ "validity", 'i', offsetof(pb_sms_submit_options, validity) },
		{ "reference", 'i', offsetof(pb_sms_submit_options, reference) },
	};
	if (!kw)
		return 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		PyObject *v = PyDict_GetItemString(kw, map[i].key);
		if (!v)
			continue;
		if (map[i].kind == 'b') {
			int b = PyObject_IsTrue(v);
			if (b < 0)
				return -1;
			*(bool *)((char *)o + map[i].off) = b;
		} else {
			long n = PyLong_AsLong(v);
			if (n == -1 && PyErr_Occurred())
				return -1;
			if (n < -1 || n > 65535) {
				PyErr_Format(PyExc_ValueError, "%s out of range", map[i].key);
				return -1;
			}
			*(int *)((char *)o + map[i].off) = (int)n;
		}
	}
	PyObject *v;
	if ((v = PyDict_GetItemString(kw, "smsc")) && v != Py_None && !(o->smsc = PyUnicode_AsUTF8(v)))
		return -1;
	if ((v = PyDict_GetItemString(kw, "languages"))) {
		unsigned long n = PyLong_AsUnsignedLong(v);
		if (PyErr_Occurred())
			return -1;
		o->languages = (unsigned)n;
	}
	if ((v = PyDict_GetItemString(kw, "mr"))) {
		long n = PyLong_AsLong(v);
		if (PyErr_Occurred())
			return -1;
		o->mr = (uint8_t)n;
	}
	if ((v = PyDict_GetItemString(kw, "pid"))) {
		long n = PyLong_AsLong(v);
		if (PyErr_Occurred())
			return -1;
		o->pid = (uint8_t)n;
	}
	return 0;
}

static PyObject *pdus_obj(pb_sms_pdu *pdus, size_t n)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		PyObject *t = Py_BuildValue("(y#n)", (const char *)pdus[i].data, (Py_ssize_t)pdus[i].len,
					    (Py_ssize_t)pdus[i].tpdu_len);
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	pb_free(pdus);
	return list;
}

/* sms_encode_text(to, text, **options) -> [(pdu, tpdu_len)] */
static PyObject *sms_encode_text(PyObject *self, PyObject *args, PyObject *kw)
{
	const char *to, *text;
	Py_ssize_t len;
	if (!PyArg_ParseTuple(args, "ss#", &to, &text, &len))
		return NULL;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	if (fill_options(&o, kw) < 0)
		return NULL;
	pb_sms_pdu *pdus = NULL;
	size_t n = 0;
	int rc = pb_sms_encode_text(&pdus, &n, to, text, (size_t)len, &o);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return pdus_obj(pdus, n);
}

/* sms_encode_binary(to, data, dst_port, src_port, **options) -> [(pdu, tpdu_len)] */
static PyObject *sms_encode_binary(PyObject *self, PyObject *args, PyObject *kw)
{
	const char *to;
	Py_buffer data;
	int dst = -1, src = -1;
	if (!PyArg_ParseTuple(args, "sy*ii", &to, &data, &dst, &src))
		return NULL;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	if (fill_options(&o, kw) < 0) {
		PyBuffer_Release(&data);
		return NULL;
	}
	pb_sms_pdu *pdus = NULL;
	size_t n = 0;
	int rc = pb_sms_encode_binary(&pdus, &n, to, data.buf, (size_t)data.len, dst, src, &o);
	PyBuffer_Release(&data);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return pdus_obj(pdus, n);
}

/* sms_text_info(text, **options) -> dict */
static PyObject *sms_text_info(PyObject *self, PyObject *args, PyObject *kw)
{
	const char *text;
	Py_ssize_t len;
	if (!PyArg_ParseTuple(args, "s#", &text, &len))
		return NULL;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	if (fill_options(&o, kw) < 0)
		return NULL;
	pb_sms_text_plan p;
	int rc = pb_sms_text_info(&p, text, (size_t)len, &o);
	if (rc < 0)
		return pbpy_raise(rc, NULL);
	return Py_BuildValue("{s:s,s:i,s:i,s:n,s:n,s:n}", "encoding", pb_sms_encoding_name(p.encoding),
			     "lang_locking", p.lang_locking, "lang_single", p.lang_single, "parts",
			     (Py_ssize_t)p.parts, "units", (Py_ssize_t)p.units, "per_part", (Py_ssize_t)p.per_part);
}

static PyObject *sms_validity_relative(PyObject *self, PyObject *arg)
{
	unsigned long s = PyLong_AsUnsignedLong(arg);
	if (PyErr_Occurred())
		return NULL;
	return PyLong_FromLong(pb_sms_validity_relative(s > 0xFFFFFFFFul ? 0xFFFFFFFFu : (uint32_t)s));
}

/* --- reassembler ---------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	pb_sms_reassembler *r;
	PyObject *store; /* Python object with save/delete/load, or NULL */
	bool busy;       /* in a call: the store's Python code must not re-enter */
} Reassembler;

static PyObject *key_obj(const pb_sms_group_key *k)
{
	return Py_BuildValue("(siiii)", k->originator, k->ref, k->total, (int)k->dst_port, (int)k->src_port);
}

static int key_from(PyObject *o, pb_sms_group_key *k)
{
	const char *orig;
	int ref, total, dst, src;
	if (!PyTuple_Check(o)) {
		PyErr_SetString(PyExc_TypeError, "a reassembly group key is a tuple (originator, ref, total, dst_port, src_port)");
		return -1;
	}
	if (!PyArg_ParseTuple(o, "siiii", &orig, &ref, &total, &dst, &src))
		return -1;
	if (strlen(orig) >= sizeof(k->originator) || ref < 0 || ref > 65535 || total < 1 || total > 255) {
		PyErr_SetString(PyExc_ValueError, "bad reassembly group key");
		return -1;
	}
	memset(k, 0, sizeof(*k));
	strcpy(k->originator, orig);
	k->ref = (uint16_t)ref;
	k->total = (uint8_t)total;
	k->dst_port = dst;
	k->src_port = src;
	return 0;
}

/* Store callbacks run with the GIL held (the reassembler is only called
 * with it); a Python exception stays set and becomes the call's error. */
static int store_save(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len,
		      unsigned flags, int64_t received, void *userdata)
{
	PyObject *k = key_obj(key);
	if (!k)
		return PB_EIO;
	PyObject *r = PyObject_CallMethod((PyObject *)userdata, "save", "(Oiy#IL)", k, seq, (const char *)pdu,
					  (Py_ssize_t)len, flags, (long long)received);
	Py_DECREF(k);
	if (!r)
		return PB_EIO;
	Py_DECREF(r);
	return 0;
}

static int store_delete(const pb_sms_group_key *key, void *userdata)
{
	PyObject *k = key_obj(key);
	if (!k)
		return PB_EIO;
	PyObject *r = PyObject_CallMethod((PyObject *)userdata, "delete", "(O)", k);
	Py_DECREF(k);
	if (!r)
		return PB_EIO;
	Py_DECREF(r);
	return 0;
}

static int store_load(pb_sms_stored_part_cb cb, void *cb_userdata, void *userdata)
{
	PyObject *it_src = PyObject_CallMethod((PyObject *)userdata, "load", NULL);
	if (!it_src)
		return PB_EIO;
	PyObject *it = PyObject_GetIter(it_src);
	Py_DECREF(it_src);
	if (!it)
		return PB_EIO;
	int rc = 0;
	PyObject *item;
	while (rc == 0 && (item = PyIter_Next(it))) {
		PyObject *ko;
		int seq;
		Py_buffer pdu;
		unsigned int flags;
		long long received;
		pb_sms_group_key key;
		if (!PyTuple_Check(item)) {
			PyErr_SetString(PyExc_TypeError, "load() must yield (key, seq, pdu, flags, received) tuples");
			rc = PB_EIO;
		} else if (!PyArg_ParseTuple(item, "Oiy*IL", &ko, &seq, &pdu, &flags, &received)) {
			rc = PB_EIO;
		} else {
			if (key_from(ko, &key) < 0 || seq < 1 || seq > 255) {
				if (!PyErr_Occurred())
					PyErr_SetString(PyExc_ValueError, "bad part number");
				rc = PB_EIO;
			} else {
				rc = cb(&key, (uint8_t)seq, pdu.buf, (size_t)pdu.len, flags, received, cb_userdata);
			}
			PyBuffer_Release(&pdu);
		}
		Py_DECREF(item);
	}
	Py_DECREF(it);
	if (rc == 0 && PyErr_Occurred())
		rc = PB_EIO;
	return rc;
}

static const pb_sms_reassembly_store_ops python_store_ops = {
	PB_SMS_REASSEMBLY_STORE_OPS_VERSION, store_save, store_delete, store_load,
};

/* a failed call: the store's Python exception if there is one, else ours */
static PyObject *reassembler_fail(int rc, const pb_parse_error *perr)
{
	if (PyErr_Occurred())
		return NULL;
	return pbpy_raise(rc, perr);
}

static PyObject *assembled_obj(pb_sms_assembled *a)
{
	if (!a)
		Py_RETURN_NONE;
	PyObject *first = message_obj(&a->first, false);
	PyObject *have = PyList_New(0);
	PyObject *r = NULL;
	if (!first || !have)
		goto out;
	for (int s = 1; s <= a->total; s++) {
		if (!(a->have[(s - 1) / 8] & (1u << ((s - 1) % 8))))
			continue;
		PyObject *n = PyLong_FromLong(s);
		if (!n || PyList_Append(have, n) < 0) {
			Py_XDECREF(n);
			goto out;
		}
		Py_DECREF(n);
	}
	PyObject *data;
	if (a->data)
		data = PyBytes_FromStringAndSize((const char *)a->data, (Py_ssize_t)a->data_len);
	else
		data = Py_NewRef(Py_None);
	if (!data)
		goto out;
	r = Py_BuildValue("{s:O,s:O,s:N,s:i,s:O,s:L,s:s#,s:N}", "complete", a->complete ? Py_True : Py_False,
			  "first", first, "key", key_obj(&a->key), "total", a->total, "parts", have,
			  "first_received", (long long)a->first_received, "text", a->text,
			  (Py_ssize_t)a->text_len, "data", data);
out:
	Py_XDECREF(first);
	Py_XDECREF(have);
	pb_sms_assembled_free(a);
	return r;
}

static int reassembler_init(Reassembler *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", "store", "max_groups", NULL };
	long long timeout = 0;
	PyObject *store = Py_None;
	Py_ssize_t max_groups = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|LOn", kwlist, &timeout, &store, &max_groups))
		return -1;
	if (self->r) {
		PyErr_SetString(PyExc_RuntimeError, "already initialised");
		return -1;
	}
	if (max_groups < 0) {
		PyErr_SetString(PyExc_ValueError, "max_groups must be >= 0");
		return -1;
	}
	pb_sms_reassembler_options o = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	o.timeout_ms = timeout;
	o.max_groups = (size_t)max_groups;
	if (store != Py_None) {
		self->store = Py_NewRef(store);
		o.store = &python_store_ops;
		o.store_userdata = store;
	}
	int rc = pb_sms_reassembler_new(&self->r, &o);
	if (rc < 0) {
		pbpy_raise(rc, NULL);
		return -1;
	}
	return 0;
}

static void reassembler_dealloc(Reassembler *self)
{
	PyObject_GC_UnTrack(self);
	pb_sms_reassembler_free(self->r);
	Py_CLEAR(self->store);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int reassembler_traverse(Reassembler *self, visitproc visit, void *arg)
{
	Py_VISIT(self->store);
	return 0;
}

static int reassembler_ready(Reassembler *self)
{
	if (!self->r) {
		PyErr_SetString(PyExc_RuntimeError, "Reassembler not initialised");
		return -1;
	}
	if (self->busy) {
		/* the store's Python code (or another thread while it ran) called in */
		PyErr_SetString(PyExc_RuntimeError, "Reassembler is busy: called from its own store or another thread");
		return -1;
	}
	return 0;
}

static PyObject *reassembler_add(Reassembler *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pdu", "now", "smsc", "reverse", NULL };
	Py_buffer pdu;
	long long now;
	int smsc = 1, reverse = 0;
	if (reassembler_ready(self) < 0 ||
	    !PyArg_ParseTupleAndKeywords(args, kw, "y*L|pp", kwlist, &pdu, &now, &smsc, &reverse))
		return NULL;
	pb_sms_assembled *a = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	self->busy = true;
	int rc = pb_sms_reassembler_add(self->r, pdu.buf, (size_t)pdu.len,
					(smsc ? PB_SMS_DECODE_SMSC : 0) | (reverse ? PB_SMS_DECODE_REVERSE : 0),
					now, &a, &perr);
	self->busy = false;
	PyBuffer_Release(&pdu);
	if (rc < 0) {
		pb_sms_assembled_free(a);
		return reassembler_fail(rc, rc == PB_EMALFORMED ? &perr : NULL);
	}
	return assembled_obj(a);
}

static PyObject *reassembler_expire(Reassembler *self, PyObject *arg)
{
	long long now = PyLong_AsLongLong(arg);
	if (reassembler_ready(self) < 0 || (now == -1 && PyErr_Occurred()))
		return NULL;
	pb_sms_assembled *a = NULL;
	self->busy = true;
	int rc = pb_sms_reassembler_expire(self->r, now, &a);
	self->busy = false;
	if (rc < 0) {
		pb_sms_assembled_free(a);
		return reassembler_fail(rc, NULL);
	}
	return assembled_obj(a);
}

static PyObject *reassembler_flush(Reassembler *self, PyObject *unused)
{
	if (reassembler_ready(self) < 0)
		return NULL;
	pb_sms_assembled *a = NULL;
	self->busy = true;
	int rc = pb_sms_reassembler_flush(self->r, &a);
	self->busy = false;
	if (rc < 0) {
		pb_sms_assembled_free(a);
		return reassembler_fail(rc, NULL);
	}
	return assembled_obj(a);
}

static PyObject *reassembler_restore(Reassembler *self, PyObject *unused)
{
	if (reassembler_ready(self) < 0)
		return NULL;
	self->busy = true;
	int rc = pb_sms_reassembler_restore(self->r);
	self->busy = false;
	if (rc < 0)
		return reassembler_fail(rc, NULL);
	Py_RETURN_NONE;
}

static PyObject *reassembler_pending(Reassembler *self, void *closure)
{
	if (!self->r) {
		PyErr_SetString(PyExc_RuntimeError, "Reassembler not initialised");
		return NULL;
	}
	return PyLong_FromSize_t(pb_sms_reassembler_pending(self->r));
}

static PyMethodDef reassembler_methods[] = {
	{ "add", (PyCFunction)(void (*)(void))reassembler_add, METH_VARARGS | METH_KEYWORDS,
	  "add(pdu, now, smsc=True, reverse=False) -> dict or None" },
	{ "expire", (PyCFunction)reassembler_expire, METH_O, "expire(now) -> dict or None" },
	{ "flush", (PyCFunction)reassembler_flush, METH_NOARGS, "flush() -> dict or None" },
	{ "restore", (PyCFunction)reassembler_restore, METH_NOARGS, "restore(): reload the store's parts" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef reassembler_getset[] = {
	{ "pending", (getter)reassembler_pending, NULL, "incomplete groups held", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject ReassemblerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "phonebridge._phonebridge.SmsReassembler",
	.tp_basicsize = sizeof(Reassembler),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "SmsReassembler(timeout=0, store=None, max_groups=0): C reassembler (use phonebridge.sms.Reassembler)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)reassembler_init,
	.tp_dealloc = (destructor)reassembler_dealloc,
	.tp_traverse = (traverseproc)reassembler_traverse,
	.tp_methods = reassembler_methods,
	.tp_getset = reassembler_getset,
};

PyMethodDef pbpy_sms_methods[] = {
	{ "sms_decode", (PyCFunction)(void (*)(void))sms_decode, METH_VARARGS | METH_KEYWORDS,
	  "sms_decode(pdu, smsc=True, reverse=False) -> dict" },
	{ "sms_encode_text", (PyCFunction)(void (*)(void))sms_encode_text, METH_VARARGS | METH_KEYWORDS,
	  "sms_encode_text(to, text, **options) -> [(pdu, tpdu_len)]" },
	{ "sms_encode_binary", (PyCFunction)(void (*)(void))sms_encode_binary, METH_VARARGS | METH_KEYWORDS,
	  "sms_encode_binary(to, data, dst_port, src_port, **options) -> [(pdu, tpdu_len)]" },
	{ "sms_text_info", (PyCFunction)(void (*)(void))sms_text_info, METH_VARARGS | METH_KEYWORDS,
	  "sms_text_info(text, **options) -> dict" },
	{ "sms_validity_relative", sms_validity_relative, METH_O, "sms_validity_relative(seconds) -> TP-VP octet" },
	{ NULL, NULL, 0, NULL },
};

int pbpy_sms_init(PyObject *m)
{
	if (PyType_Ready(&ReassemblerType) < 0)
		return -1;
	Py_INCREF(&ReassemblerType);
	if (PyModule_AddObject(m, "SmsReassembler", (PyObject *)&ReassemblerType) < 0) {
		Py_DECREF(&ReassemblerType);
		return -1;
	}
	return 0;
}
