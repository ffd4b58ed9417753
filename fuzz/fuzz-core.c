/*
 * libphonebridge — fuzz target for the core decoders of outside text: hex,
 * base64, UTF-8 validation/sanitising and charset conversion.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first byte picks the charset for conversion; the rest is the input.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const charsets[] = {
	"UTF-8", "US-ASCII", "ISO-8859-1", "UTF-16", "UTF-16LE", "ISO-10646-UCS-2",
	"Shift_JIS", "Big5", "ISO-2022-JP", "GB18030", "windows-1251", "EUC-KR",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *cs = charsets[data[0] % (sizeof(charsets) / sizeof(charsets[0]))];
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	pb_buf a = PB_BUF_INIT, b = PB_BUF_INIT;
	pb_parse_error perr;

	if (pb_hex_decode(&a, text, len, &perr) == 0) {
		pb_buf_clear(&b);
		if (pb_hex_encode(&b, a.data, a.len, 0) != 0)
			abort();
	} else if (perr.offset > len) {
		abort();
	}
	pb_buf_clear(&a);
	if (pb_base64_decode(&a, text, len, data[0] & 1 ? PB_BASE64_URL : 0, &perr) == 0) {
		pb_buf_clear(&b);
		pb_base64_encode(&b, a.data, a.len, 0);
	} else if (perr.offset > len) {
		abort();
	}

	pb_buf_clear(&a);
	if (pb_charset_to_utf8(&a, cs, text, len) == 0) {
		/* whatever the input, the output is well-formed UTF-8 */
		if (pb_utf8_validate((char *)a.data, a.len, NULL) != 0)
			abort();
	}
	pb_buf_clear(&b);
	if (pb_utf8_sanitize(&b, text, len) != 0 || pb_utf8_validate((char *)b.data, b.len, NULL) != 0)
		abort();
	pb_buf_clear(&a);
	pb_charset_from_utf8(&a, cs, text, len);

	pb_buf_dispose(&a);
	pb_buf_dispose(&b);
	return 0;
}
