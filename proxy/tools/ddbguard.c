/*
 * ddbguard: the program. `ddbguard explain ...` is the offline policy
 * simulator (proxy/tools/explain.h); everything else is the daemon
 * (proxy/main.h). The dispatch lives here, above both, so the daemon does
 * not include the tools.
 */
#include <string.h>

#include "proxy/main.h"
#include "proxy/tools/explain.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "explain") == 0)
		return explain_main(argc - 1, argv + 1);
	return daemon_main(argc, argv);
}
