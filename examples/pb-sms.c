/*
 * pb-sms — decode, encode and reassemble SMS PDUs (3GPP TS 23.040) from the
 * command line, with JSON output. Uses only libphonebridge's public API
 * (and jansson, which the library links too, for the JSON).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   pb-sms decode HEX [--no-smsc] [--reverse]
 *   pb-sms encode --to NUMBER --text TEXT [--smsc N] [--no-smsc] [--class C]
 *                 [--status-report] [--validity SECONDS] [--ucs2] [--lang tr,es,pt] [--ref N]
 *   pb-sms reassemble [--no-smsc] < pdus.txt
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>

#include <sysexits.h>

/* sysexits(3), as every libphonebridge program: 65 malformed input, 64 usage */
#define EXIT_MALFORMED EX_DATAERR
#define EXIT_USAGE EX_USAGE

static void usage(FILE *f)
{
	fputs("usage: pb-sms decode HEX|-... [--no-smsc] [--reverse] [--pretty]\n"
	      "       pb-sms encode --to NUMBER --text TEXT [--smsc NUMBER] [--no-smsc] [--class 0-3]\n"
	      "                     [--status-report] [--validity SECONDS] [--ucs2] [--lang tr,es,pt] [--ref N]\n"
	      "       pb-sms reassemble [--no-smsc] < PDUS\n"
	      "       pb-sms --help | --version\n"
	      "JSON output: one document per line (indented with --pretty); \"-\" reads PDUs from\n"
	      "standard input, one per line; exit status 64 usage, 65 malformed input\n",
	      f);
}

static const char *ton_name(const pb_sms_address *a)
{
	static const char *const names[8] = { "unknown", "international", "national", "network-specific",
					      "subscriber", "alphanumeric", "abbreviated", "reserved" };
	return names[a->ton & 7];
}

static json_t *address_json(const pb_sms_address *a)
{
	if (!a->present)
		return json_null();
	return json_pack("{s:s, s:s, s:i}", "number", a->number, "type", ton_name(a), "toa", a->toa);
}

static json_t *time_json(const pb_sms_time *t)
{
	char iso[40];
	if (!pb_sms_time_iso8601(t, iso, sizeof(iso)))
		return json_null();
	return json_string(iso);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	pb_buf b = PB_BUF_INIT;
	if (pb_hex_encode(&b, p, n, PB_HEX_UPPER) < 0)
		return json_null();
	json_t *s = json_stringn(pb_buf_cstr(&b), b.len);
	pb_buf_dispose(&b);
	return s;
}

static json_t *udh_json(const pb_sms_udh *h)
{
	json_t *o = json_object();
	if (h->has_concat)
		json_object_set_new(o, "concat", json_pack("{s:i, s:i, s:i, s:b}", "ref", h->concat_ref, "total",
							   h->concat_total, "seq", h->concat_seq, "ref16", h->concat_ref16));
	if (h->has_ports)
		json_object_set_new(o, "ports", json_pack("{s:i, s:i}", "dst", h->dst_port, "src", h->src_port));
	if (h->lang_locking)
		json_object_set_new(o, "locking_shift", json_integer(h->lang_locking));
	if (h->lang_single)
		json_object_set_new(o, "single_shift", json_integer(h->lang_single));
	json_t *ies = json_array();
	for (size_t i = 0; i < h->n_ies; i++)
		json_array_append_new(ies, json_pack("{s:i, s:o}", "iei", h->ies[i].iei, "data",
						     hex_json(h->ies[i].data, h->ies[i].len)));
	json_object_set_new(o, "ies", ies);
	return o;
}

static json_t *validity_json(const pb_sms_validity *v)
{
	switch (v->format) {
	case PB_SMS_VP_RELATIVE:
		return json_pack("{s:s, s:i, s:i}", "format", "relative", "value", v->relative, "seconds", v->seconds);
	case PB_SMS_VP_ABSOLUTE:
		return json_pack("{s:s, s:o}", "format", "absolute", "time", time_json(&v->absolute));
	case PB_SMS_VP_ENHANCED:
		return json_pack("{s:s, s:o, s:i}", "format", "enhanced", "raw", hex_json(v->enhanced, 7), "seconds",
				 v->seconds);
	default:
		return json_null();
	}
}

static json_t *message_json(const pb_sms_message *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(pb_sms_type_name(m->type)));
	json_object_set_new(o, "smsc", address_json(&m->smsc));
	const char *role = m->type == PB_SMS_DELIVER ? "originator"
			   : m->type == PB_SMS_STATUS_REPORT ? "recipient" : "destination";
	if (m->type != PB_SMS_DELIVER_REPORT && m->type != PB_SMS_SUBMIT_REPORT)
		json_object_set_new(o, role, address_json(&m->address));
	if (m->type == PB_SMS_SUBMIT || m->type == PB_SMS_STATUS_REPORT || m->type == PB_SMS_COMMAND)
		json_object_set_new(o, "mr", json_integer(m->mr));
	if (m->has_pid)
		json_object_set_new(o, "pid", json_integer(m->pid));
	if (m->has_dcs) {
		json_object_set_new(o, "dcs", json_integer(m->dcs.raw));
		json_object_set_new(o, "encoding", json_string(m->dcs.compressed ? "compressed"
								: pb_sms_encoding_name(m->dcs.encoding)));
		json_object_set_new(o, "class", m->dcs.msg_class >= 0 ? json_integer(m->dcs.msg_class) : json_null());
		if (m->dcs.mwi)
			json_object_set_new(o, "mwi", json_pack("{s:b, s:b, s:i}", "active", m->dcs.mwi_active, "store",
								m->dcs.mwi_store, "kind", m->dcs.mwi_kind));
	}
	if (m->scts.present)
		json_object_set_new(o, "scts", time_json(&m->scts));
	if (m->discharge.present)
		json_object_set_new(o, "discharge_time", time_json(&m->discharge));
	if (m->type == PB_SMS_SUBMIT && m->validity.format != PB_SMS_VP_NONE)
		json_object_set_new(o, "validity", validity_json(&m->validity));
	if (m->has_status) {
		json_object_set_new(o, "status", json_integer(m->status));
		json_object_set_new(o, "status_text", json_string(pb_sms_status_text(m->status)));
		json_object_set_new(o, "delivered", json_boolean(pb_sms_status_delivered(m->status)));
	}
	if (m->has_fcs)
		json_object_set_new(o, "fcs", json_integer(m->fcs));
	if (m->status_report)
		json_object_set_new(o, "status_report", json_true());
	if (m->udh.present)
		json_object_set_new(o, "udh", udh_json(&m->udh));
	if (pb_sms_is_wap_push(m))
		json_object_set_new(o, "wap_push", json_true());
	bool is_text = m->has_dcs && !m->dcs.compressed && m->dcs.encoding != PB_SMS_ENC_8BIT;
	if (is_text)
		json_object_set_new(o, "text", json_stringn(m->text, m->text_len));
	else if (m->ud || m->udl)
		json_object_set_new(o, "data_hex", hex_json(m->ud, m->ud_len));
	return o;
}

/* one JSON document per line; indented over several lines with --pretty */
static size_t json_flags = 0;

static int print_json(json_t *o)
{
	char *s = json_dumps(o, json_flags);
	json_decref(o);
	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

/* One line of hex to bytes; complains naming the character. */
static int unhex(pb_buf *out, const char *hex, size_t len)
{
	pb_parse_error perr;
	if (pb_hex_decode(out, hex, len, &perr) < 0) {
		fprintf(stderr, "pb-sms: bad hex at character %zu: %s\n", perr.offset, perr.text);
		return -1;
	}
	return 0;
}

static int decode_lines(const char *hex, unsigned flags);

static int cmd_decode(int argc, char **argv)
{
	unsigned flags = PB_SMS_DECODE_SMSC;
	int first = 0, nhex = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-smsc"))
			flags &= ~PB_SMS_DECODE_SMSC;
		else if (!strcmp(argv[i], "--reverse"))
			flags |= PB_SMS_DECODE_REVERSE;
		else if (argv[i][0] == '-' && argv[i][1])
			return fprintf(stderr, "pb-sms: decode: unknown option %s\n", argv[i]), usage(stderr), EXIT_USAGE;
		else if (nhex++ == 0)
			first = i;
	}
	if (!nhex)
		return fputs("pb-sms: decode: a PDU in hex (or - for standard input) is needed\n", stderr),
		       usage(stderr), EXIT_USAGE;
	/* every argument that is not an option, in order; "-" is standard input */
	int rc = 0;
	for (int i = first; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			continue;
		int r = 0;
		if (!strcmp(argv[i], "-")) {
			char *line = NULL;
			size_t cap = 0;
			while (getline(&line, &cap, stdin) > 0)
				if ((r = decode_lines(line, flags)) != 0)
					rc = r;
			free(line);
		} else if ((r = decode_lines(argv[i], flags)) != 0) {
			rc = r;
		}
	}
	return rc;
}

/* One PDU per line of @p hex: a JSON document each; @return 0 or an exit status */
static int decode_lines(const char *hex, unsigned flags)
{
	int rc = 0;
	for (const char *line = hex; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		size_t k = 0;
		while (k < n && strchr(" \t\r", line[k]))
			k++;
		if (k < n) {
			pb_buf pdu = PB_BUF_INIT;
			pb_sms_message msg;
			pb_parse_error perr;
			if (unhex(&pdu, line, n) < 0) {
				rc = EXIT_MALFORMED;
			} else if (pb_sms_decode(&msg, pdu.data, pdu.len, flags, &perr) < 0) {
				fprintf(stderr, "pb-sms: malformed PDU at byte %zu: %s\n", perr.offset, perr.text);
				rc = EXIT_MALFORMED;
			} else if (print_json(message_json(&msg)) != 0) {
				rc = 1;
			}
			pb_buf_dispose(&pdu);
		}
		line += n + (nl != NULL);
	}
	return rc;
}

static unsigned parse_langs(const char *s)
{
	unsigned m = 0;
	if (strstr(s, "tr"))
		m |= 1u << PB_SMS_LANG_TURKISH;
	if (strstr(s, "es"))
		m |= 1u << PB_SMS_LANG_SPANISH;
	if (strstr(s, "pt"))
		m |= 1u << PB_SMS_LANG_PORTUGUESE;
	return m;
}

static int cmd_encode(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "text", required_argument, NULL, 'x' },
		{ "smsc", required_argument, NULL, 's' },
		{ "no-smsc", no_argument, NULL, 'n' },
		{ "class", required_argument, NULL, 'c' },
		{ "status-report", no_argument, NULL, 'r' },
		{ "validity", required_argument, NULL, 'v' },
		{ "ucs2", no_argument, NULL, 'u' },
		{ "lang", required_argument, NULL, 'l' },
		{ "ref", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	const char *to = NULL, *text = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'x': text = optarg; break;
		case 's': o.smsc = optarg; break;
		case 'n': o.include_smsc = false; break;
		case 'c': o.msg_class = atoi(optarg); break;
		case 'r': o.status_report = true; break;
		case 'v': o.validity = pb_sms_validity_relative((uint32_t)strtoul(optarg, NULL, 10)); break;
		case 'u': o.force_ucs2 = true; break;
		case 'l': o.languages = parse_langs(optarg); break;
		case 'f': o.reference = atoi(optarg); break;
		default: return usage(stderr), EXIT_USAGE;
		}
	}
	if (!to || !text)
		return usage(stderr), EXIT_USAGE;
	pb_sms_pdu *pdus;
	size_t n;
	if (pb_sms_encode_text(&pdus, &n, to, text, strlen(text), &o) < 0) {
		fprintf(stderr, "pb-sms: %s\n", pb_error_last()->message);
		return pb_error_last()->code == PB_EMALFORMED ? EXIT_MALFORMED : 1;
	}
	for (size_t i = 0; i < n; i++) {
		pb_buf b = PB_BUF_INIT;
		if (pb_hex_encode(&b, pdus[i].data, pdus[i].len, PB_HEX_UPPER) == 0)
			puts(pb_buf_cstr(&b));
		pb_buf_dispose(&b);
	}
	pb_free(pdus);
	return 0;
}

static int print_assembled(pb_sms_assembled *a)
{
	json_t *o = json_object();
	const pb_sms_message *m = &a->first;
	json_object_set_new(o, "type", json_string(pb_sms_type_name(m->type)));
	json_object_set_new(o, m->type == PB_SMS_DELIVER ? "originator" : "destination", address_json(&m->address));
	json_object_set_new(o, "complete", json_boolean(a->complete));
	json_object_set_new(o, "parts", json_pack("{s:i, s:i}", "total", a->total, "received", a->received));
	if (m->udh.has_concat)
		json_object_set_new(o, "ref", json_integer(m->udh.concat_ref));
	if (m->udh.has_ports)
		json_object_set_new(o, "ports", json_pack("{s:i, s:i}", "dst", m->udh.dst_port, "src", m->udh.src_port));
	if (m->scts.present)
		json_object_set_new(o, "scts", time_json(&m->scts));
	if (a->data)
		json_object_set_new(o, "data_hex", hex_json(a->data, a->data_len));
	else
		json_object_set_new(o, "text", json_stringn(a->text, a->text_len));
	pb_sms_assembled_free(a);
	return print_json(o);
}

static int cmd_reassemble(int argc, char **argv)
{
	unsigned flags = PB_SMS_DECODE_SMSC;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-smsc"))
			flags &= ~PB_SMS_DECODE_SMSC;
		else
			return usage(stderr), EXIT_USAGE;
	}
	pb_sms_reassembler *r;
	if (pb_sms_reassembler_new(&r, NULL) < 0) {
		fprintf(stderr, "pb-sms: %s\n", pb_error_last()->message);
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	int64_t lineno = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		while (n > 0 && strchr(" \t\r\n", line[n - 1]))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		pb_buf pdu = PB_BUF_INIT;
		pb_sms_assembled *a = NULL;
		pb_parse_error perr;
		if (unhex(&pdu, line, (size_t)n) < 0) {
			rc = EXIT_MALFORMED;
		} else if (pb_sms_reassembler_add(r, pdu.data, pdu.len, flags, lineno, &a, &perr) < 0) {
			fprintf(stderr, "pb-sms: line %lld: malformed PDU at byte %zu: %s\n", (long long)lineno,
				perr.offset, perr.text);
			rc = EXIT_MALFORMED;
		} else if (a) {
			print_assembled(a);
		}
		pb_buf_dispose(&pdu);
	}
	free(line);
	/* at the end of input, what is still missing parts comes out incomplete */
	pb_sms_assembled *a;
	while (pb_sms_reassembler_flush(r, &a) == 0 && a)
		print_assembled(a);
	pb_sms_reassembler_free(r);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("pb-sms: a command is needed\n", stderr);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pb-sms (libphonebridge) %s\n", pb_version_string());
		return 0;
	}
	/* --pretty anywhere after the command: taken out before it parses */
	int k = 1;
	for (int i = 1; i < argc; i++) {
		if (i > 1 && !strcmp(argv[i], "--pretty"))
			json_flags = JSON_INDENT(2);
		else
			argv[k++] = argv[i];
	}
	argc = k;
	argv[argc] = NULL;
	if (!strcmp(argv[1], "decode"))
		return cmd_decode(argc - 1, argv + 1);
	if (!strcmp(argv[1], "encode"))
		return cmd_encode(argc - 1, argv + 1);
	if (!strcmp(argv[1], "reassemble"))
		return cmd_reassemble(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pb-sms: unknown %s \"%s\"\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
