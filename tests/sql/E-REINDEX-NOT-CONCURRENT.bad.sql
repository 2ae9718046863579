-- ctx: tx=0
REINDEX INDEX i1; -- expect
REINDEX TABLE accounts; -- expect
REINDEX TABLE app.orders; -- expect
reindex index app.i2; -- expect
REINDEX (VERBOSE) TABLE accounts; -- expect
