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
 * when looking for the last record.
 *
 * Digests. With a signing key (Ed25519, PEM), the writer appends lines
 *
 *     {"ddbguardDigest":{"seq":N,"hash":"<hash of record N>","time":"YYYY-MM-DDTHH:MM:SSZ",
 *      "keyId":"<32 hex>","signature":"<base64>"}}
 *
 * keyId is the first 16 bytes (32 hex chars) of SHA-256 over the 32-byte raw
 * Ed25519 public key. signature is standard base64 (with padding) of the
 * Ed25519 signature (RFC 8032, pure) over the ASCII string
 *
 *     "ddbguard-digest-v1\n" decimal(N) "\n" hash "\n" time
 *
 * (no trailing newline). A digest covers record N and, through the chain,
 * every record before it; it always follows record N directly (the writer
 * emits it right after a record, on a timer, before rotating and on close).
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
#define LOGCHAIN_DIGEST_PREFIX "ddbguard-digest-v1\n"
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
/* Appends the digest line (with '\n') for the last committed record to w, signed at `now`. */
bool logchain_digest(struct logchain *c, struct jsonw *w, time_t now);

/* keyId (32 hex + NUL) of an Ed25519 public or private key. */
bool logchain_key_id(EVP_PKEY *key, char out[LOGCHAIN_KEYID_HEX_LEN + 1]);
/* The signed string for a digest, into buf; returns its length or 0 if it does not fit. */
size_t logchain_digest_message(char *buf, size_t n, uint64_t seq, const char *hash, const char *time);
/* Checks a digest's base64 signature with a public key. */
bool logchain_digest_verify(EVP_PKEY *pub, uint64_t seq, const char *hash, const char *time, const char *sig_b64);

#endif
