/*
 * pb-mms fetch / pb-mms send — talk to a carrier's MMSC (the mmsc module).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of pb-mms: pb-mms.c dispatches the two subcommands here. Uses only
 * the public API.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <phonebridge/phonebridge.h>
#include <phonebridge/mms.h>
#include <phonebridge/mmsc.h>

#include "attach.h"
#include "fetch-send.h"
#include "parts.h"

#define MAX_LIST 32

/* What both subcommands accept. */
typedef struct common {
	pb_mmsc_options o;
	const char *headers[MAX_LIST + 1];
	size_t n_headers;
	const char *rules[MAX_LIST + 1];
	size_t n_rules;
	bool verbose;
} common;

enum {
	OPT_PROXY = 0x100, OPT_INTERFACE, OPT_USER_AGENT, OPT_WAP_PROFILE, OPT_HEADER, OPT_MAX_SIZE,
	OPT_REWRITE, OPT_CA_FILE, OPT_INSECURE, OPT_TIMEOUT, OPT_RETRIES, OPT_PARTS_DIR, OPT_OUTPUT,
	OPT_MMSC, OPT_FROM, OPT_TO, OPT_SUBJECT, OPT_TEXT, OPT_ATTACH, OPT_RETRY_SEND, OPT_VERBOSE,
	OPT_HELP, OPT_PART_TYPE, OPT_PART_NAME,
};

#define COMMON_OPTIONS                                                        \
	{ "proxy", required_argument, NULL, OPT_PROXY },                      \
	{ "interface", required_argument, NULL, OPT_INTERFACE },              \
	{ "user-agent", required_argument, NULL, OPT_USER_AGENT },            \
	{ "wap-profile", required_argument, NULL, OPT_WAP_PROFILE },          \
	{ "header", required_argument, NULL, OPT_HEADER },                    \
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },                \
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },                  \
	{ "insecure", no_argument, NULL, OPT_INSECURE },                      \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },                  \
	{ "retries", required_argument, NULL, OPT_RETRIES },                  \
	{ "verbose", no_argument, NULL, OPT_VERBOSE },                        \
	{ "help", no_argument, NULL, OPT_HELP }

static void on_log(int level, const char *domain, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "pb-mms: %s: %s: %s\n", pb_log_level_name(level), domain, message);
}

static int add_to_list(const char **list, size_t *n, const char *v, const char *what)
{
	if (*n >= MAX_LIST) {
		fprintf(stderr, "pb-mms: at most %d %s\n", MAX_LIST, what);
		return -1;
	}
	list[(*n)++] = v;
	list[*n] = NULL;
	return 0;
}

static int parse_unsigned(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "pb-mms: \"%s\" is not a number\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Exit statuses, as for pb-mms decode/encode: 0 success, 1 usage error or
 * failure, 2 malformed input (a downloaded PDU that does not decode). */
#define EXIT_FAIL 1
#define EXIT_MALFORMED_PDU 65 /* EX_DATAERR, as pb-mms decode */

/* 1: handled, 0: not a common option, -1: bad value */
static int common_option(common *c, int opt, const char *arg)
{
	unsigned long long v;
	switch (opt) {
	case OPT_PROXY: c->o.proxy = arg; return 1;
	case OPT_INTERFACE: c->o.interface = arg; return 1;
	case OPT_USER_AGENT: c->o.user_agent = arg; return 1;
	case OPT_WAP_PROFILE: c->o.wap_profile = arg; return 1;
	case OPT_HEADER: return add_to_list(c->headers, &c->n_headers, arg, "headers") < 0 ? -1 : 1;
	case OPT_REWRITE: return add_to_list(c->rules, &c->n_rules, arg, "rewrite rules") < 0 ? -1 : 1;
	case OPT_CA_FILE: c->o.ca_file = arg; return 1;
	case OPT_INSECURE: c->o.tls_insecure = true; return 1;
	case OPT_VERBOSE:
		c->verbose = true;
		pb_log_set_callback(on_log, NULL);
		pb_log_set_level(PB_LOG_DEBUG);
		return 1;
	case OPT_MAX_SIZE:
		if (parse_unsigned(arg, &v) < 0 || v == 0)
			return -1;
		c->o.max_download = (size_t)v;
		return 1;
	case OPT_TIMEOUT:
		if (parse_unsigned(arg, &v) < 0 || v == 0 || v > 86400)
			return -1;
		c->o.timeout_ms = (unsigned)(v * 1000);
		return 1;
	case OPT_RETRIES:
		if (parse_unsigned(arg, &v) < 0 || v > 100)
			return -1;
		c->o.retry.attempts = (unsigned)v + 1;
		return 1;
	default:
		return 0;
	}
}

/* The next option that is not a common one (common ones are applied): its
 * code, -1 at the end, -2 after a bad value. */
static int next_option(common *c, int argc, char **argv, const struct option *longopts)
{
	int opt;
	while ((opt = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		int r = common_option(c, opt == 'v' ? OPT_VERBOSE : opt, optarg);
		if (r < 0)
			return -2;
		if (r == 0)
			return opt;
	}
	return -1;
}

static void common_init(common *c)
{
	memset(c, 0, sizeof(*c));
	c->o = (pb_mmsc_options)PB_MMSC_OPTIONS_INIT;
	c->o.extra_headers = c->headers;
	c->o.rewrite_rules = c->rules;
}

static const char *const common_usage =
	"  --proxy HOST:PORT     the carrier's WAP proxy\n"
	"  --interface IF        send from this interface (if!wwan1) or address (host!10.1.2.3)\n"
	"  --user-agent UA       User-Agent header\n"
	"  --wap-profile URL     x-wap-profile header (UAProf)\n"
	"  --header 'N: V'       an extra header (repeatable)\n"
	"  --max-size BYTES      largest answer accepted (default 4194304)\n"
	"  --ca-file FILE        CA bundle for https; --insecure: no TLS verification\n"
	"  --timeout SECONDS     per attempt (default 300); --retries N: transient retries (default 2)\n"
	"  --verbose             log what happens on stderr\n";

/* --- fetch ------------------------------------------------------------- */

static int on_progress(uint64_t now, uint64_t total, void *userdata)
{
	(void)userdata;
	const int width = 30;
	if (total > 0) {
		int filled = (int)(now * (uint64_t)width / total);
		if (filled > width)
			filled = width;
		fprintf(stderr, "\r[%.*s%*s] %3d%% %llu/%llu bytes", filled, "##############################",
			width - filled, "", (int)(now * 100 / total), (unsigned long long)now,
			(unsigned long long)total);
	} else {
		fprintf(stderr, "\r[%*s] %llu bytes", width, "", (unsigned long long)now);
	}
	fflush(stderr);
	return 0;
}

static int save_part(int dirfd, const char *dir, const pb_mms_part *p)
{
	if (pbm_write_part(dirfd, dir, p, 0600) < 0)
		return -1;
	printf("  saved %s/%s\n", dir, p->filename);
	return 0;
}

static int print_message(const pb_mms_message *msg, const char *parts_dir)
{
	const char *type = pb_mms_message_type_name((int)msg->message_type);
	printf("type: %s\n", type ? type : "?");
	if (msg->transaction_id)
		printf("transaction-id: %s\n", msg->transaction_id);
	if (msg->message_id)
		printf("message-id: %s\n", msg->message_id);
	if (msg->from)
		printf("from: %s\n", msg->from);
	for (size_t i = 0; i < msg->n_to; i++)
		printf("to: %s\n", msg->to[i]);
	if (msg->subject)
		printf("subject: %s\n", msg->subject);
	if (msg->has_date)
		printf("date: %lld\n", (long long)msg->date);
	if (msg->retrieve_status) {
		const char *st = pb_mms_token_name(0x19, msg->retrieve_status);
		printf("retrieve-status: %s%s%s\n", st ? st : "?", msg->retrieve_text ? ": " : "",
		       msg->retrieve_text ? msg->retrieve_text : "");
	}
	if (parts_dir && mkdir(parts_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pb-mms: %s: %s\n", parts_dir, strerror(errno));
		return -1;
	}
	int rc = 0, dirfd = -1;
	if (parts_dir && (dirfd = open(parts_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "pb-mms: %s: %s\n", parts_dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < msg->n_parts; i++) {
		const pb_mms_part *p = &msg->parts[i];
		if (p->is_multipart)
			continue;
		printf("part %zu: %s, %zu bytes, %s\n", i, p->content_type.media_type[0] ? p->content_type.media_type : "?",
		       p->len, p->filename);
		if (pb_mms_part_is_text(p)) {
			pb_buf t = PB_BUF_INIT;
			if (pb_mms_part_text(p, &t) == 0)
				printf("  text: %s\n", pb_buf_cstr(&t));
			pb_buf_dispose(&t);
		}
		if (parts_dir && save_part(dirfd, parts_dir, p) < 0)
			rc = -1;
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

static int write_file(const char *path, const pb_buf *b)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		fprintf(stderr, "pb-mms: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static void fetch_usage(FILE *to)
{
	fprintf(to, "usage: pb-mms fetch URL [--proxy HOST:PORT] [--interface IF] [--parts-dir DIR]\n"
		    "                        [--output FILE] [--rewrite RULE]... [options]\n"
		    "Download a message from the MMSC, decode it and show it.\n"
		    "  --parts-dir DIR       save every part there (safe file names)\n"
		    "  --output FILE         save the PDU as downloaded\n"
		    "  --rewrite RULE        Content-Location rewrite rule (repeatable), e.g.\n"
		    "                        'base=http://mms.carrier.example keep=path'\n"
		    "%s", common_usage);
}

int pb_mms_cmd_fetch(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_OPTIONS,
		{ "rewrite", required_argument, NULL, OPT_REWRITE },
		{ "parts-dir", required_argument, NULL, OPT_PARTS_DIR },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ NULL, 0, NULL, 0 },
	};
	common c;
	common_init(&c);
	const char *parts_dir = NULL, *output = NULL;
	int opt;
	optind = 1;
	while ((opt = next_option(&c, argc, argv, longopts)) != -1) {
		switch (opt) {
		case -2: return EXIT_FAIL;
		case OPT_PARTS_DIR: parts_dir = optarg; break;
		case OPT_OUTPUT: output = optarg; break;
		case OPT_HELP: fetch_usage(stdout); return 0;
		default: fetch_usage(stderr); return EXIT_FAIL;
		}
	}
	if (optind + 1 != argc) {
		fetch_usage(stderr);
		return EXIT_FAIL;
	}
	bool bar = isatty(STDOUT_FILENO) && !c.verbose;
	if (bar)
		c.o.progress = on_progress;

	pb_mmsc *m = NULL;
	pb_buf pdu = PB_BUF_INIT;
	pb_mms_message *msg = NULL;
	pb_mmsc_result res;
	int status = 1;
	if (pb_mmsc_new(&m, &c.o) < 0) {
		fprintf(stderr, "pb-mms: %s\n", pb_error_last()->message);
		return EXIT_FAIL;
	}
	int rc = pb_mmsc_fetch(m, argv[optind], &pdu, &res);
	if (bar)
		fputc('\n', stderr);
	if (output && pdu.len && write_file(output, &pdu) < 0)
		goto out;
	if (rc < 0) {
		fprintf(stderr, "pb-mms: %s\n", pb_error_last()->message);
		goto out;
	}
	printf("url: %s\nhttp-status: %ld\nbytes: %zu\n", res.url, res.http_status, res.bytes);
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	if (pb_mms_decode(&msg, pdu.data, pdu.len, 0, &perr) < 0) {
		fprintf(stderr, "pb-mms: the MMS PDU does not decode: malformed at byte %zu: %s\n", perr.offset,
			perr.text);
		status = EXIT_MALFORMED_PDU;
		goto out;
	}
	if (print_message(msg, parts_dir) == 0)
		status = pb_mms_retrieve_ok(msg) ? 0 : 1;
out:
	pb_mms_message_free(msg);
	pb_buf_dispose(&pdu);
	pb_mmsc_free(m);
	return status;
}

/* --- send -------------------------------------------------------------- */

static void send_usage(FILE *to)
{
	fprintf(to, "usage: pb-mms send --mmsc URL [--proxy HOST:PORT] [--interface IF] --from N --to N...\n"
		    "                       [--subject S] [--text T] [[--part-type T] [--part-name N] --attach FILE|-]...\n"
		    "                       [--retry-send] [options]\n"
		    "Send a message to the MMSC and print its M-Send.conf as JSON.\n"
		    "  --to N                a recipient (repeatable, or several after one --to)\n"
		    "  --attach FILE         attach a file (\"-\": standard input); its type is guessed from the extension\n"
		    "  --part-type TYPE      the media type of the --attach that follows\n"
		    "  --part-name NAME      the part name of the --attach that follows (type guessed from it)\n"
		    "  --retry-send          retry after transient failures (may send twice)\n"
		    "%s", common_usage);
}

static void print_conf_json(const pb_mmsc_send_conf *conf, int rc)
{
	const char *name = pb_mms_token_name(0x12, conf->response_status);
	json_t *j = json_object();
	json_object_set_new(j, "ok", json_boolean(rc == 0));
	json_object_set_new(j, "response_status", json_integer(conf->response_status));
	json_object_set_new(j, "response_status_name", name ? json_string(name) : json_null());
	json_object_set_new(j, "response_text", conf->response_text ? json_string(conf->response_text) : json_null());
	json_object_set_new(j, "message_id", conf->message_id ? json_string(conf->message_id) : json_null());
	json_object_set_new(j, "transaction_id", conf->transaction_id ? json_string(conf->transaction_id) : json_null());
	json_object_set_new(j, "http_status", json_integer(conf->http.http_status));
	if (rc < 0)
		json_object_set_new(j, "error", json_string(pb_error_last()->message));
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(j);
}

int pb_mms_cmd_send(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_OPTIONS,
		{ "mmsc", required_argument, NULL, OPT_MMSC },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "subject", required_argument, NULL, OPT_SUBJECT },
		{ "text", required_argument, NULL, OPT_TEXT },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "part-type", required_argument, NULL, OPT_PART_TYPE },
		{ "part-name", required_argument, NULL, OPT_PART_NAME },
		{ "retry-send", no_argument, NULL, OPT_RETRY_SEND },
		{ NULL, 0, NULL, 0 },
	};
	common c;
	common_init(&c);
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	const char *to[MAX_LIST + 1] = { NULL };
	static pbm_attachments files; /* 64 pb_bufs: not on the stack */
	size_t n_to = 0;
	int opt;
	optind = 1;
	while ((opt = next_option(&c, argc, argv, longopts)) != -1) {
		switch (opt) {
		case -2: return EXIT_FAIL;
		case OPT_MMSC: c.o.mmsc_url = optarg; break;
		case OPT_FROM: req.from = optarg; break;
		case OPT_TO:
			if (add_to_list(to, &n_to, optarg, "recipients") < 0)
				return EXIT_FAIL;
			/* "--to A B C": the words up to the next option */
			while (optind < argc && argv[optind][0] != '-')
				if (add_to_list(to, &n_to, argv[optind++], "recipients") < 0)
					return EXIT_FAIL;
			break;
		case OPT_SUBJECT: req.subject = optarg; break;
		case OPT_TEXT: req.text = optarg; break;
		case OPT_ATTACH:
			if (pbm_attach_add(&files, optarg) < 0)
				return EXIT_FAIL;
			break;
		case OPT_PART_TYPE:
			if (pbm_attach_type(&files, optarg) < 0)
				return EXIT_FAIL;
			break;
		case OPT_PART_NAME:
			if (pbm_attach_name(&files, optarg) < 0)
				return EXIT_FAIL;
			break;
		case OPT_RETRY_SEND: c.o.retry_send = true; break;
		case OPT_HELP: send_usage(stdout); return 0;
		default: send_usage(stderr); return EXIT_FAIL;
		}
	}
	if (pbm_attach_done(&files) < 0)
		return EXIT_FAIL;
	if (optind != argc || !c.o.mmsc_url || n_to == 0 || (!req.text && files.n == 0)) {
		fprintf(stderr, "pb-mms send: needs --mmsc, --to and --text or --attach\n");
		send_usage(stderr);
		return EXIT_FAIL;
	}

	pb_mms_attachment att[PBM_MAX_ATTACH];
	int status = 1;
	pb_mmsc *m = NULL;
	if (pbm_attach_load(&files, att) < 0)
		goto out;
	char tid[64];
	snprintf(tid, sizeof(tid), "pb-%lld-%d", (long long)time(NULL), (int)getpid());
	req.transaction_id = tid;
	req.to = to;
	req.n_to = n_to;
	req.date = (int64_t)time(NULL);
	req.attachments = att;
	req.n_attachments = files.n;

	if (pb_mmsc_new(&m, &c.o) < 0) {
		fprintf(stderr, "pb-mms: %s\n", pb_error_last()->message);
		goto out;
	}
	pb_mmsc_send_conf conf;
	int rc = pb_mmsc_send(m, &req, &conf);
	if (rc < 0)
		fprintf(stderr, "pb-mms: %s\n", pb_error_last()->message);
	print_conf_json(&conf, rc);
	pb_mmsc_send_conf_dispose(&conf);
	status = rc == 0 ? 0 : 1;
out:
	pb_mmsc_free(m);
	pbm_attach_free(&files);
	return status;
}
