/*
 * A scriptable user agent over the public pb_sip API, for the integration
 * tests: it answers calls as told on the command line and prints one line
 * per event on stdout, which the Perl tests read.
 *
 *   sip-uas --port N [--allow LIST] --mode MODE [--target URI] [--fallback URI]
 *           [--auth-realm REALM --auth-users FILE [--admit or|and] [--nonce-ttl S]]
 *           [--tls-dir DIR --tls-port N]
 *
 * --port 0 lets the system choose the port; "ready port=N" tells which.
 *
 * modes: reject (486), redirect (180, then 302 to --target), answer (200,
 * echo RTP back, hang up on "BYE" never: the caller does), refer (200,
 * REFER to --target), bridge (bridge to --target before answering),
 * answer-bridge (200, then bridge).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

static const char *mode = "answer", *target, *fallback;
static pb_sip *ua;
static volatile sig_atomic_t stop;
static unsigned long rtp_packets;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void on_incoming(pb_sip_call *call, void *ud)
{
	const pb_sip_caller *c = pb_sip_call_caller(call);
	out("incoming from=%s name=%s pai=%s verstat=%s identity=%d source=%s ruri=%s auth=%s",
	    c->from_uri ? c->from_uri : "-", c->display_name ? c->display_name : "-",
	    c->pai ? c->pai : "-", c->verstat ? c->verstat : "-", c->identity_header,
	    c->source ? c->source : "-", c->request_uri ? c->request_uri : "-",
	    c->auth_user ? c->auth_user : "-");
	int rc = 0;
	if (strcmp(mode, "reject") == 0)
		rc = pb_sip_call_reject(call, 486, NULL);
	else if (strcmp(mode, "redirect") == 0) {
		pb_sip_call_ring(call);
		rc = pb_sip_call_redirect(call, target);
	} else if (strcmp(mode, "bridge") == 0) {
		pb_sip_call_ring(call);
		rc = pb_sip_call_bridge(call, target, fallback);
	} else if (strcmp(mode, "ring") == 0) {
		rc = pb_sip_call_ring(call);
	} else {
		rc = pb_sip_call_answer(call);
	}
	if (rc < 0)
		out("error %s", pb_error_last()->message);
}

static void on_event(pb_sip_call *call, pb_sip_event ev, void *ud)
{
	if (!call) {
		out("event %s status=%d", pb_sip_event_name(ev), pb_sip_last_register_status(ua));
		return;
	}
	if (ev == PB_SIP_EV_MEDIA) {
		const pb_sip_media *m = pb_sip_call_media(call);
		out("event media remote=%s:%u codec=%d dtmf=%d local=%u", m->remote_address,
		    m->remote_port, m->codec_pt, m->dtmf_pt, m->local_port);
		return;
	}
	if (ev == PB_SIP_EV_INFO) {
		size_t len;
		const char *b = pb_sip_call_info_body(call, &len);
		char buf[128];
		size_t n = 0;
		for (size_t i = 0; i < len && n + 1 < sizeof(buf); i++)
			buf[n++] = b[i] == '\r' || b[i] == '\n' ? '|' : b[i];
		buf[n] = '\0';
		out("event info type=%s body=%s", pb_sip_call_info_type(call), buf);
		return;
	}
	out("event %s status=%d rtp=%lu", pb_sip_event_name(ev), pb_sip_call_status(call), rtp_packets);
	if (ev == PB_SIP_EV_ACTIVE) {
		int rc = 0;
		if (strcmp(mode, "refer") == 0)
			rc = pb_sip_call_refer(call, target);
		else if (strcmp(mode, "answer-bridge") == 0)
			rc = pb_sip_call_bridge(call, target, fallback);
		if (rc < 0)
			out("error %s", pb_error_last()->message);
	}
}

static void on_rtp(pb_sip_call *call, const uint8_t *p, size_t len, void *ud)
{
	if (rtp_packets++ == 0)
		out("rtp first pt=%d len=%zu", len > 1 ? p[1] & 0x7f : -1, len);
	if (strcmp(mode, "answer") == 0)
		pb_sip_call_send_rtp(call, p, len); /* echo */
}

static void on_signal(int sig)
{
	stop = 1;
}

static void log_cb(int level, const char *domain, const char *msg, void *ud)
{
	fprintf(stderr, "%s: %s\n", domain, msg);
}

int main(int argc, char **argv)
{
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.allow_sources = "127.0.0.1";
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--port") == 0)
			o.port = (unsigned)atoi(v);
		else if (strcmp(k, "--allow") == 0)
			o.allow_sources = v;
		else if (strcmp(k, "--mode") == 0)
			mode = v;
		else if (strcmp(k, "--target") == 0)
			target = v;
		else if (strcmp(k, "--fallback") == 0)
			fallback = v;
		else if (strcmp(k, "--registrar") == 0)
			o.registrar = v;
		else if (strcmp(k, "--aor") == 0)
			o.aor = v;
		else if (strcmp(k, "--password") == 0)
			o.password = v;
		else if (strcmp(k, "--auth-realm") == 0)
			o.auth_realm = v;
		else if (strcmp(k, "--auth-users") == 0)
			o.auth_users_file = v;
		else if (strcmp(k, "--admit") == 0)
			o.admit = strcmp(v, "and") == 0 ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST;
		else if (strcmp(k, "--nonce-ttl") == 0)
			o.auth_nonce_ttl_ms = (unsigned)atoi(v) * 1000u;
		else if (strcmp(k, "--tls-dir") == 0)
			o.tls_cert_dir = v;
		else if (strcmp(k, "--tls-port") == 0)
			o.tls_port = (unsigned)atoi(v);
		else if (strcmp(k, "--bridge-timeout") == 0)
			o.bridge_timeout_ms = (unsigned)atoi(v) * 1000u;
		else {
			fprintf(stderr, "unknown option %s\n", k);
			return 2;
		}
	}
	if (o.port == 0)
		o.port = PB_SIP_PORT_ANY;
	pb_log_set_callback(log_cb, NULL);
	pb_log_set_level(getenv("PB_SIP_DEBUG") ? PB_LOG_DEBUG : PB_LOG_INFO);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pb_sip_handlers h = { on_incoming, on_event, on_rtp, NULL };
	if (pb_sip_new(&ua, &o, &h) < 0) {
		fprintf(stderr, "sip-uas: %s\n", pb_error_last()->message);
		return 1;
	}
	out("ready port=%u", pb_sip_port(ua));
	while (!stop)
		pb_sip_step(ua, 200);
	pb_sip_free(ua);
	out("stopped");
	return 0;
}
