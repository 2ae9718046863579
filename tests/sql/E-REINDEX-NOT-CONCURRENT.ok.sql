-- ctx: tx=0
REINDEX INDEX CONCURRENTLY i1;
REINDEX TABLE CONCURRENTLY accounts;
REINDEX (CONCURRENTLY) TABLE app.orders;
reindex (verbose, concurrently) index app.i2;
REINDEX (CONCURRENTLY true) TABLE accounts;
