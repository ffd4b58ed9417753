/* The smallest libphonebridge program: print the library's version and
 * decode a hex string. Build: cc hello.c $(pkg-config --cflags --libs libphonebridge) */
#include <stdio.h>
#include <phonebridge/phonebridge.h>

int main(void)
{
	pb_buf b = PB_BUF_INIT;
	if (pb_hex_decode(&b, "68656c6c6f", 10, NULL) < 0) {
		fprintf(stderr, "%s\n", pb_error_last()->message);
		return 1;
	}
	printf("libphonebridge %s says %s\n", pb_version_string(), pb_buf_cstr(&b));
	pb_buf_dispose(&b);
	return 0;
}
