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

#include <phonebridge/phonebridge.h>
#include <sysexits.h>

static pb_modem *g_modem;

static void usage(FILE *f)
{
	fputs("usage: pb-modem --backend hilink|at|smseagle [--url URL | --device PATH]\n"
	      "                [--user NAME] [--password-file FILE] [--token-file FILE]\n"
	      "                [--login auto|type4|base64|scram|none] [--storage ME|SM] [--baud N]\n"
	      "                [--timeout MS] [--poll MS] [--webhook HOST:PORT] [--ca-file FILE]\n"
	      "                [--insecure] [--verbose] COMMAND ...\n"
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

/* --- JSON output ----------------------------------------------------------------- */

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	/* invalid UTF-8 never reaches the output: sanitise first */
	pb_buf clean = PB_BUF_INIT;
	if (pb_utf8_sanitize(&clean, s, strlen(s)) == 0)
		s = pb_buf_cstr(&clean);
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
	pb_buf_dispose(&clean);
}

static void json_kv(const char *k, const char *v, bool comma)
{
	printf("%s\"%s\":", comma ? "," : "", k);
	json_str(v);
}

static const char *raw_format_name(int f)
{
	static const char *const n[] = { "none", "pdu", "push", "content", "entry", "file" };
	return f >= 0 && f <= 5 ? n[f] : "unknown";
}

static void print_sms(const pb_modem_msg *m)
{
	pb_sms_message s;
	if (pb_modem_msg_decode_sms(m, &s, NULL) < 0)
		return;
	printf(",\"sms\":{\"type\":\"%s\"", pb_sms_type_name(s.type));
	if (s.smsc.present)
		json_kv("smsc", s.smsc.number, true);
	if (s.has_dcs)
		printf(",\"encoding\":\"%s\"", pb_sms_encoding_name(s.dcs.encoding));
	if (s.udh.has_concat)
		printf(",\"concat\":{\"ref\":%u,\"total\":%u,\"seq\":%u}", s.udh.concat_ref, s.udh.concat_total,
		       s.udh.concat_seq);
	if (s.udh.has_ports)
		printf(",\"port\":%u", s.udh.dst_port);
	if (s.has_status)
		printf(",\"status\":%u", s.status);
	putchar('}');
}

/* An MMS notification's headers, decoded by the WAP/MMS codec when the push is whole. */
static void print_mms(const pb_modem_msg *m)
{
	pb_mms_message *n = NULL;
	pb_parse_error perr;
	if (pb_mms_decode_push(&n, NULL, m->raw, m->raw_len, &perr) < 0) {
		printf(",\"mms\":{\"decoded\":false");
		json_kv("why", perr.text, true);
		printf("}");
		return;
	}
	printf(",\"mms\":{\"decoded\":true,\"message_type\":\"%s\"", pb_mms_message_type_name(n->message_type));
	json_kv("transaction_id", n->transaction_id, true);
	json_kv("from", n->from, true);
	json_kv("subject", n->subject, true);
	json_kv("content_location", n->content_location, true);
	if (n->has_message_size)
		printf(",\"size\":%llu", (unsigned long long)n->message_size);
	printf("}");
	pb_mms_message_free(n);
}

static void print_msg(const pb_modem_msg *m)
{
	printf("{");
	json_kv("id", m->id, false);
	printf(",\"type\":\"%s\",\"state\":\"%s\"", pb_modem_msg_type_name(m->type), pb_modem_msg_state_name(m->state));
	if (m->box_type >= 0)
		printf(",\"box_type\":%d", m->box_type);
	json_kv("number", m->number, true);
	json_kv("time", m->time, true);
	json_kv("text", m->text, true);
	if (m->content_location)
		json_kv("content_location", m->content_location, true);
	if (m->error)
		json_kv("error", m->error, true);
	if (m->raw && m->raw_len) {
		pb_buf hex = PB_BUF_INIT;
		pb_hex_encode(&hex, m->raw, m->raw_len, PB_HEX_UPPER);
		printf(",\"raw_format\":\"%s\"", raw_format_name(m->raw_format));
		json_kv("raw_hex", pb_buf_cstr(&hex), true);
		pb_buf_dispose(&hex);
		if (m->raw_format == PB_MODEM_RAW_PDU)
			print_sms(m);
		if (m->type == PB_MODEM_MSG_MMS &&
		    (m->raw_format == PB_MODEM_RAW_PUSH || m->raw_format == PB_MODEM_RAW_CONTENT))
			print_mms(m);
	}
	printf("}");
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
	printf("{\"backend\":\"%s\"", pb_modem_backend_name(m));
	json_kv("operator", st.operator_name, true);
	printf(",\"registration\":\"%s\"", pb_modem_reg_name(st.registration));
	json_kv("network", st.network_type, true);
	if (st.signal_dbm != PB_MODEM_SIGNAL_UNKNOWN)
		printf(",\"signal_dbm\":%d", st.signal_dbm);
	else
		printf(",\"signal_dbm\":null");
	if (st.signal_percent >= 0)
		printf(",\"signal_percent\":%d", st.signal_percent);
	else
		printf(",\"signal_percent\":null");
	printf(",\"sim\":\"%s\"}\n", pb_modem_sim_name(st.sim));
	return 0;
}

static int cmd_list(pb_modem *m, int box)
{
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = pb_modem_list(m, box, &l);
	/* one JSON document per message, one per line (as every program) */
	for (size_t i = 0; rc == 0 && i < l.count; i++) {
		print_msg(&l.items[i]);
		putchar('\n');
	}
	pb_modem_msg_list_dispose(&l);
	return rc < 0 ? fail("list") : 0;
}

static int cmd_read(pb_modem *m, const char *id)
{
	pb_modem_msg msg;
	if (pb_modem_read(m, id, &msg) < 0)
		return fail("read");
	print_msg(&msg);
	putchar('\n');
	pb_modem_msg_dispose(&msg);
	return 0;
}

static int watch_cb(const pb_modem_event *ev, void *ud)
{
	(void)ud;
	switch (ev->type) {
	case PB_MODEM_EVENT_MESSAGE:
		printf("{\"event\":\"message\",\"message\":");
		print_msg(ev->msg);
		printf("}\n");
		break;
	case PB_MODEM_EVENT_ERROR:
		printf("{\"event\":\"error\",\"code\":\"%s\"", pb_error_name(ev->error));
		json_kv("text", ev->text, true);
		printf("}\n");
		break;
	case PB_MODEM_EVENT_RECOVERED:
		printf("{\"event\":\"recovered\"}\n");
		break;
	}
	fflush(stdout);
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
	printf("{\"reason\":\"%s\",\"active\":%s", argv[1], f.active ? "true" : "false");
	json_kv("number", f.number[0] ? f.number : NULL, true);
	if (f.no_reply_s >= 0)
		printf(",\"no_reply_s\":%d", f.no_reply_s);
	printf("}\n");
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
		case 'P': o.poll_interval_ms = atoi(optarg); break;
		case 'W': o.webhook = optarg; break;
		case 'C': o.ca_file = optarg; break;
		case 'k': o.insecure_tls = true; break;
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
			printf("{\"sent\":true,\"reference\":%d}\n", ref);
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
			printf("{\"sent\":true,\"reference\":%d}\n", ref);
		pb_buf_dispose(&pdu);
	} else if (strcmp(cmd, "delete") == 0 && nargs == 1) {
		rc = pb_modem_delete(m, args[0]) < 0 ? fail("delete") : 0;
		if (rc == 0)
			printf("{\"deleted\":\"%s\"}\n", args[0]);
	} else if (strcmp(cmd, "mark-read") == 0 && nargs == 1) {
		rc = pb_modem_mark_read(m, args[0]) < 0 ? fail("mark-read") : 0;
		if (rc == 0)
			printf("{\"read\":\"%s\"}\n", args[0]);
	} else if (strcmp(cmd, "watch") == 0) {
		unsigned flags = 0;
		int duration = -1;
		for (int i = 0; i < nargs; i++) {
			if (strcmp(args[i], "--new-only") == 0)
				flags |= PB_MODEM_WATCH_NEW_ONLY;
			else if (strcmp(args[i], "--duration") == 0 && i + 1 < nargs)
				duration = atoi(args[++i]);
		}
		g_modem = m;
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		rc = pb_modem_watch(m, flags, duration, watch_cb, NULL) < 0 ? fail("watch") : 0;
	} else if (strcmp(cmd, "forward") == 0 && nargs >= 1) {
		rc = cmd_forward(m, nargs, args);
	} else if (strcmp(cmd, "ussd") == 0 && nargs == 1) {
		char *reply;
		rc = pb_modem_ussd(m, args[0], &reply) < 0 ? fail("ussd") : 0;
		if (rc == 0) {
			printf("{");
			json_kv("reply", reply, false);
			printf("}\n");
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
