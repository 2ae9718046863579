/*
 * excon: walks breaking PostgreSQL schema changes through expand/contract
 * across application releases.  main() only dispatches; see cmd.c.
 */
#include "cmd.h"

int
main(int argc, char **argv)
{
	return cmd_main(argc, argv);
}
