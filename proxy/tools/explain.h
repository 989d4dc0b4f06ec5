/*
 * explain: `ddbguard explain -c FILE [--request FILE]`, a policy simulator
 * for operators. Reads one request (raw HTTP as an SDK sends it, or a small
 * JSON description), runs the same stages as request_decide() and prints the
 * decision with every step that led to it. Never connects anywhere.
 */
#ifndef DDBGUARD_PROXY_EXPLAIN_H
#define DDBGUARD_PROXY_EXPLAIN_H

/* argv[0] is "explain". Exit status: 0 allow, 1 deny or refused, 2 usage or config error. */
int explain_main(int argc, char **argv);

#endif
