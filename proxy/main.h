/*
 * main: the daemon's start-up: options, config, runtime, listeners, signals,
 * the event loop, the orderly stop.
 */
#ifndef DDBGUARD_PROXY_MAIN_H
#define DDBGUARD_PROXY_MAIN_H

/* `ddbguard [-c FILE] [--check] [-v]`; returns the exit status. */
int daemon_main(int argc, char **argv);

#endif
