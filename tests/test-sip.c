/*
 * libphonebridge tests — sip: SDP media extraction, sipfrag status, source
 * allow list, and a user agent's life cycle on 127.0.0.1. The calls
 * themselves are tested against real peers in tests/sip/ (Net::SIP, sipp).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

static const char offer[] =
	"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
	"m=video 0 RTP/AVP 96\r\n"
	"m=audio 40000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\na=sendrecv\r\n";

static void test_sip__sdp_media_reads_audio_line(void **state)
{
	(void)state;
	pb_sip_media m;
	assert_pb_ok(pb_sip_sdp_media((const uint8_t *)offer, strlen(offer), &m, NULL));
	assert_string_equal(m.remote_address, "192.0.2.10");
	assert_int_equal(m.remote_port, 40000);
	assert_int_equal(m.codec_pt, 8); /* first G.711 in the offer's order */
	assert_int_equal(m.dtmf_pt, 101);
	assert_int_equal(m.local_port, 0);
}

static void test_sip__sdp_media_connection_in_media_and_ipv6(void **state)
{
	(void)state;
	static const char s[] = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\n"
				"m=audio 5004 RTP/AVP 0\r\nc=IN IP6 2001:db8::5\r\n";
	pb_sip_media m;
	assert_pb_ok(pb_sip_sdp_media((const uint8_t *)s, strlen(s), &m, NULL));
	assert_string_equal(m.remote_address, "2001:db8::5");
	assert_int_equal(m.codec_pt, 0);
	assert_int_equal(m.dtmf_pt, -1);
}

static void test_sip__sdp_media_refuses_bad_input(void **state)
{
	(void)state;
	pb_sip_media m;
	pb_parse_error perr;
	static const char no_g711[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
				      "t=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
	static const char no_conn[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
				      "m=audio 4000 RTP/AVP 0\r\n";
	static const char held[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
				   "t=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)no_g711, strlen(no_g711), &m, NULL), PB_EUNSUPPORTED);
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)no_conn, strlen(no_conn), &m, &perr), PB_EMALFORMED);
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)held, strlen(held), &m, NULL), PB_EUNSUPPORTED);
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)"hello", 5, &m, &perr), PB_EMALFORMED);
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)"v=0\0x", 5, &m, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 3);
	assert_int_equal(m.remote_port, 0);
}

/* The SDP guard before sofia-sip's parser: the input found by fuzzing
 * (sdp_parse allocated without bound on it), the same behind white space
 * (sofia skips it), control bytes, the size limit; UTF-8 stays allowed in
 * the text lines. */
static void test_sip__sdp_guard(void **state)
{
	(void)state;
	pb_sip_media m;
	pb_parse_error perr;
	static const char evil[] = "v=0\r\nm=audio 9 R\xD0\xC5 0\r\n";
	assert_pb_error(pb_sip_sdp_media((const uint8_t *)evil, strlen(evil), &m, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 16);
	assert_non_null(strstr(pb_error_last()->message, "0xd0"));
	assert_true(pb_sip__sdp_looks_like((const uint8_t *)" v=0\r\n", 7));
	assert_false(pb_sip__sdp_looks_like((const uint8_t *)"Signal=5\r\n", 10));
	static const char lead[] = " v=0\r\nm=audio 9 R\xD0\xC5 0\r\n";
	assert_pb_error(pb_sip__sdp_check((const uint8_t *)lead, strlen(lead), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 0);
	static const char ctl[] = "v=0\r\ns=a\x01b\r\n";
	assert_pb_error(pb_sip__sdp_check((const uint8_t *)ctl, strlen(ctl), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 8);
	static const char noeq[] = "v=0\r\nmaudio\r\n";
	assert_pb_error(pb_sip__sdp_check((const uint8_t *)noeq, strlen(noeq), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 5);
	static const char utf8[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=Caf\xC3\xA9\r\nc=IN IP4 192.0.2.1\r\n"
				   "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=tool:\xC3\xA9t\xC3\xA9\r\n";
	assert_pb_ok(pb_sip_sdp_media((const uint8_t *)utf8, strlen(utf8), &m, NULL));
	assert_int_equal(m.remote_port, 4000);
	char *big = pb_malloc(PB_SIP__SDP_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', PB_SIP__SDP_MAX + 1);
	memcpy(big, "v=0\r\na=", 7);
	assert_pb_error(pb_sip__sdp_check((const uint8_t *)big, PB_SIP__SDP_MAX + 1, &perr), PB_ETOOBIG);
	pb_free(big);
}

static void test_sip__sdp_make_round_trips(void **state)
{
	(void)state;
	char sdp[600];
	assert_pb_ok(pb_sip__sdp_make(sdp, sizeof(sdp), "127.0.0.1", 40002, 8, 96, 7));
	pb_sip_media m;
	assert_pb_ok(pb_sip_sdp_media((const uint8_t *)sdp, strlen(sdp), &m, NULL));
	assert_string_equal(m.remote_address, "127.0.0.1");
	assert_int_equal(m.remote_port, 40002);
	assert_int_equal(m.codec_pt, 8);
	assert_int_equal(m.dtmf_pt, 96);
	assert_pb_error(pb_sip__sdp_make(sdp, 40, "127.0.0.1", 1, 0, 101, 1), PB_ETOOBIG);
}

static void test_sip__sdp_held(void **state)
{
	(void)state;
#define SDP(c, port, dir) "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 " c "\r\nt=0 0\r\n" \
			  "m=audio " port " RTP/AVP 0\r\n" dir
	assert_false(pb_sip__sdp_held(SDP("192.0.2.1", "4000", "")));
	assert_false(pb_sip__sdp_held(SDP("192.0.2.1", "4000", "a=sendrecv\r\n")));
	assert_false(pb_sip__sdp_held(SDP("192.0.2.1", "4000", "a=recvonly\r\n")));
	assert_true(pb_sip__sdp_held(SDP("192.0.2.1", "4000", "a=sendonly\r\n")));
	assert_true(pb_sip__sdp_held(SDP("192.0.2.1", "4000", "a=inactive\r\n")));
	assert_true(pb_sip__sdp_held(SDP("0.0.0.0", "4000", "")));
	assert_true(pb_sip__sdp_held(SDP("192.0.2.1", "0", "")));
	assert_false(pb_sip__sdp_held("not SDP")); /* unreadable: leave the media alone */
#undef SDP
}

static void test_sip__sipfrag_status(void **state)
{
	(void)state;
	pb_parse_error perr;
#define FRAG(s) (const uint8_t *)(s), strlen(s)
	assert_int_equal(pb_sip__sipfrag_status(FRAG("SIP/2.0 200 OK\r\n"), NULL), 200);
	assert_int_equal(pb_sip__sipfrag_status(FRAG("SIP/2.0 180"), NULL), 180);
	assert_pb_error(pb_sip__sipfrag_status(FRAG("SIP/2.0 20"), &perr), PB_EMALFORMED);
	assert_pb_error(pb_sip__sipfrag_status(FRAG("SIP/2.0 2000 OK"), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 11);
	assert_pb_error(pb_sip__sipfrag_status(FRAG("HTTP/1.1 200 OK"), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 0);
	assert_pb_error(pb_sip__sipfrag_status(FRAG("SIP/2.0 099 x"), &perr), PB_EMALFORMED);
#undef FRAG
}

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a->sin_addr);
	}
	return ss;
}

static bool acl_has(const pb_sip_acl *acl, const char *ip)
{
	struct sockaddr_storage ss = addr(ip);
	return pb_sip__acl_match(acl, (struct sockaddr *)&ss);
}

static void test_sip__acl_prefixes(void **state)
{
	(void)state;
	pb_sip_acl acl = { NULL, 0 };
	assert_pb_ok(pb_sip__acl_parse(&acl, "127.0.0.1, 10.1.0.0/16;2001:db8::/33 192.168.7.5/31"));
	assert_int_equal(acl.n, 4);
	assert_true(acl_has(&acl, "127.0.0.1"));
	assert_false(acl_has(&acl, "127.0.0.2"));
	assert_true(acl_has(&acl, "10.1.255.3"));
	assert_false(acl_has(&acl, "10.2.0.1"));
	assert_true(acl_has(&acl, "2001:db8:7fff::1"));
	assert_false(acl_has(&acl, "2001:db8:8000::1"));
	assert_true(acl_has(&acl, "::ffff:10.1.2.3")); /* v4-mapped */
	assert_true(acl_has(&acl, "192.168.7.4"));
	assert_false(acl_has(&acl, "192.168.7.6"));
	assert_pb_error(pb_sip__acl_parse(&acl, "127.0.0.1 nonsense"), PB_EINVAL);
	assert_int_equal(acl.n, 4); /* the old list stays */
	assert_pb_error(pb_sip__acl_parse(&acl, "10.0.0.0/33"), PB_EINVAL);
	assert_pb_error(pb_sip__acl_parse(&acl, "10.0.0.0/x"), PB_EINVAL);
	assert_pb_ok(pb_sip__acl_parse(&acl, ""));
	assert_false(acl_has(&acl, "127.0.0.1"));
	pb_sip__acl_clear(&acl);
}

static int acl_scenario(void *ctx)
{
	pb_sip_acl acl = { NULL, 0 };
	int rc = pb_sip__acl_parse(&acl, ctx);
	pb_sip__acl_clear(&acl);
	return rc;
}

static void test_sip__acl_allocation_failures(void **state)
{
	(void)state;
	pb_test_alloc_fail_each(acl_scenario, "1.2.3.4 5.6.7.8 9.9.9.9 ::1 10.0.0.0/8 11.0.0.0/8", NULL);
}

static void test_sip__agent_starts_and_stops(void **state)
{
	(void)state;
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = 0;
	o.allow_sources = "not-an-address";
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	assert_null(ua);
	o.allow_sources = "127.0.0.1";
	o.udp = o.tcp = false;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	o.udp = true;
	o.port = 65537;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	o.port = PB_SIP_PORT_ANY; /* the system chooses: no collisions between test runs */
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_true(pb_sip_port(ua) > 0 && pb_sip_port(ua) < 65536);
	assert_int_equal(pb_sip_call_count(ua), 0);
	pb_sip_step(ua, 0);
	/* a second agent on the same port: a clear PB_EIO (and no leak from sofia) */
	pb_sip *ua2 = NULL;
	o.port = pb_sip_port(ua);
	assert_pb_error(pb_sip_new(&ua2, &o, NULL), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "in use"));
	assert_null(ua2);
	pb_sip_free(ua);
	pb_sip_free(NULL);
	assert_string_equal(pb_sip_event_name(PB_SIP_EV_ENDED), "ended");
}

/* A users file in a fresh directory; @p mode applied. Returns its path in @p path. */
static void users_file(char *path, size_t cap, char *dir, mode_t mode)
{
	assert_non_null(mkdtemp(dir));
	snprintf(path, cap, "%s/users", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# user:password:realm\ntrunk:s3cret:screen.test\n", f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void remove_users_file(const char *path, const char *dir)
{
	unlink(path);
	rmdir(dir);
}

static void test_sip__auth_options_checked(void **state)
{
	(void)state;
	char dir[] = "/tmp/pb-sip-auth-XXXXXX", path[128];
	users_file(path, sizeof(path), dir, 0644);
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = PB_SIP_PORT_ANY;
	o.tcp = false;
	o.allow_sources = "127.0.0.2";
	o.auth_realm = "screen.test";
	o.auth_users_file = path;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EAUTH); /* readable by others */
	assert_null(ua);
	assert_int_equal(chmod(path, 0600), 0);
	o.auth_users_file = NULL;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL); /* realm without a file */
	o.auth_users_file = "/nonexistent/users";
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_ENOTFOUND);
	o.auth_users_file = path;
	o.auth_realm = "bad\"realm";
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	o.auth_realm = "screen.test";
	o.admit = (pb_sip_admit)7;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	o.admit = PB_SIP_ADMIT_ADDRESS_AND_DIGEST;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	/* replacing: a bad file keeps the old settings; NULL realm turns digest off */
	assert_int_equal(chmod(path, 0640), 0);
	assert_pb_error(pb_sip_set_auth(ua, "screen.test", path, PB_SIP_ADMIT_ADDRESS_OR_DIGEST), PB_EAUTH);
	assert_non_null(ua->auth);
	assert_int_equal(ua->admit, PB_SIP_ADMIT_ADDRESS_AND_DIGEST);
	assert_pb_ok(pb_sip_set_auth(ua, NULL, NULL, PB_SIP_ADMIT_ADDRESS_OR_DIGEST));
	assert_null(ua->auth);
	pb_sip_free(ua);
	/* version 1 options (no digest fields) are still accepted */
	pb_sip_options v1 = PB_SIP_OPTIONS_INIT;
	v1.version = 1;
	v1.port = PB_SIP_PORT_ANY;
	v1.auth_realm = "ignored in version 1";
	assert_pb_ok(pb_sip_new(&ua, &v1, NULL));
	assert_null(ua->auth);
	pb_sip_free(ua);
	remove_users_file(path, dir);
}

/* Durations are unsigned ms (pb_sip_options version 3); the deprecated
 * seconds members still count when the ms ones are 0, and version 2
 * callers (no *_ms members) get the seconds or the defaults. */
static void test_sip__timeouts_in_ms(void **state)
{
	(void)state;
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = PB_SIP_PORT_ANY;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_int_equal(ua->bridge_timeout_ms, 30000);
	pb_sip_free(ua);
	o.bridge_timeout_ms = 2500;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_int_equal(ua->bridge_timeout_ms, 2500);
	pb_sip_free(ua);
	o.bridge_timeout_ms = 0;
	o.bridge_timeout = 7;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_int_equal(ua->bridge_timeout_ms, 7000);
	pb_sip_free(ua);
	pb_sip_options v2 = o;
	v2.version = 2;
	v2.bridge_timeout_ms = 1; /* not read in version 2 */
	assert_pb_ok(pb_sip_new(&ua, &v2, NULL));
	assert_int_equal(ua->bridge_timeout_ms, 7000);
	pb_sip_free(ua);
	o.bridge_timeout_ms = (unsigned)-1; /* a C caller's -1 */
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_sip_options.bridge_timeout_ms"));
	o.bridge_timeout_ms = 0;
	/* the nonce lifetime: ms rounded up to sofia-sip's seconds, or the old seconds */
	o.auth_nonce_ttl_ms = 1500;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_int_equal(ua->auth_nonce_ttl, 2);
	pb_sip_free(ua);
	o.auth_nonce_ttl_ms = 0;
	o.auth_nonce_ttl = 5;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	assert_int_equal(ua->auth_nonce_ttl, 5);
	pb_sip_free(ua);
	o.register_expires_ms = 3000000000u;
	assert_pb_error(pb_sip_new(&ua, &o, NULL), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_sip_options.register_expires_ms"));
}

static int incoming_seen;

static void count_incoming(pb_sip_call *call, void *ud)
{
	(void)ud;
	incoming_seen++;
	pb_sip_call_reject(call, 486, NULL);
}

/* Send @p req over UDP to the agent and step it until a final answer comes. */
static int udp_exchange(pb_sip *ua, int fd, const char *req, char *reply, size_t cap)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pb_sip_port(ua)) };
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (sendto(fd, req, strlen(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -1;
	int64_t until = pb_sip_now(ua) + 10000;
	while (pb_sip_now(ua) < until) {
		pb_sip_step(ua, 20);
		ssize_t n = recv(fd, reply, cap - 1, MSG_DONTWAIT);
		if (n > 0) {
			reply[n] = '\0';
			if (strncmp(reply, "SIP/2.0 1", 9) != 0)
				return 0;
		}
	}
	return -1;
}

static void invite(char *req, size_t cap, unsigned to_port, unsigned my_port, int id, const char *extra)
{
	snprintf(req, cap,
		 "INVITE sip:screen@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:+15550102000@127.0.0.1>;tag=a1\r\n"
		 "To: <sip:screen@127.0.0.1>\r\nCall-ID: auth-%d@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:caller@127.0.0.1:%u>\r\n%sContent-Length: 0\r\n\r\n",
		 to_port, my_port, id, id, my_port, extra);
}

static void test_sip__auth_challenges_unknown_sources(void **state)
{
	(void)state;
	char dir[] = "/tmp/pb-sip-auth-XXXXXX", path[128];
	users_file(path, sizeof(path), dir, 0600);
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = PB_SIP_PORT_ANY;
	o.tcp = false;
	o.allow_sources = "192.0.2.1"; /* not us: only the digest can admit */
	o.auth_realm = "screen.test";
	o.auth_users_file = path;
	pb_sip_handlers h = { .incoming = count_incoming };
	assert_pb_ok(pb_sip_new(&ua, &o, &h));
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	socklen_t sl = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &sl);
	char req[1024], reply[4096];
	invite(req, sizeof(req), pb_sip_port(ua), ntohs(me.sin_port), 1, "");
	assert_int_equal(udp_exchange(ua, fd, req, reply, sizeof(reply)), 0);
	assert_true(strncmp(reply, "SIP/2.0 401 ", 12) == 0);
	assert_non_null(strstr(reply, "WWW-Authenticate: Digest realm=\"screen.test\""));
	assert_non_null(strstr(reply, "qop=\"auth\""));
	/* credentials with a nonce we never issued: challenged again, not admitted */
	char cred[512];
	snprintf(cred, sizeof(cred), "Authorization: Digest username=\"trunk\", realm=\"screen.test\", "
		 "nonce=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", uri=\"sip:screen@127.0.0.1\", "
		 "response=\"00000000000000000000000000000000\", algorithm=MD5\r\n");
	invite(req, sizeof(req), pb_sip_port(ua), ntohs(me.sin_port), 2, cred);
	assert_int_equal(udp_exchange(ua, fd, req, reply, sizeof(reply)), 0);
	assert_true(strncmp(reply, "SIP/2.0 401 ", 12) == 0);
	assert_int_equal(incoming_seen, 0);
	/* the same source allowed by address: admitted without a challenge */
	assert_pb_ok(pb_sip_set_allow_sources(ua, "127.0.0.1"));
	invite(req, sizeof(req), pb_sip_port(ua), ntohs(me.sin_port), 3, "");
	assert_int_equal(udp_exchange(ua, fd, req, reply, sizeof(reply)), 0);
	assert_true(strncmp(reply, "SIP/2.0 486 ", 12) == 0);
	assert_int_equal(incoming_seen, 1);
	/* address and digest: the allowed source is challenged too */
	assert_pb_ok(pb_sip_set_auth(ua, "screen.test", path, PB_SIP_ADMIT_ADDRESS_AND_DIGEST));
	invite(req, sizeof(req), pb_sip_port(ua), ntohs(me.sin_port), 4, "");
	assert_int_equal(udp_exchange(ua, fd, req, reply, sizeof(reply)), 0);
	assert_true(strncmp(reply, "SIP/2.0 401 ", 12) == 0);
	/* and a source not allowed is refused outright */
	assert_pb_ok(pb_sip_set_allow_sources(ua, "192.0.2.1"));
	invite(req, sizeof(req), pb_sip_port(ua), ntohs(me.sin_port), 5, "");
	assert_int_equal(udp_exchange(ua, fd, req, reply, sizeof(reply)), 0);
	assert_true(strncmp(reply, "SIP/2.0 403 ", 12) == 0);
	assert_int_equal(incoming_seen, 1);
	close(fd);
	pb_sip_free(ua);
	remove_users_file(path, dir);
}

static void fired(pb_sip_timer *t, void *ud)
{
	(void)t;
	*(int *)ud += 1;
}

static void test_sip__timers_fire_and_cancel(void **state)
{
	(void)state;
	pb_sip *ua;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.udp = true;
	o.tcp = false;
	o.port = PB_SIP_PORT_ANY;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	int n = 0, m = 0;
	pb_sip_timer *t, *c;
	assert_pb_ok(pb_sip_timer_start(ua, 10, fired, &n, &t));
	assert_pb_ok(pb_sip_timer_start(ua, 10, fired, &m, &c));
	pb_sip_timer_cancel(c);
	int64_t until = pb_sip_now(ua) + 10000;
	while (n == 0 && pb_sip_now(ua) < until)
		pb_sip_step(ua, 50);
	assert_int_equal(n, 1);
	assert_int_equal(m, 0);
	pb_sip_free(ua);
}

/* A wait without a limit (PB_WAIT_FOREVER, unsigned as every duration a
 * caller passes) still returns when a timer is due, with the next one's ms
 * as an int (-1 none). */
static void test_sip__step_waits_until_something_happens(void **state)
{
	(void)state;
	pb_sip *ua;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.udp = true;
	o.tcp = false;
	o.port = PB_SIP_PORT_ANY;
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	int n = 0;
	pb_sip_timer *t;
	assert_pb_ok(pb_sip_timer_start(ua, 20, fired, &n, &t));
	int64_t until = pb_sip_now(ua) + 30000;
	while (n == 0 && pb_sip_now(ua) < until) { /* start-up work may wake it first */
		int next = pb_sip_step(ua, PB_WAIT_FOREVER);
		assert_true(next >= -1);
	}
	assert_int_equal(n, 1);
	pb_sip_free(ua);
}

/* pb_sip_fd(): a descriptor that polls readable when a request came, and
 * stepping the agent then answers it (the way a foreign loop drives it). */
static void test_sip__loop_fd_for_a_foreign_loop(void **state)
{
	(void)state;
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = PB_SIP_PORT_ANY;
	o.tcp = false;
	o.allow_sources = "127.0.0.1";
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	int fd = pb_sip_fd(ua);
	assert_true(fd >= 0);
	for (int i = 0; i < 20; i++) /* whatever start-up left ready */
		pb_sip_step(ua, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pb_sip_port(ua)) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in me = { .sin_family = AF_INET };
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c, (struct sockaddr *)&me, sizeof(me)), 0);
	socklen_t ml = sizeof(me);
	getsockname(c, (struct sockaddr *)&me, &ml);
	char req[600];
	int n = snprintf(req, sizeof(req),
			 "OPTIONS sip:screen@127.0.0.1:%u SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-loopfd1\r\nMax-Forwards: 70\r\n"
			 "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:screen@127.0.0.1>\r\n"
			 "Call-ID: loopfd-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			 pb_sip_port(ua), ntohs(me.sin_port));
	assert_int_equal(sendto(c, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
	assert_int_equal(poll(&p, 1, 10000), 1); /* the foreign loop wakes up */
	assert_true(p.revents & POLLIN);
	char buf[2048];
	ssize_t got = -1;
	for (int i = 0; i < 500 && got < 0; i++) {
		pb_sip_step(ua, 0);
		got = recv(c, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (got < 0) {
			struct pollfd q = { .fd = c, .events = POLLIN };
			poll(&q, 1, 20);
		}
	}
	assert_true(got > 12);
	buf[got] = '\0';
	assert_memory_equal(buf, "SIP/2.0 200 ", 12);
	close(c);
	pb_sip_free(ua);
	assert_pb_error(pb_sip_fd(NULL), PB_EINVAL);
}

struct refusals {
	unsigned long reports, total;
	char rule[32], source[64], from[64];
	int status;
};

static void on_refused(const pb_sip_refusal *r, void *ud)
{
	struct refusals *x = ud;
	x->reports++;
	x->total += r->count;
	x->status = r->status;
	snprintf(x->rule, sizeof(x->rule), "%s", r->rule);
	snprintf(x->source, sizeof(x->source), "%s", r->caller->source ? r->caller->source : "");
	snprintf(x->from, sizeof(x->from), "%s", r->caller->from_uri ? r->caller->from_uri : "");
}

/* The agent's own refusals reach the program, none lost: 40 INVITEs from a
 * source not allowed, sent before the loop runs, add up to 40 however many
 * a loop step reads (more than 32 between two deliveries: the last report
 * counts those that found the queue full). */
static void test_sip__refusals_reported(void **state)
{
	(void)state;
	pb_sip *ua = NULL;
	pb_sip_options o = PB_SIP_OPTIONS_INIT;
	o.port = PB_SIP_PORT_ANY;
	o.tcp = false;
	o.allow_sources = "192.0.2.1";
	assert_pb_ok(pb_sip_new(&ua, &o, NULL));
	struct refusals x = { 0 };
	pb_sip_set_refused_handler(ua, on_refused, &x);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pb_sip_port(ua)) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in me = { .sin_family = AF_INET };
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c, (struct sockaddr *)&me, sizeof(me)), 0);
	socklen_t ml = sizeof(me);
	getsockname(c, (struct sockaddr *)&me, &ml);
	for (int i = 0; i < 40; i++) {
		char req[700];
		int n = snprintf(req, sizeof(req),
				 "INVITE sip:screen@127.0.0.1:%u SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-refused%d\r\nMax-Forwards: 70\r\n"
				 "From: <sip:+15550100%03d@127.0.0.1>;tag=%d\r\nTo: <sip:screen@127.0.0.1>\r\n"
				 "Call-ID: refused-%d@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
				 "Contact: <sip:x@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
				 pb_sip_port(ua), ntohs(me.sin_port), i, i, i, i, ntohs(me.sin_port));
		assert_int_equal(sendto(c, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
	}
	for (int i = 0; i < 500 && x.total < 40; i++)
		pb_sip_step(ua, 20);
	assert_int_equal(x.total, 40);
	assert_true(x.reports >= 2 && x.reports <= 40);
	assert_string_equal(x.rule, "source-not-allowed");
	assert_int_equal(x.status, 403);
	char want[32];
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(me.sin_port));
	assert_string_equal(x.source, want);
	assert_non_null(strstr(x.from, "sip:+15550100"));
	close(c);
	pb_sip_set_refused_handler(ua, NULL, NULL);
	pb_sip_free(ua);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sip__sdp_media_reads_audio_line),
		cmocka_unit_test(test_sip__sdp_media_connection_in_media_and_ipv6),
		cmocka_unit_test(test_sip__sdp_media_refuses_bad_input),
		cmocka_unit_test(test_sip__sdp_guard),
		cmocka_unit_test(test_sip__sdp_make_round_trips),
		cmocka_unit_test(test_sip__sdp_held),
		cmocka_unit_test(test_sip__sipfrag_status),
		cmocka_unit_test(test_sip__acl_prefixes),
		cmocka_unit_test(test_sip__acl_allocation_failures),
		cmocka_unit_test(test_sip__agent_starts_and_stops),
		cmocka_unit_test(test_sip__timers_fire_and_cancel),
		cmocka_unit_test(test_sip__step_waits_until_something_happens),
		cmocka_unit_test(test_sip__auth_options_checked),
		cmocka_unit_test(test_sip__timeouts_in_ms),
		cmocka_unit_test(test_sip__auth_challenges_unknown_sources),
		cmocka_unit_test(test_sip__loop_fd_for_a_foreign_loop),
		cmocka_unit_test(test_sip__refusals_reported),
	};
	return pb_test_run("sip", tests);
}
