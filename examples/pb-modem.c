/*
 * pb-modem — drive the box that holds the SIM (Huawei HiLink router, AT
 * modem, SMSEagle gateway) from the command line; JSON on stdout.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Uses only the public libphonebridge API. See pb-modem(1).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <phonebridge/phonebridge.h>
#include <sysexits.h>

static pb_modem *g_modem;

static void usage(FILE *f)
{
	fputs("usage: pb-modem --backend hilink|at|smseagle [--url URL | --device PATH]\n"
	      "                [--user NAME] [--password-file FILE] [--token-file FILE]\n"
	      "                [--login auto|type4|base64|scram|none] [--storage ME|SM] [--baud N]\n"
	      "                [--timeout MS] [--send-timeout MS] [--poll MS] [--webhook HOST:PORT]\n"
	      "                [--ca-file FILE] [--insecure] [--verbose] COMMAND ...\n"
	      "commands:\n"
	      "  status                          operator, registration, network, signal, SIM\n"
	      "  list [--sent]                   messages in the inbox (or sent box), one JSON a line\n"
	      "  read ID                         one message\n"
	      "  send NUMBER TEXT [--report]     send a text (split and encoded as needed)\n"
	      "  send-pdu HEX|-                  send a raw SMS-SUBMIT TPDU (AT modems; - reads it)\n"
	      "  delete ID[,ID...]               delete from the box\n"
	      "  mark-read ID                    mark read\n"
	      "  watch [--new-only] [--duration MS]   one JSON line per event until interrupted\n"
	      "  forward query REASON            call forwarding (REASON: unconditional, busy,\n"
	      "  forward set REASON NUMBER [S]     no-reply, not-reachable, all, all-conditional)\n"
	      "  forward erase REASON\n"
	      "  ussd CODE                       send a USSD code, print the answer\n", f);
}

/* what was wrong, then the usage: exit status 64 (sysexits) */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "pb-modem: %s%s\n", what, arg);
	usage(stderr);
	return EX_USAGE;
}

/* --- JSON output (jansson, as pb-sms and pb-mms) ---------------------------------- */

/* A JSON string of @s (null for NULL); invalid UTF-8 is sanitised first,
 * since jansson takes only valid UTF-8. */
static json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	pb_buf clean = PB_BUF_INIT;
	json_t *j = NULL;
	if (pb_utf8_sanitize(&clean, s, strlen(s)) == 0)
		j = json_stringn((const char *)clean.data, clean.len);
	pb_buf_dispose(&clean);
	return j ? j : json_null();
}

/* Print @j on one line and free it. */
static void emit(json_t *j)
{
	if (j && json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY) == 0)
		putchar('\n');
	json_decref(j);
	fflush(stdout);
}

static const char *raw_format_name(int f)
{
	static const char *const n[] = { "none", "pdu", "push", "content", "entry", "file" };
	return f >= 0 && f <= 5 ? n[f] : "unknown";
}

static json_t *sms_json(const pb_modem_msg *m)
{
	pb_sms_message s;
	if (pb_modem_msg_decode_sms(m, &s, NULL) < 0)
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(pb_sms_type_name(s.type)));
	if (s.smsc.present)
		json_object_set_new(o, "smsc", jstr(s.smsc.number));
	if (s.has_dcs)
		json_object_set_new(o, "encoding", json_string(pb_sms_encoding_name(s.dcs.encoding)));
	if (s.udh.has_concat)
		json_object_set_new(o, "concat", json_pack("{s:i,s:i,s:i}", "ref", (int)s.udh.concat_ref,
							    "total", (int)s.udh.concat_total, "seq",
							    (int)s.udh.concat_seq));
	if (s.udh.has_ports)
		json_object_set_new(o, "port", json_integer(s.udh.dst_port));
	if (s.has_status)
		json_object_set_new(o, "status", json_integer(s.status));
	return o;
}

/* An MMS notification's headers, decoded by the WAP/MMS codec when the push is whole. */
static json_t *mms_json(const pb_modem_msg *m)
{
	pb_mms_message *n = NULL;
	pb_parse_error perr;
	json_t *o = json_object();
	if (pb_mms_decode_push(&n, NULL, m->raw, m->raw_len, &perr) < 0) {
		json_object_set_new(o, "decoded", json_false());
		json_object_set_new(o, "why", jstr(perr.text));
		return o;
	}
	json_object_set_new(o, "decoded", json_true());
	json_object_set_new(o, "message_type", json_string(pb_mms_message_type_name(n->message_type)));
	json_object_set_new(o, "transaction_id", jstr(n->transaction_id));
	json_object_set_new(o, "from", jstr(n->from));
	json_object_set_new(o, "subject", jstr(n->subject));
	json_object_set_new(o, "content_location", jstr(n->content_location));
	if (n->has_message_size)
		json_object_set_new(o, "size", json_integer((json_int_t)n->message_size));
	pb_mms_message_free(n);
	return o;
}

static json_t *msg_json(const pb_modem_msg *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", jstr(m->id));
	json_object_set_new(o, "type", json_string(pb_modem_msg_type_name(m->type)));
	json_object_set_new(o, "state", json_string(pb_modem_msg_state_name(m->state)));
	if (m->box_type >= 0)
		json_object_set_new(o, "box_type", json_integer(m->box_type));
	json_object_set_new(o, "number", jstr(m->number));
	json_object_set_new(o, "time", jstr(m->time));
	json_object_set_new(o, "text", jstr(m->text));
	if (m->content_location)
		json_object_set_new(o, "content_location", jstr(m->content_location));
	if (m->error)
		json_object_set_new(o, "error", jstr(m->error));
	if (m->raw && m->raw_len) {
		pb_buf hex = PB_BUF_INIT;
		pb_hex_encode(&hex, m->raw, m->raw_len, PB_HEX_UPPER);
		json_object_set_new(o, "raw_format", json_string(raw_format_name(m->raw_format)));
		json_object_set_new(o, "raw_hex", jstr(pb_buf_cstr(&hex)));
		pb_buf_dispose(&hex);
		json_t *sub = NULL;
		if (m->raw_format == PB_MODEM_RAW_PDU && (sub = sms_json(m)))
			json_object_set_new(o, "sms", sub);
		if (m->type == PB_MODEM_MSG_MMS &&
		    (m->raw_format == PB_MODEM_RAW_PUSH || m->raw_format == PB_MODEM_RAW_CONTENT))
			json_object_set_new(o, "mms", mms_json(m));
	}
	return o;
}

/* --- commands -------------------------------------------------------------------- */

static int fail(const char *what)
{
	fprintf(stderr, "pb-modem: %s%s%s\n", what ? what : "", what ? ": " : "", pb_error_last()->message);
	return 1;
}

static int cmd_status(pb_modem *m)
{
	pb_modem_status st;
	if (pb_modem_status_get(m, &st) < 0)
		return fail("status");
	json_t *o = json_object();
	json_object_set_new(o, "backend", jstr(pb_modem_backend_name(m)));
	json_object_set_new(o, "operator", jstr(st.operator_name));
	json_object_set_new(o, "registration", json_string(pb_modem_reg_name(st.registration)));
	json_object_set_new(o, "network", jstr(st.network_type));
	json_object_set_new(o, "signal_dbm", st.signal_dbm != PB_MODEM_SIGNAL_UNKNOWN
						     ? json_integer(st.signal_dbm) : json_null());
	json_object_set_new(o, "signal_percent",
			    st.signal_percent >= 0 ? json_integer(st.signal_percent) : json_null());
	json_object_set_new(o, "sim", json_string(pb_modem_sim_name(st.sim)));
	emit(o);
	return 0;
}

static int cmd_list(pb_modem *m, int box)
{
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = pb_modem_list(m, box, &l);
	/* one JSON document per message, one per line (as every program) */
	for (size_t i = 0; rc == 0 && i < l.count; i++) {
		emit(msg_json(&l.items[i]));
	}
	pb_modem_msg_list_dispose(&l);
	return rc < 0 ? fail("list") : 0;
}

static int cmd_read(pb_modem *m, const char *id)
{
	pb_modem_msg msg;
	if (pb_modem_read(m, id, &msg) < 0)
		return fail("read");
	emit(msg_json(&msg));
	pb_modem_msg_dispose(&msg);
	return 0;
}

static int watch_cb(const pb_modem_event *ev, void *ud)
{
	(void)ud;
	switch (ev->type) {
	case PB_MODEM_EVENT_MESSAGE:
		emit(json_pack("{s:s,s:o}", "event", "message", "message", msg_json(ev->msg)));
		break;
	case PB_MODEM_EVENT_ERROR:
		emit(json_pack("{s:s,s:s,s:o}", "event", "error", "code", pb_error_name(ev->error), "text",
			       jstr(ev->text)));
		break;
	case PB_MODEM_EVENT_RECOVERED:
		emit(json_pack("{s:s}", "event", "recovered"));
		break;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	pb_modem_stop(g_modem);
}

static int reason_of(const char *s)
{
	static const char *const names[] = { "unconditional", "busy", "no-reply", "not-reachable", "all",
					     "all-conditional" };
	for (int i = 0; i < 6; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v >= 0 && v <= 5 ? (int)v : -1;
}

static int cmd_forward(pb_modem *m, int argc, char **argv)
{
	if (argc < 2 || reason_of(argv[1]) < 0) {
		usage(stderr);
		return 2;
	}
	int reason = reason_of(argv[1]);
	int rc;
	if (strcmp(argv[0], "set") == 0 && argc >= 3)
		rc = pb_modem_forward_set(m, reason, argv[2], argc >= 4 ? atoi(argv[3]) : -1);
	else if (strcmp(argv[0], "erase") == 0)
		rc = pb_modem_forward_set(m, reason, NULL, -1);
	else if (strcmp(argv[0], "query") == 0)
		rc = 0;
	else {
		usage(stderr);
		return 2;
	}
	if (rc < 0)
		return fail("forward");
	pb_modem_forward f;
	if (pb_modem_forward_query(m, reason, &f) < 0)
		return fail("forward query");
	json_t *o = json_object();
	json_object_set_new(o, "reason", jstr(argv[1]));
	json_object_set_new(o, "active", json_boolean(f.active));
	json_object_set_new(o, "number", jstr(f.number[0] ? f.number : NULL));
	if (f.no_reply_s >= 0)
		json_object_set_new(o, "no_reply_s", json_integer(f.no_reply_s));
	emit(o);
	return 0;
}

static void log_sink(int level, const char *domain, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "pb-modem: %s: %s: %s\n", pb_log_level_name(level), domain, msg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "url", required_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "token-file", required_argument, NULL, 't' },
		{ "login", required_argument, NULL, 'L' },
		{ "storage", required_argument, NULL, 'S' },
		{ "baud", required_argument, NULL, 'B' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "send-timeout", required_argument, NULL, 'O' },
		{ "poll", required_argument, NULL, 'P' },
		{ "webhook", required_argument, NULL, 'W' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	const char *backend = NULL;
	int verbose = 0, c;
	opterr = 0; /* our own message, then the usage (exit 64) */
	while ((c = getopt_long(argc, argv, "+:b:u:d:U:p:t:kvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': backend = optarg; break;
		case 'u': o.url = optarg; break;
		case 'd': o.device = optarg; break;
		case 'U': o.username = optarg; break;
		case 'p': o.password_file = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'L': o.login = optarg; break;
		case 'S': o.storage = optarg; break;
		case 'B': o.baud = atoi(optarg); break;
		case 'T': o.timeout_ms = atoi(optarg); break;
		case 'O': o.send_timeout_ms = atoi(optarg); break;
		case 'P': o.poll_interval_ms = atoi(optarg); break;
		case 'W': o.webhook = optarg; break;
		case 'C': o.ca_file = optarg; break;
		case 'k': o.tls_insecure = true; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("pb-modem (libphonebridge) %s\n", pb_version_string()); return 0;
		case ':': return usage_error("this option needs a value: ", argv[optind - 1]);
		default: return usage_error("unknown option ", argv[optind - 1]);
		}
	}
	if (!backend)
		return usage_error("--backend is needed", "");
	if (optind >= argc)
		return usage_error("a command is needed", "");
	if (verbose) {
		pb_log_set_callback(log_sink, NULL);
		pb_log_set_level(verbose > 1 ? PB_LOG_DEBUG : PB_LOG_INFO);
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;
	pb_modem *m;
	if (pb_modem_open(&m, backend, &o) < 0)
		return fail(backend);
	int rc = 2;
	if (strcmp(cmd, "status") == 0) {
		rc = cmd_status(m);
	} else if (strcmp(cmd, "list") == 0) {
		rc = cmd_list(m, nargs > 0 && strcmp(args[0], "--sent") == 0 ? PB_MODEM_BOX_SENT : PB_MODEM_BOX_INBOX);
	} else if (strcmp(cmd, "read") == 0 && nargs == 1) {
		rc = cmd_read(m, args[0]);
	} else if (strcmp(cmd, "send") == 0 && nargs >= 2) {
		int ref;
		unsigned flags = nargs >= 3 && strcmp(args[2], "--report") == 0 ? PB_MODEM_SEND_REPORT : 0;
		rc = pb_modem_send_text(m, args[0], args[1], flags, &ref) < 0 ? fail("send") : 0;
		if (rc == 0)
			emit(json_pack("{s:b,s:i}", "sent", 1, "reference", ref));
	} else if (strcmp(cmd, "send-pdu") == 0 && nargs == 1) {
		pb_buf pdu = PB_BUF_INIT;
		int ref;
		char line[1024];
		const char *hex = args[0];
		if (!strcmp(hex, "-")) { /* the PDU from standard input */
			hex = fgets(line, sizeof(line), stdin) ? line : "";
			line[strcspn(line, "\r\n")] = '\0';
		}
		rc = pb_hex_decode(&pdu, hex, strlen(hex), NULL) < 0 ||
				     pb_modem_send_pdu(m, pdu.data, pdu.len, &ref) < 0
			     ? fail("send-pdu") : 0;
		if (rc == 0)
			emit(json_pack("{s:b,s:i}", "sent", 1, "reference", ref));
		pb_buf_dispose(&pdu);
	} else if (strcmp(cmd, "delete") == 0 && nargs == 1) {
		rc = pb_modem_delete(m, args[0]) < 0 ? fail("delete") : 0;
		if (rc == 0)
			emit(json_pack("{s:o}", "deleted", jstr(args[0])));
	} else if (strcmp(cmd, "mark-read") == 0 && nargs == 1) {
		rc = pb_modem_mark_read(m, args[0]) < 0 ? fail("mark-read") : 0;
		if (rc == 0)
			emit(json_pack("{s:o}", "read", jstr(args[0])));
	} else if (strcmp(cmd, "watch") == 0) {
		unsigned flags = 0, duration = PB_WAIT_FOREVER;
		rc = 0;
		for (int i = 0; i < nargs && rc == 0; i++) {
			if (strcmp(args[i], "--new-only") == 0)
				flags |= PB_MODEM_WATCH_NEW_ONLY;
			else if (strcmp(args[i], "--duration") == 0 && i + 1 < nargs) {
				const char *s = args[++i];
				char *end;
				unsigned long v = strtoul(s, &end, 10);
				if (*s < '0' || *s > '9' || *end || v > INT_MAX)
					rc = usage_error("--duration takes ms, 0 to 2147483647: ", s);
				duration = (unsigned)v;
			}
		}
		g_modem = m;
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		if (rc == 0)
			rc = pb_modem_watch(m, flags, duration, watch_cb, NULL) < 0 ? fail("watch") : 0;
	} else if (strcmp(cmd, "forward") == 0 && nargs >= 1) {
		rc = cmd_forward(m, nargs, args);
	} else if (strcmp(cmd, "ussd") == 0 && nargs == 1) {
		char *reply;
		rc = pb_modem_ussd(m, args[0], &reply) < 0 ? fail("ussd") : 0;
		if (rc == 0) {
			emit(json_pack("{s:o}", "reply", jstr(reply)));
			pb_free(reply);
		}
	} else {
		fprintf(stderr, "pb-modem: unknown command or wrong arguments: %s\n", cmd);
		usage(stderr);
		rc = EX_USAGE;
	}
	pb_modem_close(m);
	return rc;
}
