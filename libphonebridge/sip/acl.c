/*
 * libphonebridge — SIP source allow list (addresses and prefixes).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <phonebridge/alloc.h>
#include <phonebridge/error.h>

static int parse_one(pb_sip_acl_entry *e, const char *tok, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (len == 0 || len >= sizeof(buf))
		return pb_error_set(PB_EINVAL, "allow_sources: bad entry '%.*s'", (int)PB_MIN(len, 64), tok);
	memcpy(buf, tok, len);
	buf[len] = '\0';
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || prefix < 0)
			return pb_error_set(PB_EINVAL, "allow_sources: bad prefix in '%.*s'", (int)len, tok);
	}
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, buf, e->addr) == 1) {
		e->family = AF_INET;
		if (prefix > 32)
			return pb_error_set(PB_EINVAL, "allow_sources: prefix over 32 in '%.*s'", (int)len, tok);
		e->prefix = prefix < 0 ? 32 : (unsigned)prefix;
	} else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
		e->family = AF_INET6;
		if (prefix > 128)
			return pb_error_set(PB_EINVAL, "allow_sources: prefix over 128 in '%.*s'", (int)len, tok);
		e->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	} else {
		return pb_error_set(PB_EINVAL, "allow_sources: '%.*s' is not an IP address", (int)len, tok);
	}
	return 0;
}

int pb_sip__acl_parse(pb_sip_acl *acl, const char *list)
{
	static const char sep[] = " \t,;";
	pb_sip_acl n = { NULL, 0 };
	size_t cap = 0;
	const char *p = list ? list : "";
	while (*p) {
		p += strspn(p, sep);
		size_t len = strcspn(p, sep);
		if (len == 0)
			break;
		if (n.n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			pb_sip_acl_entry *v = pb_realloc(n.v, ncap * sizeof(*v));
			if (!v) {
				pb_free(n.v);
				return pb_error__oom();
			}
			n.v = v;
			cap = ncap;
		}
		int rc = parse_one(&n.v[n.n], p, len);
		if (rc < 0) {
			pb_free(n.v);
			return rc;
		}
		n.n++;
		p += len;
	}
	pb_sip__acl_clear(acl);
	*acl = n;
	return 0;
}

void pb_sip__acl_clear(pb_sip_acl *acl)
{
	pb_free(acl->v);
	acl->v = NULL;
	acl->n = 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool pb_sip__acl_match(const pb_sip_acl *acl, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family;
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(addr, &in->sin_addr, 4);
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
			family = AF_INET;
		} else {
			memcpy(addr, in6->sin6_addr.s6_addr, 16);
			family = AF_INET6;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < acl->n; i++)
		if (acl->v[i].family == family && prefix_match(acl->v[i].addr, addr, acl->v[i].prefix))
			return true;
	return false;
}
