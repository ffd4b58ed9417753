/*
 * pb-mms — decode MMS PDUs and WAP pushes to JSON; encode the PDUs an MMS
 * client sends. See pb-mms(1).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>

#include "pb-mms/fetch-send.h"
#include "pb-mms/attach.h"
#include "pb-mms/parts.h"

#include <sysexits.h>

/* sysexits(3), as every libphonebridge program: 65 malformed input, 64 usage */
#define EXIT_MALFORMED EX_DATAERR

static const char usage_text[] =
	"usage: pb-mms decode FILE|- [--push] [--parts-dir DIR] [--max-size BYTES] [--salvage]\n"
	"       pb-mms encode send-req --from N --to N [--to N]... [--cc N]... [--subject S]\n"
	"                              [--text T] [[--part-type T] [--part-name N] --attach FILE|-]...\n"
	"                              [--transaction-id ID]\n"
	"       pb-mms encode notifyresp --transaction-id ID [--status S]\n"
	"       pb-mms encode ack --transaction-id ID\n"
	"       pb-mms encode retrieve-conf --from N --to N... [--subject S] [--text T]\n"
	"                              [[--part-type T] [--part-name N] --attach FILE|-]...\n"
	"                              [--message-id ID] [--date SECONDS]\n"
	"       pb-mms encode notification --transaction-id ID --location URL [--from N]\n"
	"                              [--subject S] [--size BYTES] [--push]\n"
	"       pb-mms fetch URL [--proxy HOST:PORT] [--interface IF] [--parts-dir DIR] ...\n"
	"       pb-mms send --mmsc URL [--proxy HOST:PORT] --from N --to N... [--text T]\n"
	"                              [[--part-type T] [--part-name N] --attach FILE|-]...\n"
	"--attach - reads the part from standard input; --part-type and --part-name set the\n"
	"type and name of the --attach that follows (default: from the file name)\n";

static int usage(void)
{
	fputs(usage_text, stderr);
	return EX_USAGE;
}

/* Read a file (or stdin for "-") of at most @max bytes. */
static uint8_t *read_all(const char *path, size_t *len, size_t max)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "pb-mms: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		if (n > max) {
			fprintf(stderr, "pb-mms: %s: larger than %zu bytes (--max-size)\n", path, max);
			free(buf);
			if (f != stdin)
				fclose(f);
			return NULL;
		}
		uint8_t *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || err) {
		fprintf(stderr, "pb-mms: %s: %s\n", path, buf ? "read error" : "out of memory");
		free(buf);
		return NULL;
	}
	if (n > max) {
		fprintf(stderr, "pb-mms: %s: larger than %zu bytes (--max-size)\n", path, max);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* --- JSON ------------------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;
	return j ? j : json_null();
}

static json_t *iso_date(int64_t t)
{
	char buf[40];
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_integer(t);
	return json_string(buf);
}

static json_t *time_value(const pb_mms_time *t)
{
	if (!t->present)
		return json_null();
	if (!t->relative)
		return iso_date(t->value);
	char buf[40];
	snprintf(buf, sizeof(buf), "PT%lldS", (long long)t->value); /* ISO 8601 duration */
	return json_string(buf);
}

static json_t *token(int field, int value)
{
	if (!value)
		return json_null();
	const char *n = pb_mms_token_name(field, value);
	return n ? json_string(n) : json_integer(value);
}

static json_t *addresses(const char *const *a, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, str_or_null(a[i]));
	return arr;
}

static json_t *version(unsigned int v)
{
	if (!v)
		return json_null();
	char buf[16];
	if ((v & 0x0F) == 0x0F)
		snprintf(buf, sizeof(buf), "%u", (v >> 4) & 7);
	else
		snprintf(buf, sizeof(buf), "%u.%u", (v >> 4) & 7, v & 0x0F);
	return json_string(buf);
}

static json_t *part_json(const pb_mms_message *m, size_t i)
{
	const pb_mms_part *p = &m->parts[i];
	json_t *o = json_object();
	char hex[65];
	json_object_set_new(o, "content_type", json_string(p->content_type.media_type));
	json_object_set_new(o, "charset", str_or_null(p->content_type.charset));
	json_object_set_new(o, "name", str_or_null(p->name));
	json_object_set_new(o, "filename", json_string(p->filename));
	json_object_set_new(o, "content_id", str_or_null(p->content_id));
	json_object_set_new(o, "content_location", str_or_null(p->content_location));
	json_object_set_new(o, "size", json_integer((json_int_t)p->len));
	if (pb_mms_part_sha256(p, NULL, hex) == 0)
		json_object_set_new(o, "sha256", json_string(hex));
	if (p->transfer_encoding)
		json_object_set_new(o, "transfer_encoding", json_string(p->transfer_encoding));
	if (p->is_root)
		json_object_set_new(o, "root", json_true());
	if (p->parent >= 0)
		json_object_set_new(o, "parent", json_integer(p->parent));
	if (p->is_multipart)
		json_object_set_new(o, "multipart", json_true());
	if (pb_mms_part_is_text(p) || pb_mms_part_is_smil(p)) {
		pb_buf t = PB_BUF_INIT;
		if (pb_mms_part_text(p, &t) == 0)
			json_object_set_new(o, "text", json_string(pb_buf_cstr(&t)));
		pb_buf_dispose(&t);
	}
	return o;
}

static json_t *message_json(const pb_mms_message *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "message_type", str_or_null(pb_mms_message_type_name((int)m->message_type)));
	if (m->incomplete)
		json_object_set_new(o, "incomplete", json_true());
	if (m->warning)
		json_object_set_new(o, "warning", json_pack("{s:s, s:I}", "text", m->warning, "offset",
							    (json_int_t)m->warning_offset));
	json_object_set_new(o, "transaction_id", str_or_null(m->transaction_id));
	json_object_set_new(o, "mms_version", version(m->version));
	if (m->message_id)
		json_object_set_new(o, "message_id", json_string(m->message_id));
	json_object_set_new(o, "from", m->from_insert_address ? json_string("(insert-address)") : str_or_null(m->from));
	json_object_set_new(o, "to", addresses(m->to, m->n_to));
	json_object_set_new(o, "cc", addresses(m->cc, m->n_cc));
	if (m->n_bcc)
		json_object_set_new(o, "bcc", addresses(m->bcc, m->n_bcc));
	json_object_set_new(o, "subject", str_or_null(m->subject));
	json_object_set_new(o, "date", m->has_date ? iso_date(m->date) : json_null());
	json_object_set_new(o, "content_location", str_or_null(m->content_location));
	json_object_set_new(o, "message_size", m->has_message_size ? json_integer((json_int_t)m->message_size) : json_null());
	json_object_set_new(o, "expiry", time_value(&m->expiry));
	if (m->delivery_time.present)
		json_object_set_new(o, "delivery_time", time_value(&m->delivery_time));
	json_object_set_new(o, "message_class", str_or_null(m->message_class));
	json_object_set_new(o, "priority", token(0x0F, m->priority));
	json_object_set_new(o, "retrieve_status", token(0x19, m->retrieve_status));
	if (m->retrieve_text)
		json_object_set_new(o, "retrieve_text", json_string(m->retrieve_text));
	if (m->response_status)
		json_object_set_new(o, "response_status", token(0x12, m->response_status));
	if (m->response_text)
		json_object_set_new(o, "response_text", json_string(m->response_text));
	if (m->status)
		json_object_set_new(o, "status", token(0x15, m->status));
	if (m->read_status)
		json_object_set_new(o, "read_status", token(0x1B, m->read_status));
	if (m->delivery_report)
		json_object_set_new(o, "delivery_report", token(0x06, m->delivery_report));
	if (m->read_report)
		json_object_set_new(o, "read_report", token(0x10, m->read_report));
	if (m->content_class)
		json_object_set_new(o, "content_class", json_string(m->content_class));
	json_object_set_new(o, "content_type", m->has_content_type ? json_string(m->content_type.media_type) : json_null());
	json_object_set_new(o, "start", str_or_null(m->has_content_type ? m->content_type.start : NULL));
	pb_buf text = PB_BUF_INIT;
	if (pb_mms_message_text(m, &text) == 0 && text.len)
		json_object_set_new(o, "text", json_string(pb_buf_cstr(&text)));
	pb_buf_dispose(&text);
	json_t *parts = json_array();
	for (size_t i = 0; i < m->n_parts; i++)
		json_array_append_new(parts, part_json(m, i));
	json_object_set_new(o, "parts", parts);
	json_t *unknown = json_array();
	for (size_t i = 0; i < m->n_unknown_headers; i++) {
		const pb_mms_header *h = m->unknown_headers[i];
		json_t *u = json_object();
		pb_buf hex = PB_BUF_INIT;
		pb_hex_encode(&hex, h->raw, h->raw_len, 0);
		json_object_set_new(u, "name", json_string(h->name));
		json_object_set_new(u, "offset", json_integer((json_int_t)h->offset));
		if (h->text)
			json_object_set_new(u, "text", json_string(h->text));
		json_object_set_new(u, "value_hex", json_string(pb_buf_cstr(&hex)));
		pb_buf_dispose(&hex);
		json_array_append_new(unknown, u);
	}
	json_object_set_new(o, "unknown_headers", unknown);
	return o;
}

static json_t *push_json(const pb_wsp_push *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(pb_wsp_push_kind_name(p->kind)));
	json_object_set_new(o, "tid", json_integer(p->tid));
	json_object_set_new(o, "content_type", json_string(p->content_type.media_type));
	json_object_set_new(o, "application_id", str_or_null(p->app_id_name));
	json_t *h = json_array();
	for (size_t i = 0; i < p->n_headers; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "name", json_string(p->headers[i].name));
		if (p->headers[i].text) {
			json_object_set_new(e, "text", json_string(p->headers[i].text));
		} else {
			pb_buf hex = PB_BUF_INIT;
			pb_hex_encode(&hex, p->headers[i].value, p->headers[i].value_len, 0);
			json_object_set_new(e, "value_hex", json_string(pb_buf_cstr(&hex)));
			pb_buf_dispose(&hex);
		}
		json_array_append_new(h, e);
	}
	json_object_set_new(o, "headers", h);
	json_object_set_new(o, "body_size", json_integer((json_int_t)p->body_len));
	return o;
}

static int write_parts(const pb_mms_message *m, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "pb-mms: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int rc = 0;
	for (size_t i = 0; i < m->n_parts; i++)
		if (!m->parts[i].is_multipart && pbm_write_part(dfd, dir, &m->parts[i], 0644) < 0)
			rc = 1;
	close(dfd);
	return rc;
}

static int decode_fail(const char *path, int rc, const pb_parse_error *perr)
{
	if (rc == PB_EMALFORMED) {
		fprintf(stderr, "pb-mms: %s: malformed at byte %zu: %s\n", path, perr->offset, perr->text);
		return EXIT_MALFORMED;
	}
	fprintf(stderr, "pb-mms: %s: %s\n", path, pb_error_last()->message);
	return 1;
}

static int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "push", no_argument, NULL, 'p' },
		{ "parts-dir", required_argument, NULL, 'd' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "salvage", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	bool push = false;
	const char *dir = NULL;
	size_t max = 4194304; /* as fetch's --max-size */
	unsigned int flags = 0;
	int c;
	while ((c = getopt_long(argc, argv, "pd:", opts, NULL)) != -1) {
		char *end;
		if (c == 'p') {
			push = true;
		} else if (c == 'd') {
			dir = optarg;
		} else if (c == 's') {
			flags |= PB_MMS_DECODE_SALVAGE;
		} else if (c == 'm') {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 || v > SIZE_MAX / 4) {
				fprintf(stderr, "pb-mms: --max-size: a number of bytes above 0, not \"%s\"\n", optarg);
				return 1;
			}
			max = (size_t)v;
		} else {
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	const char *path = argv[optind];
	size_t len;
	uint8_t *buf = read_all(path, &len, max);
	if (!buf)
		return 1;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	pb_mms_message *m = NULL;
	pb_wsp_push *p = NULL;
	json_t *out = NULL;
	int rc, status = 0;
	if (push) {
		if ((rc = pb_wsp_push_decode(&p, buf, len, &perr)) < 0) {
			status = decode_fail(path, rc, &perr);
			goto out;
		}
		if (p->kind != PB_WSP_PUSH_MMS) { /* SI, SL, provisioning, ...: say what it is */
			out = json_object();
			json_object_set_new(out, "push", push_json(p));
			goto print;
		}
		pb_wsp_push_free(p);
		rc = pb_mms_decode_push_flags(&m, &p, buf, len, flags, &perr);
	} else {
		rc = pb_mms_decode(&m, buf, len, flags, &perr);
	}
	if (rc < 0) {
		status = decode_fail(path, rc, &perr);
		goto out;
	}
	out = message_json(m);
	if (p)
		json_object_set_new(out, "push", push_json(p));
	if (dir)
		status = write_parts(m, dir);
print:
	if (json_dumpf(out, stdout, JSON_INDENT(2)) < 0 || puts("") == EOF)
		status = 1;
out:
	json_decref(out);
	pb_mms_message_free(m);
	pb_wsp_push_free(p);
	free(buf);
	return status;
}

/* --- encode ------------------------------------------------------------------------------ */

static int write_pdu(const pb_buf *pdu)
{
	if (fwrite(pdu->data, 1, pdu->len, stdout) != pdu->len || fflush(stdout) != 0) {
		fprintf(stderr, "pb-mms: writing the PDU: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

static int status_value(const char *s)
{
	static const char *const names[] = { "expired", "retrieved", "rejected", "deferred",
					     "unrecognised", "indeterminate", "forwarded", "unreachable" };
	for (int i = 0; i < 8; i++)
		if (!strcasecmp(s, names[i]))
			return 128 + i;
	char *end;
	long v = strtol(s, &end, 0);
	return *end || v < 128 || v > 255 ? -1 : (int)v;
}

#define MAX_LIST 64

static int cmd_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 's' },
		{ "text", required_argument, NULL, 'x' },
		{ "attach", required_argument, NULL, 'a' },
		{ "part-type", required_argument, NULL, 'T' },
		{ "part-name", required_argument, NULL, 'N' },
		{ "transaction-id", required_argument, NULL, 'i' },
		{ "status", required_argument, NULL, 'S' },
		{ "message-id", required_argument, NULL, 'm' },
		{ "date", required_argument, NULL, 'D' },
		{ "location", required_argument, NULL, 'l' },
		{ "size", required_argument, NULL, 'z' },
		{ "push", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2)
		return usage();
	const char *what = argv[1];
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	const char *to[MAX_LIST], *cc[MAX_LIST];
	static pbm_attachments files; /* 64 pb_bufs: not on the stack */
	const char *status = NULL, *message_id = NULL, *location = NULL;
	long long date = -1, size = 0;
	bool push = false;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "f:t:c:s:x:a:T:N:i:S:m:D:l:z:p", opts, NULL)) != -1) {
		switch (c) {
		case 'f': req.from = optarg; break;
		case 't': if (req.n_to == MAX_LIST) return usage(); to[req.n_to++] = optarg; break;
		case 'c': if (req.n_cc == MAX_LIST) return usage(); cc[req.n_cc++] = optarg; break;
		case 's': req.subject = optarg; break;
		case 'x': req.text = optarg; break;
		case 'a': if (pbm_attach_add(&files, optarg) < 0) return usage(); break;
		case 'T': if (pbm_attach_type(&files, optarg) < 0) return usage(); break;
		case 'N': if (pbm_attach_name(&files, optarg) < 0) return usage(); break;
		case 'i': req.transaction_id = optarg; break;
		case 'S': status = optarg; break;
		case 'm': message_id = optarg; break;
		case 'D': date = strtoll(optarg, NULL, 10); break;
		case 'l': location = optarg; break;
		case 'z': size = strtoll(optarg, NULL, 10); break;
		case 'p': push = true; break;
		default: return usage();
		}
	}
	if (optind != argc || pbm_attach_done(&files) < 0)
		return usage();
	pb_buf pdu = PB_BUF_INIT;
	int rc, ret = 1;
	if (!strcmp(what, "notifyresp") || !strcmp(what, "ack")) {
		if (!req.transaction_id)
			return usage();
		int st = status ? status_value(status) : PB_MMS_STATUS_RETRIEVED;
		if (st < 0) {
			fprintf(stderr, "pb-mms: unknown status %s\n", status);
			return 1;
		}
		rc = !strcmp(what, "ack") ? pb_mms_encode_ack(&pdu, req.transaction_id, 0)
					  : pb_mms_encode_notifyresp(&pdu, req.transaction_id, st, 0);
	} else if (!strcmp(what, "notification")) {
		if (!req.transaction_id || !location || size < 0)
			return usage();
		pb_mms_notification n = { req.transaction_id, req.from, req.subject, NULL,
					  (uint64_t)size, 0, location };
		rc = pb_mms_encode_notification(&pdu, &n);
		if (rc == 0 && push) { /* wrap it as the carrier would: a WSP push for mms.ua */
			pb_buf wrapped = PB_BUF_INIT;
			rc = pb_wsp_push_encode(&wrapped, 1, "application/vnd.wap.mms-message", 4, pdu.data, pdu.len);
			pb_buf_dispose(&pdu);
			pdu = wrapped;
		}
	} else if (!strcmp(what, "send-req") || !strcmp(what, "retrieve-conf")) {
		bool retrieve = !strcmp(what, "retrieve-conf");
		if (!req.n_to)
			return usage();
		char tid[40];
		if (!req.transaction_id && !retrieve) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(tid, sizeof(tid), "pb-%lx-%lx-%x", (long)ts.tv_sec, ts.tv_nsec, (unsigned)getpid());
			req.transaction_id = tid;
		}
		req.to = to;
		req.cc = cc;
		req.date = date >= 0 ? (int64_t)date : (int64_t)time(NULL);
		pb_mms_attachment att[PBM_MAX_ATTACH];
		rc = pbm_attach_load(&files, att);
		req.attachments = att;
		req.n_attachments = files.n;
		if (rc == 0)
			rc = retrieve ? pb_mms_encode_retrieve_conf(&pdu, &req, message_id)
				      : pb_mms_encode_send_req(&pdu, &req);
		pbm_attach_free(&files);
		if (rc == -1)
			return 1;
	} else {
		return usage();
	}
	if (rc < 0)
		fprintf(stderr, "pb-mms: %s\n", pb_error_last()->message);
	else
		ret = write_pdu(&pdu);
	pb_buf_dispose(&pdu);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fputs("pb-mms: a command is needed\n", stderr), usage();
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pb-mms (libphonebridge) %s\n", pb_version_string());
		return 0;
	}
	if (!strcmp(argv[1], "decode"))
		return cmd_decode(argc - 1, argv + 1);
	if (!strcmp(argv[1], "encode"))
		return cmd_encode(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fetch"))
		return pb_mms_cmd_fetch(argc - 1, argv + 1);
	if (!strcmp(argv[1], "send"))
		return pb_mms_cmd_send(argc - 1, argv + 1);
	fprintf(stderr, "pb-mms: unknown %s \"%s\"\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
	return usage();
}
