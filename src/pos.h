/*
 * A position in a source file (plan YAML or SQL), for messages.
 */
#ifndef EXCON_POS_H
#define EXCON_POS_H

/*
 * Line and column count from 1; 0 means unknown.  block is set where a
 * YAML block scalar's content starts (`|`, `>`): a place inside such a
 * value maps to line + n, column + c, as literal blocks keep their line
 * structure.  It shares a word with col, which keeps a string value with
 * its position (struct pstr) at two words.
 */
struct pos {
	int		line;
	signed int	col : 31;
	unsigned int	block : 1;
};

#endif
