/*
 * logchain: a SHA-256 hash chain over access-log records, and signed digests.
 *
 * Record construction (version 1). The access-log writer formats a record as
 * one JSON object; logchain_seal() then appends, as its LAST member,
 *
 *     "chain":{"seq":N,"prev":"<64 hex>","hash":"<64 hex>"}
 *
 * so the line reads  P "chain":{...}} "\n"  where P is the record's bytes from
 * its opening '{' up to and including the ',' written before "chain" (the
 * writer removes the record's closing '}' and appends ','). Then
 *
 *     hash = lowercase hex of SHA-256( P || decimal(N) || prev )
 *
 * with decimal(N) the seq in ASCII without sign or leading zeros and prev the
 * 64 lowercase hex characters exactly as written. seq starts at 1 and goes up
 * by one per record; prev is the previous record's "hash", or 64 '0' for the
 * first record of a chain. The chain member is written with no spaces, in the
 * order seq, prev, hash; verification requires exactly that form. In Python:
 *
 *     i = line.rindex(b',"chain":{"seq":') + 1
 *     c = json.loads(line)["chain"]
 *     ok = hashlib.sha256(line[:i] + str(c["seq"]).encode() + c["prev"].encode()).hexdigest() == c["hash"]
 *
 * JSON escapes every '"' inside strings, so the byte sequence ,"chain":{"seq":
 * cannot occur in a value; its last occurrence is the chain member.
 *
 * Restarts: the writer reads the last complete record of an existing file and
 * continues its seq and hash. If that line is not a valid chain record (edited,
 * truncated, written by an older version), it starts a new chain: seq 1, prev
 * zeros, and the first record is a marker {"chainStart":{"reason":"..."},
 * "chain":{...}} which `ddbguard-log verify` reports as a break unless given
 * --allow-restart. Digest lines (below) are not chain records and are skipped
 * when looking for the last record; the last digest line found in the tail
 * continues the digest chain (digestSeq and prevDigest).
 *
 * Digests (version 2). The writer appends digest lines, signed when
 * access_log.signing_key is set:
 *
 *     {"ddbguardDigest":{"digestSeq":D,"seq":N,"hash":"<hash of record N>","time":"YYYY-MM-DDTHH:MM:SSZ",
 *      "interval":S,"prevDigest":"<64 hex>","end":"final"|"rotate"|null,
 *      "keyId":"<32 hex>"|null,"signature":"<base64>"|null}}
 *
 * Digests form their own chain: digestSeq counts them from 1, and prevDigest
 * is the digest hash of the one before (64 '0' for the first), where the
 * digest hash of a digest is the lowercase hex SHA-256 of its message
 *
 *     "ddbguard-digest-v2\n" decimal(D) "\n" decimal(N) "\n" hash "\n" time "\n"
 *     decimal(S) "\n" prevDigest "\n" end
 *
 * (end is "final", "rotate" or "-"; no trailing newline). The signature is
 * the Ed25519 signature (RFC 8032, pure) over that message, standard base64
 * with padding; keyId is the first 16 bytes (32 hex) of SHA-256 over the
 * 32-byte raw public key. A digest covers record N (every record before it,
 * through the record chain) and every digest before it (through prevDigest):
 * deleting, reordering or replacing a digest breaks the next one's
 * prevDigest. N may equal the previous digest's N: the writer writes one
 * every S seconds (access_log.digest_every_seconds) even when no record
 * arrived, so the time of the last digest bounds how much of the tail can be
 * missing. "end":"final" marks the digest written at a clean shutdown (the
 * last line of the file), "rotate" the last digest of a file closed by
 * rotation or reopen. N is 0 (hash 64 '0') before the first record.
 */
#ifndef DDBGUARD_PROXY_LOGCHAIN_H
#define DDBGUARD_PROXY_LOGCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

struct jsonw;
struct logchain;

#define LOGCHAIN_HEX_LEN       64
#define LOGCHAIN_KEYID_HEX_LEN 32
#define LOGCHAIN_DIGEST_PREFIX "ddbguard-digest-v2\n"
/* The longest tail of a file read to find its last record when resuming. */
#define LOGCHAIN_RESUME_MAX (4u << 20)

struct logchain *logchain_new(void);    /* NULL when out of memory */
void logchain_free(struct logchain *c); /* accepts NULL */

/* The state a new chain record links to: seq of the last record (0: none yet) and its hash. */
uint64_t logchain_seq(const struct logchain *c);
const char *logchain_last_hash(const struct logchain *c); /* 64 hex; zeros before the first record */
void logchain_set_state(struct logchain *c, uint64_t seq, const char *hash_hex);

/*
 * Appends the chain member to the record in w (which must end in "}\n" and hold
 * one JSON object with at least one member) as the next record: seq+1, linked
 * to the last hash. The state advances only on logchain_commit(), so a record
 * that could not be written is not counted. Returns false if w is not such a
 * record or ran out of memory. No allocation once w's buffer is warm.
 */
bool logchain_seal(struct logchain *c, struct jsonw *w);
/* The same for the record that starts at w->buf[start] and runs to w's end (a batch of lines). */
bool logchain_seal_at(struct logchain *c, struct jsonw *w, size_t start);
void logchain_commit(struct logchain *c);

enum logchain_resume {
	LOGCHAIN_RESUME_EMPTY,    /* no records: a new chain, no marker needed */
	LOGCHAIN_RESUME_CONTINUE, /* state set from the file's last record */
	LOGCHAIN_RESUME_BROKEN,   /* last line is not a valid record: `why` says why; start over with a marker */
	LOGCHAIN_RESUME_ERROR,    /* cannot read the file: `why` says why */
};
/*
 * Reads the tail of the file open on `fd` (readable; pread is used, the offset
 * is not moved). *partial is set when the file does not end in '\n'.
 */
enum logchain_resume logchain_resume_fd(struct logchain *c, int fd, bool *partial, char *why, size_t whylen);

/* What logchain_parse_record() found in one line. */
struct logchain_link {
	uint64_t seq;
	char prev[LOGCHAIN_HEX_LEN + 1];
	char hash[LOGCHAIN_HEX_LEN + 1];     /* as written */
	char computed[LOGCHAIN_HEX_LEN + 1]; /* recomputed from the line */
	bool chain_start;                    /* the record is a chainStart marker */
};
/*
 * Parses a record line (without its '\n') and recomputes its hash. Returns
 * false when the line has no well-formed chain member (then the line was
 * edited or is not a record); compare link->hash with link->computed.
 */
bool logchain_parse_record(struct logchain *c, const char *line, size_t len, struct logchain_link *link);

/* --- signed digests ----------------------------------------------- */

/* Loads a PEM Ed25519 private key. Returns false and fills err on failure. */
bool logchain_load_key(struct logchain *c, const char *path, char *err, size_t errlen);
bool logchain_has_key(const struct logchain *c);
enum logchain_end {
	LOGCHAIN_END_NONE,   /* a periodic digest */
	LOGCHAIN_END_ROTATE, /* the last line of a file closed by rotation or reopen */
	LOGCHAIN_END_FINAL,  /* the last line written at a clean shutdown */
};
/*
 * Appends the next digest line (with '\n') for the last committed record to
 * w, at `now`, signed when a key is loaded, and advances the digest chain.
 * `interval` is digest_every_seconds, written into the digest.
 */
bool logchain_digest(struct logchain *c, struct jsonw *w, time_t now, uint32_t interval, enum logchain_end end);
/* The digest chain's state: how many digests so far and the last one's digest hash (64 hex). */
uint64_t logchain_digest_seq(const struct logchain *c);
const char *logchain_digest_last(const struct logchain *c);

/* The fields of one digest line, as logchain_parse_digest() found them (strings NUL-terminated). */
struct logchain_digest_fields {
	uint64_t dseq, seq;
	uint32_t interval;
	char hash[LOGCHAIN_HEX_LEN + 1];
	char time[24];
	char prev[LOGCHAIN_HEX_LEN + 1];
	enum logchain_end end;
	bool signed_;
	char key_id[LOGCHAIN_KEYID_HEX_LEN + 1];
	char signature[96];
	char digest_hash[LOGCHAIN_HEX_LEN + 1]; /* computed: SHA-256 of the message */
	time_t t;				/* time parsed */
};
/* Parses a digest line (without '\n'). False when it is not a well-formed version 2 digest. */
bool logchain_parse_digest(struct logchain *c, const char *line, size_t len, struct logchain_digest_fields *d);

/* keyId (32 hex + NUL) of an Ed25519 public or private key. */
bool logchain_key_id(EVP_PKEY *key, char out[LOGCHAIN_KEYID_HEX_LEN + 1]);
/* The message a digest hashes and signs, into buf; returns its length or 0 if it does not fit. */
size_t logchain_digest_message(char *buf, size_t n, const struct logchain_digest_fields *d);
/* Checks a digest's base64 signature with a public key. */
bool logchain_digest_verify(EVP_PKEY *pub, const struct logchain_digest_fields *d);

#endif
