/*
 * A position in a source file (plan YAML or SQL), for messages.
 */
#ifndef EXCON_POS_H
#define EXCON_POS_H

/* Line and column count from 1; 0 means unknown. */
struct pos {
	int	line;
	int	col;
};

#endif
