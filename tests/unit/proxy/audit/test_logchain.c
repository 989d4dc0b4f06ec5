/* Tests for proxy/audit/logchain.c: chain construction (reference vectors from Python hashlib), resume, digests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "proxy/audit/jsonw.h"
#include "proxy/audit/logchain.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
/*
 * python3 -c 'import hashlib; z="0"*64
 * h1=hashlib.sha256(b"{\"a\":1,"+b"1"+z.encode()).hexdigest()
 * h2=hashlib.sha256(b"{\"b\":\"x\",\"n\":[1,2],"+b"2"+h1.encode()).hexdigest()'
 */
#define H1   "54d418140fcacd60e2821adfe0a03ea53a76f01fd19e9260463d116a4bd6a797"
#define H2   "283ec7bc0072418f393df99698960467534a04e399cf735a12036fd96aeeaa98"
#define REC1 "{\"a\":1,\"chain\":{\"seq\":1,\"prev\":\"" ZEROS "\",\"hash\":\"" H1 "\"}}\n"
#define REC2 "{\"b\":\"x\",\"n\":[1,2],\"chain\":{\"seq\":2,\"prev\":\"" H1 "\",\"hash\":\"" H2 "\"}}\n"

static void
seal(struct logchain *c, struct jsonw *w, const char *rec)
{
	jsonw_reset(w);
	jsonw_raw(w, rec, strlen(rec));
	assert_true(logchain_seal(c, w));
	logchain_commit(c);
}

static void
test_reference_vector(void **state)
{
	struct logchain *c = logchain_new();
	struct jsonw w;

	jsonw_init(&w);
	assert_string_equal(logchain_last_hash(c), ZEROS);
	seal(c, &w, "{\"a\":1}\n");
	assert_int_equal(w.len, strlen(REC1));
	assert_memory_equal(w.buf, REC1, w.len);
	seal(c, &w, "{\"b\":\"x\",\"n\":[1,2]}\n");
	assert_memory_equal(w.buf, REC2, strlen(REC2));
	assert_int_equal(logchain_seq(c), 2);
	assert_string_equal(logchain_last_hash(c), H2);
	jsonw_release(&w);
	logchain_free(c);
}

static void
test_uncommitted_does_not_advance(void **state)
{
	struct logchain *c = logchain_new();
	struct jsonw w;

	jsonw_init(&w);
	jsonw_raw(&w, "{\"a\":1}\n", 8);
	assert_true(logchain_seal(c, &w)); /* say the write failed: no commit */
	seal(c, &w, "{\"a\":1}\n");
	assert_memory_equal(w.buf, REC1, strlen(REC1));
	/* Not a record: refused, state unchanged. */
	jsonw_reset(&w);
	jsonw_raw(&w, "{}\n", 3);
	assert_false(logchain_seal(c, &w));
	assert_int_equal(logchain_seq(c), 1);
	jsonw_release(&w);
	logchain_free(c);
}

static void
test_parse_detects_edits(void **state)
{
	struct logchain *c = logchain_new();
	struct logchain_link l;
	char line[sizeof(REC2)];

	assert_true(logchain_parse_record(c, REC2, strlen(REC2) - 1, &l));
	assert_int_equal(l.seq, 2);
	assert_string_equal(l.prev, H1);
	assert_string_equal(l.computed, H2);
	assert_false(l.chain_start);
	memcpy(line, REC2, sizeof(REC2));
	line[7] = 'y'; /* "x" -> "y" */
	assert_true(logchain_parse_record(c, line, strlen(line) - 1, &l));
	assert_string_not_equal(l.computed, l.hash);
	/* A reformatted chain member is not accepted. */
	assert_false(logchain_parse_record(c, "{\"a\":1, \"chain\":{}}", 19, &l));
	logchain_free(c);
}

static int
tmpfile_with(const char *content)
{
	char path[] = "/tmp/test_logchain.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	return fd;
}

static void
test_resume(void **state)
{
	struct logchain *c = logchain_new();
	struct jsonw w;
	char why[128];
	bool partial;
	int fd;

	jsonw_init(&w);
	fd = tmpfile_with("");
	assert_int_equal(logchain_resume_fd(c, fd, &partial, why, sizeof(why)), LOGCHAIN_RESUME_EMPTY);
	close(fd);
	/* The last record, past a digest line, continues the chain: the next record equals REC2. */
	fd = tmpfile_with(REC1 "{\"ddbguardDigest\":{\"seq\":1}}\n");
	assert_int_equal(logchain_resume_fd(c, fd, &partial, why, sizeof(why)), LOGCHAIN_RESUME_CONTINUE);
	close(fd);
	assert_int_equal(logchain_seq(c), 1);
	seal(c, &w, "{\"b\":\"x\",\"n\":[1,2]}\n");
	assert_memory_equal(w.buf, REC2, strlen(REC2));
	logchain_free(c);

	c = logchain_new();
	fd = tmpfile_with(REC1 "{\"a\":2}\n");
	assert_int_equal(logchain_resume_fd(c, fd, &partial, why, sizeof(why)), LOGCHAIN_RESUME_BROKEN);
	assert_false(partial);
	close(fd);
	fd = tmpfile_with(REC1 "{\"a\":");
	assert_int_equal(logchain_resume_fd(c, fd, &partial, why, sizeof(why)), LOGCHAIN_RESUME_BROKEN);
	assert_true(partial);
	close(fd);
	assert_int_equal(logchain_seq(c), 0);
	jsonw_release(&w);
	logchain_free(c);
}

static void
test_digest_signature(void **state)
{
	char path[] = "/tmp/test_logchain_key.XXXXXX", err[256], kid[LOGCHAIN_KEYID_HEX_LEN + 1];
	char msg[256], sigb64[128];
	unsigned char sig[80];
	EVP_PKEY *key = NULL, *pub;
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_MD_CTX *vctx;
	struct logchain *c = logchain_new();
	struct jsonw w;
	FILE *f;
	int fd = mkstemp(path);
	unsigned char raw[32];
	size_t rawlen = sizeof(raw), mlen;
	const char *p, *q;
	struct logchain_digest_fields d1, d2;

	assert_true(fd >= 0 && kctx != NULL);
	assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
	assert_int_equal(EVP_PKEY_keygen(kctx, &key), 1);
	f = fdopen(fd, "w");
	assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_true(logchain_load_key(c, path, err, sizeof(err)));
	unlink(path);
	assert_false(logchain_load_key(c, "/nonexistent/key.pem", err, sizeof(err)));

	jsonw_init(&w);
	seal(c, &w, "{\"a\":1}\n");
	jsonw_reset(&w);
	assert_true(logchain_digest(c, &w, 1700000000, 60, LOGCHAIN_END_NONE));
	jsonw_raw(&w, "", 1); /* NUL-terminate for strstr */
	assert_non_null(strstr(w.buf, "{\"ddbguardDigest\":{\"digestSeq\":1,\"seq\":1,\"hash\":\"" H1
				      "\",\"time\":\"2023-11-14T22:13:20Z\",\"interval\":60,\"prevDigest\":\"" ZEROS
				      "\",\"end\":null"));
	assert_true(logchain_key_id(key, kid));
	assert_non_null(strstr(w.buf, kid));

	/* Verify with plain OpenSSL over the documented message, from the public key alone. */
	assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &rawlen), 1);
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
	assert_non_null(pub);
	p = strstr(w.buf, "\"signature\":\"") + 13;
	q = strchr(p, '"');
	memcpy(sigb64, p, (size_t)(q - p));
	sigb64[q - p] = '\0';
	assert_int_equal(EVP_DecodeBlock(sig, (unsigned char *)sigb64, (int)strlen(sigb64)), 66);
	mlen = (size_t)snprintf(msg, sizeof(msg), "ddbguard-digest-v2\n1\n1\n%s\n2023-11-14T22:13:20Z\n60\n%s\n-", H1,
	    ZEROS);
	vctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(vctx, NULL, NULL, NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(vctx, sig, 64, (unsigned char *)msg, mlen), 1);
	EVP_MD_CTX_free(vctx);

	/* Parsed back, it verifies; any field changed does not. */
	assert_true(logchain_parse_digest(c, w.buf, strlen(w.buf) - 1, &d1));
	assert_true(d1.signed_ && d1.dseq == 1 && d1.seq == 1 && d1.interval == 60 && d1.end == LOGCHAIN_END_NONE);
	assert_int_equal(d1.t, 1700000000);
	assert_true(logchain_digest_verify(pub, &d1));
	d1.seq = 2;
	assert_false(logchain_digest_verify(pub, &d1));
	d1.seq = 1;
	d1.signature[5] = d1.signature[5] == 'A' ? 'B' : 'A';
	assert_false(logchain_digest_verify(pub, &d1));

	/* The next digest (no record since, final) links to the first: prevDigest is its digest hash. */
	jsonw_reset(&w);
	assert_true(logchain_digest(c, &w, 1700000060, 60, LOGCHAIN_END_FINAL));
	assert_true(logchain_parse_digest(c, w.buf, w.len - 1, &d2));
	assert_true(d2.dseq == 2 && d2.seq == 1 && d2.end == LOGCHAIN_END_FINAL);
	assert_string_equal(d2.prev, d1.digest_hash);
	assert_string_equal(logchain_digest_last(c), d2.digest_hash);
	assert_true(logchain_digest_verify(pub, &d2));

	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(kctx);
	jsonw_release(&w);
	logchain_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_vector),    cmocka_unit_test(test_uncommitted_does_not_advance),
	    cmocka_unit_test(test_parse_detects_edits), cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_digest_signature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
