/*
 * libphonebridge — matrix: media upload and download, media messages, and
 * the cheap image-size probe for their info objects.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <string.h>

#include <phonebridge/matrix.h>

#define MEDIA_FILE_MAX ((size_t)512 * 1024 * 1024)

/* --- image size ---------------------------------------------------------- */

static int png_info(pb_cur *c, unsigned *w, unsigned *h, pb_parse_error *perr)
{
	/* PNG spec 5.2 (signature) and 11.2.2 (IHDR, always the first chunk) */
	const uint8_t *ihdr;
	if (!pb_cur_skip(c, 8 + 4) || !pb_cur_bytes(c, 4, &ihdr) || memcmp(ihdr, "IHDR", 4) != 0)
		return pb_error__parse(perr, pb_cur_offset(c), "png: no IHDR chunk");
	uint16_t a, b, d, e;
	if (!pb_cur_u16be(c, &a) || !pb_cur_u16be(c, &b) || !pb_cur_u16be(c, &d) || !pb_cur_u16be(c, &e))
		return pb_error__parse(perr, pb_cur_offset(c), "png: IHDR cut short");
	*w = (unsigned)a << 16 | b;
	*h = (unsigned)d << 16 | e;
	return 0;
}

static int gif_info(pb_cur *c, unsigned *w, unsigned *h, pb_parse_error *perr)
{
	/* GIF89a, 18. Logical Screen Descriptor: little-endian width, height */
	uint8_t b[4];
	if (!pb_cur_skip(c, 6) || !pb_cur_u8(c, &b[0]) || !pb_cur_u8(c, &b[1]) || !pb_cur_u8(c, &b[2]) ||
	    !pb_cur_u8(c, &b[3]))
		return pb_error__parse(perr, pb_cur_offset(c), "gif: screen descriptor cut short");
	*w = (unsigned)b[0] | (unsigned)b[1] << 8;
	*h = (unsigned)b[2] | (unsigned)b[3] << 8;
	return 0;
}

static int jpeg_info(pb_cur *c, unsigned *w, unsigned *h, pb_parse_error *perr)
{
	/* ITU T.81 B.1.1: markers FF xx; all but RSTn, SOI, EOI, TEM carry a
	 * 16-bit length; SOFn (C0-CF but C4 DHT, C8 JPG, CC DAC) hold the size. */
	pb_cur_skip(c, 2);
	for (;;) {
		uint8_t b, marker;
		if (!pb_cur_u8(c, &b))
			return pb_error__parse(perr, pb_cur_offset(c), "jpeg: no frame header");
		if (b != 0xFF)
			return pb_error__parse(perr, pb_cur_offset(c) - 1, "jpeg: expected a marker");
		do {
			if (!pb_cur_u8(c, &marker))
				return pb_error__parse(perr, pb_cur_offset(c), "jpeg: no frame header");
		} while (marker == 0xFF);
		if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
			continue;
		if (marker == 0xD9 || marker == 0xDA)
			return pb_error__parse(perr, pb_cur_offset(c), "jpeg: no frame header before scan");
		uint16_t seglen;
		if (!pb_cur_u16be(c, &seglen) || seglen < 2)
			return pb_error__parse(perr, pb_cur_offset(c), "jpeg: bad segment length");
		if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
			uint8_t precision;
			uint16_t y, x;
			if (!pb_cur_u8(c, &precision) || !pb_cur_u16be(c, &y) || !pb_cur_u16be(c, &x))
				return pb_error__parse(perr, pb_cur_offset(c), "jpeg: frame header cut short");
			*w = x;
			*h = y;
			return 0;
		}
		if (!pb_cur_skip(c, seglen - 2u))
			return pb_error__parse(perr, pb_cur_offset(c), "jpeg: segment beyond end of data");
	}
}

int pb_matrix_image_info(const uint8_t *buf, size_t len, unsigned *width, unsigned *height,
			 const char **mimetype)
{
	static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
	pb_cur c = pb_cur_make(buf, buf ? len : 0);
	unsigned w = 0, h = 0;
	const char *mt;
	int rc;
	if (len >= 8 && memcmp(buf, png_sig, 8) == 0) {
		mt = "image/png";
		rc = png_info(&c, &w, &h, NULL);
	} else if (len >= 6 && (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0)) {
		mt = "image/gif";
		rc = gif_info(&c, &w, &h, NULL);
	} else if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
		mt = "image/jpeg";
		rc = jpeg_info(&c, &w, &h, NULL);
	} else {
		return pb_error_set(PB_EUNSUPPORTED, "matrix: not a PNG, GIF or JPEG image");
	}
	if (rc < 0)
		return rc;
	if (width)
		*width = w;
	if (height)
		*height = h;
	if (mimetype)
		*mimetype = mt;
	return 0;
}

/* --- upload ------------------------------------------------------------------ */

int pb_matrix_upload(pb_matrix *m, const void *data, size_t len, const char *content_type,
		     const char *filename, char **mxc_url)
{
	*mxc_url = NULL;
	pb_buf u = PB_BUF_INIT, res = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/media/v3/upload");
	if (rc == 0 && filename && *filename)
		rc = pb_matrix__query(&u, "filename", filename);
	if (rc < 0)
		goto out;
	pb_matrix__req r = {
		.method = "POST",
		.url = pb_buf_cstr(&u),
		.body = len ? data : "",
		.body_len = len,
		.content_type = content_type ? content_type : "application/octet-stream",
		.auth = true,
		/* a repeated upload only leaves an unused copy behind */
		.idempotent = true,
		.out = &res,
	};
	rc = pb_matrix__request(m, &r);
	if (rc == 0)
		rc = pb_matrix__parse_object(&res, "upload", &ans);
	if (rc == 0)
		rc = pb_matrix__take_string(ans, "content_uri", "upload", mxc_url);
	if (rc == 0 && strncmp(*mxc_url, "mxc://", 6) != 0) {
		pb_free(*mxc_url);
		*mxc_url = NULL;
		rc = pb_error_set(PB_EPROTO, "matrix: upload answered a content_uri that is not mxc://");
	}
out:
	json_decref(ans);
	pb_buf_dispose(&u);
	pb_buf_dispose(&res);
	return rc;
}

/* --- media messages ------------------------------------------------------------ */

static const char *msgtype_of(const char *mimetype)
{
	if (mimetype == NULL)
		return "m.file";
	if (strncmp(mimetype, "image/", 6) == 0)
		return "m.image";
	if (strncmp(mimetype, "video/", 6) == 0)
		return "m.video";
	if (strncmp(mimetype, "audio/", 6) == 0)
		return "m.audio";
	return "m.file";
}

static int set_uint(json_t *obj, const char *key, uint64_t v)
{
	if (v == 0)
		return 0;
	if (v > (uint64_t)INT64_MAX)
		return pb_error_set(PB_ERANGE, "matrix: %s too big", key);
	return json_object_set_new(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : pb_error__oom();
}

int pb_matrix_send_media(pb_matrix *m, const char *room_id, const char *txn_id,
			 const pb_matrix_media *media, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	json_t *file = media && media->file_json ? json_loads(media->file_json, 0, NULL) : NULL;
	const char *furl = json_string_value(json_object_get(file, "url"));
	if (media && media->file_json && (furl == NULL || strncmp(furl, "mxc://", 6) != 0)) {
		json_decref(file);
		return pb_error_set(PB_EINVAL, "matrix: file_json is not an encrypted file object with an mxc:// url");
	}
	if (media == NULL || media->body == NULL ||
	    (!file && (media->url == NULL || strncmp(media->url, "mxc://", 6) != 0)))
		return pb_error_set(PB_EINVAL, "matrix: a media message needs a body and an mxc:// url");
	const char *msgtype = media->msgtype ? media->msgtype : msgtype_of(media->mimetype);
	json_error_t err;
	json_t *info = json_object();
	json_t *c = file ? json_pack_ex(&err, 0, "{s:s, s:s, s:o, s:s*}", "msgtype", msgtype, "body", media->body,
					"file", file, "filename", media->filename)
			 : json_pack_ex(&err, 0, "{s:s, s:s, s:s, s:s*}", "msgtype", msgtype, "body", media->body,
					"url", media->url, "filename", media->filename);
	int rc = 0;
	if (c == NULL || info == NULL) {
		rc = c ? pb_error__oom() : strstr(err.text, "memory") ? pb_error__oom()
				       : pb_error_set(PB_EINVAL, "matrix: cannot build the message: %s", err.text);
		goto out;
	}
	if (media->mimetype && json_object_set_new(info, "mimetype", json_string(media->mimetype)) != 0) {
		rc = pb_error_set(PB_EINVAL, "matrix: bad mimetype");
		goto out;
	}
	if ((rc = set_uint(info, "size", media->size)) < 0 || (rc = set_uint(info, "w", media->width)) < 0 ||
	    (rc = set_uint(info, "h", media->height)) < 0 ||
	    (rc = set_uint(info, "duration", media->duration_ms)) < 0)
		goto out;
	if (json_object_set(c, "info", info) != 0) {
		rc = pb_error__oom();
		goto out;
	}
	rc = pb_matrix__send_json(m, room_id, "m.room.message", txn_id, c, event_id);
out:
	json_decref(info);
	json_decref(c);
	return rc;
}

/* By extension, for what the first bytes do not tell. */
static const char *mimetype_by_name(const char *name)
{
	static const struct {
		const char *ext, *type;
	} table[] = {
		{ ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" }, { ".png", "image/png" },
		{ ".gif", "image/gif" }, { ".webp", "image/webp" }, { ".mp4", "video/mp4" },
		{ ".3gp", "video/3gpp" }, { ".webm", "video/webm" }, { ".mp3", "audio/mpeg" },
		{ ".ogg", "audio/ogg" }, { ".opus", "audio/ogg" }, { ".amr", "audio/amr" },
		{ ".m4a", "audio/mp4" }, { ".wav", "audio/wav" }, { ".txt", "text/plain" },
		{ ".vcf", "text/vcard" }, { ".pdf", "application/pdf" },
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < PB_ARRAY_SIZE(table); i++)
		if (pb_ascii_casecmp(dot, table[i].ext) == 0)
			return table[i].type;
	return "application/octet-stream";
}

int pb_matrix_send_file(pb_matrix *m, const char *room_id, const char *txn_id, const char *path,
			const char *mimetype, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	if (path == NULL)
		return pb_error_set(PB_EINVAL, "matrix: no file given");
	pb_buf data = PB_BUF_INIT;
	char *mxc = NULL;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int rc = pb_matrix__read_file(path, &data, MEDIA_FILE_MAX);
	if (rc < 0)
		goto out;
	pb_matrix_media media = { .body = name, .filename = name, .size = data.len };
	const char *probed = NULL;
	if (pb_matrix_image_info(data.data, data.len, &media.width, &media.height, &probed) < 0) {
		media.width = media.height = 0;
		probed = NULL;
		pb_error_clear();
	}
	media.mimetype = mimetype ? mimetype : probed ? probed : mimetype_by_name(name);
	if (probed == NULL || strncmp(media.mimetype, "image/", 6) != 0)
		media.width = media.height = 0;
	if ((rc = pb_matrix_upload(m, data.data, data.len, media.mimetype, name, &mxc)) < 0)
		goto out;
	media.url = mxc;
	rc = pb_matrix_send_media(m, room_id, txn_id, &media, event_id);
out:
	pb_free(mxc);
	pb_buf_dispose(&data);
	return rc;
}

/* --- download -------------------------------------------------------------------- */

static bool server_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == ':' || c == '[' || c == ']';
}

static bool media_id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

int pb_matrix__mxc_split(const char *mxc, const char **server, size_t *server_len, const char **media_id)
{
	/* spec "Matrix Content (mxc://) URIs": mxc://<server-name>/<media-id> */
	if (mxc == NULL || strncmp(mxc, "mxc://", 6) != 0)
		return pb_error_set(PB_EINVAL, "matrix: not an mxc:// URI");
	const char *s = mxc + 6, *p = s;
	while (*p && server_name_char(*p))
		p++;
	if (p == s || *p != '/')
		return pb_error_set(PB_EINVAL, "matrix: bad server name in %.200s", mxc);
	const char *id = p + 1, *q = id;
	while (*q && media_id_char(*q))
		q++;
	if (q == id || *q != '\0')
		return pb_error_set(PB_EINVAL, "matrix: bad media id in %.200s", mxc);
	*server = s;
	*server_len = (size_t)(p - s);
	*media_id = id;
	return 0;
}

static int download_from(pb_matrix *m, const char *fmt, const char *server, const char *id, pb_buf *out,
			 char **content_type, size_t max_bytes)
{
	pb_buf u = PB_BUF_INIT, res = PB_BUF_INIT;
	int rc = pb_matrix__url(&u, m, fmt, server, id);
	if (rc < 0)
		goto out;
	pb_matrix__req r = {
		.method = "GET",
		.url = pb_buf_cstr(&u),
		.auth = true,
		.idempotent = true,
		.follow = true,
		.max_bytes = max_bytes,
		.out = &res,
		.out_content_type = content_type,
	};
	rc = pb_matrix__request(m, &r);
	if (rc == 0 && (rc = pb_buf_put(out, res.data, res.len)) < 0 && content_type) {
		pb_free(*content_type);
		*content_type = NULL;
	}
out:
	pb_buf_dispose(&u);
	pb_buf_dispose(&res);
	return rc;
}

int pb_matrix_download(pb_matrix *m, const char *mxc_url, pb_buf *out, char **content_type,
		       size_t max_bytes)
{
	const char *server, *id;
	size_t server_len;
	if (content_type)
		*content_type = NULL;
	int rc = pb_matrix__mxc_split(mxc_url, &server, &server_len, &id);
	if (rc < 0)
		return rc;
	char *srv = pb_strndup(server, server_len);
	if (srv == NULL)
		return PB_ENOMEM;
	bool legacy = m->v1_media_unsupported;
	if (!legacy) {
		rc = download_from(m, "/_matrix/client/v1/media/download/%s/%s", srv, id, out, content_type,
				   max_bytes);
		/* spec: servers without the endpoint answer 404 or 405 M_UNRECOGNIZED
		 * (older ones 404 with no Matrix error body at all) */
		bool unrecognized = (m->status == 404 || m->status == 405 || m->status == 400) &&
				    strcmp(m->errcode, "M_UNRECOGNIZED") == 0;
		bool bare_404 = (m->status == 404 || m->status == 405) && m->errcode[0] == '\0';
		if (rc < 0 && unrecognized) {
			pb_log_info(PB_MATRIX_LOG, "%s: no authenticated media; using the legacy download",
				    m->hs);
			m->v1_media_unsupported = true;
		}
		if (rc < 0 && (unrecognized || bare_404))
			legacy = true;
	}
	if (legacy)
		rc = download_from(m, "/_matrix/media/v3/download/%s/%s", srv, id, out, content_type, max_bytes);
	pb_free(srv);
	return rc;
}
